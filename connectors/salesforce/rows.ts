/** Turns OutRows into Salesforce field values (per row failures decided locally) and save results into RowResults. */
import type { OutRow, RowResult } from '../types';
import type { SendField, WriteModel } from './analyze';
import type { SaveResult } from './client';
import { isRetryableRowError } from './errors';
import { encodeValue, type WireValue } from './mapping';
import { rowRecordType } from './record-types';

export type Wire = WireValue;
export type Encoded = { ok: true; row: OutRow; values: Record<string, Wire> } | { ok: false; result: RowResult };

/**
 * Encodes the mapped fields of a row. A field absent from `values` is not sent (left unchanged);
 * a null or an empty string is sent as null (cleared). The first field that cannot be encoded fails the row without a call.
 */
export function encodeRow(model: WriteModel, row: OutRow): Encoded {
  const values: Record<string, Wire> = {};
  for (const send of model.send) {
    const { spec, field, column, parent } = send;
    if (send.constant !== undefined) {
      values[column] = send.constant;
      continue;
    }
    let raw = row.values[spec.to];
    if (raw === undefined && spec.isKey) raw = row.key;
    if (raw === undefined) continue;
    if (send.recordTypes) {
      // No developer name: nothing sent (Salesforce's default record type on create, unchanged on update).
      if (raw === null || String(raw) === '') continue;
      const rt = rowRecordType(send, String(raw));
      if (!rt.ok) return { ok: false, result: { key: row.key, ok: false, code: rt.code, message: rt.message, retryable: false } };
      values[column] = rt.id;
      continue;
    }
    const e = encodeValue(spec, field, raw);
    if (!e.ok)
      return {
        ok: false,
        result: {
          key: row.key,
          ok: false,
          code: e.code,
          message: parent ? `${e.message} (parent key for ${column})` : e.message,
          retryable: false,
        },
      };
    // Salesforce keeps no empty text, and the paths disagree on "": REST blanks text fields but refuses
    // it on a lookup (MALFORMED_ID), Bulk CSV reads an empty cell as "leave unchanged". Null clears on both.
    const value = e.value === '' ? null : e.value;
    // No parent key: the lookup itself is cleared (a null reference names no parent to look for).
    if (value === null && parent) values[parent.lookup.name] = null;
    else values[column] = value;
  }
  return { ok: true, row, values };
}

/**
 * The REST JSON form of encoded values: a parent lookup `Account.External_Id__c` becomes the nested
 * reference `{"Account": {"External_Id__c": …}}` that sObject Collections resolve.
 */
export function toJsonValues(values: Record<string, Wire>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const dot = name.indexOf('.');
    if (dot < 0) out[name] = value;
    else out[name.slice(0, dot)] = { [name.slice(dot + 1)]: value };
  }
  return out;
}

/** Salesforce's code for a field the write may not set (on an update: a create-only field, whatever its value). */
export const FIELD_NOT_SETTABLE = 'INVALID_FIELD_FOR_INSERT_UPDATE';

/**
 * The mapping's create-only sends: the field written on the object (a lookup filled through its parent's
 * External ID counts as the lookup) is createable and not updateable, so Salesforce sets it on a create and
 * refuses it on any update, an upsert that finds its record included.
 */
export function createOnlySends(model: WriteModel): SendField[] {
  return model.send.filter((s) => {
    const target = s.parent?.lookup ?? s.field;
    return target.createable === true && target.updateable !== true;
  });
}

/** `values` without the create-only sends (each by its column, and a lookup cleared by its own name). */
export function withoutCreateOnly(values: Record<string, Wire>, createOnly: SendField[]): Record<string, Wire> {
  const out = { ...values };
  for (const s of createOnly) {
    delete out[s.column];
    if (s.parent) delete out[s.parent.lookup.name];
  }
  return out;
}

