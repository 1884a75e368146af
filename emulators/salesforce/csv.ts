/** CSV helpers for Bulk 2.0: delimiter names, RFC 4180 writing (results quote every value, as Salesforce does), streaming parse. */
import { parse, type Parser } from 'csv-parse';
import { Readable } from 'node:stream';

export const DELIMITERS: Record<string, string> = {
  COMMA: ',',
  TAB: '\t',
  PIPE: '|',
  SEMICOLON: ';',
  CARET: '^',
  BACKQUOTE: '`',
};

export function quote(v: string): string {
  return `"${v.replace(/"/g, '""')}"`;
}

export function csvLine(values: string[], delimiter: string): string {
  return values.map(quote).join(delimiter);
}

/**
 * Streaming parser over an uploaded body. The record delimiter is the job's lineEnding, so a CRLF file
 * on an LF job leaves a stray '\r' on the last header name (detected by the caller as a LineEnding error).
 * A UTF-8 BOM is not stripped: like Salesforce, it corrupts the first header name (trap 20).
 */
export function csvParser(body: Buffer, delimiter: string, lineEnding: 'LF' | 'CRLF'): Parser {
  const parser = parse({
    delimiter,
    record_delimiter: lineEnding === 'CRLF' ? '\r\n' : '\n',
    bom: false,
    relax_column_count: true,
    skip_empty_lines: true,
  });
  Readable.from(slices(body)).pipe(parser);
  return parser;
}

/** 64 KB slices so the parser sees backpressure instead of one 100 MB chunk parsed in a single tick. */
function* slices(body: Buffer): Generator<Buffer> {
  for (let i = 0; i < body.length; i += 65536) yield body.subarray(i, i + 65536);
}
