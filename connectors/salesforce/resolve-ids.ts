/**
 * Finds the Salesforce Id of rows for update and delete when the key is an External ID: the Id from the
 * last successful sync first, else one SOQL query per 200 keys. Update never falls back to upsert. A stored Id
 * found gone by the write is looked up again by key (`retryByKey` in collections.ts).
 */
import type { OutRow, RowOp, RowResult } from '../types';
import type { WriteModel } from './analyze';
import type { SalesforceClient } from './client';
import { idProblem } from './ids';
import { encodeValue } from './mapping';

export interface Resolved {
  id: string | null;
  code?: 'NOT_FOUND' | 'DUPLICATE_EXTERNAL_ID' | 'MALFORMED_ID' | 'INVALID_TYPE_ON_FIELD_IN_RECORD' | 'NUMBER_OUTSIDE_VALID_RANGE';
  message?: string;
}

const MAX_IN_LIST_URL_CHARS = 12_000;
const NUMBER_TYPES = new Set(['int', 'long', 'double', 'currency', 'percent']);
const soqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** ≤ 200 keys and a URL well under Salesforce's 16 KB limit for GET /query. */
function batches(rows: OutRow[]): OutRow[][] {
  const out: OutRow[][] = [];
  let cur: OutRow[] = [];
  let size = 0;
  for (const r of rows) {
    const len = encodeURIComponent(soqlString(r.key)).length + 3;
    if (cur.length && (cur.length >= 200 || size + len > MAX_IN_LIST_URL_CHARS)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(r);
    size += len;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * True when the row is addressed by the Id stored at its last successful sync rather than by a lookup.
 * That record may since have been deleted, and another may now carry the key (deleted and recreated).
 */
export function fromStoredId(model: WriteModel, row: OutRow): boolean {
  return model.keyField.name !== 'Id' && !!row.destinationId;
}

export async function resolveIds(client: SalesforceClient, model: WriteModel, rows: OutRow[]): Promise<Map<string, Resolved>> {
  const out = new Map<string, Resolved>();
  const keyName = model.keyField.name;
  const missing: OutRow[] = [];
  for (const row of rows) {
    if (keyName === 'Id') {
      const bad = idProblem(row.key, model.object, model.keyPrefix);
      out.set(row.key, bad ? { id: null, ...bad } : { id: row.key });
    } else if (fromStoredId(model, row)) out.set(row.key, { id: row.destinationId! });
    else missing.push(row);
  }
  // A Number External ID is compared by value, and its SOQL value is a number, unquoted ("Quotes are unnecessary for
  // dates and numbers"; a quoted '1001.50' matched no record 1001.5): both sides as the digits the connector sends
  // (mapping.ts encodeValue: rounded to the field's scale, no trailing zeros). A key that is no number is a row error.
  const keySend = NUMBER_TYPES.has(model.keyField.type) ? model.send.find((f) => f.spec.isKey && f.field.name === keyName) : undefined;
  const digits = (v: unknown): string | null => {
    const e = keySend && encodeValue(keySend.spec, keySend.field, String(v));
    return e && e.ok && e.value !== null ? String(e.value) : null;
  };
  const fold = (s: string) => (keySend ? (digits(s) ?? s) : model.keyField.caseSensitive ? s : s.toLowerCase());
  const lookups: OutRow[] = [];
  for (const row of missing) {
    const e = keySend && encodeValue(keySend.spec, keySend.field, row.key);
    if (e && !e.ok) out.set(row.key, { id: null, code: e.code as Resolved['code'], message: `${keyName} = "${row.key}": ${e.message}` });
    else lookups.push(row);
  }
  for (const batch of batches(lookups)) {
    const literal = (r: OutRow) => (keySend ? fold(r.key) : soqlString(r.key));
    const soql = `SELECT Id, ${keyName} FROM ${model.object} WHERE ${keyName} IN (${batch.map(literal).join(',')})`;
    const found = await client.query<Record<string, unknown>>(soql, model.where);
    const byKey = new Map<string, string[]>();
    for (const rec of found) {
      const k = fold(String(rec[keyName] ?? ''));
      byKey.set(k, [...(byKey.get(k) ?? []), String(rec.Id)]);
    }
    for (const row of batch) {
      const ids = byKey.get(fold(row.key)) ?? [];
      if (ids.length === 1) out.set(row.key, { id: ids[0]! });
      else if (ids.length === 0)
        out.set(row.key, { id: null, code: 'NOT_FOUND', message: `no ${model.object} has ${keyName} = "${row.key}"` });
      else
        out.set(row.key, {
          id: null,
          code: 'DUPLICATE_EXTERNAL_ID',
          message: `${ids.length} ${model.object} records have ${keyName} = "${row.key}": ${ids.join(', ')}`,
        });
    }
  }
  return out;
}

/**
 * The records carrying the given idempotency tokens (the Insert token field, unique), by token in lower case:
 * their Id and the `fields` asked for. One SOQL query per 200 tokens (32 hexadecimal characters each).
 */
export async function recordsByToken(
  client: SalesforceClient,
  model: WriteModel,
  tokens: string[],
  fields: string[] = [],
): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  const tokenField = model.tokenField;
  if (!tokenField) return out;
  const columns = [...new Set(['Id', tokenField, ...fields])].join(', ');
  for (let i = 0; i < tokens.length; i += 200) {
    const batch = tokens.slice(i, i + 200);
    const soql = `SELECT ${columns} FROM ${model.object} WHERE ${tokenField} IN (${batch.map(soqlString).join(',')})`;
    for (const rec of await client.query<Record<string, unknown>>(soql, model.where)) {
      out.set(String(rec[tokenField] ?? '').toLowerCase(), rec);
    }
  }
  return out;
}

/**
 * The row error of an update or delete whose record Id could not be found (`res`: its lookup). One wording for
 * Collections and Bulk: a missing record says that Update never creates one (or that nothing was deleted).
 */
export function lookupFailure(op: RowOp, key: string, res: Resolved | undefined): RowResult {
  if (res?.code === 'MALFORMED_ID') return { key, ok: false, code: res.code, message: res.message ?? 'malformed Id', retryable: false };
  // A Number External ID key that is no number (NaN, Infinity) or too long for the field: never looked up.
  if (res?.code === 'INVALID_TYPE_ON_FIELD_IN_RECORD' || res?.code === 'NUMBER_OUTSIDE_VALID_RANGE')
    return { key, ok: false, code: res.code, message: res.message ?? 'not a number', retryable: false };
  return {
    key,
    ok: false,
    code: res?.code ?? 'NOT_FOUND',
    message: `${res?.message ?? 'no record'}; ${op === 'update' ? 'Update mode never creates records (create the record in Salesforce, or use Upsert mode)' : 'nothing deleted'}`,
    retryable: false,
  };
}
