/**
 * Bulk 2.0 CSV, built here rather than by jsforce (which takes the header from the first record and
 * writes Dates as epoch ms): explicit header, RFC 4180 quoting by csv-stringify, `#N/A` for SQL NULL,
 * LF, no BOM.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { stringify, type Options } from 'csv-stringify/sync';
import { plainNumber } from '../kit/plain-number';
import { ExactNumber } from './decimal';

/** A cell's value; an `ExactNumber` is written as its digits. */
export type CsvValue = string | number | boolean | ExactNumber | null;

/**
 * True for a text that a Bulk CSV cell cannot carry: Salesforce reads `#N/A` as null whether or not it is
 * quoted (quotes only escape delimiters, quotes and line breaks; the documentation names no other escape).
 * Look-alikes (case, edge whitespace) count too, as the exact matching rule is not documented: the writer
 * sends such rows through Collections, where JSON carries the text exactly.
 */
export function csvCannotCarry(v: CsvValue): boolean {
  if (typeof v !== 'string') return false;
  const n = v.length;
  // Shorter than `#N/A`, or longer with visible ASCII at both ends (which trim() keeps): never.
  if (n < 4) return false;
  if (n > 4 && visibleAscii(v.charCodeAt(0)) && visibleAscii(v.charCodeAt(n - 1))) return false;
  const t = v.trim();
  return t.length === 4 && t.toUpperCase() === '#N/A';
}

/** A printable ASCII character other than the space: no whitespace or line terminator `trim()` removes. */
const visibleAscii = (c: number) => c > 32 && c < 127;

/**
 * Salesforce's reading of a cell: quotes escape delimiters, quotes and line breaks (csv-stringify's
 * defaults); edge whitespace is quoted too, because Salesforce does not trim; `#N/A` clears a field.
 */
const BULK_CSV: Options = {
  record_delimiter: 'unix',
  // Naming the delimiter turns off quoting of a bare CR unless asked: a CR ends a line for some readers.
  quote_record_delimiter: true,
  quoted_match: /^\s|\s$/,
  // csv-stringify would write false as an empty cell, which Bulk reads as "leave the field unchanged".
  cast: {
    null: () => '#N/A',
    boolean: (b) => String(b),
    number: (n) => plainNumber(n),
    object: (o) => (o instanceof ExactNumber ? o.digits : JSON.stringify(o)),
  },
};

/** The reference encoder (csv-stringify with BULK_CSV): what `csvLine` must write, cell for cell. */
export function csvLineReference(values: CsvValue[]): string {
  return stringify([values], BULK_CSV);
}

/** What makes BULK_CSV quote a cell: a delimiter, quote or line break inside, or edge whitespace. */
const NEEDS_QUOTES = /[",\n\r]|^\s|\s$/;

/**
 * A non-null cell's text before quoting (BULK_CSV's casts): what a result file echoes once read back.
 * An ExactNumber's digits are plain decimal already (and never need quotes).
 */
export function cellText(v: string | number | boolean | ExactNumber): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? plainNumber(v) : v instanceof ExactNumber ? v.digits : String(v);
}

/** One cell as it appears in a line (BULK_CSV's casts and quoting). */
export function csvField(v: CsvValue): string {
  if (v === null) return '#N/A';
  const s = cellText(v);
  if (s === '' || !NEEDS_QUOTES.test(s)) return s;
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * One line, LF included. One call per row: `CsvFile` must know each row's size to stop at the limit.
 * Written by hand: csv-stringify's sync API normalizes its options on every call, which cost about
 * 20 µs a row (20 s of a million-row job); the output is the same (csv.test.ts compares them).
 */
export function csvLine(values: CsvValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i === 0 ? '' : ',') + csvField(values[i]!);
  return `${line}\n`;
}

/** Bytes of CSV kept in memory before they are appended to the file. */
const FLUSH_BYTES = 1 << 20;

/**
 * A job's CSV written to a temporary file, so a 100 MB upload never sits in memory: each line is encoded
 * at once into one reused 2 MB buffer (its size known from the bytes written), `flush()` appends the
 * buffer to the file once it holds 1 MB; a row that would push the file past `maxBytes` is refused.
 * `open()` streams the file (again, if a request has to be resent); `dispose()` deletes it. No Buffer
 * per line, and no string of a flush's lines joined: a line too long for the room left (a huge text
 * field) is kept as a string until the next flush, and every line after it too, so the order holds.
 * `add` and `flush` are not called concurrently (a flush writes from the buffer `add` fills).
 */
