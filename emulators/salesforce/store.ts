/**
 * In-memory record store, one per object. Records are kept compactly as a values array indexed like the
 * object's field list (about 0.8 KB of heap per Contact of 5 set fields, measured), with case-insensitive
 * lookup indexes on every externalId / idLookup / unique field so upserts and duplicate checks stay O(1).
 * A V8 Map holds at most 2^24 entries: about 16 million records per object.
 */
import { coerce } from './coerce';
import type { ObjectDef, StoredValue } from './schema-types';

const NUMBER_TYPES = new Set(['int', 'double', 'currency', 'percent']);

export interface Rec {
  id: string;
  values: StoredValue[];
  deleted: boolean;
}

/** Mutations push their inverse here so an allOrNone request can roll back. */
export type UndoLog = Array<() => void>;

type Index = Map<string, string | string[]>;

/** Told of every write to a record (the emulator's opt-in journal); `rollback` undoes an earlier one (allOrNone). */
export type WriteHook = (op: 'create' | 'update' | 'delete' | 'rollback', rec: Rec) => void;

export class ObjectStore {
  readonly records = new Map<string, Rec>();
  private readonly indexes = new Map<number, Index>();

  constructor(
    readonly def: ObjectDef,
    private readonly onWrite: WriteHook = () => {},
  ) {
    def.fields.forEach((fd, i) => {
      if (fd.name !== 'Id' && (fd.externalId || fd.idLookup || fd.unique)) this.indexes.set(i, new Map());
    });
  }

  /**
   * A value's index key. A number field (a Number External ID) matches by value, as Salesforce does: '1.50',
   * '1.5', '01.5' and '15e-1' are one key, the field's stored form (`coerce`: rounded to its scale); a text that
   * is no number keys as itself (it matches no record: a write refuses it). Text fields: lower case unless the
   * field is case sensitive.
   */
  key(fieldIdx: number, value: StoredValue): string {
    const fd = this.def.fields[fieldIdx];
    if (fd && NUMBER_TYPES.has(fd.type)) {
      const c = coerce(fd, value);
      return String(c.ok ? c.value : value);
    }
    const s = String(value);
    return fd?.caseSensitive ? s : s.toLowerCase();
  }

  isIndexed(fieldIdx: number): boolean {
    return this.indexes.has(fieldIdx);
  }

  /** Ids of live records whose field equals value (case-insensitive unless the field is caseSensitive). */
  find(fieldIdx: number, value: StoredValue): string[] {
    if (value === null || value === '') return [];
    const idx = this.indexes.get(fieldIdx);
    if (idx) {
      const hit = idx.get(this.key(fieldIdx, value));
      return hit === undefined ? [] : typeof hit === 'string' ? [hit] : [...hit];
    }
    const k = this.key(fieldIdx, value);
    const out: string[] = [];
    for (const r of this.records.values()) {
      const v = r.values[fieldIdx];
      if (!r.deleted && v !== null && v !== undefined && this.key(fieldIdx, v) === k) out.push(r.id);
    }
    return out;
  }

  get(id: string): Rec | undefined {
    return this.records.get(id);
  }

  insert(rec: Rec, undo?: UndoLog): void {
    this.records.set(rec.id, rec);
    this.indexAll(rec, true);
    this.onWrite('create', rec);
    undo?.push(() => {
      this.indexAll(rec, false);
      this.records.delete(rec.id);
      this.onWrite('rollback', rec);
    });
  }

  /** Replaces the values of a record, keeping indexes in step. */
  replace(rec: Rec, values: StoredValue[], undo?: UndoLog): void {
    const before = rec.values;
    this.reindex(rec, before, values);
    rec.values = values;
    this.onWrite('update', rec);
    undo?.push(() => {
      this.reindex(rec, rec.values, before);
      rec.values = before;
      this.onWrite('rollback', rec);
    });
  }

  /**
   * Moves a live record's index entries from `from` to `to`, only for the indexed fields whose key changes.
   * An update rarely changes its external id: taking every entry out and back in left a deleted slot per
   * update in each index, and a Map of 10,000,000 keys then needs to grow past V8's limit (2^24 entries),
   * which failed a 10,000,000-row update with "Map maximum size exceeded".
   */
  private reindex(rec: Rec, from: StoredValue[], to: StoredValue[]): void {
    if (rec.deleted) return;
    for (const [fieldIdx, idx] of this.indexes) {
      const a = from[fieldIdx];
      const b = to[fieldIdx];
      const ka = a === null || a === undefined || a === '' ? null : this.key(fieldIdx, a);
      const kb = b === null || b === undefined || b === '' ? null : this.key(fieldIdx, b);
      if (ka === kb) continue;
      if (ka !== null) this.unindex(idx, ka, rec.id);
      if (kb !== null) this.index(idx, kb, rec.id);
    }
  }

  private index(idx: Index, k: string, id: string): void {
    const cur = idx.get(k);
    if (cur === undefined) idx.set(k, id);
    else idx.set(k, typeof cur === 'string' ? [cur, id] : [...cur, id]);
  }

  private unindex(idx: Index, k: string, id: string): void {
    const cur = idx.get(k);
    if (cur === undefined) return;
    const rest = (typeof cur === 'string' ? [cur] : cur).filter((x) => x !== id);
    if (rest.length === 0) idx.delete(k);
    else idx.set(k, rest.length === 1 ? (rest[0] as string) : rest);
  }

  /** Soft delete (recycle bin): the record stays addressable so later writes get ENTITY_IS_DELETED. */
  softDelete(rec: Rec, undo?: UndoLog): void {
    this.indexAll(rec, false);
    rec.deleted = true;
    this.onWrite('delete', rec);
    undo?.push(() => {
      rec.deleted = false;
      this.indexAll(rec, true);
      this.onWrite('rollback', rec);
    });
  }

  hardDelete(rec: Rec, undo?: UndoLog): void {
    if (!rec.deleted) this.indexAll(rec, false);
    this.records.delete(rec.id);
    if (!rec.deleted) this.onWrite('delete', rec);
    undo?.push(() => {
      this.records.set(rec.id, rec);
      if (!rec.deleted) this.indexAll(rec, true);
      if (!rec.deleted) this.onWrite('rollback', rec);
    });
  }

  live(): Rec[] {
    const out: Rec[] = [];
    for (const r of this.records.values()) if (!r.deleted) out.push(r);
    return out;
  }

  private indexAll(rec: Rec, add: boolean): void {
    if (rec.deleted) return;
    for (const [fieldIdx, idx] of this.indexes) {
      const v = rec.values[fieldIdx];
      if (v === null || v === undefined || v === '') continue;
      if (add) this.index(idx, this.key(fieldIdx, v), rec.id);
      else this.unindex(idx, this.key(fieldIdx, v), rec.id);
    }
  }
}
