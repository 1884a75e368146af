/**
 * JSON with its number literals kept as written, both ways. `JSON.parse` turns `123456789012345678` into
 * the double 123456789012345680 and `JSON.stringify` can write a number only from a double: a LONG or a
 * decimal past about 16 digits would lose the rest. Destinations read and write number literals as
 * decimals; the connectors and the emulators do too, through `parseJsonExact` and `stringifyExact`.
 */

/** A value `stringifyExact` writes as the raw number literal `numberLiteral` (plain decimal digits). */
export interface NumberLiteral {
  readonly numberLiteral: string;
}

/** A number literal read by `parseJsonExact`, kept as written. */
export class JsonNumber implements NumberLiteral {
  constructor(readonly text: string) {}
  get numberLiteral(): string {
    return this.text;
  }
  toString(): string {
    return this.text;
  }
  toJSON(): number {
    return Number(this.text);
  }
}

/**
 * Marks a literal while `JSON.parse` runs: a string no input holds (a NUL, a tag and a token drawn for
 * each parse, so not even a string of the input that starts with the tag can pass for a literal).
 */
const MARK = '\u0000#number:';
const MARK_JSON = '\\u0000#number:';

/** Parses `text` as JSON; throws what `JSON.parse` throws for malformed text. */
export function parseJsonExact(text: string): unknown {
  return parseJsonNumbers(text, (literal) => new JsonNumber(literal));
}

/**
 * Parses `text` as JSON as `JSON.parse` does (objects, key order, a repeated key's last value), except
 * that a number literal a double does not hold exactly (`12345678901234567890`, past 2^53;
 * `0.1000000000000000055511151231257827`, more digits than a double keeps; `1e400`) is a `JsonNumber` of
 * its text. Every other number is the JavaScript number, so `stringifyExact` writes such a value as
 * `JSON.stringify` of `JSON.parse` always did (`1.50` as `1.5`, `1e2` as `100`), and only lost digits differ.
 */
export function parseJsonKeepingDigits(text: string): unknown {
  return parseJsonNumbers(text, (literal) => {
    const n = Number(literal);
    return sameDecimal(literal, String(n)) ? n : new JsonNumber(literal);
  });
}

/**
 * The text a JSON value is written as into a text field or attribute: `null` for JSON null (it clears the
 * field, as SQL NULL does), a string's own characters for a JSON string, and otherwise the compact JSON
 * text of `parseJsonKeepingDigits` (number literals a double would change kept as written). For
 * Postgres's text of a json or jsonb value; text that is no JSON is returned as it is.
 */
export function jsonValueText(text: string): string | null {
  let value: unknown;
  try {
    value = parseJsonKeepingDigits(text);
  } catch {
    return text;
  }
  if (value === null) return null;
  if (typeof value === 'string') return value;
  return stringifyExact(value);
}

/**
 * The value of a json[] or jsonb[] column read as Postgres's text of each element (db/delta.ts
 * `ROW_VALUE_TYPES`: nested arrays for more dimensions, null for a NULL element): each element parsed by
 * `parseJsonKeepingDigits` (an element that is no JSON kept as its text). `stringifyExact` of the result
 * is what `JSON.stringify` of node-postgres's parsed array always wrote, except for the digits a double
 * would have changed.
 */
export function parseJsonElements(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(parseJsonElements);
  if (typeof value !== 'string') return value;
  try {
    return parseJsonKeepingDigits(value);
  } catch {
    return value;
  }
}

/** Postgres type names (pg_type.typname) of json and jsonb, and of their arrays. */
export const JSON_TYPE_NAMES: ReadonlySet<string> = new Set(['json', 'jsonb']);
export const JSON_ARRAY_TYPE_NAMES: ReadonlySet<string> = new Set(['_json', '_jsonb']);

/**
 * A value of a json(b) or json(b)[] column as `ROW_VALUE_TYPES` reads it (Postgres's text), parsed as
 * node-postgres would have parsed it but with every digit kept (`parseJsonKeepingDigits`); any other
 * value as it is.
 */
