/**
 * Create / update / upsert / delete against the store, shared by single-record REST, Collections and
 * Bulk 2.0 so every path validates and fails the same way. Each call returns a RowResult (never throws
 * for row problems) and records its inverse in `undo` so allOrNone requests can roll back.
 */
import { sfDateTime } from './coerce';
import { failed, sfError, type RowResult, type SfError } from './errors';
import { normalizeId } from './ids';
import { refResolver } from './refs';
import { duplicateRuleError, validationRuleError } from './rules';
import { fieldIndex } from './schema';
import type { FieldDef, ObjectDef, StoredValue } from './schema-types';
import type { EmulatorState } from './state';
import type { Rec, UndoLog } from './store';
import { validateFields, type Entry, type Source } from './validate';

export type UpsertResult = RowResult & { matches?: string[] };

let nowCache = { ms: 0, text: '' };
function now(): string {
  const ms = Date.now();
  if (ms !== nowCache.ms) nowCache = { ms, text: sfDateTime(new Date(ms)) };
  return nowCache.text;
}

function setByName(def: ObjectDef, values: StoredValue[], name: string, v: StoredValue): void {
  const i = fieldIndex(def, name);
  if (i !== undefined) values[i] = v;
}

export interface DmlOptions {
  /** `Sforce-Duplicate-Rule-Header: allowSave=true` was sent. */
  allowDuplicates?: boolean;
}

/** Request headers that change DML behaviour. */
export function dmlOptionsFrom(headers: Record<string, string | string[] | undefined>): DmlOptions {
  const h = String(headers['sforce-duplicate-rule-header'] ?? '');
  return { allowDuplicates: /allowSave\s*=\s*true/i.test(h) };
}

export class Dml {
  constructor(
    private readonly state: EmulatorState,
    private readonly opts: DmlOptions = {},
  ) {}

  create(def: ObjectDef, entries: Entry[], source: Source, undo?: UndoLog): RowResult {
    const v = validateFields(def, entries, source, 'create', refResolver(this.state));
    if (v.errors.length > 0) return failed(v.errors);
    const values: StoredValue[] = def.fields.map((fd) => (fd.defaultedOnCreate && fd.defaultValue !== undefined ? fd.defaultValue : null));
    for (const [i, val] of v.values) values[i] = val;
    const id = this.state.newId(def.keyPrefix);
    const ts = now();
    setByName(def, values, 'Id', id);
    for (const n of ['CreatedDate', 'LastModifiedDate', 'SystemModstamp']) setByName(def, values, n, ts);
    for (const n of ['CreatedById', 'LastModifiedById']) setByName(def, values, n, this.state.userId);
    if (values[fieldIndex(def, 'OwnerId') ?? -1] === null) setByName(def, values, 'OwnerId', this.state.userId);
    const err = this.checkRow(def, id, values);
    if (err) return failed([err]);
    this.state.store(def).insert({ id, values: this.derive(def, values), deleted: false }, undo);
    return { id, success: true, errors: [], created: true };
  }

  update(def: ObjectDef, rawId: unknown, entries: Entry[], source: Source, undo?: UndoLog): RowResult {
    const found = this.locate(def, rawId);
    if ('error' in found) return failed([found.error], found.id);
    const { rec } = found;
    const v = validateFields(def, withoutId(entries), source, 'update', refResolver(this.state));
    if (v.errors.length > 0) return failed(v.errors, rec.id);
    const values = rec.values.slice();
    for (const [i, val] of v.values) values[i] = val;
    const ts = now();
    setByName(def, values, 'LastModifiedDate', ts);
    setByName(def, values, 'SystemModstamp', ts);
    const err = this.checkRow(def, rec.id, values);
    if (err) return failed([err], rec.id);
    this.state.store(def).replace(rec, this.derive(def, values), undo);
    return { id: rec.id, success: true, errors: [], created: false };
  }

  /** 0 matches: insert with the key set; 1: update; more: DUPLICATE_EXTERNAL_ID (single REST turns it into 300). */
  upsert(def: ObjectDef, key: FieldDef, keyValue: string, entries: Entry[], source: Source, undo?: UndoLog): UpsertResult {
    if (key.name === 'Id') {
      if (keyValue === '') return this.create(def, withoutId(entries), source, undo);
      return this.update(def, keyValue, entries, source, undo);
    }
    const keyIdx = fieldIndex(def, key.name) as number;
    const rest = withoutId(entries).filter((e) => e.name.toLowerCase() !== key.name.toLowerCase());
    const matches = this.state.store(def).find(keyIdx, keyValue);
    if (matches.length > 1) {
      const msg = `${key.label}: more than one record found for external id field: [${matches.join(', ')}]`;
      return { ...failed([sfError('DUPLICATE_EXTERNAL_ID', msg, [])]), matches };
    }
    if (matches.length === 1) return this.update(def, matches[0], rest, source, undo);
    return this.create(def, [...rest, { name: key.name, value: keyValue }], source, undo);
  }

