/**
 * Types and values: which Actito value type a Postgres column becomes, which model types an existing
 * attribute accepts, and how a node-postgres value is written (JSON call and CSV cell alike).
 */
import { plainNumber } from '../kit/plain-number';
import { JSON_ARRAY_TYPE_NAMES, jsonValueText, parseJsonElements, stringifyExact } from '../../common/json-exact';

/** Actito value types the connector knows (API notes §2: STRING, LONG, NUMBER, TIMESTAMP seen; BOOLEAN, DATE assumed). */
export const VALUE_TYPES = ['STRING', 'LONG', 'INTEGER', 'NUMBER', 'BOOLEAN', 'DATE', 'TIMESTAMP'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/** Postgres type -> value type of an attribute created for it. */
export const PG_TO_ACTITO: Record<string, ValueType> = {
  text: 'STRING',
  varchar: 'STRING',
  bpchar: 'STRING',
  char: 'STRING',
  name: 'STRING',
  citext: 'STRING',
  uuid: 'STRING',
  json: 'STRING',
  jsonb: 'STRING',
  int2: 'LONG',
  int4: 'LONG',
  int8: 'LONG',
  numeric: 'NUMBER',
  float4: 'NUMBER',
  float8: 'NUMBER',
  bool: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMP',
};

/** Value type of an existing attribute -> Postgres types it can take without loss. */
const ACCEPTS: Record<ValueType, readonly string[] | 'any'> = {
  STRING: 'any',
  LONG: ['int2', 'int4', 'int8'],
  INTEGER: ['int2', 'int4'],
  NUMBER: ['int2', 'int4', 'int8', 'numeric', 'float4', 'float8'],
  BOOLEAN: ['bool'],
  DATE: ['date'],
  TIMESTAMP: ['date', 'timestamp', 'timestamptz'],
};

export function isValueType(t: string): t is ValueType {
  return (VALUE_TYPES as readonly string[]).includes(t);
}

/** The type to create an attribute with: the mapping's `type` if given, else from the column's type. */
export function typeForNewAttribute(pgType: string, explicit?: string): ValueType | null {
  if (explicit !== undefined) {
    const t = explicit.toUpperCase();
    return isValueType(t) ? t : null;
  }
  return PG_TO_ACTITO[pgType.toLowerCase()] ?? null;
}

/** Can an attribute of `valueType` take a column of `pgType`? Unknown value types only take text. */
export function isCompatible(valueType: string, pgType: string): boolean {
  const accepts = isValueType(valueType) ? ACCEPTS[valueType] : ACCEPTS.STRING;
  return accepts === 'any' || accepts.includes(pgType.toLowerCase());
}

const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
export const MAX_NAME_LENGTH = 50;

/** Problem with an attribute name Actito would refuse, or null (API notes §2: ≤ 50 chars, immutable). */
export function attributeNameProblem(name: string): string | null {
  if (name.length > MAX_NAME_LENGTH)
    return `"${name}" is ${name.length} characters long; Actito attribute names have at most ${MAX_NAME_LENGTH}`;
  if (!NAME.test(name)) return `"${name}" is not a valid Actito attribute name: start with a letter, then letters, digits or "_"`;
  return null;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * `yyyy-MM-dd` / `yyyy-MM-dd HH:mm:ss` (API notes §2). node-postgres builds `date` and `timestamp`
 * (without zone) values at local midnight / local wall-clock time, so their local fields are the stored
 * ones; a `timestamptz` is an instant and is written in UTC.
 */
export function formatDate(d: Date, pgType: string, valueType: string): string {
  const utc = pgType === 'timestamptz';
  const y = utc ? d.getUTCFullYear() : d.getFullYear();
  const mo = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
  const day = utc ? d.getUTCDate() : d.getDate();
  const date = `${pad(y, 4)}-${pad(mo)}-${pad(day)}`;
  // A date has no time of day: only a TIMESTAMP attribute is given one (midnight).
  if (valueType === 'DATE' || (pgType === 'date' && valueType !== 'TIMESTAMP')) return date;
  const h = utc ? d.getUTCHours() : d.getHours();
  const mi = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  return `${date} ${pad(h)}:${pad(mi)}:${pad(s)}`;
}

export interface EncodeTarget {
  pgType: string;
  valueType: string;
  maxLength?: number;
  truncate?: boolean;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

const JSON_TYPES = new Set(['json', 'jsonb']);

/** How node-postgres writes a float or numeric that is no finite number. */
const NOT_FINITE = /^(NaN|[+-]?Infinity)$/;

export type Encoded = { ok: true; value: string | number | boolean | null } | { ok: false; message: string };

/** A node-postgres value as Actito expects it; strings longer than the attribute allows fail unless `truncate`. */
export function encodeValue(v: unknown, t: EncodeTarget): Encoded {
  if (v === null || v === undefined) return { ok: true, value: null };
  if (typeof v === 'string' && JSON_TYPES.has(t.pgType.toLowerCase())) {
    // Postgres's text of a json(b) value (db/delta.ts ROW_VALUE_TYPES), written as it was always sent
    // (compact, a string bare, JSON null as null), with the digits of numbers a double would change kept.
    const text = jsonValueText(v);
    if (text === null) return { ok: true, value: null };
    v = text;
  }
  if (Array.isArray(v) && JSON_ARRAY_TYPE_NAMES.has(t.pgType.toLowerCase())) {
    // A json[] or jsonb[] value: the text of each element (ROW_VALUE_TYPES), written as the JSON array
    // always sent (`JSON.stringify` of the parsed elements), with the digits of every number kept.
    v = stringifyExact(parseJsonElements(v));
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return { ok: false, message: 'invalid date' };
    return { ok: true, value: formatDate(v, t.pgType, t.valueType) };
  }
  if (t.valueType === 'BOOLEAN') return typeof v === 'boolean' ? { ok: true, value: v } : { ok: true, value: String(v) };
  if (t.valueType === 'LONG' || t.valueType === 'INTEGER' || t.valueType === 'NUMBER') {
    // numeric and int8 arrive as strings: keep them as strings to keep their precision (never Number()).
    // A double JavaScript would write in exponent form (below 1e-6, from 1e21) goes as its plain digits.
    // NaN and ±Infinity (float8, float4, numeric) are no decimal Actito can store; JSON would even write them as null.
    if ((typeof v === 'number' && !Number.isFinite(v)) || (typeof v === 'string' && NOT_FINITE.test(v)))
      return {
        ok: false,
        message: `${String(v)} is not a number Actito can store (a ${t.valueType} attribute takes finite decimals only)`,
      };
    if (typeof v === 'number') return { ok: true, value: String(v).includes('e') ? plainNumber(v) : v };
    if (typeof v === 'bigint') return { ok: true, value: v.toString() };
    return { ok: true, value: String(v) };
  }
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  const max = t.maxLength ?? 255;
  if (s.length <= max) return { ok: true, value: s };
  // Cut before a character whose two UTF-16 units straddle the limit: half of it is no text (an import
  // file would carry U+FFFD in its place).
  if (t.truncate) return { ok: true, value: s.slice(0, isHighSurrogate(s.charCodeAt(max - 1)) ? max - 1 : max) };
  return {
    ok: false,
    message: `value is ${s.length} characters long; the attribute takes at most ${max} (set "truncate": true on the mapping to cut it)`,
  };
}

/**
 * The longest text `encodeValue` passes through unchanged for `t`, or -1 when it may change texts (JSON,
 * booleans, numbers): a string value no longer than this is its own encoded value. Lets a file's writer
 * skip the checks for most texts (encode.ts `recordLine`; csv.test.ts compares the two).
 */
export function plainTextMax(t: EncodeTarget): number {
  const pg = t.pgType.toLowerCase();
  if (JSON_TYPES.has(pg) || JSON_ARRAY_TYPE_NAMES.has(pg)) return -1;
  if (t.valueType === 'BOOLEAN' || t.valueType === 'LONG' || t.valueType === 'INTEGER' || t.valueType === 'NUMBER') return -1;
  return t.maxLength ?? 255;
}

/** The CSV cell for an encoded value (booleans as TRUE/FALSE, null as an empty cell). */
export function csvText(v: string | number | boolean | null): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  return String(v);
}
