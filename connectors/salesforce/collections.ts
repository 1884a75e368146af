/**
 * sObject Collections writer: 200-record requests, allOrNone=false, a bounded number in flight,
 * results paired with rows by position. Results are recorded per request so a retried chunk only
 * re-sends rows not yet acknowledged.
 */
import type { ChunkWrite, OutRow, RowOp, RowResult } from '../types';
import type { Session } from './context';
import {
  createOnlySends,
  encodeRow,
  FIELD_NOT_SETTABLE,
  filledCreateOnly,
  incompleteResult,
  isGone,
  missingLinks,
  saveErrorCode,
  toJsonValues,
  toRowResult,
  withoutCreateOnly,
  withoutLinks,
  withParentHint,
  type DroppedLink,
  type Wire,
} from './rows';
import { fromStoredId, lookupFailure, recordsByToken, resolveIds } from './resolve-ids';
import { ensureQuotaFromHeader } from './quota';
import type { SaveResult } from './client';
import { SyncError } from '../../common/errors';
import { withDuplicateHint } from './duplicates';

const BATCH = 200;

/** One Collections request for ≤ 200 rows (after local encoding and Id lookups); results keyed by row. */
export async function sendBatch(s: Session, op: RowOp, rows: OutRow[]): Promise<RowResult[]> {
  const { client, model } = s;
  const results: RowResult[] = [];
  const ready: Array<{ row: OutRow; values: Record<string, Wire> }> = [];
  for (const row of rows) {
    if (op === 'delete') {
      ready.push({ row, values: {} });
      continue;
    }
    const e = encodeRow(model, row);
    if (e.ok) ready.push(e);
    else results.push(e.result);
  }
  let sendable = ready;
  const ids = new Map<string, string>();
  if (op === 'update' || op === 'delete') {
    const resolved = await resolveIds(
      client,
      model,
      ready.map((r) => r.row),
    );
    sendable = [];
    for (const r of ready) {
      const res = resolved.get(r.row.key);
      if (res?.id) {
        ids.set(r.row.key, res.id);
        sendable.push(r);
      } else if (op === 'delete' && res?.code === 'NOT_FOUND') results.push({ key: r.row.key, ok: true, destinationId: null });
      else results.push(lookupFailure(op, r.row.key, res));
    }
  }
  if (sendable.length === 0) return results;
  const saved = await save(s, op, sendable, ids);
  const stale: OutRow[] = [];
  const unlinked: Unlinked[] = [];
  const madeBefore: MadeBefore[] = [];
  sendable.forEach((r, i) => {
    const res = saved[i];
    if (res && !res.success && isGone(saveErrorCode(res)) && fromStoredId(model, r.row)) stale.push(r.row);
    else {
      const result = toRowResult(r.row.key, res, op === 'delete');
      const missing = model.writeWithoutLink && op !== 'delete' ? missingLinks(model, r.values, result) : [];
      if (missing.length) unlinked.push({ ...r, dropped: missing });
      else if (refusedCreateOnly(model, op, r.values, res)) madeBefore.push({ ...r, refused: hinted(model, result, res), dropped: [] });
      else results.push(hinted(model, result, res));
    }
  });
  if (unlinked.length) results.push(...(await sendWithoutLinks(s, op, unlinked, ids, stale)));
  if (madeBefore.length) results.push(...(await writeMadeBefore(s, madeBefore)));
  if (stale.length) results.push(...(await retryByKey(s, op, stale)));
  return results;
}

/** A create refused for a create-only field: the token's upsert may have found the record an earlier send made. */
type MadeBefore = Ready & { refused: RowResult; dropped: DroppedLink[] };

/**
 * True when a create (an upsert on the row's token) was refused for a create-only field it sets. Salesforce
 * refuses such a field only on an update, so the token found a record: the one an earlier send of the same
 * row made (a lost answer, a retried activity), or, in Insert, the same content written by an earlier run
 * (a key whose content went A → B → A).
 */
function refusedCreateOnly(model: Session['model'], op: RowOp, values: Record<string, Wire>, res: SaveResult | undefined): boolean {
  if (op !== 'create' || !model.tokenField || !res || res.success || saveErrorCode(res) !== FIELD_NOT_SETTABLE) return false;
  return filledCreateOnly(values, createOnlySends(model)).length > 0;
}

