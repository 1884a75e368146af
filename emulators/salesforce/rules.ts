/**
 * Org-configured rules, switched on over `/__admin/faults` like the other knobs:
 * - validation rules: rows whose `field` matches one of `values` fail FIELD_CUSTOM_VALIDATION_EXCEPTION;
 * - duplicate rules: a new/changed record whose `field` equals another record's fails DUPLICATES_DETECTED
 *   unless the request sent `Sforce-Duplicate-Rule-Header: allowSave=true` (API notes §6 table).
 */
import { sfError, type SfError } from './errors';
import { fieldIndex } from './schema';
import type { ObjectDef, StoredValue } from './schema-types';
import type { ObjectStore } from './store';

export interface ValidationRule {
  object?: string;
  field: string;
  values: string[];
  message?: string;
  /** Show the error on the field (fields: [field]) instead of at the top of the page (fields: []). */
  onField?: boolean;
}

export interface DuplicateRule {
  object?: string;
  field: string;
}

const applies = (def: ObjectDef, object?: string) => !object || object.toLowerCase() === def.name.toLowerCase();

export function validationRuleError(rules: ValidationRule[], def: ObjectDef, values: StoredValue[]): SfError | null {
  for (const r of rules) {
    const i = fieldIndex(def, r.field);
    if (!applies(def, r.object) || i === undefined) continue;
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (r.values.some((x) => x.toLowerCase() === String(v).toLowerCase())) {
      const name = def.fields[i]?.name ?? r.field;
      return sfError('FIELD_CUSTOM_VALIDATION_EXCEPTION', r.message ?? `${name} value ${String(v)} is not allowed by a validation rule`, r.onField ? [name] : []);
    }
  }
  return null;
}

export function duplicateRuleError(rules: DuplicateRule[], def: ObjectDef, store: ObjectStore, id: string, values: StoredValue[]): SfError | null {
  for (const r of rules) {
    const i = fieldIndex(def, r.field);
    if (!applies(def, r.object) || i === undefined) continue;
    const v = values[i];
    if (v === null || v === undefined || v === '') continue;
    if (store.find(i, v).some((x) => x !== id)) {
      return sfError('DUPLICATES_DETECTED', 'Use one of these records?', []);
    }
  }
  return null;
}
