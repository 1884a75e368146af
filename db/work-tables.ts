/**
 * Per-run work tables in schema `syncline_work`: written once per run, read back by chunk, dropped by
 * the commit. They are ordinary (WAL-logged) tables on purpose: the delta table holds the destination's
 * answer for every row written so far, and an UNLOGGED table comes back empty after a Postgres crash or
 * on a failover replica — the run would then see every synced key as removed, or commit nothing of
 * what it wrote. What logging costs is measured by `npm run bench -- delta` (docs/benchmarks.md).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';

export const stageName = (runId: string | number): string => `s_${runId}`;
export const deltaName = (runId: string | number): string => `d_${runId}`;
export const dupsName = (runId: string | number): string => `k_${runId}`;
/** Schema-qualified name of the stage, for statement text that takes no builder (COPY). Run ids are numbers. */
export const stageTableName = (runId: string | number): string => `syncline_work.${stageName(runId)}`;
export const dupsTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${dupsName(runId)}`);
export const stageTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${stageName(runId)}`);
export const deltaTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${deltaName(runId)}`);

/** Columns syncline adds to the stage; model columns keep their own names. */
export const STAGE_KEY = '__key';
export const STAGE_HASH = '__hash';

/** Drops a run's work tables; on a transaction, atomically with whatever else it does (DDL is transactional in Postgres). */
export async function dropWorkTablesOf(db: Kysely<any>, runId: string | number): Promise<void> {
  await sql`DROP TABLE IF EXISTS ${stageTable(runId)}, ${deltaTable(runId)}, ${dupsTable(runId)}`.execute(db);
}

/** True when the run's delta table exists (its rows, and the destination's answers, are still there). */
export async function hasDeltaTable(db: Kysely<any>, runId: string | number): Promise<boolean> {
  const r = await sql<{ t: string | null }>`SELECT to_regclass(${'syncline_work.' + deltaName(runId)})::text AS t`.execute(db);
  return !!r.rows[0]?.t;
}