/**
 * Rows whose token upsert was refused for a create-only field: the record the token finds is updated by
 * its Id without the create-only fields, and the row is answered with that record. The token is a hash of
 * the row's mapped content, so that record was created with these very values in its create-only fields,
 * which no update can have changed since. Looked up rather than upserted again without them: if no record
 * carries the token (the refusal was for another reason, or the record was deleted meanwhile), nothing is
 * written and the refusal stands; a later send creates the record, with all its fields.
 * A create-only lookup the record was made without (written without its link) cannot be set any more:
 * that row keeps the refusal. Under `missingParent: "writeWithoutLink"` a lookup whose parent is missing
 * is dropped from the update as from any write (the row answered incomplete).
 */
async function writeMadeBefore(s: Session, rows: MadeBefore[]): Promise<RowResult[]> {
  const { client, model } = s;
  const createOnly = createOnlySends(model);
  const lookups = [...new Set(createOnly.flatMap((c) => (c.parent ? [c.parent.lookup.name] : [])))];
  const found = await recordsByToken(
    client,
    model,
    rows.map((r) => r.row.token),
    lookups,
  );
  const results: RowResult[] = [];
  const ids = new Map<string, string>();
  let todo: MadeBefore[] = [];
  for (const r of rows) {
    const rec = found.get(r.row.token.toLowerCase());
    const unlinked = createOnly.some(
      (c) =>
        c.parent &&
        r.values[c.column] !== undefined &&
        r.values[c.column] !== null &&
        !r.dropped.some((d) => d.send === c) &&
        (rec?.[c.parent.lookup.name] ?? null) === null,
    );
    if (!rec || unlinked) results.push(r.refused);
    else {
      ids.set(r.row.key, String(rec.Id));
      todo.push(r);
    }
  }
  while (todo.length) {
    const sent = todo.map((t) => ({ row: t.row, values: withoutCreateOnly(withoutLinks(t.values, t.dropped), createOnly) }));
    const saved = await save(s, 'update', sent, ids);
    const next: MadeBefore[] = [];
    todo.forEach((t, i) => {
      const res = saved[i];
      const result = toRowResult(t.row.key, res);
      const more = model.writeWithoutLink ? missingLinks(model, sent[i]!.values, result, t.dropped) : [];
      if (more.length) next.push({ ...t, dropped: [...t.dropped, ...more] });
      else if (result.ok) {
        const written = { ...result, destinationId: result.destinationId ?? ids.get(t.row.key) ?? null };
        results.push(t.dropped.length ? incompleteResult(model, written, t.dropped) : written);
      }
      // Deleted since the look-up: sent again later, as a create with every field.
      else if (isGone(result.code)) results.push({ ...result, retryable: true });
      else results.push(hinted(model, result, res));
    });
    todo = next;
  }
  return results;
}

type Ready = { row: OutRow; values: Record<string, Wire> };
type Unlinked = Ready & { dropped: DroppedLink[] };

const hinted = (model: Session['model'], result: RowResult, res: SaveResult | undefined): RowResult =>
  withDuplicateHint(withParentHint(model, result), model.activationId, model.allowSave, res?.errors?.[0]?.duplicateResult);

/**
 * Rows refused for a missing parent, under `missingParent: "writeWithoutLink"`: sent again at once with
 * the missing lookups cleared. A row may name another missing parent then (Salesforce reports one): that
 * lookup is dropped too, so each round drops at least one and the rounds end. A row written so is
 * answered `incomplete`: the runtime lists it and sends it again next run, linked once its parent exists.
 */
async function sendWithoutLinks(s: Session, op: RowOp, rows: Unlinked[], ids: Map<string, string>, stale: OutRow[]): Promise<RowResult[]> {
  const { model } = s;
  const results: RowResult[] = [];
  let todo = rows;
  while (todo.length) {
    const sendable = todo.map((t) => ({ row: t.row, values: withoutLinks(t.values, t.dropped) }));
    const saved = await save(s, op, sendable, ids);
    const next: Unlinked[] = [];
    const madeBefore: MadeBefore[] = [];
    todo.forEach((t, i) => {
      const res = saved[i];
      if (res && !res.success && isGone(saveErrorCode(res)) && fromStoredId(model, t.row)) {
        stale.push(t.row); // looked up by key and sent again from the start (with its links)
        return;
      }
      const result = toRowResult(t.row.key, res);
      const more = missingLinks(model, t.values, result, t.dropped);
      if (more.length) next.push({ ...t, dropped: [...t.dropped, ...more] });
      else if (refusedCreateOnly(model, op, sendable[i]!.values, res)) madeBefore.push({ ...t, refused: hinted(model, result, res) });
      else results.push(result.ok ? incompleteResult(model, result, t.dropped) : hinted(model, result, res));
    });
    if (madeBefore.length) results.push(...(await writeMadeBefore(s, madeBefore)));
    todo = next;
  }
  return results;
}