  /** Delete by id; the object comes from the key prefix unless `expected` pins it. */
  remove(rawId: unknown, expected: ObjectDef | null, hard: boolean, undo?: UndoLog): RowResult {
    const raw = String(rawId ?? '');
    const id = normalizeId(raw);
    const def = id ? (expected ?? this.state.registry.byKeyPrefix(id.slice(0, 3))) : undefined;
    if (!id || !def) return failed([sfError('MALFORMED_ID', `malformed id ${raw}`, [])]);
    const found = this.locate(def, raw);
    if ('error' in found) return failed([found.error], found.id);
    const lockErr = this.lockError(def, found.rec.id, found.rec.values);
    if (lockErr) return failed([lockErr], found.rec.id);
    const store = this.state.store(def);
    if (hard) store.hardDelete(found.rec, undo);
    else store.softDelete(found.rec, undo);
    return { id: found.rec.id, success: true, errors: [] };
  }

  /** Finds a live record of `def` by a raw 15/18-char id, with the error codes of API notes §7. */
  locate(def: ObjectDef, rawId: unknown): { rec: Rec } | { error: SfError; id: string | null } {
    if (rawId === undefined || rawId === null || rawId === '') {
      return { error: sfError('MISSING_ARGUMENT', 'Id not specified in an update call', []), id: null };
    }
    const id = normalizeId(String(rawId));
    if (!id || id.slice(0, 3) !== def.keyPrefix) {
      return { error: sfError('MALFORMED_ID', `${def.label} ID: id value of incorrect type: ${String(rawId)}`, ['Id']), id: null };
    }
    const rec = this.state.store(def).get(id);
    if (!rec) return { error: sfError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', []), id };
    if (rec.deleted) return { error: sfError('ENTITY_IS_DELETED', 'entity is deleted', []), id };
    return { rec };
  }

  /** Row-level checks after field validation: row locks, validation rules, unique values, duplicate rules. */
  private checkRow(def: ObjectDef, id: string, values: StoredValue[]): SfError | null {
    const lock = this.lockError(def, id, values);
    if (lock) return lock;
    const { faults } = this.state;
    const rule = validationRuleError(faults.validationRules, def, values);
    if (rule) return rule;
    const store = this.state.store(def);
    const dup = duplicateRuleError(faults.duplicateRules, def, store, id, values, this.opts.allowDuplicates === true);
    if (dup) return dup;
    for (let i = 0; i < def.fields.length; i++) {
      const fd = def.fields[i] as FieldDef;
      const v = values[i];
      if (!fd.unique || v === null || v === undefined || v === '') continue;
      const other = store.find(i, v).find((x) => x !== id);
      if (other) {
        return sfError('DUPLICATE_VALUE', `duplicate value found: ${fd.name} duplicates value on record with id: ${other}`, [fd.name]);
      }
    }
    return null;
  }

  private lockError(def: ObjectDef, id: string, values: StoredValue[]): SfError | null {
    const hit = this.state.faults.takeLock((fieldName) => {
      if (fieldName === 'Id') return id;
      const v = values[fieldIndex(def, fieldName) ?? -1];
      return v === null || v === undefined ? null : String(v);
    });
    if (hit === null) return null;
    return sfError('UNABLE_TO_LOCK_ROW', `unable to obtain exclusive access to this record or 1 records: ${id}`, []);
  }

  private derive(def: ObjectDef, values: StoredValue[]): StoredValue[] {
    if (!def.compoundName) return values;
    const first = values[fieldIndex(def, 'FirstName') ?? -1];
    const last = values[fieldIndex(def, 'LastName') ?? -1];
    setByName(def, values, 'Name', [first, last].filter((x) => x !== null && x !== undefined && x !== '').join(' '));
    return values;
  }
}

function withoutId(entries: Entry[]): Entry[] {
  return entries.filter((e) => e.name.toLowerCase() !== 'id');
}
