/**
 * Postgres type ↔ Salesforce type compatibility (a table, so a reader can audit it) and value encoding
 * for the two wire formats: REST JSON (Collections) and Bulk 2.0 CSV.
 */
import type { FieldSpec } from '../types';
import { exactDecimal, type ExactNumber } from './decimal';
import { jsonValueText, parseJsonKeepingDigits } from '../../common/json-exact';

/** The parts of a describe field that encoding needs. */
export interface SfField {
  name: string;
  type: string;
  length?: number;
  precision?: number;
  scale?: number;
  digits?: number;
  createable?: boolean;
  updateable?: boolean;
  nillable?: boolean;
  defaultedOnCreate?: boolean;
  externalId?: boolean;
  idLookup?: boolean;
  unique?: boolean;
  caseSensitive?: boolean;
  /** Lookups: the object(s) the field points to and the relationship name used in `Account.Ext__c`. */
  referenceTo?: string[];
  relationshipName?: string | null;
}

const TEXT = ['text', 'varchar', 'bpchar', 'char', 'name', 'citext'];
/** char(n): values padded with trailing spaces by Postgres. */
const CHAR_TYPES = new Set(['bpchar', 'char']);
const INTS = ['int2', 'int4', 'int8'];
/**
 * Not `money`: node-postgres hands it over as the server's text in lc_monetary's format ("$1,234.56"),
 * which no number field takes; a model casts it to numeric. As text it fills a text field.
 */
const NUMS = [...INTS, 'numeric', 'float4', 'float8'];
const TIMES = ['date', 'timestamp', 'timestamptz'];
const STRINGISH = [...TEXT, ...NUMS, 'money', 'uuid', 'bool', ...TIMES, 'json', 'jsonb'];

/** Salesforce field type → Postgres column types whose values it can take. Anything else is skipped (warned). */
export const TYPE_TABLE: Readonly<Record<string, readonly string[]>> = {
  string: STRINGISH,
  textarea: STRINGISH,
  encryptedstring: [...TEXT],
  phone: [...TEXT, ...INTS, 'numeric'],
  email: [...TEXT],
  url: [...TEXT],
  picklist: [...TEXT, ...INTS, 'bool'],
  combobox: [...TEXT, ...INTS],
  multipicklist: [...TEXT, '_text', '_varchar', 'json', 'jsonb'],
  id: [...TEXT],
  reference: [...TEXT],
  boolean: ['bool'],
  int: [...INTS, 'numeric'],
  long: [...INTS, 'numeric'],
  double: NUMS,
  currency: NUMS,
  percent: NUMS,
  date: [...TIMES, ...TEXT],
  datetime: [...TIMES, ...TEXT],
  time: ['time', 'timetz', ...TEXT],
};

export function isCompatible(pgType: string, sfType: string): boolean {
  return (TYPE_TABLE[sfType] ?? []).includes(pgType.toLowerCase());
}

/** An encoded value, or a per-row failure decided without calling Salesforce. */
/** A value as sent: `ExactNumber` is a number field's value read from text (int8, numeric), kept as its digits. */
export type WireValue = string | number | boolean | ExactNumber | null;

export type Encoded = { ok: true; value: WireValue } | { ok: false; code: string; message: string };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * pg parses `date` as local midnight and `timestamp` (without time zone) as local wall-clock time, so
 * their date is read back with local getters: the date the column holds, whatever the worker's zone.
 * A `timestamptz` is an instant: its date is the UTC one. Datetimes are written in UTC (`Z`), which no
 * DST transition can shift.
 */