export class CsvFile {
  /** Lines that did not fit in `out`, after its bytes; their UTF-8 length. */
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Bytes of `out` holding lines not yet appended to the file. */
  private used = 0;
  private size = 0;
  /** Room for a flush's lines: 1 MB plus those of the batch that crossed it, unless a line is huge. */
  private readonly out = Buffer.allocUnsafe(2 * FLUSH_BYTES);
  rows = 0;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly maxBytes: number,
  ) {}

  static async create(header: string[], maxBytes: number): Promise<CsvFile> {
    const path = join(tmpdir(), `syncline-sf-${randomUUID()}.csv`);
    const f = new CsvFile(path, await open(path, 'w', 0o600), maxBytes);
    f.append(csvLine(header), Infinity);
    return f;
  }

  /** Adds a line unless the file would pass `max` bytes with it. */
  private append(line: string, max: number): boolean {
    // Each UTF-16 unit is at most 3 bytes of UTF-8: with that much room the whole line is written.
    if (this.pending.length === 0 && line.length * 3 <= this.out.length - this.used) {
      const bytes = this.out.write(line, this.used, 'utf8');
      // Refused: the bytes written past `used` are left there, to be overwritten.
      if (this.size + bytes > max) return false;
      this.used += bytes;
      this.size += bytes;
      return true;
    }
    const bytes = Buffer.byteLength(line, 'utf8');
    if (this.size + bytes > max) return false;
    this.pending.push(line);
    this.pendingBytes += bytes;
    this.size += bytes;
    return true;
  }

  /** False (and nothing written) when the row would push the file past the size limit. */
  add(values: CsvValue[]): boolean {
    if (!this.append(csvLine(values), this.maxBytes)) return false;
    this.rows++;
    return true;
  }

  get bytes(): number {
    return this.size;
  }

  /** Appends the buffered lines once there are enough of them (or always, with `force`). */
  async flush(force = false): Promise<void> {
    const waiting = this.used + this.pendingBytes;
    if (waiting === 0 || (!force && waiting < FLUSH_BYTES)) return;
    if (this.used > 0) {
      await this.fh.write(this.out.subarray(0, this.used));
      this.used = 0;
    }
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    // Lines longer than the buffer (huge text fields) go out as a buffer of their own.
    const data = bytes <= this.out.length ? this.out.subarray(0, this.out.write(text, 0, 'utf8')) : Buffer.from(text, 'utf8');
    await this.fh.write(data);
  }

  /** Writes what is left and closes the file; call once, before `open()`. */
  async close(): Promise<void> {
    await this.flush(true);
    await this.fh.close();
  }

  open(): Readable {
    return createReadStream(this.path, { highWaterMark: 256 * 1024 });
  }

  async dispose(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}

/**
 * The records of a CSV stream (a Bulk result file) as objects keyed by the header, in batches (one per
 * chunk read): RFC 4180 quoting (`""` inside quotes, line breaks inside quotes), LF, CRLF or CR line
 * ends, a leading BOM dropped, empty lines skipped, a short row leaves its last columns out. What
 * csv-parse gives with `columns`, `bom`, `skip_empty_lines` and `relax_column_count`, read by hand:
 * csv-parse spent about 20-40 µs a row, as long as the rest of recording a million results.
 */
export async function* csvRecords(
  source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
): AsyncGenerator<Array<Record<string, string>>> {
  const decoder = new StringDecoder('utf8');
  let header: string[] | null = null;
  let row: string[] = [];
  let field = '';
  /** Inside a quoted field; `quoteAtEnd`: a quote ended the last chunk (closing, or the first of `""`). */
  let quoted = false;
  let quoteAtEnd = false;
  /** The field so far was quoted, or the row has a delimiter: not an empty line. */
  let touched = false;
  let skipLf = false;
  let first = true;
  let out: Array<Record<string, string>> = [];
  const endRow = () => {
    row.push(field);
    field = '';
    if (touched || row.length > 1 || row[0] !== '') {
      if (header === null) header = row;
      else {
        const r: Record<string, string> = {};
        for (let i = 0; i < header.length && i < row.length; i++) r[header[i]!] = row[i]!;
        out.push(r);
      }
    }
    row = [];
    touched = false;
  };
  const feed = (text: string) => {
    let i = 0;
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    if (quoteAtEnd && i < text.length) {
      quoteAtEnd = false;
      if (text[i] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    }
    const n = text.length;
    while (i < n) {
      if (quoted) {
        const q = text.indexOf('"', i);
        if (q === -1) {
          field += text.slice(i);
          return;
        }
        field += text.slice(i, q);
        if (q + 1 === n) {
          quoteAtEnd = true;
          return;
        }
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          quoted = false;
          i = q + 1;
        }
        continue;
      }
      const c = text[i]!;
      if (skipLf) {
        skipLf = false;
        if (c === '\n') {
          i++;
          continue;
        }
      }
      if (c === '"' && field === '') {
        quoted = true;
        touched = true;
        i++;
      } else if (c === ',') {
        row.push(field);
        field = '';
        touched = true;
        i++;
      } else if (c === '\n' || c === '\r') {
        endRow();
        skipLf = c === '\r';
        i++;
      } else {
        // Plain text up to the next delimiter, quote or line end.
        let j = i + 1;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === 44 || d === 10 || d === 13 || d === 34) break;
          j++;
        }
        field += text.slice(i, j);
        i = j;
      }
    }
  };
  for await (const chunk of source) {
    feed(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (out.length) {
      yield out;
      out = [];
    }
  }
  feed(decoder.end());
  if (quoteAtEnd) {
    quoteAtEnd = false;
    quoted = false;
  }
  if (quoted) throw new Error('CSV: a quoted field is not closed at the end of the file');
  if (field !== '' || row.length > 0 || touched) endRow();
  if (out.length) yield out;
}
