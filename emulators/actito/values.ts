import { JsonNumber } from '../../common/json-exact';
import { ROW_SEP } from './table';
import type { AttributeDef, FieldError, Scalar } from './types';

/** Default STRING length cap when no restriction is declared [D S10: string ≤ 255]. */
export const DEFAULT_MAX_LENGTH = 255;

type Canon = { value: string | null } | { error: FieldError };

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TS_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const BOOL_TRUE = new Set(['TRUE', '1', 'Y', 'YES']);
const BOOL_FALSE = new Set(['FALSE', '0', 'N', 'NO']);

const fail = (a: AttributeDef, code: FieldError['code'], message: string): Canon => ({
  error: { field: a.name, code, message: `${a.name}: ${message}` },
});

function validDate(y: string, m: string, d: string): boolean {
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return date.getUTCFullYear() === Number(y) && date.getUTCMonth() === Number(m) - 1 && date.getUTCDate() === Number(d);
}

/**
 * Converts a JSON scalar or CSV cell to the stored canonical string, or a field error.
 * Wire formats per [D S10]: `.` decimals, `yyyy-MM-dd`, `yyyy-MM-dd HH:mm:ss`, booleans TRUE/1/Y.
 * An empty string or null means "no value".
 */
export function canonicalize(a: AttributeDef, raw: unknown): Canon {
  if (raw === null || raw === undefined || raw === '') return { value: null };
  if (typeof raw === 'object')
    return fail(a, 'INVALID_TYPE', `expected a ${a.valueType} scalar, got ${Array.isArray(raw) ? 'an array' : 'an object'}`);
  const s = String(raw);
  switch (a.valueType) {
    case 'STRING':
      return checkString(a, s);
    case 'INTEGER':
    case 'LONG': {
      if ((typeof raw !== 'number' && typeof raw !== 'string') || !INT_RE.test(s))
        return fail(a, 'INVALID_TYPE', `'${s}' is not an integer`);
      const n = BigInt(s);
      const max = a.valueType === 'INTEGER' ? 2n ** 31n - 1n : 2n ** 63n - 1n;
      if (n > max || n < -max - 1n) return fail(a, 'INVALID_VALUE', `'${s}' is out of range for ${a.valueType}`);
      return { value: n.toString() };
    }
    case 'NUMBER':
      if ((typeof raw !== 'number' && typeof raw !== 'string') || !NUM_RE.test(s))
        return fail(a, 'INVALID_TYPE', `'${s}' is not a number (use '.' as decimal separator)`);
      return { value: String(Number(s)) };
    case 'BOOLEAN': {
      if (typeof raw === 'boolean') return { value: String(raw) };
      const u = s.toUpperCase();
      if (BOOL_TRUE.has(u)) return { value: 'true' };
      if (BOOL_FALSE.has(u)) return { value: 'false' };
      return fail(a, 'INVALID_TYPE', `'${s}' is not a boolean (TRUE/FALSE, 1/0, Y/N)`);
    }
    case 'DATE': {
      const m = DATE_RE.exec(s);
      if (!m || !validDate(m[1]!, m[2]!, m[3]!)) return fail(a, 'INVALID_TYPE', `'${s}' is not a date (yyyy-MM-dd)`);
      return { value: s };
    }
    case 'TIMESTAMP': {
      const m = TS_RE.exec(s);
      const ok = m && validDate(m[1]!, m[2]!, m[3]!) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 60;
      if (!ok) return fail(a, 'INVALID_TYPE', `'${s}' is not a timestamp (yyyy-MM-dd HH:mm:ss)`);
      return { value: s };
    }
  }
}

function checkString(a: AttributeDef, s: string): Canon {
  if (s.includes(ROW_SEP)) return fail(a, 'INVALID_VALUE', 'contains a control character');
  const r = a.valueRestriction;
  const max = r?.maxLength ?? DEFAULT_MAX_LENGTH;
  if (s.length > max) return fail(a, 'TOO_LONG', `value has ${s.length} characters, maximum is ${max}`);
  if (r?.minLength !== undefined && s.length < r.minLength)
    return fail(a, 'TOO_SHORT', `value has ${s.length} characters, minimum is ${r.minLength}`);
  if (r?.acceptedValues && !r.acceptedValues.includes(s))
    return fail(a, 'NOT_ACCEPTED_VALUE', `'${s}' is not one of ${r.acceptedValues.join(', ')}`);
  switch (a.profileType) {
    case 'EMAIL_ADDRESS':
      return EMAIL_RE.test(s) ? { value: s } : fail(a, 'INVALID_VALUE', `'${s}' is not a valid e-mail address`);
    case 'MOTHER_LANGUAGE':
      return /^[A-Za-z]{2}$/.test(s) ? { value: s } : fail(a, 'INVALID_VALUE', `'${s}' is not an ISO 639-1 language code`);
    case 'SEX':
      return s === 'M' || s === 'F' ? { value: s } : fail(a, 'INVALID_VALUE', `'${s}' must be M or F`);
    default:
      return { value: s };
  }
}

/** Stored canonical string -> JSON scalar for responses. */
export function toJson(a: AttributeDef, v: string | null): Scalar | JsonNumber {
  if (v === null) return null;
  switch (a.valueType) {
    case 'INTEGER':
    case 'LONG': {
      // Written digit for digit (the server's answers go through stringifyExact), as a Java long is.
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : new JsonNumber(v);
    }
    case 'NUMBER':
      return Number(v);
    case 'BOOLEAN':
      return v === 'true';
    default:
      return v;
  }
}

/** Technical attribute names: ≤ 50 chars [D S22]; allowed characters [A] letter first, then letters, digits, `_`. */
export function validateAttributeName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'attribute name is required';
  if (name.length > 50) return `attribute name '${name}' has ${name.length} characters, maximum is 50`;
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name))
    return `attribute name '${name}' may only contain letters, digits and '_' and must start with a letter`;
  return undefined;
}
