/**
 * Import files (API notes §4.2, trap 10): RFC-4180 CSV, UTF-8 without BOM, header = technical attribute
 * names, compressed as GZIP (one file) or ZIP (one entry), at most 100 MB.
 */
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { stringify, type Options } from 'csv-stringify/sync';

export const MAX_FILE_BYTES = 100 * 1024 * 1024;

/** What the import definition declares (routes.ts sends these), so the file and its definition agree. */
export const CSV_SEPARATOR = ',';
export const CSV_ENCLOSING = '"';

/**
 * Cells are quoted when they hold the separator, the enclosing quote (doubled), CR or LF; lines end
 * with CRLF; no BOM (csv-stringify's default; Actito rejects one).
 */
const IMPORT_CSV: Options = {
  delimiter: CSV_SEPARATOR,
  quote: CSV_ENCLOSING,
  record_delimiter: 'windows',
  // Naming the delimiter turns off quoting of a bare CR or LF unless asked.
  quote_record_delimiter: true,
};

/** The reference encoder (csv-stringify with IMPORT_CSV): what `csvLine` must write, byte for byte. */
export function csvLinesReference(rows: string[][]): string {
  return stringify(rows, IMPORT_CSV);
}

/** What makes IMPORT_CSV quote a cell: the separator, the enclosing quote, CR or LF. */
const NEEDS_QUOTES = /[",\r\n]/;

/** One cell as it appears in a line (already text: mapping.ts `csvText`). */
export function csvCell(s: string): string {
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * One line, CRLF included. Written by hand: csv-stringify's sync API normalizes its options on every
 * call and goes through its stream machinery, some 3 µs a row of an import file; the output is the
 * same (csv.test.ts compares them).
 */
export function csvLine(cells: readonly string[]): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) line += (i === 0 ? '' : CSV_SEPARATOR) + csvCell(cells[i]!);
  return `${line}\r\n`;
}

/** Lines for a batch of rows, each cell already text. */
export function csvLines(rows: readonly string[][]): string {
  let out = '';
  for (const r of rows) out += csvLine(r);
  return out;
}

export function buildCsv(header: string[], lines: string[][]): Buffer {
  return Buffer.from(csvLines([header, ...lines]), 'utf8');
}

export function compress(csv: Buffer, kind: 'GZIP' | 'ZIP', entryName = 'data.csv'): Buffer {
  return kind === 'GZIP' ? gzipSync(csv) : zipOne(entryName, csv);
}

/**
 * A ZIP archive holding one deflated entry (no zip64: the 100 MB limit keeps us far below 4 GB).
 * Written here rather than by a zip library on purpose: streaming libraries (yazl, archiver) put the
 * CRC and sizes in a data descriptor after the data, which readers such as Java's ZipInputStream handle
 * only partly, and Actito's reader is not documented. This writer streams the entry and patches the
 * sizes into the local header (bulk-file.ts), the form every reader accepts; the format lives here only
 * (tests read the file back field by field, and the emulator's reader unpacks every upload).
 */
export function zipOne(name: string, data: Buffer): Buffer {
  const nameBuf = Buffer.from(name, 'utf8');
  const packed = deflateRawSync(data);
  const { local, trailer } = zipTrailer(nameBuf, crc32(data), packed.length, data.length);
  return Buffer.concat([local, nameBuf, packed, trailer]);
}

/**
 * The parts of a one-entry ZIP around its deflated data: `local` (30 bytes, followed by the name, then
 * the data) and `trailer` (central directory + end record, after the data).
 */
export function zipTrailer(nameBuf: Buffer, crc: number, packedLength: number, dataLength: number): { local: Buffer; trailer: Buffer } {
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(0x0800, 6); // UTF-8 names
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(0, 10); // time/date
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(packedLength, 18);
  local.writeUInt32LE(dataLength, 22);
  local.writeUInt16LE(nameBuf.length, 26);
  local.writeUInt16LE(0, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(0, 12);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(packedLength, 20);
  central.writeUInt32LE(dataLength, 24);
  central.writeUInt16LE(nameBuf.length, 28);
  // extra, comment, disk, internal attrs, external attrs all 0; local header offset 0
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBuf.length, 12);
  end.writeUInt32LE(30 + nameBuf.length + packedLength, 16);
  return { local, trailer: Buffer.concat([central, nameBuf, end]) };
}
