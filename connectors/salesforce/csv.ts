/**
 * Bulk 2.0 CSV, built by us rather than by jsforce (which takes the header from the first record and
 * writes Dates as epoch ms): explicit header, RFC 4180 quoting, `#N/A` for SQL NULL, LF, no BOM.
 */

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

/** Accumulates CSV lines as UTF-8 buffers and refuses to grow past `maxBytes`. */
export class CsvBuilder {
  private parts: Buffer[] = [];
  private size = 0;
  rows = 0;

  constructor(readonly header: string[], private readonly maxBytes: number) {
    this.push(csvLine(header));
  }

  private push(line: string): void {
    const b = Buffer.from(line, 'utf8');
    this.parts.push(b);
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

  toString(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}
