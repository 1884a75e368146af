/**
 * Bulk 2.0 CSV, built by us rather than by jsforce (which takes the header from the first record and
 * writes Dates as epoch ms): explicit header, RFC 4180 quoting, `#N/A` for SQL NULL, LF, no BOM.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export type CsvValue = string | number | boolean | null;

/** Quote when the value holds a delimiter, quote, CR/LF, or edge whitespace (Salesforce does not trim). */
export function csvField(v: CsvValue): string {
  if (v === null) return '#N/A';
  const s = String(v);
  if (s === '') return '';
  if (/[",\r\n]/.test(s) || /^\s|\s$/.test(s) || s === '#N/A') return `"${s.replace(/"/g, '""')}"`;
  return s;
}

export function csvLine(values: CsvValue[]): string {
  return values.map(csvField).join(',') + '\n';
}

/** Bytes of CSV kept in memory before they are appended to the file. */
const FLUSH_BYTES = 1 << 20;

/**
 * A job's CSV written to a temporary file, so a 100 MB upload never sits in memory: lines are
 * buffered up to 1 MB, `flush()` appends them; a row that would push the file past `maxBytes` is refused. `open()` streams the
 * file (again, if a request has to be resent); `dispose()` deletes it.
 */
export class CsvFile {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private size = 0;
  rows = 0;

  private constructor(readonly path: string, private readonly fh: FileHandle, private readonly maxBytes: number) {}

  static async create(header: string[], maxBytes: number): Promise<CsvFile> {
    const path = join(tmpdir(), `syncline-sf-${randomUUID()}.csv`);
    const f = new CsvFile(path, await open(path, 'w', 0o600), maxBytes);
    f.push(csvLine(header));
    return f;
  }

  private push(line: string): void {
    const b = Buffer.from(line, 'utf8');
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.size += b.length;
  }

  /** False (and nothing written) when the row would push the file past the size limit. */
  add(values: CsvValue[]): boolean {
    const line = csvLine(values);
    if (this.size + Buffer.byteLength(line, 'utf8') > this.maxBytes) return false;
    this.push(line);
    this.rows++;
    return true;
  }

  get bytes(): number {
    return this.size;
  }

  /** Appends the buffered lines once there are enough of them (or always, with `force`). */
  async flush(force = false): Promise<void> {
    if (this.pendingBytes === 0 || (!force && this.pendingBytes < FLUSH_BYTES)) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
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
