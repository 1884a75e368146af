import type { AttributeDef, ForeignKeyDef, TableKind } from './types';

/** Field separator inside a stored row; validation rejects values containing it. */
export const ROW_SEP = '\u001f';

/** Canonical stored values: strings (see validate.ts), `null` = no value. */
export type RowValues = Record<string, string | null>;

/** Told of every record written (the emulator's opt-in write journal): the values after a create or update, before a delete. */
export type WriteHook = (table: Table, op: 'create' | 'update' | 'delete', row: number, values: RowValues) => void;

export interface TableInit {
  kind: TableKind;
  id: string;
  v4Id: number;
  name: string;
  type?: string;
  attributes: AttributeDef[];
  primaryKeyAttribute: string;
  creationTimeAttribute?: string | null;
  foreignKeys?: ForeignKeyDef[];
  bigTable?: boolean;
  enforceForeignKeys?: boolean;
}

/**
 * One table with compact storage: each record is a single string (values joined by ROW_SEP in
 * attribute order), so a million rows cost tens of MB rather than a million objects. Unique
 * attributes keep a value -> row index map. The technical id of a record is `row index + 1` and is
 * never reused (deleted rows leave a hole).
 */
export class Table {
  readonly kind: TableKind;
  readonly id: string;
  readonly v4Id: number;
  readonly name: string;
  readonly type: string;
  readonly attributes: AttributeDef[];
  readonly primaryKeyAttribute: string;
  readonly creationTimeAttribute: string | null;
  readonly foreignKeys: ForeignKeyDef[];
  readonly bigTable: boolean;
  enforceForeignKeys: boolean;
  onWrite: WriteHook | null = null;
  /** Side data per row (profiles: subscriptions, segmentations, data collection info). */
  readonly extras = new Map<number, unknown>();
  private rows: (string | undefined)[] = [];
  private readonly col = new Map<string, number>();
  private readonly uniq = new Map<string, Map<string, number>>();
  private live = 0;

  constructor(init: TableInit) {
    this.kind = init.kind;
    this.id = init.id;
    this.v4Id = init.v4Id;
    this.name = init.name;
    this.type = init.type ?? (init.kind === 'CUSTOM_TABLE' ? 'INTERACTIONS' : 'PROFILE');
    this.attributes = [];
    this.primaryKeyAttribute = init.primaryKeyAttribute;
    this.creationTimeAttribute = init.creationTimeAttribute ?? null;
    this.foreignKeys = init.foreignKeys ?? [];
    this.bigTable = init.bigTable ?? false;
    this.enforceForeignKeys = init.enforceForeignKeys ?? true;
    for (const a of init.attributes) this.addAttribute(a);
  }

  get size(): number {
    return this.live;
  }

  attribute(name: string): AttributeDef | undefined {
    const i = this.col.get(name);
    return i === undefined ? undefined : this.attributes[i];
  }

  /** Appends a column; existing rows read it as null. Callers check "populated" rules first. */
  addAttribute(def: AttributeDef): void {
    this.col.set(def.name, this.attributes.length);
    this.attributes.push(def);
    if (def.unique) {
      const index = new Map<string, number>();
      for (const [row, values] of this.entries()) {
        const v = values[def.name];
        if (v != null) index.set(v, row);
      }
      this.uniq.set(def.name, index);
    }
  }

  /** Row index of the record whose attribute equals `value` (index lookup for unique attributes). */
  findBy(attribute: string, value: string): number | undefined {
    const index = this.uniq.get(attribute);
    if (index) return index.get(value);
    for (const [row, values] of this.entries()) if (values[attribute] === value) return row;
    return undefined;
  }

  /** All rows whose attribute equals `value` (linear scan; used by cascades and search). */
  findAll(attribute: string, value: string): number[] {
    const out: number[] = [];
    for (const [row, values] of this.entries()) if (values[attribute] === value) out.push(row);
    return out;
  }

  read(row: number): RowValues | undefined {
    const raw = this.rows[row];
    return raw === undefined ? undefined : this.decode(raw);
  }

  insert(values: RowValues): number {
    const row = this.rows.length;
    this.rows.push(this.encode(values));
    this.index(row, values);
    this.live++;
    this.onWrite?.(this, 'create', row, this.read(row)!);
    return row;
  }

  /** Applies a patch: keys present overwrite (null clears), absent keys are kept. */
  update(row: number, patch: RowValues): void {
    const current = this.read(row);
    if (!current) throw new Error(`row ${row} does not exist`);
    this.unindex(row, current);
    const next = { ...current, ...patch };
    this.rows[row] = this.encode(next);
    this.index(row, next);
    this.onWrite?.(this, 'update', row, this.read(row)!);
  }

  delete(row: number): boolean {
    const current = this.read(row);
    if (!current) return false;
    this.unindex(row, current);
    this.rows[row] = undefined;
    this.extras.delete(row);
    this.live--;
    this.onWrite?.(this, 'delete', row, current);
    return true;
  }

  clear(): void {
    this.rows = [];
    this.extras.clear();
    for (const index of this.uniq.values()) index.clear();
    this.live = 0;
  }

  *entries(): IterableIterator<[number, RowValues]> {
    for (let row = 0; row < this.rows.length; row++) {
      const raw = this.rows[row];
      if (raw !== undefined) yield [row, this.decode(raw)];
    }
  }

  private encode(values: RowValues): string {
    return this.attributes.map((a) => values[a.name] ?? '').join(ROW_SEP);
  }

  private decode(raw: string): RowValues {
    const parts = raw.split(ROW_SEP);
    const out: RowValues = {};
    this.attributes.forEach((a, i) => {
      const v = parts[i];
      out[a.name] = v === undefined || v === '' ? null : v;
    });
    return out;
  }

  private index(row: number, values: RowValues): void {
    for (const [name, index] of this.uniq) {
      const v = values[name];
      if (v != null) index.set(v, row);
    }
  }

  private unindex(row: number, values: RowValues): void {
    for (const [name, index] of this.uniq) {
      const v = values[name];
      if (v != null && index.get(v) === row) index.delete(v);
    }
  }
}
