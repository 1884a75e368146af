/**
 * Exact decimal numbers for number fields. node-postgres hands `int8` and `numeric` values over as text
 * (this project sets no type parser), and a double keeps only about 16 significant digits: the text is
 * checked and rounded here digit by digit, never through a JavaScript number, and sent as those digits.
 */
import type { NumberLiteral } from '../../common/json-exact';

/**
 * A number field's value as plain decimal digits (`-123456789012345678`, `12.5`): no exponent, no `+`,
 * no leading zeros, no trailing zeros after the point, never `-0`. The Bulk CSV cell is the digits; the
 * REST JSON body carries them as a number literal (`json-body.ts`). `toJSON` gives the digits as a
 * string, for any other JSON text (the rows grouped by parent are kept as JSON lines).
 */
export class ExactNumber implements NumberLiteral {
  constructor(readonly digits: string) {}
  /** Written as this literal by `stringifyExact` (common/json-exact.ts): the REST body's number. */
  get numberLiteral(): string {
    return this.digits;
  }
  toString(): string {
    return this.digits;
  }
  toJSON(): string {
    return this.digits;
  }
}

/** A decimal read from text: sign, the digits without any point, and how many of them follow the point. */
interface Parsed {
  negative: boolean;
  digits: string;
  scale: number;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

/** Exponents beyond this only ever make the value 0 or out of range (Salesforce keeps 18 digits). */
const MAX_EXPONENT = 1000;

/**
 * Reads `[+-]digits[.digits][e[+-]digits]` with edge whitespace, at least one digit before or after
 * the point; anything else (blank, `0x1F`, `NaN`, `Infinity`, `1_000`, other scripts' digits) is null.
 * One scan with charCodeAt: no regex, no allocation besides the slices.
 */
function parse(s: string): Parsed | null {
  let i = 0;
  let end = s.length;
  while (i < end && isSpace(s.charCodeAt(i))) i++;
  while (end > i && isSpace(s.charCodeAt(end - 1))) end--;
  let negative = false;
  const c0 = s.charCodeAt(i);
  if (c0 === 45 /* - */ || c0 === 43 /* + */) {
    negative = c0 === 45;
    i++;
  }
  const intStart = i;
  while (i < end && isDigit(s.charCodeAt(i))) i++;
  const intPart = s.slice(intStart, i);
  let fracPart = '';
  if (i < end && s.charCodeAt(i) === 46 /* . */) {
    const fracStart = ++i;
    while (i < end && isDigit(s.charCodeAt(i))) i++;
    fracPart = s.slice(fracStart, i);
  }
  if (intPart === '' && fracPart === '') return null;
  let exponent = 0;
  if (i < end && (s.charCodeAt(i) | 32) === 101 /* e or E */) {
    i++;
    let expNegative = false;
    const c = s.charCodeAt(i);
    if (c === 45 || c === 43) {
      expNegative = c === 45;
      i++;
    }
    const expStart = i;
    while (i < end && isDigit(s.charCodeAt(i))) {
      // Capped: the value is 0 or out of range long before, and the cap keeps the digit strings small.
      if (exponent <= MAX_EXPONENT) exponent = exponent * 10 + (s.charCodeAt(i) - 48);
      i++;
    }
    if (i === expStart) return null;
    if (expNegative) exponent = -exponent;
  }
  if (i !== end) return null;
  let digits = intPart + fracPart;
  let scale = fracPart.length - exponent;
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  return { negative, digits, scale };
}

/** Digits without leading zeros ('' for zero). */
function stripLeadingZeros(d: string): string {
  let k = 0;
  while (k < d.length && d.charCodeAt(k) === 48) k++;
  return k === 0 ? d : d.slice(k);
}

/** Adds one to a string of digits (`'999'` → `'1000'`). */
function increment(d: string): string {
  let k = d.length - 1;
  while (k >= 0 && d.charCodeAt(k) === 57) k--;
  if (k < 0) return `1${'0'.repeat(d.length)}`;
  return d.slice(0, k) + String.fromCharCode(d.charCodeAt(k) + 1) + '0'.repeat(d.length - k - 1);
}

export type DecimalResult =
  { ok: true; value: ExactNumber; fraction: boolean } | { ok: false; reason: 'not-a-number' | 'not-an-integer' | 'too-many-digits' };

/**
 * `text` rounded to `scale` decimal places, half away from zero (what `Number.prototype.toFixed` does
 * to a double that holds its value exactly, so a text and a float8 of the same value round alike), with
 * at most `intDigits` integer digits after rounding. `integer`: a fraction left after rounding to
 * `scale` fails `not-an-integer` (int and long fields take no decimals, and none are dropped silently).
 */
export function exactDecimal(text: string, scale: number, intDigits: number, integer: boolean): DecimalResult {
  const p = parse(text);
  if (!p) return { ok: false, reason: 'not-a-number' };
  let { digits } = p;
  let s = p.scale;
  if (integer) {
    // Every digit after the point must be zero.
    for (let k = digits.length - s; k < digits.length; k++)
      if (k >= 0 && digits.charCodeAt(k) !== 48) return { ok: false, reason: 'not-an-integer' };
  }
  if (s > scale) {
    const cut = digits.length - (s - scale);
    const next = cut >= 0 ? digits.charCodeAt(cut) : 48;
    digits = cut > 0 ? digits.slice(0, cut) : '';
    if (next >= 53 /* 5 */ && cut >= 0) digits = increment(digits === '' ? '0' : digits);
    s = scale;
  }
  // Split into integer and fraction digits (the fraction is `s` digits long, padded on the left).
  if (digits.length < s) digits = '0'.repeat(s - digits.length) + digits;
  const intPart = stripLeadingZeros(digits.slice(0, digits.length - s));
  let fracPart = digits.slice(digits.length - s);
  let e = fracPart.length;
  while (e > 0 && fracPart.charCodeAt(e - 1) === 48) e--;
  fracPart = fracPart.slice(0, e);
  if (intPart.length > intDigits) return { ok: false, reason: 'too-many-digits' };
  const zero = intPart === '' && fracPart === '';
  const body = (intPart === '' ? '0' : intPart) + (fracPart === '' ? '' : `.${fracPart}`);
  return { ok: true, value: new ExactNumber(p.negative && !zero ? `-${body}` : body), fraction: fracPart !== '' };
}
