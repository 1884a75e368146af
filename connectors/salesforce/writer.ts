/**
 * planWrites / writeChunk / pollChunk: choose Collections or Bulk 2.0, guard the API quota, dispatch.
 */
import type { ChunkOutcome, ChunkWrite, RowOp, WritePlan } from '../types';
import { openSession, type SfContext } from './context';
import { writeCollections } from './collections';
import { pollBulk, writeBulk } from './bulk';
import { withHeartbeat } from '../kit/heartbeat';
import { currentUsage, ensureQuota } from './quota';

export const METHOD_COLLECTIONS = 'collections';
export const METHOD_BULK = 'bulk2';

/** Rough CSV bytes of one value of a Postgres column type (quoting and the delimiter included). */
function estimatedValueBytes(pgType: string): number {
  switch (pgType) {
    case 'bool':
      return 6;
    case 'int2':
    case 'int4':
      return 8;
    case 'int8':
    case 'numeric':
    case 'float4':
    case 'float8':
    case 'money':
      return 16;
    case 'date':
      return 11;
    case 'time':
    case 'timetz':
      return 16;
    case 'timestamp':
    case 'timestamptz':
      return 25;
    case 'uuid':
      return 37;
    case 'json':
    case 'jsonb':
      return 256;
    default:
      return pgType.startsWith('_') ? 96 : 40; // arrays; text-like and anything else
  }
}

/**
 * Rough CSV bytes per row, on the generous side, so a job of `chunkSize` rows stays under the upload
 * limit (a row that does not fit still goes into a follow-up job of the same chunk).
 */
function estimatedRowBytes(ctx: SfContext, op: RowOp): number {
  if (op === 'delete') return 24;
  const token = op === 'create' ? 66 : 0;
  return 2 + token + ctx.fields.reduce((n, f) => n + estimatedValueBytes(f.pgType), 0);
}

/**
 * Bulk: one chunk is one job, as large as the CSV cap allows (fewer jobs, fewer calls); chunks are
 * balanced so 1M rows that need two jobs get two of 500k rather than one full and one small.
 */
export async function planWrites(ctx: SfContext, op: RowOp, rows: number): Promise<WritePlan> {
  const o = ctx.options;
  // Only Bulk 2.0 deletes past the recycle bin (REST and Collections deletes are soft).
  const hardDelete = op === 'delete' && o.hardDelete && ctx.mode === 'mirror';
  if (rows < o.bulkThreshold && !hardDelete) return { method: METHOD_COLLECTIONS, chunkSize: o.collectionsChunkSize };
  const bySize = Math.floor(o.maxCsvBytes / estimatedRowBytes(ctx, op));
  const perJob = Math.max(1, Math.min(o.bulkChunkSize, bySize));
  const jobs = Math.max(1, Math.ceil(rows / perJob));
  return { method: METHOD_BULK, chunkSize: Math.ceil(rows / jobs) };
}

export async function writeChunk(ctx: SfContext, chunk: ChunkWrite, plan: WritePlan): Promise<ChunkOutcome> {
  const s = await openSession(ctx);
  const bulk = plan.method === METHOD_BULK;
  const planned = bulk ? 4 : Math.ceil(chunk.rowCount / 200) * (chunk.op === 'create' || chunk.op === 'upsert' ? 1 : 2);
  ensureQuota(await currentUsage(s.client, s.model.where, ctx.log), planned, s.options, s.model.where);
  if (bulk) return writeBulk(s, chunk);
  // Salesforce may hold one request longer than the activity's heartbeat timeout. Beats go on while it
  // is in flight: were the attempt taken for dead, a second one would write the chunk and let later runs
  // write newer values, and the held request, applied afterwards, would put this run's values back.
  // A batch answered also beats, unless it was the chunk's last: the attempt ends with it, and the first
  // beat of an attempt is a call to Temporal at once (a small run's one batch would pay it for nothing).
  let sent = 0;
  await withHeartbeat(
    () => ctx.heartbeat({ chunk: chunk.chunkId, sent }),
    s.options.heartbeatMs,
    () =>
      writeCollections(s, chunk, (n) => {
        sent = n;
        if (n < chunk.rowCount) ctx.heartbeat({ chunk: chunk.chunkId, sent });
      }),
  );
  return { status: 'done' };
}

export async function pollChunk(ctx: SfContext, chunk: ChunkWrite, handle: string): Promise<ChunkOutcome> {
  const s = await openSession(ctx);
  return pollBulk(s, chunk, handle);
}