export function formatDate(value: unknown, pgType: string): string | null {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return null;
    if (pgType === 'date' || pgType === 'timestamp')
      return `${pad(value.getFullYear(), 4)}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
    return value.toISOString().slice(0, 10);
  }
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(String(value));
  return m ? m[1]! : null;
}

export function formatDateTime(value: unknown, pgType: string): string | null {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return null;
    if (pgType === 'date') return `${formatDate(value, 'date')}T00:00:00.000Z`;
    return value.toISOString();
  }
  const s = String(value);
  // Accept ISO strings carrying an offset or Z; a bare local time would be ambiguous around DST.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(s)) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A time of day as Postgres writes `time` and `timetz` (`13:45:00`, `13:45:00.5+02`, `01:30:00-05:30`), or as text. */
const TIME_OF_DAY = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/;

/**
 * A Salesforce time field's value, `HH:mm:ss.SSSZ` (the format Salesforce documents for time fields,
 * connectors/salesforce/README.md), or null when `value` is no time of day it can hold. A time with an
 * offset (`timetz`, text with `Z` or `+02:00`) is written as that time in UTC, the day wrapping (a time
 * field has no date: `00:30+01` is `23:30Z`); a time without one is written as it is, with `Z`. Fractions
 * past milliseconds are cut, never rounded (`23:59:59.9996` stays on its day). Postgres's `24:00:00`, the
 * end of a day, is no time a time field holds.
 */
export function formatTime(value: unknown): string | null {
  const m = TIME_OF_DAY.exec(String(value).trim());
  if (!m) return null;
  const [h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || mi > 59 || s > 59) return null;
  let seconds = h * 3600 + mi * 60 + s;
  if (m[6]) {
    const [oh, om, os] = [Number(m[7]), Number(m[8] ?? 0), Number(m[9] ?? 0)];
    if (om > 59 || os > 59) return null;
    const offset = oh * 3600 + om * 60 + os;
    seconds = (((seconds - (m[6] === '-' ? -offset : offset)) % 86400) + 86400) % 86400;
  }
  const ms = (m[4] ?? '').slice(0, 3).padEnd(3, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}.${ms}Z`;
}

