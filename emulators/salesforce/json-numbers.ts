/**
 * JSON bodies read with their number literals kept as written. `JSON.parse` turns `123456789012345678`
 * into the double 123456789012345680, which would hide a client sending too few digits (or refuse 18
 * nines as 10^18): Salesforce reads a number literal as a decimal, so the emulator does too. Number
 * literals become `JsonNumber`s; everything else parses as `JSON.parse` does.
 */
export class JsonNumber {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
  toJSON(): number {
    return Number(this.text);
  }
}

/** Marks a literal while `JSON.parse` runs: a string no request body holds (a NUL, then a tag). */
const MARK = '\u0000#number:';
const MARK_JSON = '\\u0000#number:';

/** Parses `text` as JSON; throws what `JSON.parse` throws for malformed text. */
export function parseJsonExact(text: string): unknown {
  let out = '';
  let from = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Skip the string, escapes included.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i += 2;
        else if (d === 34) break;
        else i++;
      }
      i++;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      // A number literal (JSON grammar: -?int frac? exp?); malformed ones are left to JSON.parse.
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if ((d >= 48 && d <= 57) || d === 46 || d === 101 || d === 69 || d === 43 || d === 45) j++;
        else break;
      }
      const literal = text.slice(i, j);
      out += `${text.slice(from, i)}"${MARK_JSON}${literal}"`;
      from = j;
      i = j;
    } else i++;
  }
  out += text.slice(from);
  // Malformed number literals must still fail: JSON.parse of the literal alone checks its grammar.
  return JSON.parse(out, (_key, value: unknown) => {
    if (typeof value !== 'string' || !value.startsWith(MARK)) return value;
    const literal = value.slice(MARK.length);
    JSON.parse(literal);
    return new JsonNumber(literal);
  });
}
