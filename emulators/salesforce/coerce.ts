/**
 * Per-type value coercion shared by JSON (typed values) and CSV (strings) inputs. Returns the stored form,
 * or an SfError with the code Salesforce uses for that kind of bad value (API notes §6 table).
 */
import { normalizeId } from './ids';
import { JsonNumber } from '../../common/json-exact';
import { sfError, type SfError } from './errors';
import type { FieldDef, StoredValue } from './schema-types';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;
/**
 * Time fields: `HH:mm:ss.SSSZ` only, the format Salesforce documents for them ("Salesforce uses the format
 * HH:mm:ss.SSSZ for time fields"; connectors/salesforce/README.md). Whether Salesforce also takes other
 * spellings (`13:45:00`, an offset) is not documented: the emulator refuses them, so a client that sends
 * them fails here rather than in an org.
 */
const TIME = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

const NUMBER_TYPES = new Set(['int', 'double', 'currency', 'percent']);

export type Coerced = { ok: true; value: StoredValue } | { ok: false; error: SfError };

const ok = (value: StoredValue): Coerced => ({ ok: true, value });
const bad = (error: SfError): Coerced => ({ ok: false, error });
const wrongType = (fd: FieldDef, v: unknown) =>
  bad(sfError('INVALID_TYPE_ON_FIELD_IN_RECORD', `${fd.label}: value not of required type: ${String(v)}`, [fd.name]));

function validDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
}

/** Salesforce's wire format for datetimes: `2024-01-02T03:04:05.000+0000`. */
export function sfDateTime(d: Date): string {
  return d.toISOString().replace('Z', '+0000');
}

function text(fd: FieldDef, v: unknown): Coerced {
  if (typeof v === 'object') return wrongType(fd, JSON.stringify(v));
  const s = String(v);
  if (fd.length > 0 && s.length > fd.length) {
    return bad(sfError('STRING_TOO_LONG', `${fd.label}: data value too large: ${s} (max length=${fd.length})`, [fd.name]));
  }
  return ok(s);
}