function toText(value: unknown, pgType: string): string {
  if (value instanceof Date) return pgType === 'date' ? formatDate(value, 'date')! : value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Cuts to `max` UTF-16 units without splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

/**
 * 10^k for k = 0…308, each parsed from its literal (correctly rounded; exact up to 10^22), so the
 * digit checks do not depend on how `**` rounds.
 */
const POW10: readonly number[] = Array.from({ length: 309 }, (_, k) => Number(`1e${k}`));

const notANumber = (f: SfField): Encoded => ({
  ok: false,
  code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
  message: `${f.name}: value is not a number`,
});
const tooManyDigits = (spec: FieldSpec, f: SfField, intDigits: number): Encoded => ({
  ok: false,
  code: 'NUMBER_OUTSIDE_VALID_RANGE',
  message: `${f.name}: ${spec.from} has more than ${intDigits} integer digits`,
});

function encodeNumber(spec: FieldSpec, f: SfField, value: unknown): Encoded {
  const isInt = f.type === 'int' || f.type === 'long';
  const scale = isInt ? 0 : (f.scale ?? 0);
  const intDigits = isInt ? f.digits || (f.type === 'int' ? 9 : 18) : (f.precision ?? 18) - scale;
  if (typeof value !== 'number') {
    // int8 and numeric arrive as text (a bigint if a driver parses them so): checked and rounded on
    // their digits, and sent as those digits. A double would keep about 16 of them.
    const text = typeof value === 'string' ? value : typeof value === 'bigint' ? value.toString() : String(value);
    const d = exactDecimal(text, Math.max(scale, 0), intDigits, isInt);
    if (!d.ok) {
      if (d.reason === 'not-a-number') return notANumber(f);
      if (d.reason === 'not-an-integer')
        return { ok: false, code: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: `${f.name}: ${spec.from} is not an integer` };
      return tooManyDigits(spec, f, intDigits);
    }
    // Compared as a double: exact around 2^31, far below 2^53.
    if (f.type === 'int' && Math.abs(Number(d.value.digits)) > 2147483647) return tooManyDigits(spec, f, intDigits);
    return { ok: true, value: d.value };
  }
  // A JavaScript number (float4/float8, or an int2/int4 column): sent as that number.
  const n = value;
  if (!Number.isFinite(n)) return notANumber(f);
  if (isInt && !Number.isInteger(n))
    return { ok: false, code: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: `${f.name}: ${spec.from} is not an integer` };
  // An integer needs no rounding (and every double from 2^53 up is one, so `toFixed`, which writes
  // exponent form from 1e21, only ever sees smaller values). `+ 0` turns -0 into 0.
  const rounded = (Number.isInteger(n) ? n : Number(n.toFixed(Math.min(scale, 20)))) + 0;
  // Integer digits by magnitude: |trunc| has more than d digits exactly when it is >= 10^d. (A digit
  // count of its text was wrong from 1e21, where JavaScript writes "1e+21".)
  const limit = POW10[intDigits] ?? (intDigits < 0 ? 0 : Infinity);
  if (Math.abs(Math.trunc(rounded)) >= limit || (f.type === 'int' && Math.abs(rounded) > 2147483647))
    return tooManyDigits(spec, f, intDigits);
  return { ok: true, value: rounded };
}

/** Encodes one model value for a Salesforce field; `null` means "clear the field". */
export function encodeValue(spec: FieldSpec, f: SfField, value: unknown): Encoded {
  if (value === null || value === undefined) return { ok: true, value: null };
  const pg = spec.pgType.toLowerCase();
  // node-postgres hands char(n) over padded with spaces to n; the padding is no part of the value (its
  // text form, the key syncline keeps, drops it), and would make a key miss its record or a short value too long.
  if (CHAR_TYPES.has(pg) && typeof value === 'string') value = value.replace(/ +$/, '');
  switch (f.type) {
    case 'boolean':
      return { ok: true, value: value === true || value === 't' || value === 'true' };
    case 'int':
    case 'long':
    case 'double':
    case 'currency':
    case 'percent':
      return encodeNumber(spec, f, value);
    case 'date': {
      const s = formatDate(value, pg);
      return s
        ? { ok: true, value: s }
        : { ok: false, code: 'INVALID_TYPE_ON_FIELD_IN_RECORD', message: `${f.name}: ${spec.from} is not a date (YYYY-MM-DD)` };
    }
    case 'datetime': {
      const s = formatDateTime(value, pg);
      return s
        ? { ok: true, value: s }
        : {
            ok: false,
            code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
            message: `${f.name}: ${spec.from} is not an ISO 8601 timestamp with offset`,
          };
    }
    case 'time': {
      const s = formatTime(value);
      return s
        ? { ok: true, value: s }
        : {
            ok: false,
            code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
            message: `${f.name}: ${spec.from} is not a time of day Salesforce holds (HH:mm:ss, 00:00:00 to 23:59:59.999)`,
          };
    }
    case 'multipicklist': {
      // json and jsonb arrive as Postgres's text (db/delta.ts ROW_VALUE_TYPES): an element keeps its digits.
      const parsed = typeof value === 'string' && JSON_TYPES.has(pg) ? safeJson(value) : value;
      if (parsed === null) return { ok: true, value: null };
      // The values are joined with ";": an element holding one would arrive as two values.
      if (Array.isArray(parsed) && parsed.some((v) => String(v).includes(';')))
        return {
          ok: false,
          code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
          message: `${f.name}: an element of ${spec.from} holds ";", which Salesforce would read as two values of the multi-select picklist`,
        };
      const s = Array.isArray(parsed) ? parsed.map(String).join(';') : String(parsed);
      return checkLength(spec, f, s);
    }
    default: {
      if (typeof value === 'string' && JSON_TYPES.has(pg)) {
        // Postgres's text of a json(b) value, written as it was always sent (compact, a string bare, null
        // clearing the field), with the digits of numbers a double would change kept.
        const text = jsonValueText(value);
        return text === null ? { ok: true, value: null } : checkLength(spec, f, text);
      }
      return checkLength(spec, f, toText(value, pg));
    }
  }
}

const JSON_TYPES = new Set(['json', 'jsonb']);

function safeJson(s: string): unknown {
  try {
    return parseJsonKeepingDigits(s);
  } catch {
    return s;
  }
}

function checkLength(spec: FieldSpec, f: SfField, s: string): Encoded {
  const max = f.length ?? 0;
  if (max > 0 && s.length > max) {
    if (spec.truncate) return { ok: true, value: truncate(s, max) };
    return {
      ok: false,
      code: 'STRING_TOO_LONG',
      message: `${f.name}: data value too large: ${s.length} characters, the field holds ${max} (map it with "truncate": true to cut)`,
    };
  }
  return { ok: true, value: s };
}
