/**
 * Org-configured rules, switched on over `/__admin/faults` like the other knobs:
 * - validation rules: rows whose `field` matches one of `values` fail FIELD_CUSTOM_VALIDATION_EXCEPTION;
 * - duplicate rules: a new/changed record whose `field` equals another record's fails DUPLICATES_DETECTED,
 *   with a `duplicateResult` naming the rule and the matching records. A rule whose action is "Allow" with an
 *   alert (`action: "alert"`, the default) lets the save through when the request sent
 *   `Sforce-Duplicate-Rule-Header: allowSave=true`; a "Block" rule refuses it whatever the header (Metadata
 *   API, DuplicateRule `actionOnInsert`/`actionOnUpdate`; API notes §6 table).
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
  /** Developer name reported in `duplicateResult.duplicateRule`. */
  name?: string;
  action?: 'alert' | 'block';
  /** The alert text (`errorMessage`, also the error's message). */
  message?: string;
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
      return sfError(
        'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        r.message ?? `${name} value ${String(v)} is not allowed by a validation rule`,
        r.onField ? [name] : [],
      );
    }
  }
  return null;
}

export function duplicateRuleError(
  rules: DuplicateRule[],
  def: ObjectDef,
  store: ObjectStore,
  id: string,
  values: StoredValue[],
  allowSave: boolean,
): SfError | null {
  for (const r of rules) {
    const i = fieldIndex(def, r.field);
    if (!applies(def, r.object) || i === undefined) continue;
    const block = r.action === 'block';
    if (allowSave && !block) continue;
    const v = values[i];
    if (v === null || v === undefined || v === '') continue;
    const matches = store.find(i, v).filter((x) => x !== id);
    if (matches.length > 0) {
      const message = r.message ?? 'Use one of these records?';
      const duplicateResult = {
        allowSave: !block,
        duplicateRule: r.name ?? `Standard_${def.name}_Duplicate_Rule`,
        duplicateRuleEntityType: def.name,
        errorMessage: message,
        matchResults: [
          {
            entityType: def.name,
            errors: [],
            matchEngine: 'ExactMatchEngine',
            rule: `${r.name ?? `Standard_${def.name}`}_Match_Rule`,
            size: matches.length,
            success: true,
            matchRecords: matches.map((m) => ({
              additionalInformation: [],
              fieldDiffs: [],
              matchConfidence: 100,
              record: { attributes: { type: def.name, url: `/services/data/v62.0/sobjects/${def.name}/${m}` }, Id: m },
            })),
          },
        ],
      };
      return { ...sfError('DUPLICATES_DETECTED', message, []), duplicateResult };
    }
  }
  return null;
}