function picklist(fd: FieldDef, v: unknown): Coerced {
  const s = String(v);
  if (fd.restrictedPicklist && !fd.picklistValues.includes(s)) {
    return bad(sfError('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${fd.label}: bad value for restricted picklist field: ${s}`, [fd.name]));
  }
  return text(fd, s);
}

function multipicklist(fd: FieldDef, v: unknown): Coerced {
  const parts = (Array.isArray(v) ? v.map(String) : String(v).split(';')).map((p) => p.trim()).filter((p) => p !== '');
  for (const p of parts) {
    if (fd.restrictedPicklist && !fd.picklistValues.includes(p)) {
      return bad(
        sfError('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${fd.label}: bad value for restricted picklist field: ${p}`, [fd.name]),
      );
    }
  }
  return text(fd, [...new Set(parts)].join(';'));
}

/** A decimal's text: sign, digits, point and exponent; edge whitespace allowed (as Number() allows it). */
const DECIMAL = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

/**
 * Numbers are decimals, as in Salesforce: a JSON number literal (`JsonNumber`) or a CSV cell is read
 * digit for digit with BigInt, never through a double, so 18 nines are 18 nines. Range by magnitude
 * (`|trunc| >= 10^(integer digits)`), then rounded to the field's scale, half away from zero. Stored as
 * a JavaScript number when that number's text is exactly the value, else as the decimal text (a REST
 * answer then shows `"123456789012345678"`, a string: JSON numbers would go back through a double).
 */
function numeric(fd: FieldDef, v: unknown): Coerced {
  if (typeof v === 'number') return numericDouble(fd, v);
  const text = v instanceof JsonNumber ? v.text : typeof v === 'string' ? v : null;
  const m = text === null ? null : DECIMAL.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return wrongType(fd, v);
  const digits = `${m[2]}${m[3] ?? ''}`.replace(/^0+/, '');
  const exponent = Number(m[4] ?? 0);
  let scale = (m[3] ?? '').length - exponent;
  const intDigits = fd.type === 'int' ? fd.digits : fd.precision - fd.scale;
  const target = fd.type === 'int' ? 0 : fd.scale;
  let n = BigInt(digits === '' ? '0' : digits);
  if (n === 0n) scale = 0;
  // Exponents far out: the value is out of range, or rounds to 0 (precision is at most 18).
  if (scale < -(intDigits + 1)) return outOfRange(fd, v);
  if (scale > digits.length + target + 1) {
    if (fd.type === 'int') return wrongType(fd, v);
    return ok(0);
  }
  if (scale < 0) {
    n *= 10n ** BigInt(-scale);
    scale = 0;
  }
  const unit = 10n ** BigInt(scale);
  if (fd.type === 'int' && n % unit !== 0n) return wrongType(fd, v);
  if (n / unit >= 10n ** BigInt(intDigits)) return outOfRange(fd, v);
  if (scale > target) {
    const d = 10n ** BigInt(scale - target);
    const q = n / d;
    n = 2n * (n % d) >= d ? q + 1n : q;
    scale = target;
  }
  const s = n.toString().padStart(scale + 1, '0');
  const frac = s.slice(s.length - scale).replace(/0+$/, '');
  const body = `${s.slice(0, s.length - scale)}${frac ? `.${frac}` : ''}`;
  const exact = m[1] === '-' && n !== 0n ? `-${body}` : body;
  const asNumber = Number(exact);
  return ok(String(asNumber) === exact ? asNumber : exact);
}

/** A JSON number already read as a double (admin seeding): checked and rounded as a double. */
function numericDouble(fd: FieldDef, n: number): Coerced {
  if (!Number.isFinite(n)) return wrongType(fd, n);
  if (fd.type === 'int') {
    if (!Number.isInteger(n)) return wrongType(fd, n);
    if (Math.abs(n) >= 10 ** fd.digits) return outOfRange(fd, n);
    return ok(n);
  }
  const intDigits = fd.precision - fd.scale;
  if (Math.abs(Math.trunc(n)) >= 10 ** intDigits) return outOfRange(fd, n);
  return ok(Number(n.toFixed(fd.scale)));
}

const outOfRange = (fd: FieldDef, v: unknown) =>
  bad(sfError('NUMBER_OUTSIDE_VALID_RANGE', `${fd.label}: value outside of valid range on numeric field: ${String(v)}`, [fd.name]));

function bool(fd: FieldDef, v: unknown): Coerced {
  if (typeof v === 'boolean') return ok(v);
  const s = String(v).toLowerCase();
  if (s === 'true' || s === '1') return ok(true);
  if (s === 'false' || s === '0') return ok(false);
  return wrongType(fd, v);
}

function date(fd: FieldDef, v: unknown): Coerced {
  const s = String(v);
  if (validDate(s)) return ok(s);
  const m = DATETIME.exec(s);
  if (m && m[1] && validDate(m[1])) return ok(m[1]);
  return wrongType(fd, v);
}

function datetime(fd: FieldDef, v: unknown): Coerced {
  const s = String(v);
  const m = DATETIME.exec(s);
  if (!m || !m[1] || !validDate(m[1])) return validDate(s) ? ok(sfDateTime(new Date(`${s}T00:00:00Z`))) : wrongType(fd, v);
  const zone = m[6] ?? 'Z';
  const iso = `${m[1]}T${m[2]}:${m[3]}:${m[4] ?? '00'}.${(m[5] ?? '0').padEnd(3, '0').slice(0, 3)}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? wrongType(fd, v) : ok(sfDateTime(d));
}

/** Id-shaped values (reference fields). Existence and key prefix are checked by the caller. */
function reference(fd: FieldDef, v: unknown): Coerced {
  const id = typeof v === 'string' ? normalizeId(v) : null;
  if (!id) return bad(sfError('MALFORMED_ID', `${fd.label}: id value of incorrect type: ${String(v)}`, [fd.name]));
  return ok(id);
}

export function coerce(fd: FieldDef, v: unknown): Coerced {
  // A JSON number literal into a field that is not a number: read as a double, as before.
  if (v instanceof JsonNumber && !NUMBER_TYPES.has(fd.type)) v = Number(v.text);
  switch (fd.type) {
    case 'email':
      if (!EMAIL.test(String(v)))
        return bad(sfError('INVALID_EMAIL_ADDRESS', `${fd.label}: invalid email address: ${String(v)}`, [fd.name]));
      return text(fd, v);
    case 'picklist':
      return picklist(fd, v);
    case 'multipicklist':
      return multipicklist(fd, v);
    case 'int':
    case 'double':
    case 'currency':
    case 'percent':
      return numeric(fd, v);
    case 'boolean':
      return bool(fd, v);
    case 'date':
      return date(fd, v);
    case 'datetime':
      return datetime(fd, v);
    case 'time':
      return typeof v === 'string' && TIME.test(v) ? ok(v) : wrongType(fd, v);
    case 'reference':
    case 'id':
      return reference(fd, v);
    default:
      return text(fd, v);
  }
}
