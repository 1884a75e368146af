/**
 * Validates an activation's mapping against an object's describe (pure, so it is unit-tested with a
 * fixture). Used by check() and again at the start of every write, so both decide the same way.
 */
import { SyncError } from '../../common/errors';
import type { RowOp, SyncMode } from '../../common/sync-modes';
import type { FieldSpec, RunWarning } from '../types';
import { isCompatible, type SfField } from './mapping';
import type { SalesforceOptions } from './config';
import { SALESFORCE_MODES } from './modes';
import { isRecordTypeMapping, recordTypeSend, type RecordTypeInfo } from './record-types';
import { duplicateRuleHeader } from './duplicates';

export interface SfDescribe {
  name: string;
  /** The first 3 characters of every record Id of the object (`003` for Contact). */
  keyPrefix?: string | null;
  createable?: boolean;
  updateable?: boolean;
  deletable?: boolean;
  fields: SfField[];
  /** Present once the object has record types (the master first). */
  recordTypeInfos?: RecordTypeInfo[];
}

export interface SendField {
  spec: FieldSpec;
  /** The field whose type encodes the value: the object's own, or the parent's External ID for a lookup. */
  field: SfField;
  /** The name on the wire: the field's, or `Account.External_Id__c` (Bulk CSV header, nested in JSON). */
  column: string;
  /** Set when the mapping fills a lookup through the parent's External ID (one level deep). */
  parent?: ParentLookup;
  /** The same value on every row (the record type of `options.recordType`, as its Id). */
  constant?: string;
  /** A per-row record type: lower-cased developer name → Id, and the valid names for row errors. */
  recordTypes?: Map<string, string>;
  recordTypeNames?: string;
}

export interface ParentLookup {
  /** The relationship name (`Account`), as describe spells it. */
  relationship: string;
  /** The lookup field it fills (`AccountId`): cleared by name when the model's parent key is null. */
  lookup: SfField;
  object: string;
}

/** Everything a writer needs to know about the mapping, resolved once per activity. */
export interface WriteModel {
  activationId: string;
  object: string;
  where: string;
  /** Fields that are sent, the key first; describe names (canonical case). */
  send: SendField[];
  keyField: SfField;
  /** The object's Id prefix, checked on model-carried Ids before they are sent (null: not checked). */
  keyPrefix: string | null;
  /** `Sforce-Duplicate-Rule-Header` value for Collections writes, or null. */
  duplicateRuleHeader: string | null;
  /** The header asks to save rows an "Allow" duplicate rule would refuse (Bulk rows refused so are re-sent through Collections). */
  allowSave: boolean;
  /** Deletes skip the recycle bin (Bulk 2.0 `hardDelete`): `options.hardDelete` in a mode that deletes. */
  hardDelete: boolean;
  /** External ID field filled with OutRow.token on create, or null (plain create: retries may duplicate). */
  tokenField: string | null;
  /** `options.missingParent`: a row whose parent is not found is written without that lookup (and answered incomplete). */
  writeWithoutLink: boolean;
  skipped: Array<{ field: string; reason: string }>;
  warnings: RunWarning[];
}

export interface AnalyzeInput {
  activationId: string;
  mode: SyncMode;
  key: string;
  fields: FieldSpec[];
  options: SalesforceOptions;
  describe: SfDescribe;
  /** Describes of the parent objects named by `Relationship.Field` mappings (see `parentObjects`). */
  parents?: SfDescribe[];
}

