/**
 * Rows of a Bulk chunk that are written through sObject Collections instead: rows the CSV cannot carry
 * exactly, and rows whose stored Id the job found gone (looked up again by key). Results are recorded
 * at once, so a retried activity skips them.
 */
import type { ChunkWrite, OutRow, RowResult } from '../types';
import { resolveIds } from './resolve-ids';
import type { Session } from './context';
import { retryByKey, sendBatch } from './collections';
import { ensureQuotaFromHeader } from './quota';

const BATCH = 200;

/** Rows holding a text the CSV would turn into null (`#N/A`): the value arrives as it is whatever the row count. */
export async function sendThroughCollections(s: Session, chunk: ChunkWrite, rows: OutRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) {
    ensureQuotaFromHeader(s.client, 1, s.options, s.model.where);
    await chunk.record(await sendBatch(s, chunk.op, rows.slice(i, i + BATCH)));
  }
}

/** Rows of the chunk named by `keys` (left unrecorded by the results reader), sent through Collections. */
export async function resendThroughCollections(s: Session, chunk: ChunkWrite, keys: Set<string>): Promise<void> {
  for await (const rows of chunk.rows(1000))
    await sendThroughCollections(
      s,
      chunk,
      rows.filter((r) => keys.has(r.key)),
    );
}

/**
 * Update/delete rows the job sent to a stored Id that no longer exists (left unrecorded by the results
 * reader): each is looked up by key and written to the record that carries it now, if any.
 */
export async function retryStaleByKey(s: Session, chunk: ChunkWrite, keys: Set<string>): Promise<void> {
  let batch: OutRow[] = [];
  const send = async () => {
    ensureQuotaFromHeader(s.client, 2, s.options, s.model.where);
    await chunk.record(
      chunk.op === 'delete' && s.model.hardDelete ? await staleHardDeletes(s, batch) : await retryByKey(s, chunk.op, batch),
    );
    batch = [];
  };
  for await (const rows of chunk.rows(1000)) {
    for (const row of rows) {
      if (!keys.has(row.key)) continue;
      batch.push(row);
      if (batch.length >= BATCH) await send();
    }
  }
  if (batch.length) await send();
}

/**
 * Hard deletes whose stored Id was gone. A Collections delete (what other modes fall back to) would only
 * put the record that carries the key now into the recycle bin, so it is not sent: with no such record the
 * delete is done, otherwise the row is listed for a person to decide (that record was created after the
 * last sync, by someone or something else).
 */
async function staleHardDeletes(s: Session, rows: OutRow[]): Promise<RowResult[]> {
  const found = await resolveIds(
    s.client,
    s.model,
    rows.map((r) => ({ ...r, destinationId: null })),
  );
  return rows.map((row): RowResult => {
    const r = found.get(row.key);
    if (r?.code === 'NOT_FOUND') return { key: row.key, ok: true, destinationId: null };
    const now = r?.id ? `another record, ${r.id}, now carries its key` : (r?.message ?? 'its key could not be looked up');
    return {
      key: row.key,
      ok: false,
      code: r?.id ? 'RECORD_RECREATED' : (r?.code ?? 'NOT_FOUND'),
      retryable: false,
      message: `record ${row.destinationId ?? '?'} (synced last time) no longer exists and ${now}; it was not hard-deleted, since the activation did not sync it. Delete it in Salesforce if it should go`,
    };
  });
}
