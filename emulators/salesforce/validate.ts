/**
 * The one validation engine for every write path (single REST, Collections, Bulk 2.0). Inputs arrive as
 * name/value entries: JSON values are typed and `null` clears; CSV values are strings where '' means
 * "no change" and '#N/A' clears (API notes §4, trap 9). Parent lookups by external id are accepted as
 * JSON `{"Account": {"External_Id__c": "A-1"}}` or CSV header `Account.External_Id__c`.
 */
import { coerce } from './coerce';
import { sfError, type SfError } from './errors';
import { fieldIndex } from './schema';
import { isRequired, type FieldDef, type ObjectDef, type StoredValue } from './schema-types';

export type Source = 'json' | 'csv';
export type Mode = 'create' | 'update';

export interface Entry {
  name: string;
  value: unknown;
}

export interface RefResolver {
  /** Existence / key-prefix check of an id written into a reference field. */
  checkReference(fd: FieldDef, id: string): SfError | null;
  /** Parent lookup by the parent's external id field. */
  resolveParent(fd: FieldDef, extField: string, value: string): { id: string } | { error: SfError };
}

export interface Validated {
  values: Map<number, StoredValue>;
  errors: SfError[];
}

const NULL_CSV = '#N/A';

function unknownField(def: ObjectDef, name: string): SfError {
  return sfError('INVALID_FIELD', `No such column '${name}' on sobject of type ${def.name}`, [name]);
}

function notWritable(names: string[]): SfError {
  return sfError(
    'INVALID_FIELD_FOR_INSERT_UPDATE',
    `Unable to create/update fields: ${names.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
    names,
  );
}

/** Splits a relationship reference (`Account.Ext__c` in CSV, `Account: {Ext__c}` in JSON) into parts. */
function relationship(def: ObjectDef, e: Entry, source: Source): { fdIdx: number; extField: string; value: unknown } | null {
  if (source === 'csv') {
    const dot = e.name.indexOf('.');
    if (dot < 0) return null;
    const fdIdx = def.relationships.get(e.name.slice(0, dot).toLowerCase());
    return fdIdx === undefined ? null : { fdIdx, extField: e.name.slice(dot + 1), value: e.value };
  }
  if (typeof e.value !== 'object' || e.value === null || Array.isArray(e.value)) return null;
  const fdIdx = def.relationships.get(e.name.toLowerCase());
  const key = Object.keys(e.value).find((k) => k !== 'attributes');
  if (fdIdx === undefined || key === undefined) return null;
  return { fdIdx, extField: key, value: (e.value as Record<string, unknown>)[key] };
}

/** Field types whose blank value is null (an empty string is never stored). */
const TEXT_TYPES = new Set(['string', 'textarea', 'email', 'phone', 'url', 'picklist', 'multipicklist']);

export function validateFields(def: ObjectDef, entries: Entry[], source: Source, mode: Mode, refs: RefResolver): Validated {
  const values = new Map<number, StoredValue>();
  const errors: SfError[] = [];
  const readOnly: string[] = [];
  for (const e of entries) {
    if (e.name === 'attributes') continue;
    let raw = e.value;
    if (source === 'csv') {
      if (raw === '') continue;
      if (raw === NULL_CSV) raw = null;
    }
    const rel = raw === null ? null : relationship(def, e, source);
    const idx = rel ? rel.fdIdx : fieldIndex(def, e.name);
    const fd = idx === undefined ? undefined : def.fields[idx];
    if (idx === undefined || !fd) return { values, errors: [unknownField(def, e.name)] };
    // Salesforce keeps no empty text: "" in a JSON write blanks the field, which then reads back as null.
    if (raw === '' && !rel && TEXT_TYPES.has(fd.type)) raw = null;
    if (mode === 'create' ? !fd.createable : !fd.updateable) {
      readOnly.push(fd.name);
      continue;
    }
    if (raw === null || raw === undefined) {
      if (fd.type === 'boolean') values.set(idx, false);
      else if (mode === 'update' && isRequired(fd)) errors.push(missing([fd.name]));
      else values.set(idx, null);
      continue;
    }
    if (rel) {
      const r = refs.resolveParent(fd, rel.extField, String(rel.value));
      if ('error' in r) errors.push(r.error);
      else values.set(idx, r.id);
      continue;
    }
    const c = coerce(fd, raw);
    if (!c.ok) {
      errors.push(c.error);
      continue;
    }
    const refErr = fd.type === 'reference' ? refs.checkReference(fd, String(c.value)) : null;
    if (refErr) errors.push(refErr);
    else values.set(idx, c.value);
  }
  if (readOnly.length > 0) return { values, errors: [notWritable(readOnly)] };
  if (mode === 'create') {
    const absent = def.fields.filter((fd, i) => isRequired(fd) && (values.get(i) ?? null) === null).map((fd) => fd.name);
    if (absent.length > 0) errors.push(missing(absent));
  }
  return { values, errors };
}

export function missing(names: string[]): SfError {
  return sfError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${names.join(', ')}]`, names);
}
