/**
 * The chunk repository: a run's write chunks (syncline.chunks), their status and the small JSON state a
 * connector keeps per chunk (e.g. a bulk job id, saved before the upload so a retry re-attaches).
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { ChunksTable, Database } from './database';

type Db = Kysely<Database>;
export type ChunkRecord = Selectable<ChunksTable>;

export interface NewChunk {
  op: string;
  method: string;
  rowCount: number;
  from: number;
  to: number;
}

/**
 * The run's chunks, numbered 0..n-1 in the given order; those of an earlier attempt are replaced. Atomic on a
 * transaction. Only while the run is running: its status is read under a share lock in the statement that
 * clears the earlier chunks, and returned; another status plans nothing (a run cancelled meanwhile, e.g. by a
 * new target accepted, whose delta may have been computed from the snapshot the new target dropped). The lock
 * holds until the transaction ends: what closes the run then (acceptNewTarget, a settle) waits, then finds
 * the chunks and deletes them.
 *
 * A chunk is recorded not begun (write_began false) with its seq range negated: [-from, -to] holds no row
 * (seqs start at 1). claimChunk restores it as it marks the chunk begun, in the same statement. A worker of a
 * release before the mark (a rolling deploy without Worker Versioning) reads seq_from/seq_to without
 * marking anything: it finds no pending row in the chunk, ends it without calling the destination, and its
 * rows stay pending for the commit, which counts them never sent (`unsent`; the next run sends them).
 */
export async function replaceChunks(db: Db, runId: string, chunks: NewChunk[]): Promise<string | undefined> {
  const r = await sql<{ status: string }>`WITH r AS (SELECT status FROM syncline.runs WHERE id = ${runId}::bigint FOR SHARE),
  cleared AS (DELETE FROM syncline.chunks WHERE run_id = ${runId}::bigint)
SELECT status FROM r`.execute(db);
  const status = r.rows[0]?.status;
  if (status !== 'running' || chunks.length === 0) return status;
  await db
    .insertInto('syncline.chunks')
    .values(
      chunks.map((c, i) => ({
        run_id: runId,
        chunk: i,
        op: c.op,
        method: c.method,
        row_count: c.rowCount,
        // Hidden from a write of a release before the mark until claimChunk restores it (see above).
        seq_from: -positiveSeq(c.from),
        seq_to: -positiveSeq(c.to),
        state: null,
        // No write has begun: a settle takes this chunk's pending rows for never sent (claimChunk).
        write_began: false,
      })),
    )
    .execute();
  return status;
}

function positiveSeq(seq: number): number {
  if (!(seq >= 1)) throw new Error(`a chunk's seq range starts at 1 (got ${seq})`);
  return seq;
}

export async function deleteChunks(db: Db, runId: string): Promise<void> {
  await db.deleteFrom('syncline.chunks').where('run_id', '=', runId).execute();
}

/**
 * A write of the chunk begins: marks it begun (write_began) and returns it, in one statement, before the
 * destination is called. Once marked, a settle takes its pending rows for sent, answer unknown
 * (NOT_ACKNOWLEDGED); a chunk never marked was never sent. Its seq range, negated while not begun
 * (replaceChunks), is restored; a chunk of a release before the mark has it as it is. Undefined when the run
 * has no such chunk (a settled run's chunks are deleted: a write of it still under way finds nothing).
 */
export async function claimChunk(db: Db, runId: string, chunk: number): Promise<ChunkRecord | undefined> {
  return db
    .updateTable('syncline.chunks')
    .set({ write_began: true, seq_from: sql<number>`abs(seq_from)`, seq_to: sql<number>`abs(seq_to)` })
    .where('run_id', '=', runId)
    .where('chunk', '=', chunk)
    .returningAll()
    .executeTakeFirst();
}

/** Whether a write of some chunk of the run is known to have begun (write_began; not a chunk of a release before the mark). */
export async function someWriteBegan(db: Db, runId: string): Promise<boolean> {
  const row = await db
    .selectFrom('syncline.chunks')
    .select('chunk')
    .where('run_id', '=', runId)
    .where('write_began', '=', true)
    // Still negated: marked by a worker of a release before the negated range, which sent nothing (markUnsent).
    .where('seq_from', '>', 0)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function listChunks(db: Db, runId: string): Promise<Array<{ chunk: number; op: string; row_count: number }>> {
  return db.selectFrom('syncline.chunks').select(['chunk', 'op', 'row_count']).where('run_id', '=', runId).orderBy('chunk').execute();
}

export async function readChunkState<T>(db: Db, runId: string, chunk: number): Promise<T | null> {
  const row = await db
    .selectFrom('syncline.chunks')
    .select('state')
    .where('run_id', '=', runId)
    .where('chunk', '=', chunk)
    .executeTakeFirst();
  return (row?.state as T | null | undefined) ?? null;
}

export async function writeChunkState(db: Db, runId: string, chunk: number, state: unknown): Promise<void> {
  await db
    .updateTable('syncline.chunks')
    .set({ state: JSON.stringify(state), updated_at: new Date() })
    .where('run_id', '=', runId)
    .where('chunk', '=', chunk)
    .execute();
}

export async function setChunkStatus(db: Db, runId: string, chunk: number, status: 'pending' | 'done'): Promise<void> {
  await db
    .updateTable('syncline.chunks')
    .set({ status, updated_at: new Date() })
    .where('run_id', '=', runId)
    .where('chunk', '=', chunk)
    .execute();
}
