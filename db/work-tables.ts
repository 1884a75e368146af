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
/** The repeated keys' table of an earlier release (this one lists them inside the stage's statement): still dropped with a run's work tables. */
export const dupsName = (runId: string | number): string => `k_${runId}`;
/** Schema-qualified name of the stage, for statement text that takes no builder (COPY). Run ids are numbers. */
export const stageTableName = (runId: string | number): string => `syncline_work.${stageName(runId)}`;
export const dupsTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${dupsName(runId)}`);
export const stageTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${stageName(runId)}`);
export const deltaTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${deltaName(runId)}`);

/**
 * The stage is written once, read by the delta and the chunk reads (by tuple id), then dropped: a vacuum
 * of it finds nothing to clean, yet autovacuum's insert threshold sends one over every new stage: a full
 * pass (10,000,000 rows: 1.5 GB read, every page then marked in the visibility map, WAL-logged) that ran
 * beside the delta in `npm run bench -- delta 10000000`, on the same cores. Vacuums against
 * transaction-id wraparound still run.
 */
export const STAGE_STORAGE = 'WITH (autovacuum_enabled = false)';

/** Columns syncline adds to the model's rows as they are read (`stageSelect`); model columns keep their own names. */
export const STAGE_KEY = '__key';
export const STAGE_HASH = '__hash';

/**
 * Columns of the run's stage besides the model's (db/delta.ts `createStage`): the stage holds only the rows
 * the run may act on, each with what the join with the snapshot found. None is named like the model rows'
 * `__key`: a worker of a release before this one, given such a stage, fails on its first statement
 * (`CREATE UNIQUE INDEX … ("__key")`) instead of taking every key missing from it as removed.
 */
export const ROW_KEY = '__row_key';
export const ROW_HASH = '__row_hash';
export const ROW_CHANGE = '__change';
export const ROW_N = '__n';
export const ROW_DESTINATION_ID = '__destination_id';
/** The model row's place in the model's order (its tuple id where it was read): numbers the rows as the model ordered them. */
export const ROW_MODEL_TID = '__model_tid';

/**
 * Names a model column cannot have: syncline adds columns of these names beside the model's, in the run's
 * rows and stage, and in what a chunk page or a plan's sample reads (db/delta.ts `pendingRowColumns`,
 * db/plans.ts): a model `__seq` would replace the seq a chunk pages on, a model `__op` the row's operation.
 */
export const RESERVED_COLUMNS: readonly string[] = [
  STAGE_KEY,
  STAGE_HASH,
  ROW_KEY,
  ROW_HASH,
  ROW_CHANGE,
  ROW_N,
  ROW_DESTINATION_ID,
  ROW_MODEL_TID,
  '__seq',
  '__op',
  '__token',
  '__has',
];

/** Drops a run's work tables; on a transaction, atomically with whatever else it does (DDL is transactional in Postgres). */
export async function dropWorkTablesOf(db: Kysely<any>, runId: string | number): Promise<void> {
  await sql`DROP TABLE IF EXISTS ${stageTable(runId)}, ${deltaTable(runId)}, ${dupsTable(runId)}`.execute(db);
}

/** True when the run's delta table exists (its rows, and the destination's answers, are still there). */
export async function hasDeltaTable(db: Kysely<any>, runId: string | number): Promise<boolean> {
  const r = await sql<{ t: string | null }>`SELECT to_regclass(${'syncline_work.' + deltaName(runId)})::text AS t`.execute(db);
  return !!r.rows[0]?.t;
}