/** One request writing `sendable` (≤ 200 encoded rows) with `op`; `ids`: the record Ids of an update or delete. */
async function save(s: Session, op: RowOp, sendable: Ready[], ids: Map<string, string>): Promise<SaveResult[]> {
  const { client, model } = s;
  const type = { attributes: { type: model.object } };
  const header =
    op !== 'delete' && model.duplicateRuleHeader ? { headers: { 'Sforce-Duplicate-Rule-Header': model.duplicateRuleHeader } } : {};
  const o = { where: model.where, quotaWaitMs: s.options.quotaWaitMs, ...header };
  let saved: SaveResult[];
  if (op === 'delete') {
    saved = await client.deleteRecords(
      sendable.map((r) => ids.get(r.row.key)!),
      o,
    );
  } else if (op === 'update') {
    saved = await client.updateRecords(
      sendable.map((r) => {
        const { Id: _drop, ...values } = r.values;
        return { ...type, ...toJsonValues(values), id: ids.get(r.row.key) };
      }),
      o,
    );
  } else if (op === 'upsert') {
    saved = await client.upsertRecords(
      model.object,
      model.keyField.name,
      sendable.map((r) => ({ ...type, ...toJsonValues(r.values) })),
      o,
    );
  } else if (model.tokenField) {
    // Create as an upsert on the row's token (activation, key, content): a replay after a lost response finds the record it made.
    saved = await client.upsertRecords(
      model.object,
      model.tokenField,
      sendable.map((r) => ({ ...type, ...toJsonValues(r.values), [model.tokenField!]: r.row.token })),
      o,
    );
  } else {
    saved = await client.createRecords(
      sendable.map((r) => ({ ...type, ...toJsonValues(r.values) })),
      o,
    );
  }
  if (!Array.isArray(saved) || saved.length !== sendable.length) {
    throw new SyncError(
      'INTERNAL',
      `${model.where}: Salesforce returned ${Array.isArray(saved) ? saved.length : 'no'} results for ${sendable.length} records`,
      { retryable: true },
    );
  }
  return saved;
}

/**
 * Rows (≤ 200) whose stored Id turned out gone: the record may have been deleted and recreated with the
 * same key, so it is looked up by key and the update or delete acts on the record found (an update's
 * result carries the new Id, which refreshes the snapshot). No record with the key: an update fails the
 * row, a delete is done.
 */
export async function retryByKey(s: Session, op: RowOp, rows: OutRow[]): Promise<RowResult[]> {
  const stored = new Map(rows.map((r) => [r.key, r.destinationId]));
  const results = await sendBatch(
    s,
    op,
    rows.map((r) => ({ ...r, destinationId: null })),
  );
  return results.map((r) =>
    !r.ok && r.code === 'NOT_FOUND'
      ? { ...r, message: `record ${stored.get(r.key) ?? '?'} (synced last time) no longer exists and ${r.message}` }
      : r,
  );
}

/** Writes every unacknowledged row of the chunk; throws only for request-wide problems. */
export async function writeCollections(s: Session, chunk: ChunkWrite, onProgress: (sent: number) => void): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  let sent = 0;
  const launch = (rows: OutRow[]) => {
    const p: Promise<void> = sendBatch(s, chunk.op, rows)
      .then((results) => chunk.record(results))
      .then(() => onProgress((sent += rows.length)))
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  let buffer: OutRow[] = [];
  const flush = async (rows: OutRow[]) => {
    while (inFlight.size >= s.options.concurrency) await Promise.race(inFlight);
    if (failure) return;
    // Checked before each request against the last Sforce-Limit-Info header: no extra calls.
    ensureQuotaFromHeader(s.client, inFlight.size + 1, s.options, s.model.where);
    launch(rows);
  };
  try {
    for await (const batch of chunk.rows(BATCH)) {
      buffer.push(...batch);
      while (buffer.length >= BATCH && !failure) {
        await flush(buffer.slice(0, BATCH));
        buffer = buffer.slice(BATCH);
      }
      if (failure) break;
    }
    if (buffer.length && !failure) await flush(buffer);
  } finally {
    await Promise.all(inFlight);
  }
  if (failure) throw failure;
}