export function exactJsonColumnValue(value: unknown, pgType: string): unknown {
  const t = pgType.toLowerCase();
  if (typeof value === 'string' && JSON_TYPE_NAMES.has(t)) {
    try {
      return parseJsonKeepingDigits(value);
    } catch {
      return value;
    }
  }
  return JSON_ARRAY_TYPE_NAMES.has(t) ? parseJsonElements(value) : value;
}

/** A decimal literal as sign, significant digits and exponent (`1.50` and `15e-1` alike: `15e-1`); null if none. */
function canonicalDecimal(s: string): string | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return null;
  const frac = m[3] ?? '';
  const all = `${m[2]}${frac}`.replace(/^0+/, '');
  if (all === '') return '0';
  const digits = all.replace(/0+$/, '');
  return `${m[1]}${digits}e${Number(m[4] ?? 0) - frac.length + (all.length - digits.length)}`;
}

/** Whether two decimal texts are the same number, whatever their spelling (a double's text has an exponent from 1e21). */
function sameDecimal(a: string, b: string): boolean {
  const x = canonicalDecimal(a);
  return x !== null && x === canonicalDecimal(b);
}

function parseJsonNumbers(text: string, make: (literal: string) => unknown): unknown {
  const token = `${Math.random().toString(36).slice(2)}:`;
  const mark = MARK + token;
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
      out += `${text.slice(from, i)}"${MARK_JSON}${token}${literal}"`;
      from = j;
      i = j;
    } else i++;
  }
  out += text.slice(from);
  // Malformed number literals must still fail: JSON.parse of the literal alone checks its grammar.
  return JSON.parse(out, (_key, value: unknown) => {
    if (typeof value !== 'string' || !value.startsWith(mark)) return value;
    const literal = value.slice(mark.length);
    JSON.parse(literal);
    return make(literal);
  });
}

const isNumberLiteral = (v: object): v is NumberLiteral => typeof (v as Partial<NumberLiteral>).numberLiteral === 'string';

/**
 * What `JSON.stringify` writes, except that a `NumberLiteral` (a `JsonNumber`, or a connector's exact
 * decimal) is written as its literal. For plain data (objects, arrays, strings, numbers, booleans,
 * null); objects with a `toJSON` of their own (Dates) are left to `JSON.stringify`.
 */
export function stringifyExact(value: unknown): string {
  return write(value) ?? 'null';
}

/**
 * `JSON.stringify(value, null, space)`, except that a `NumberLiteral` (a `JsonNumber`) is written as its
 * literal, not as the double its `toJSON` gives: what `--json` prints (a plan's samples). Everything
 * else, Dates and `toJSON`s included, as `JSON.stringify` writes it.
 */
export function stringifyExactIndented(value: unknown, space: number): string {
  const mark = `\u0000#literal:${Math.random().toString(36).slice(2)}:`;
  const text = JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, v: unknown) {
      // `v` is after toJSON; the holder still has the value itself.
      const own = this[key];
      return own !== null && typeof own === 'object' && isNumberLiteral(own) ? mark + own.numberLiteral : v;
    },
    space,
  ) as string | undefined;
  if (text === undefined) return 'null';
  // The mark as JSON writes it inside a string ("\u0000…"); a literal holds no quote or backslash.
  const written = JSON.stringify(mark)
    .slice(1, -1)
    .replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  return text.replace(new RegExp(`"${written}([^"\\\\]*)"`, 'g'), '$1');
}

/** A value's JSON text, or undefined where `JSON.stringify` leaves a property out. */
function write(v: unknown): string | undefined {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (isNumberLiteral(v)) return v.numberLiteral;
  if (Array.isArray(v)) {
    let out = '';
    for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + (write(v[i]) ?? 'null');
    return `[${out}]`;
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(v);
  let out = '';
  for (const key of Object.keys(v)) {
    const text = write((v as Record<string, unknown>)[key]);
    if (text === undefined) continue;
    out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${text}`;
  }
  return `{${out}}`;
}
