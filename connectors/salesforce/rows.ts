/** Turns OutRows into Salesforce field values (per row failures decided locally) and save results into RowResults. */
import type { OutRow, RowResult } from '../types';
import type { WriteModel } from './analyze';
import type { SaveResult } from './client';
import { isRetryableRowError } from './errors';
import { encodeValue } from './mapping';

export type Wire = string | number | boolean | null;
export type Encoded = { ok: true; row: OutRow; values: Record<string, Wire> } | { ok: false; result: RowResult };

/**
 * Encodes the mapped fields of a row. A field absent from `values` is not sent (left unchanged);
 * a null or an empty string is sent as null (cleared). The first field that cannot be encoded fails the row without a call.
 */
export function encodeRow(model: WriteModel, row: OutRow): Encoded {
  const values: Record<string, Wire> = {};
  for (const { spec, field } of model.send) {
    let raw = row.values[spec.to];
    if (raw === undefined && spec.isKey) raw = row.key;
    if (raw === undefined) continue;
    const e = encodeValue(spec, field, raw);
    if (!e.ok) return { ok: false, result: { key: row.key, ok: false, code: e.code, message: e.message, retryable: false } };
    // Salesforce keeps no empty text, and the paths disagree on "": REST blanks text fields but refuses
    // it on a lookup (MALFORMED_ID), Bulk CSV reads an empty cell as "leave unchanged". Null clears on both.
    values[field.name] = e.value === '' ? null : e.value;
  }
  return { ok: true, row, values };
}

/**
 * Codes that mean "no record has this Id (any more)": a delete by a looked-up Id has nothing left to do;
 * an Id stored by an earlier sync may be stale (see `fromStoredId`).
 */
const GONE = new Set(['ENTITY_IS_DELETED', 'INVALID_CROSS_REFERENCE_KEY', 'NOT_FOUND', 'INVALID_ID_FIELD']);
export const isGone = (code: string) => GONE.has(code);

/** The first error code of a failed save result. */
export const saveErrorCode = (r: SaveResult) => r.errors?.[0]?.statusCode ?? r.errors?.[0]?.errorCode ?? 'UNKNOWN';

export function toRowResult(key: string, r: SaveResult | undefined, isDelete = false): RowResult {
  if (!r) return { key, ok: false, code: 'NOT_ACKNOWLEDGED', message: 'Salesforce returned no result for this record', retryable: true };
  // With allOrNone a rolled-back entry may still carry an id: trust the id only on success.
  if (r.success) return { key, ok: true, destinationId: r.id ?? null };
  const e = r.errors?.[0];
  const code = saveErrorCode(r);
  const message = [e?.message ?? 'no message', e?.fields?.length ? `(fields: ${e.fields.join(', ')})` : ''].join(' ').trim();
  if (isDelete && GONE.has(code)) return { key, ok: true, destinationId: null };
  return { key, ok: false, code, message, retryable: isRetryableRowError(code, message) };
}
