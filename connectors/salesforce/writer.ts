/**
 * planWrites / writeChunk / pollChunk: choose Collections or Bulk 2.0, guard the API quota, dispatch.
 */
import type { ChunkOutcome, ChunkWrite, RowOp, WritePlan } from '../types';
import { openSession, parseOptions, type SfContext } from './context';
import { writeCollections } from './collections';
import { pollBulk, writeBulk } from './bulk';
import { currentUsage, ensureQuota } from './quota';

export const METHOD_COLLECTIONS = 'collections';
export const METHOD_BULK = 'bulk2';

/** Rough CSV bytes per row, so a job of `chunkSize` rows stays under the upload limit. */
function estimatedRowBytes(ctx: SfContext, op: RowOp): number {
  return op === 'delete' ? 24 : 64 + ctx.fields.length * 96;
}

export function planWrites(ctx: SfContext, op: RowOp, rows: number): WritePlan {
  const o = parseOptions(ctx);
  if (rows < o.bulkThreshold) return { method: METHOD_COLLECTIONS, chunkSize: o.collectionsChunkSize };
  const bySize = Math.floor(o.maxCsvBytes / estimatedRowBytes(ctx, op));
  return { method: METHOD_BULK, chunkSize: Math.max(1, Math.min(o.bulkChunkSize, bySize)) };
}

export async function writeChunk(ctx: SfContext, chunk: ChunkWrite, plan: WritePlan): Promise<ChunkOutcome> {
  const s = await openSession(ctx);
  const bulk = plan.method === METHOD_BULK;
  const planned = bulk ? 6 : Math.ceil(chunk.rowCount / 200) * (chunk.op === 'create' || chunk.op === 'upsert' ? 1 : 2);
  ensureQuota(await currentUsage(s.client, s.model.where), planned, s.options, s.model.where);
  if (bulk) return writeBulk(s, chunk);
  await writeCollections(s, chunk, (sent) => ctx.heartbeat({ chunk: chunk.chunkId, sent }));
  return { status: 'done' };
}

export async function pollChunk(ctx: SfContext, chunk: ChunkWrite, handle: string): Promise<ChunkOutcome> {
  const s = await openSession(ctx);
  return pollBulk(s, chunk, handle);
}
