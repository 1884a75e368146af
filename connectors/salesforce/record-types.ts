/**
 * Record types by developer name: per activation (`options.recordType`) or per row (a mapping to
 * `RecordType.DeveloperName`). Salesforce takes only the Id in `RecordTypeId`, and the Id of "Partner"
 * differs between a sandbox and production, so names are resolved through describe's `recordTypeInfos`
 * (read once per activity with the rest of describe). Pure: analyze() calls it.
 */
import { SyncError } from '../../common/errors';
import type { RowOp } from '../../common/sync-modes';
import type { FieldSpec } from '../types';
import type { SendField, SfDescribe } from './analyze';
import { isCompatible } from './mapping';

export interface RecordTypeInfo {
  developerName: string;
  recordTypeId: string;
  name?: string;
  active: boolean;
  /** Assigned to the integration user (profile or permission set): only those can be written. */
  available: boolean;
  master?: boolean;
}

export const RECORD_TYPE_MAPPING = 'RecordType.DeveloperName';
export const isRecordTypeMapping = (to: string) => to.toLowerCase() === RECORD_TYPE_MAPPING.toLowerCase();

/** Developer names a write may use: active, available to the integration user, not the master. */
function usable(describe: SfDescribe): Map<string, RecordTypeInfo> {
  return new Map(
    (describe.recordTypeInfos ?? []).filter((r) => r.active && r.available && !r.master).map((r) => [r.developerName.toLowerCase(), r]),
  );
}

const listOf = (m: Map<string, RecordTypeInfo>) => [...m.values()].map((r) => `"${r.developerName}"`).join(', ');

/** Why a developer name cannot be written, naming the ones that can. */
function unknownName(describe: SfDescribe, name: string, valid: Map<string, RecordTypeInfo>): string {
  const known = (describe.recordTypeInfos ?? []).find((r) => r.developerName.toLowerCase() === name.toLowerCase());
  const why = !known
    ? `${describe.name} has no record type "${name}"`
    : known.master
      ? `"${name}" is the master record type, which records of an object with record types cannot be given`
      : !known.active
        ? `record type "${known.developerName}" of ${describe.name} is inactive`
        : `record type "${known.developerName}" of ${describe.name} is not available to the integration user (assign it to the user's profile or a permission set)`;
  return `${why}; valid developer names: ${valid.size ? listOf(valid) : '(none)'}`;
}

/**
 * The `RecordTypeId` send field of an activation, or null when it names no record type. Throws
 * CONFIG_INVALID (the activation pauses with a configuration warning) for a name no write could use.
 */
export function recordTypeSend(
  describe: SfDescribe,
  where: string,
  ops: RowOp[],
  option: string | undefined,
  mappings: FieldSpec[],
): SendField | null {
  if (option === undefined && mappings.length === 0) return null;
  const from = option !== undefined ? `option "recordType": "${option}"` : `mapping "${mappings[0]!.from}" → "${RECORD_TYPE_MAPPING}"`;
  const config = (message: string) => new SyncError('CONFIG_INVALID', `${where}: ${from}: ${message}`, { retryable: false });
  if (option !== undefined && mappings.length > 0)
    throw config(`the record type is given twice (also by mapping "${mappings[0]!.from}"); keep one`);
  if (mappings.length > 1) throw config('the record type is mapped twice; keep one mapping');
  const field = describe.fields.find((f) => f.name === 'RecordTypeId');
  const valid = usable(describe);
  if (!field || (describe.recordTypeInfos ?? []).length === 0)
    throw config(`${describe.name} has no record types (or the integration user sees none); remove it`);
  const cannot = ops.filter(
    (op) => ((op === 'create' || op === 'upsert') && !field.createable) || ((op === 'update' || op === 'upsert') && !field.updateable),
  );
  if (cannot.length)
    throw new SyncError(
      'FIELD_NOT_WRITABLE',
      `${where}: ${from}: RecordTypeId of ${describe.name} cannot be written for ${cannot.join('/')}`,
      { retryable: false },
    );
  if (option !== undefined) {
    const rt = valid.get(option.toLowerCase());
    if (!rt) throw config(unknownName(describe, option, valid));
    return {
      spec: { from: '(option recordType)', to: 'RecordTypeId', pgType: 'text', isKey: false },
      field,
      column: 'RecordTypeId',
      constant: rt.recordTypeId,
    };
  }
  const spec = mappings[0]!;
  if (!isCompatible(spec.pgType, 'reference'))
    throw config(`Postgres ${spec.pgType} column "${spec.from}" cannot hold a developer name: use a text column`);
  return {
    spec,
    field,
    column: 'RecordTypeId',
    recordTypes: new Map([...valid].map(([k, r]) => [k, r.recordTypeId])),
    recordTypeNames: listOf(valid),
  };
}

/** The Id a row's developer name stands for, or the row error saying which names are valid. */
export function rowRecordType(send: SendField, value: string): { ok: true; id: string } | { ok: false; code: string; message: string } {
  const id = send.recordTypes!.get(value.toLowerCase());
  if (id) return { ok: true, id };
  return {
    ok: false,
    code: 'RECORD_TYPE_UNKNOWN',
    message: `${send.spec.from}: "${value}" is not an active record type available to the integration user; valid developer names: ${send.recordTypeNames || '(none)'}. Correct the value in the model (or create/assign the record type in Salesforce); nothing was written for this row`,
  };
}
