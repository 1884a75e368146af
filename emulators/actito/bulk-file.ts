import { gunzipSync } from 'node:zlib';
import { CsvCursor, CsvSyntaxError } from './csv';
import { HttpError } from './http';
import type { Table } from './table';
import { TECHNICAL_ATTRIBUTES } from './tables';
import type { ImportMode } from './bulk-import';
import { readZip, ZipError } from './zip';

export interface DecodedFile {
  cursor: CsvCursor;
  header: string[];
  compression: 'ZIP' | 'GZIP' | 'NONE';
}

/** ZIP / GZIP / plain by magic bytes [D S10: ZIP, GZIP or none]; a ZIP's first CSV entry is used. */
function decompress(file: Buffer): { data: Buffer; compression: DecodedFile['compression'] } {
  try {
    if (file.length >= 4 && file.readUInt32LE(0) === 0x04034b50) {
      const entries = readZip(file);
      const entry = entries.find((e) => /\.(csv|txt)$/i.test(e.name)) ?? entries[0];
      if (!entry) throw new HttpError(400, 'the ZIP archive holds no file');
      return { data: entry.data, compression: 'ZIP' };
    }
    if (file.length >= 2 && file[0] === 0x1f && file[1] === 0x8b) return { data: gunzipSync(file), compression: 'GZIP' };
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, `cannot decompress the file: ${e instanceof ZipError ? e.message : String(e)}`);
  }
  return { data: file, compression: 'NONE' };
}

/**
 * Whole-file checks done when the import is submitted (→ 400, nothing imported) [A: the real API may
 * report them in the execution instead]: size ≤ limit [D S3], no BOM [D S10], header names = technical
 * attribute names, each once, key column present and unique, mandatory columns present when creating.
 */
export function decodeImportFile(
  file: Buffer,
  opts: {
    table: Table;
    separator: string;
    charset: string;
    keyAttribute: string;
    mode: ImportMode;
    maxBytes: number;
    mapping?: Map<string, string>;
  },
): DecodedFile {
  if (file.length > opts.maxBytes) throw new HttpError(400, `file is ${file.length} bytes; the maximum is ${opts.maxBytes} bytes (100 MB)`);
  const { data, compression } = decompress(file);
  const bom =
    (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) ||
    (data[0] === 0xff && data[1] === 0xfe) ||
    (data[0] === 0xfe && data[1] === 0xff);
  if (bom) throw new HttpError(400, 'the CSV file starts with a byte order mark (BOM); save it as UTF-8 without BOM');
  const encoding = /^(iso-8859-1|latin1|iso_8859_1)$/i.test(opts.charset) ? 'latin1' : 'utf8';
  const cursor = new CsvCursor(data.toString(encoding), opts.separator);
  let header: string[] | undefined;
  try {
    header = cursor.next();
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw new HttpError(400, `header line: ${e.message}`);
    throw e;
  }
  if (!header) throw new HttpError(400, 'the CSV file is empty (a header line is required)');
  header = header.map((h) => opts.mapping?.get(h) ?? h);
  checkHeader(header, opts);
  return { cursor, header, compression };
}

function checkHeader(header: string[], opts: { table: Table; keyAttribute: string; mode: ImportMode }): void {
  const { table } = opts;
  const problems: string[] = [];
  const unknown = header.filter((h) => !table.attribute(h) && !TECHNICAL_ATTRIBUTES.has(h));
  if (unknown.length)
    problems.push(`unknown column(s) ${unknown.join(', ')} (headers must equal technical attribute names, case-sensitive)`);
  const dup = header.filter((h, i) => header.indexOf(h) !== i);
  if (dup.length) problems.push(`duplicate column(s) ${[...new Set(dup)].join(', ')}`);
  const key = table.attribute(opts.keyAttribute);
  if (!key?.unique) problems.push(`key column '${opts.keyAttribute}' is not a unique attribute of '${table.name}'`);
  else if (!header.includes(opts.keyAttribute)) problems.push(`key column '${opts.keyAttribute}' is missing from the header`);
  if (opts.mode !== 'UPDATE_ONLY') {
    const missing = table.attributes.filter((a) => a.mandatory && !header.includes(a.name)).map((a) => a.name);
    if (missing.length) problems.push(`mandatory column(s) ${missing.join(', ')} missing`);
  }
  if (problems.length) throw new HttpError(400, `invalid CSV header: ${problems.join('; ')}`);
}
