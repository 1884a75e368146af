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

export interface SfDescribe {
  name: string;
  createable?: boolean;
  updateable?: boolean;
  deletable?: boolean;
  fields: SfField[];
}

export interface SendField {
  spec: FieldSpec;
  field: SfField;
}

/** Everything a writer needs to know about the mapping, resolved once per activity. */
export interface WriteModel {
  object: string;
  where: string;
  /** Fields that are sent, the key first; describe names (canonical case). */
  send: SendField[];
  keyField: SfField;
  /** External ID field filled with OutRow.token on create, or null (plain create: retries may duplicate). */
  tokenField: string | null;
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
  if (mode === 'upsert' || mode === 'mirror') return isLookupKey(f) ? null : `${mode === 'upsert' ? 'Upsert' : 'Mirror'} needs an External ID (or idLookup) field as key, not "${f.name}": tick "External ID" and "Unique" on the field`;
  return f.name === 'Id' ? 'Insert cannot send the model key into "Id": map it to a createable field' : null;
}

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
  for (const spec of input.fields) {
    const field = byName.get(spec.to.toLowerCase());
    if (!field) {
      const close = suggest(spec.to, names);
      unknown.push(`"${spec.to}"${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}`);
      continue;
    }
    const isKey = spec.isKey || field === keyField;
    const failing = ops.filter((op) => op !== 'delete' && !(isKey && field.name === 'Id') && !writableFor(field, op));
    if (failing.length) {
      notWritable.push(`"${field.name}" is not ${failing.map((op) => (op === 'create' ? 'createable' : op === 'update' ? 'updateable' : 'createable and updateable')).join('/')}`);
      continue;
    }
    if (!isCompatible(spec.pgType, field.type)) {
      const reason = `Postgres ${spec.pgType} column "${spec.from}" cannot fill Salesforce ${field.type} field "${field.name}"`;
      if (isKey) notWritable.push(reason);
      else {
        skipped.push({ field: field.name, reason });
        warnings.push({ code: 'FIELD_SKIPPED', level: 'warning', message: `${where}: ${reason}; the field is not sent` });
      }
      continue;
    }
    send.push({ spec, field });
  }
  if (unknown.length) {
    throw new SyncError('FIELD_UNKNOWN', `${where}: unknown field(s) ${unknown.join('; ')}`, { retryable: false, details: { fields: unknown } });
  }
  if (!keyField) {
    throw new SyncError('KEY_INVALID', `${where}: key field "${input.key}" does not exist (did you mean ${suggest(input.key, names).join(', ') || 'External_Id__c'}?)`, { retryable: false });
  }
  const keyIssue = keyProblem(mode, keyField);
  if (keyIssue) throw new SyncError('KEY_INVALID', `${where}: key "${keyField.name}": ${keyIssue}`, { retryable: false });
  const objectOps = { create: describe.createable, update: describe.updateable, upsert: describe.createable !== false && describe.updateable !== false, delete: describe.deletable };
  const deniedOps = ops.filter((op) => objectOps[op] === false);
  if (deniedOps.length) notWritable.unshift(`the integration user cannot ${deniedOps.join('/')} ${describe.name} records (object permissions)`);
  if (notWritable.length) {
    throw new SyncError('FIELD_NOT_WRITABLE', `${where}: for ${mode} mode ${notWritable.join('; ')}`, { retryable: false });
  }
  // The key is always sent (the runtime lists it first; be safe if it did not).
  if (!send.some((x) => x.field === keyField)) send.push({ spec: { from: keyField.name, to: keyField.name, pgType: 'text', isKey: true }, field: keyField });
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
    // Insert sends a changed row as a new record (DinMo semantics): a unique field would repeat the old record's value.
    const unique = SALESFORCE_MODES[mode].changed === 'create' ? send.filter((s) => s.field.unique === true) : [];
    if (unique.length) {
      const names = unique.map((s) => `"${s.field.name}"`).join(', ');
      warnings.push({
        code: 'INSERT_UNIQUE_FIELD',
        level: 'warning',
        message: `${where}: Insert mode creates a new record for each changed row, but ${names} ${unique.length > 1 ? 'are' : 'is'} unique in Salesforce: every changed row will fail with DUPLICATE_VALUE. Use Upsert with it as the key, or do not map it`,
      });
    }
    const sent = new Set(send.map((s) => s.field.name));
    const required = describe.fields.filter((f) => f.createable && f.nillable === false && !f.defaultedOnCreate && !sent.has(f.name));
    if (required.length) {
      warnings.push({ code: 'REQUIRED_FIELD_UNMAPPED', level: 'warning', message: `${where}: required field(s) ${required.map((f) => f.name).join(', ')} are not mapped: inserts will fail with REQUIRED_FIELD_MISSING` });
    }
  }
  return { object: describe.name, where, send, keyField, tokenField, skipped, warnings };
}