export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** Up to three existing field names closest to `name` (case-insensitive edit distance). */
export function suggest(name: string, candidates: string[]): string[] {
  const n = name.toLowerCase();
  return candidates
    .map((c) => ({ c, d: levenshtein(n, c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(2, Math.ceil(n.length / 3)) || c.toLowerCase().includes(n) || n.includes(c.toLowerCase()))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, 3)
    .map(({ c }) => c);
}

function opsOf(mode: SyncMode): RowOp[] {
  return [...new Set(Object.values(SALESFORCE_MODES[mode]))];
}

function writableFor(f: SfField, op: RowOp): boolean {
  if (op === 'create') return f.createable === true;
  if (op === 'update') return f.updateable === true;
  if (op === 'upsert') return f.createable === true && f.updateable === true;
  return true;
}

const isLookupKey = (f: SfField) => f.name !== 'Id' && (f.externalId === true || f.idLookup === true);

function keyProblem(mode: SyncMode, f: SfField): string | null {
  if (mode === 'update') return f.name === 'Id' || isLookupKey(f) ? null : 'Update needs "Id" or an External ID / idLookup field as key';
  if ((mode === 'upsert' || mode === 'mirror') && f.name === 'Id') {
    return `${mode === 'upsert' ? 'Upsert' : 'Mirror'} cannot key on "Id": Salesforce upserts only on an External ID field, and a record Id cannot create a record. To update the records whose Id the model carries, use Update mode with key "Id" (an Id with no record is a row error); to create missing records too, key on an External ID field`;
  }
  if (mode === 'upsert' || mode === 'mirror')
    return isLookupKey(f)
      ? null
      : `${mode === 'upsert' ? 'Upsert' : 'Mirror'} needs an External ID (or idLookup) field as key, not "${f.name}": tick "External ID" and "Unique" on the field`;
  return f.name === 'Id' ? 'Insert cannot send the model key into "Id": map it to a createable field' : null;
}

/** The lookup field whose relationship name is `name` (case-insensitive). */
function relationshipField(describe: SfDescribe, name: string): SfField | undefined {
  const n = name.toLowerCase();
  return describe.fields.find((f) => f.type === 'reference' && f.relationshipName?.toLowerCase() === n);
}

/**
 * The parent objects an activation's `Relationship.Field` mappings point to, so their describes can be
 * read before `analyze` (which is pure). Unknown relationships are left for `analyze` to report.
 */
export function parentObjects(fields: FieldSpec[], describe: SfDescribe): string[] {
  const out = new Set<string>();
  for (const spec of fields) {
    const parts = spec.to.split('.');
    if (parts.length !== 2 || isRecordTypeMapping(spec.to)) continue;
    const ref = relationshipField(describe, parts[0]!);
    if (ref?.referenceTo?.length === 1) out.add(ref.referenceTo[0]!);
  }
  return [...out];
}

type ParentResult = { ok: true; send: SendField } | { ok: false; kind: 'unknown' | 'notWritable' | 'skipped'; message: string };

/**
 * A mapping into `Relationship.ExternalIdField`: Salesforce resolves the parent by its External ID and
 * fills the lookup, on Bulk 2.0 (CSV header) and in REST JSON (nested reference) alike.
 */
function parentMapping(spec: FieldSpec, describe: SfDescribe, parents: SfDescribe[], ops: RowOp[]): ParentResult {
  const mapping = `mapping "${spec.from}" → "${spec.to}"`;
  const parts = spec.to.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    return {
      ok: false,
      kind: 'unknown',
      message: `${mapping}: a parent lookup is "Relationship.ExternalIdField", one level deep (Salesforce resolves no deeper path); map the parent's own External ID`,
    };
  }
  const [relName, parentFieldName] = parts as [string, string];
  const lookup = relationshipField(describe, relName);
  if (!lookup) {
    const rels = describe.fields.filter((f) => f.type === 'reference' && f.relationshipName).map((f) => f.relationshipName!);
    const close = suggest(relName, rels);
    return {
      ok: false,
      kind: 'unknown',
      message: `${mapping}: ${describe.name} has no relationship "${relName}"${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}; use the relationship name of a lookup field (AccountId → Account, custom Parent__c → Parent__r)`,
    };
  }
  const targets = lookup.referenceTo ?? [];
  if (targets.length !== 1) {
    return {
      ok: false,
      kind: 'unknown',
      message: `${mapping}: "${lookup.name}" can point to ${targets.join(', ') || 'no object'}; a lookup by External ID needs a relationship to exactly one object`,
    };
  }
  const parent = parents.find((p) => p.name.toLowerCase() === targets[0]!.toLowerCase());
  const parentField = parent?.fields.find((f) => f.name.toLowerCase() === parentFieldName.toLowerCase());
  if (!parent || !parentField) {
    const close = parent
      ? suggest(
          parentFieldName,
          parent.fields.filter((f) => f.externalId).map((f) => f.name),
        )
      : [];
    return {
      ok: false,
      kind: 'unknown',
      message: `${mapping}: ${targets[0]} has no field "${parentFieldName}"${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}`,
    };
  }
  if (parentField.externalId !== true) {
    return {
      ok: false,
      kind: 'unknown',
      message: `${mapping}: ${parent.name}.${parentField.name} is not an External ID field, so Salesforce cannot find the parent by it: tick "External ID" (and "Unique") on it, or map another one`,
    };
  }
  const failing = ops.filter((op) => op !== 'delete' && !writableFor(lookup, op));
  if (failing.length) {
    return { ok: false, kind: 'notWritable', message: `${mapping}: lookup "${lookup.name}" is not ${failing.map(opWord).join('/')}` };
  }
  if (!isCompatible(spec.pgType, parentField.type)) {
    return {
      ok: false,
      kind: 'skipped',
      message: `Postgres ${spec.pgType} column "${spec.from}" cannot hold ${parent.name}.${parentField.name} (${parentField.type})`,
    };
  }
  const relationship = lookup.relationshipName!;
  return {
    ok: true,
    send: {
      spec,
      field: parentField,
      column: `${relationship}.${parentField.name}`,
      parent: { relationship, lookup, object: parent.name },
    },
  };
}

const opWord = (op: RowOp) => (op === 'create' ? 'createable' : op === 'update' ? 'updateable' : 'createable and updateable');

export function analyze(input: AnalyzeInput): WriteModel {
  const { describe, mode, options } = input;
  const where = `activation "${input.activationId}" (Salesforce ${describe.name})`;
  const byName = new Map(describe.fields.map((f) => [f.name.toLowerCase(), f]));
  const names = describe.fields.map((f) => f.name);
  const unknown: string[] = [];
  const notWritable: string[] = [];
  const send: SendField[] = [];
  const skipped: WriteModel['skipped'] = [];
  const warnings: RunWarning[] = [];
  const ops = opsOf(mode);

  const keyField = byName.get(input.key.toLowerCase());
  const lookupsFilled = new Map<string, string>();
  const lookupProblems: string[] = [];
  const recordTypeMappings: FieldSpec[] = [];
  for (const spec of input.fields) {
    if (isRecordTypeMapping(spec.to) && !spec.isKey) {
      recordTypeMappings.push(spec);
      continue;
    }
    if (spec.to.includes('.')) {
      if (spec.isKey) {
        lookupProblems.push(`key "${spec.to}": the key must be a field of ${describe.name} itself, not a parent's`);
        continue;
      }
      const p = parentMapping(spec, describe, input.parents ?? [], ops);
      if (!p.ok) {
        if (p.kind === 'unknown') lookupProblems.push(p.message);
        else if (p.kind === 'notWritable') notWritable.push(p.message);
        else {
          skipped.push({ field: spec.to, reason: p.message });
          warnings.push({ code: 'FIELD_SKIPPED', level: 'warning', message: `${where}: ${p.message}; the lookup is not sent` });
        }
        continue;
      }
      const lookup = p.send.parent!.lookup.name;
      const twice = lookupsFilled.get(lookup);
      if (twice) notWritable.push(`"${lookup}" is filled twice ("${twice}" and "${spec.to}"): map one of them`);
      lookupsFilled.set(lookup, spec.to);
      send.push(p.send);
      continue;
    }
    const field = byName.get(spec.to.toLowerCase());
    if (!field) {
      const close = suggest(spec.to, names);
      const by = spec.isKey ? 'destination.key' : `mapping "${spec.from}" → "${spec.to}"`;
      unknown.push(`"${spec.to}" (${by}${close.length ? `; did you mean ${close.map((c) => `"${c}"`).join(', ')}?` : ''})`);
      continue;
    }
    const isKey = spec.isKey || field === keyField;
    const failing = ops.filter((op) => op !== 'delete' && !(isKey && field.name === 'Id') && !writableFor(field, op));
    if (failing.length) {
      notWritable.push(`"${field.name}" is not ${failing.map(opWord).join('/')}`);
      continue;
    }
    if (!isCompatible(spec.pgType, field.type)) {
      const cast =
        spec.pgType.toLowerCase() === 'money' ? ' (money is read as text such as "$1,234.56": cast it to numeric in the model)' : '';
      const reason = `Postgres ${spec.pgType} column "${spec.from}" cannot fill Salesforce ${field.type} field "${field.name}"${cast}`;
      if (isKey) notWritable.push(reason);
      else {
        skipped.push({ field: field.name, reason });
        warnings.push({ code: 'FIELD_SKIPPED', level: 'warning', message: `${where}: ${reason}; the field is not sent` });
      }
      continue;
    }
    if (field.type === 'reference') {
      const twice = lookupsFilled.get(field.name);
      if (twice) notWritable.push(`"${field.name}" is filled twice ("${twice}" and "${spec.to}"): map one of them`);
      lookupsFilled.set(field.name, spec.to);
    }
    send.push({ spec, field, column: field.name });
  }
  if (unknown.length) {
    const them = unknown.length === 1 ? 'it' : 'them';
    throw new SyncError(
      'FIELD_UNKNOWN',
      `${where}: unknown field(s) ${unknown.join('; ')}: ${describe.name} has no such field, or the integration user cannot see ${them}. ` +
        `Fix "to" in "mappings" (or "destination.key") to a field API name of ${describe.name} (Setup > Object Manager), ` +
        `or create the field in Salesforce and give the integration user access to ${them}`,
      {
        retryable: false,
        details: { fields: unknown },
      },
    );
  }
  if (lookupProblems.length) {
    throw new SyncError('FIELD_UNKNOWN', `${where}: ${lookupProblems.join('; ')}`, {
      retryable: false,
      details: { fields: lookupProblems },
    });
  }
  if (!keyField) {
    throw new SyncError(
      'KEY_INVALID',
      `${where}: key field "${input.key}" does not exist (did you mean ${suggest(input.key, names).join(', ') || 'External_Id__c'}?)`,
      { retryable: false },
    );
  }
  const keyIssue = keyProblem(mode, keyField);
  if (keyIssue) throw new SyncError('KEY_INVALID', `${where}: key "${keyField.name}": ${keyIssue}`, { retryable: false });
  const objectOps = {
    create: describe.createable,
    update: describe.updateable,
    upsert: describe.createable !== false && describe.updateable !== false,
    delete: describe.deletable,
  };
  const deniedOps = ops.filter((op) => objectOps[op] === false);
  if (deniedOps.length)
    notWritable.unshift(`the integration user cannot ${deniedOps.join('/')} ${describe.name} records (object permissions)`);
  if (notWritable.length) {
    throw new SyncError('FIELD_NOT_WRITABLE', `${where}: for ${mode} mode ${notWritable.join('; ')}`, { retryable: false });
  }
  const recordType = recordTypeSend(describe, where, ops, options.recordType, recordTypeMappings);
  if (recordType) {
    const twice = lookupsFilled.get('RecordTypeId');
    if (twice)
      throw new SyncError(
        'CONFIG_INVALID',
        `${where}: "RecordTypeId" is filled twice ("${twice}" and ${recordType.constant ? 'option "recordType"' : `"${recordType.spec.to}"`}): keep one`,
        { retryable: false },
      );
    send.push(recordType);
  }
  // The key is always sent (the runtime lists it first; be safe if it did not).
  if (!send.some((x) => x.field === keyField))
    send.push({ spec: { from: keyField.name, to: keyField.name, pgType: 'text', isKey: true }, field: keyField, column: keyField.name });
  send.sort((a, b) => Number(b.field === keyField) - Number(a.field === keyField));

  let tokenField: string | null = null;
  if (ops.includes('create')) {
    const t = options.insertTokenField ? byName.get(options.insertTokenField.toLowerCase()) : undefined;
    if (t && t.externalId && t.createable) tokenField = t.name;
    else {
      warnings.push({
        code: 'INSERT_NOT_IDEMPOTENT',
        level: 'warning',
        message: `${where}: no External ID field "${options.insertTokenField ?? '(disabled)'}" to hold the idempotency token: a retried insert may create duplicate records (add a unique External ID text field of 64 characters)`,
      });
    }
    // A row written without its link is sent again each run with the same token: only the token finds the
    // record it made, a plain create would add one record per run.
    if (!tokenField && options.missingParent === 'writeWithoutLink' && send.some((s) => s.parent))
      throw new SyncError(
        'CONFIG_INVALID',
        `${where}: option missingParent "writeWithoutLink" in ${mode} mode needs the idempotency token field (option insertTokenField, now "${options.insertTokenField ?? '(disabled)'}", a unique External ID text field of 64 characters on ${describe.name}): without it each re-send of a row written without its link would create another record. Add the field, or keep missingParent "error"`,
        { retryable: false },
      );
    // Insert sends a changed row as a new record (DinMo semantics): a unique field would repeat the old record's value.
    const unique = SALESFORCE_MODES[mode].changed === 'create' ? send.filter((s) => !s.parent && s.field.unique === true) : [];
    if (unique.length) {
      const names = unique.map((s) => `"${s.field.name}"`).join(', ');
      warnings.push({
        code: 'INSERT_UNIQUE_FIELD',
        level: 'warning',
        message: `${where}: Insert mode creates a new record for each changed row, but ${names} ${unique.length > 1 ? 'are' : 'is'} unique in Salesforce: every changed row will fail with DUPLICATE_VALUE. Use Upsert with it as the key, or do not map it`,
      });
    }
    const sent = new Set(send.map((s) => s.parent?.lookup.name ?? s.field.name));
    const required = describe.fields.filter((f) => f.createable && f.nillable === false && !f.defaultedOnCreate && !sent.has(f.name));
    if (required.length) {
      warnings.push({
        code: 'REQUIRED_FIELD_UNMAPPED',
        level: 'warning',
        message: `${where}: required field(s) ${required.map((f) => f.name).join(', ')} are not mapped: inserts will fail with REQUIRED_FIELD_MISSING`,
      });
    }
  }
  const hardDelete = options.hardDelete && ops.includes('delete');
  return {
    activationId: input.activationId,
    object: describe.name,
    where,
    send,
    keyField,
    keyPrefix: describe.keyPrefix ?? null,
    hardDelete,
    duplicateRuleHeader: duplicateRuleHeader(options),
    allowSave: options.duplicateRuleHeader?.allowSave === true,
    tokenField,
    writeWithoutLink: options.missingParent === 'writeWithoutLink',
    skipped,
    warnings,
  };
}
