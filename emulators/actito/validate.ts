import type { RowValues, Table } from './table';
import { TECHNICAL_ATTRIBUTES, type TableStore } from './tables';
import type { FieldError } from './types';
import { canonicalize } from './values';

export interface ValidateOptions {
  /** `create` requires every mandatory attribute; `update` only forbids clearing one. */
  op: 'create' | 'update';
  /** Row being updated (unique checks ignore it). */
  row?: number;
  /** Technical columns: JSON rejects them [D S15], CSV ignores them [D S19]. */
  technical: 'reject' | 'ignore';
  /** What an empty value does on update: keep the stored value or clear it [A: switch, default keep]. */
  emptyOnUpdate: 'keep' | 'clear';
}

export interface Validated {
  values: RowValues;
  errors: FieldError[];
}

/**
 * Per-record validation shared by the one-by-one routes and bulk imports: unknown attribute, type,
 * length/restrictions, mandatory, unique and foreign-key checks. Returns all problems, never throws.
 */
export function validateRecord(store: TableStore, table: Table, input: Iterable<[string, unknown]>, opts: ValidateOptions): Validated {
  const values: RowValues = {};
  const errors: FieldError[] = [];
  for (const [name, raw] of input) {
    if (TECHNICAL_ATTRIBUTES.has(name) && !table.attribute(name)) {
      if (opts.technical === 'reject')
        errors.push({ field: name, code: 'TECHNICAL_ATTRIBUTE', message: `${name} is a technical attribute and cannot be written` });
      continue;
    }
    const a = table.attribute(name);
    if (!a) {
      errors.push({ field: name, code: 'UNKNOWN_ATTRIBUTE', message: `attribute '${name}' does not exist in table '${table.name}'` });
      continue;
    }
    const c = canonicalize(a, raw);
    if ('error' in c) errors.push(c.error);
    else if (c.value !== null || opts.op === 'create' || opts.emptyOnUpdate === 'clear') values[name] = c.value;
  }
  for (const a of table.attributes) {
    if (!a.mandatory) continue;
    const missing = opts.op === 'create' ? values[a.name] == null : a.name in values && values[a.name] === null;
    if (missing && !errors.some((e) => e.field === a.name)) {
      errors.push({ field: a.name, code: 'MANDATORY_MISSING', message: `mandatory attribute '${a.name}' has no value` });
    }
  }
  if (errors.length === 0) errors.push(...checkUnique(table, values, opts.row), ...checkForeignKeys(store, table, values));
  return { values, errors };
}

function checkUnique(table: Table, values: RowValues, row: number | undefined): FieldError[] {
  const errors: FieldError[] = [];
  for (const a of table.attributes) {
    const v = values[a.name];
    if (!a.unique || v == null) continue;
    const other = table.findBy(a.name, v);
    if (other !== undefined && other !== row) {
      errors.push({
        field: a.name,
        code: 'UNIQUE_VIOLATION',
        message: `value '${v}' of unique attribute '${a.name}' is already used by another record`,
      });
    }
  }
  return errors;
}

/** A record must reference an existing profile [A: rejected when absent; switchable per table]. */
function checkForeignKeys(store: TableStore, table: Table, values: RowValues): FieldError[] {
  if (!table.enforceForeignKeys) return [];
  const errors: FieldError[] = [];
  for (const fk of table.foreignKeys) {
    const v = values[fk.attribute];
    if (v == null) continue;
    const target = store.tableById(fk.reference.tableType, fk.reference.tableId);
    if (target && target.findBy(fk.reference.attribute, v) === undefined) {
      errors.push({
        field: fk.attribute,
        code: 'FOREIGN_KEY_NOT_FOUND',
        message: `no record in '${target.name}' has ${fk.reference.attribute} = '${v}'`,
      });
    }
  }
  return errors;
}
