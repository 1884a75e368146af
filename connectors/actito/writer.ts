/**
 * planWrites / writeChunk / pollChunk: one-by-one calls for small deltas and deletes, bulk imports
 * (ETL executions) above `bulkThreshold` while the daily import quota lasts.
 */
import type { ChunkOutcome, ChunkWrite, RowOp, WritePlan } from '../types';
import { pollBulk, writeBulk } from './bulk';
import { bulkChunkFor, bytesPerRow, importFileLimit, phasesOf, phaseTable, SAMPLE_MARGIN, sampledBytesPerRow } from './chunk-size';
import { type Ctx, loadTables, tableName } from './context';
import { quotaLeft, quotaTable } from './quota';
import { writeSingle } from './single';

export const METHOD_SINGLE = 'single';
export const METHOD_BULK = 'bulk';

export async function planWrites(ctx: Ctx, op: RowOp, rows: number): Promise<WritePlan> {
  const opts = ctx.options;
  const single = { method: METHOD_SINGLE, chunkSize: opts.singleChunkSize };
  // Actito has no documented bulk delete (README "Sources and assumptions"): Mirror deletes go one by one.
  if (op === 'delete' || rows < opts.bulkThreshold) return single;
  // Each bulk chunk imports into the records table and, when the operation writes profiles, into the
  // profile table first: the plan fits the table with the fewest imports left today.
  const resolved = await loadTables(ctx, opts);
  const lefts = await Promise.all(
    phasesOf(ctx, op).map(async (phase) => ({
      table: phaseTable(ctx, phase),
      left: await quotaLeft(ctx, quotaTable(resolved, phase), opts),
    })),
  );
  const { table, left } = lefts.reduce((a, b) => (b.left < a.left ? b : a));
  if (left <= 0 && opts.onQuotaExhausted === 'single') {
    ctx.log.warn('Actito daily bulk import quota used up: writing one by one', { table, rows });
    return single;
  }
  const chunkSize = opts.bulkChunkSize ?? (await sizedChunk(ctx, op, rows, left));
  const needed = Math.ceil(rows / chunkSize);
  // A bulk plan with no quota left and onQuotaExhausted "wait" makes writeChunk wait for the next day.
  if (needed > left && left > 0)
    ctx.log.warn('Actito bulk import quota will not cover this run; later chunks fall back', { table, left, needed, chunkSize });
  return { method: METHOD_BULK, chunkSize };
}

/**
 * bulkChunkSize unset: rows per import from the bytes per row of the activation's last import files or,
 * before any counts, of a sample of the operation's rows built into an import file (chunk-size.ts).
 */
async function sizedChunk(ctx: Ctx, op: RowOp, rows: number, left: number): Promise<number> {
  const kept = await bytesPerRow(ctx, op);
  const sampled = kept === null ? await sampledBytesPerRow(ctx, op, rows) : null;
  const sizing = bulkChunkFor({ rows, left, bytesPerRow: kept ?? sampled?.bytesPerRow ?? null, limitBytes: importFileLimit.bytes });
  const tenth = (n: number): number => Math.round(n * 10) / 10;
  ctx.log.info(
    `Actito rows per import sized from ${kept !== null ? 'the last import file' : sampled ? 'a sample of the rows' : 'no file yet'}`,
    {
      table: tableName(ctx),
      rows,
      left,
      source: kept !== null ? 'file' : sampled ? 'sample' : null,
      bytesPerRow: sizing.bytesPerRow === null ? null : tenth(sizing.bytesPerRow),
      ...(sampled && { sampleRows: sampled.rows, sampleBytesPerRow: tenth(sampled.measured), margin: SAMPLE_MARGIN }),
      chunkSize: sizing.chunkSize,
      grown: sizing.grown,
    },
  );
  return sizing.chunkSize;
}

export async function writeChunk(ctx: Ctx, chunk: ChunkWrite, plan: WritePlan): Promise<ChunkOutcome> {
  const opts = ctx.options;
  const tables = await loadTables(ctx, opts);
  if (plan.method === METHOD_BULK && chunk.op !== 'delete') return writeBulk(ctx, chunk, opts, tables);
  await writeSingle(ctx, chunk, opts, tables);
  return { status: 'done' };
}

export async function pollChunk(ctx: Ctx, chunk: ChunkWrite, handle: string): Promise<ChunkOutcome> {
  const opts = ctx.options;
  return pollBulk(ctx, chunk, handle, opts, await loadTables(ctx, opts));
}