/** The create-only sends that `values` fill (a lookup cleared by its own name counts). */
export function filledCreateOnly(values: Record<string, Wire>, createOnly: SendField[]): SendField[] {
  return createOnly.filter((s) => values[s.column] !== undefined || (s.parent && values[s.parent.lookup.name] !== undefined));
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

const FOREIGN_KEY_MISSING = /Foreign key external ID: (.*) not found for field (\w+) in entity (\w+)/;

/**
 * Salesforce's message for a missing parent names the key, the field and the object but not the
 * mapping; the row error says which mapping it came from and what to do.
 */
export function withParentHint(model: WriteModel, r: RowResult): RowResult {
  if (r.ok) return r;
  const m = FOREIGN_KEY_MISSING.exec(r.message);
  if (!m) return r;
  const [, value, fieldName, object] = m;
  const sf = model.send.find(
    (s) => s.parent && s.parent.object.toLowerCase() === object!.toLowerCase() && s.field.name.toLowerCase() === fieldName!.toLowerCase(),
  );
  if (!sf) return r;
  return {
    ...r,
    message: `${m[0]} (mapping "${sf.spec.from}" → "${sf.column}"): no ${object} has ${fieldName} = "${value}"; nothing was written for this row. Create that ${object} (or correct the key), then run "syncline retry-failed ${model.activationId}" (the row is also sent again when it changes)`,
  };
}

/** A parent lookup left out of a row's write because Salesforce found no parent with its key. */
export interface DroppedLink {
  send: SendField;
  value: string;
}

/** The code a row written without one of its lookups is listed with (`RowResult.incomplete`). */
export const WRITTEN_WITHOUT_LINK = 'WRITTEN_WITHOUT_LINK';

/**
 * The parent lookups of `values` that a failed write's "Foreign key external ID: … not found" names,
 * among those not yet `dropped`. Salesforce names the parent object, its External ID field and the key,
 * not the lookup: of several lookups to the same parent field, the ones sent with that key are meant.
 * Empty when the failure is another one, or names no lookup left to drop.
 */
export function missingLinks(model: WriteModel, values: Record<string, Wire>, r: RowResult, dropped: DroppedLink[] = []): DroppedLink[] {
  if (r.ok || r.code !== 'INVALID_FIELD') return [];
  const m = FOREIGN_KEY_MISSING.exec(r.message);
  if (!m) return [];
  const [, value, fieldName, object] = m as unknown as [string, string, string, string];
  const candidates = model.send.filter(
    (s) =>
      s.parent &&
      s.parent.object.toLowerCase() === object.toLowerCase() &&
      s.field.name.toLowerCase() === fieldName.toLowerCase() &&
      values[s.column] !== undefined &&
      values[s.column] !== null &&
      !dropped.some((d) => d.send === s),
  );
  const same = candidates.filter((s) => String(values[s.column]).toLowerCase() === value.toLowerCase());
  return (same.length ? same : candidates).map((send) => ({ send, value: String(values[send.column]) }));
}

/** The values without the dropped lookups: each lookup is cleared (`AccountId: null`), so an update leaves no old parent in place. */
export function withoutLinks(values: Record<string, Wire>, dropped: DroppedLink[]): Record<string, Wire> {
  const out = { ...values };
  for (const d of dropped) {
    delete out[d.send.column];
    out[d.send.parent!.lookup.name] = null;
  }
  return out;
}

/** What the row error of a row written without its link(s) says: which parent is missing, and what to do. */
export function incompleteResult(model: WriteModel, r: RowResult, dropped: DroppedLink[]): RowResult {
  if (!r.ok) return r;
  const what = dropped
    .map(
      (d) =>
        `written without its link ${d.send.parent!.lookup.name} to ${d.send.parent!.object}: no ${d.send.parent!.object} has ${d.send.field.name} = "${d.value}" (mapping "${d.send.spec.from}" → "${d.send.column}")`,
    )
    .join('; ');
  const objects = [...new Set(dropped.map((d) => d.send.parent!.object))].join(' / ');
  return {
    ...r,
    incomplete: {
      code: WRITTEN_WITHOUT_LINK,
      message: `${what}. Create that ${objects} (or correct the key in the model): the row is sent again every run of ${model.activationId} until it is linked (option missingParent "writeWithoutLink")`,
    },
  };
}
