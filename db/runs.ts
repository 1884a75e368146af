/**
 * The run repository: every statement on syncline.runs (and the activation record a run refreshes).
 * Activities call these; they hold no SQL of their own. `db` is the pool's Kysely or a transaction.
 */
import { messagesWithoutSecrets, withoutSecrets } from '../common/redact';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, RunsTable } from './database';
import { dropWorkTablesOf } from './work-tables';
import { rowLogDays } from './row-changes';
import { configVersion, latestConfigVersion, TargetChanged, targetChanges, targetOfSql } from './config-versions';

export type RunRecord = Selectable<RunsTable>;
type Db = Kysely<Database>;

export interface OpenRun {
  activationId: string;
  runNumber: number;
  trigger: string;
  full: boolean;
  retryFailed: boolean;
  /** The validated activation document, frozen for the run. */
  config: unknown;
  /** The document's version (syncline.config_versions). */
  configVersion?: number;
  scheduledAt?: string;
}

/**
 * Records the activation's document and opens its run `runNumber` (a retried or replayed run number
 * reopens its row), in one statement. `created`: the row is new, so nothing of this run id exists yet
 * (no work tables, no chunk rows) and no earlier attempt needs clearing. A reopened row keeps its
 * `started_at`: the run's window covers every attempt (what an earlier attempt wrote happened in it).
 * `reopenedClosed`: the row was settled (`cancelled`, or `superseded` for a plan whose apply wrote) and is
 * reopened: only a reset reopens a settled run number (this prepare settled its earlier attempt, or an
 * attempt of it that failed after the settle did).
 */
export async function openRun(db: Db, r: OpenRun): Promise<{ runId: string; created: boolean; reopenedClosed: boolean }> {
  const config = JSON.stringify(r.config);
  // A version after the run's own that names another target: a new target was accepted after this run's
  // document was read (acceptNewTarget commits the version with the old target's state dropped). The run then
  // belongs to no current execution: neither the activation's record nor the run is touched (TargetChanged).
  // A new target being accepted as this statement runs (not in its snapshot): acceptNewTarget first writes its
  // document on the activation's row, so the upsert below waits for its commit and then sees that row as it
  // is now (not as the snapshot had it), with another target than the snapshot's and this run's: nothing is
  // upserted and the run is not opened. Or this statement locked the row first: the acceptance waits for its
  // commit, then sees the run running and cancels it (stale-target.test.ts, the race).
  const row = await sql<{ id: string; created: boolean; reopened_closed: boolean }>`WITH newer AS (
  SELECT max(version) AS version FROM syncline.config_versions
  WHERE activation_id = ${r.activationId} AND version > ${r.configVersion ?? null}::int
    AND ${targetOfSql(sql`document`)} IS DISTINCT FROM ${targetOfSql(sql`${config}::jsonb`)}
), seen AS (
  SELECT config FROM syncline.activations WHERE id = ${r.activationId}
), a AS (
  INSERT INTO syncline.activations AS act (id, config) SELECT ${r.activationId}::text, ${config}::jsonb WHERE (SELECT version FROM newer) IS NULL
  ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_at = now()
    WHERE ${targetOfSql(sql`act.config`)} IS NOT DISTINCT FROM ${targetOfSql(sql`excluded.config`)}
       OR ${targetOfSql(sql`act.config`)} IS NOT DISTINCT FROM ${targetOfSql(sql`(SELECT config FROM seen)`)}
  RETURNING 1
), prior AS (
  -- The statement's snapshot: the row as it was before the upsert below.
  SELECT status FROM syncline.runs WHERE activation_id = ${r.activationId} AND run_number = ${r.runNumber}
)
INSERT INTO syncline.runs (activation_id, run_number, trigger, full_resync, retry_failed, config, config_version, scheduled_at, status)
    SELECT ${r.activationId}::text, ${r.runNumber}::int, ${r.trigger}::text, ${r.full}::boolean, ${r.retryFailed}::boolean, ${config}::jsonb, ${r.configVersion ?? null}::int, ${r.scheduledAt ?? null}::timestamptz, 'running'
    WHERE EXISTS (SELECT 1 FROM a)
    ON CONFLICT (activation_id, run_number) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL, config_version = excluded.config_version
    RETURNING id, xmax = 0 AS created, coalesce((SELECT status IN ('cancelled', 'superseded') FROM prior), false) AS reopened_closed`.execute(
    db,
  );
  if (!row.rows[0]) {
    const latest = await latestConfigVersion(db, r.activationId);
    throw new TargetChanged(r.activationId, latest?.version ?? 0, latest ? targetChanges(latest.document, r.config) : []);
  }
  const { id, created, reopened_closed } = row.rows[0];
  return { runId: String(id), created, reopenedClosed: reopened_closed };
}

/**
 * Gives the run's row a new id, so that nothing still holding the old one (a write of an attempt a reset cut
 * off) can reach the run or the work tables of the attempt that follows: those are named by the id. A plan
 * naming the run follows it (a plan run's recordPlan saves the plan before it marks the run planned: a worker
 * that died between the two left an open plan on a running run); a plan naming an id no run has could be
 * neither applied nor superseded, and every later prepare would fail on it.
 */
export async function renumberRun(db: Db, runId: string): Promise<string> {
  const r = await sql<{ id: string }>`WITH r AS (
  UPDATE syncline.runs SET id = nextval(pg_get_serial_sequence('syncline.runs', 'id')) WHERE id = ${runId} RETURNING id
), p AS (UPDATE syncline.plans SET run_id = (SELECT id FROM r) WHERE run_id = ${runId})
SELECT id FROM r`.execute(db);
  return String(r.rows[0]!.id);
}

export async function getRun(db: Db, runId: string): Promise<RunRecord | undefined> {
  return db.selectFrom('syncline.runs').selectAll().where('id', '=', runId).executeTakeFirst();
}

/** The run's row, locked until the transaction ends: a commit and a settle of the same run never interleave. */
export async function lockRun(db: Db, runId: string): Promise<RunRecord> {
  return db.selectFrom('syncline.runs').selectAll().where('id', '=', runId).forUpdate().executeTakeFirstOrThrow();
}

export interface CheckOutcome {
  fields: unknown[];
  skipped: Array<{ field: string; reason: string }>;
  warnings: unknown[];
  missingAttributes: Array<{ field: string; type: string }>;
}

export async function recordCheck(db: Db, runId: string, c: CheckOutcome): Promise<void> {
  await db
    .updateTable('syncline.runs')
    .set({
      fields: JSON.stringify(c.fields),
      skipped_fields: JSON.stringify(c.skipped),
      // A connector's warning can quote its API's answer: stored without what a URL or header in it carries.
      warnings: JSON.stringify(messagesWithoutSecrets(c.warnings)),
      missing_attributes: JSON.stringify(c.missingAttributes),
    })
    .where('id', '=', runId)
    .execute();
}

export async function recordModelRows(db: Db, runId: string, rows: number): Promise<void> {
  await db
    .updateTable('syncline.runs')
    .set({ model_rows: String(rows) })
    .where('id', '=', runId)
    .execute();
}

/**
 * Days a finished run's record is kept: SYNCLINE_RUN_HISTORY_DAYS, never fewer than the row log's
 * (SYNCLINE_ROW_LOG_DAYS): the row log is pruned by the runs started within its own period. Unset: 30, or
 * the row log's days when longer.
 */
export function runHistoryDays(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.SYNCLINE_RUN_HISTORY_DAYS;
  if (v === undefined || v === '') return Math.max(30, rowLogDays(env));
  const days = Number(v);
  if (!Number.isInteger(days) || days < 1)
    throw new Error(
      `SYNCLINE_RUN_HISTORY_DAYS="${v}" is not a number of days: give a whole number of at least 1, e.g. 90, or leave it unset for 30`,
    );
  const logDays = rowLogDays(env);
  if (days < logDays)
    throw new Error(
      `SYNCLINE_RUN_HISTORY_DAYS="${v}" is shorter than the row log's ${logDays} days (SYNCLINE_ROW_LOG_DAYS), which is pruned by the runs kept: give at least ${logDays}, or shorten the row log too`,
    );
  return days;
}

/** Runs of an activation always kept, whatever their age: `syncline runs` shows at least these. */
export const KEEP_LAST_RUNS = 100;
/** Runs looked at by one prune: the activation's oldest. A commit prunes at most this many, in a few index reads. */
const PRUNE_WINDOW = 100;

/**
 * At the commit of run `committed`, in one statement: drops its chunk rows (a write of it still under way
 * finds none and stops), and the records of the activation's finished runs (success, partial, failed,
 * cancelled, superseded) started more than `days` days ago, among its oldest PRUNE_WINDOW runs. It keeps
 * its last KEEP_LAST_RUNS runs (and so its highest run number), a run under way or planned, and a run an
 * open plan names (an apply that committed but could not mark its plan applied: every later prepare looks
 * that run up to settle the plan). Held deletions name their run in syncline.held_deletes, which approving
 * them reads, not this table. The chunk rows a release before this one left with a finished run go with
 * it, and so do the attributes a pruned run recorded creating (syncline.attribute_creations, by run number).
 * Returns how many runs went.
 */
export async function pruneRuns(db: Db, activationId: string, days: number, committed: string): Promise<number> {
  const r = await sql<{ n: string }>`WITH done AS (DELETE FROM syncline.chunks WHERE run_id = ${committed}),
  gone AS (DELETE FROM syncline.runs WHERE id IN (
    SELECT o.id FROM (
      SELECT id, run_number, status, started_at FROM syncline.runs WHERE activation_id = ${activationId} ORDER BY run_number LIMIT ${PRUNE_WINDOW}
    ) o
    WHERE o.status IN ('success', 'partial', 'failed', 'cancelled', 'superseded')
      AND o.started_at < now() - make_interval(days => ${days})
      AND o.run_number <= (SELECT run_number FROM syncline.runs WHERE activation_id = ${activationId} ORDER BY run_number DESC OFFSET ${KEEP_LAST_RUNS} LIMIT 1)
      AND NOT EXISTS (SELECT 1 FROM syncline.plans p WHERE p.activation_id = ${activationId} AND p.run_number = o.run_number AND p.status = 'open')
  ) RETURNING id, run_number), chunks AS (DELETE FROM syncline.chunks WHERE run_id IN (SELECT id FROM gone)),
  attributes AS (DELETE FROM syncline.attribute_creations WHERE activation_id = ${activationId} AND run_number IN (SELECT run_number FROM gone))
  SELECT count(*) AS n FROM gone`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** The highest run number of the activation (0 when it never ran): a re-created activation carries on from it. */
export async function lastRunNumber(db: Db, activationId: string): Promise<number> {
  const r = await db
    .selectFrom('syncline.runs')
    .select((eb) => eb.fn.max('run_number').as('n'))
    .where('activation_id', '=', activationId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Whether the activation was paused when it was last stopped, and why (null: it was not, or never stopped since this was recorded). */
export interface StoppedPause {
  reason: string;
  /** Paused by a configuration error (the re-check may lift it), not by an operator. */
  auto: boolean;
}

/**
 * What a start carries on from: the time of the last scheduled fire (runs.scheduled_at, which a requested run that
 * served a fire records too), when that run started
 * (started_at: a run whose timer fired late by fire times stood for the fires due by then, workflows/activation.ts
 * fire()) and the pause the activation was stopped in (recordStopped). One statement; no activation row yet reads
 * as neither.
 */
export async function restartState(
  db: Db,
  activationId: string,
): Promise<{
  lastScheduledAt: string | null;
  lastScheduledStartedAt: string | null;
  paused: StoppedPause | null;
  heldDeletes: { run: number; count: number } | null;
}> {
  // The deletions still waiting for approval: those of the latest run that committed holding some (a plan's
  // delta records keys under its own number, never committed unless applied: not counted).
  const r = await sql<{
    last_scheduled_at: Date | null;
    last_scheduled_started_at: Date | null;
    paused_reason: string | null;
    auto_paused: boolean | null;
    held_run: number | null;
    held_count: string | null;
  }>`WITH last AS (
    SELECT scheduled_at, started_at FROM syncline.runs WHERE activation_id = ${activationId} AND scheduled_at IS NOT NULL
    ORDER BY scheduled_at DESC, run_number DESC LIMIT 1
  ), held AS (
    SELECT h.run_number, count(*) AS n FROM syncline.held_deletes h
    WHERE h.activation_id = ${activationId} AND NOT h.approved
      AND EXISTS (SELECT 1 FROM syncline.runs r WHERE r.activation_id = h.activation_id AND r.run_number = h.run_number
        AND r.status IN ('success', 'partial', 'failed', 'cancelled'))
    GROUP BY h.run_number ORDER BY h.run_number DESC LIMIT 1)
  SELECT
    (SELECT scheduled_at FROM last) AS last_scheduled_at,
    (SELECT started_at FROM last) AS last_scheduled_started_at,
    (SELECT paused_reason FROM syncline.activations WHERE id = ${activationId}) AS paused_reason,
    (SELECT auto_paused FROM syncline.activations WHERE id = ${activationId}) AS auto_paused,
    (SELECT run_number FROM held) AS held_run,
    (SELECT n FROM held) AS held_count`.execute(db);
  const row = r.rows[0];
  const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);
  return {
    lastScheduledAt: iso(row?.last_scheduled_at),
    lastScheduledStartedAt: iso(row?.last_scheduled_started_at),
    paused: row?.paused_reason != null ? { reason: row.paused_reason, auto: !!row.auto_paused } : null,
    heldDeletes: row?.held_run != null ? { run: row.held_run, count: Number(row.held_count) } : null,
  };
}

/**
 * Records, as the activation stops, whether it is paused: the next start keeps the pause. Not paused, the
 * pause an earlier stop recorded is cleared (no row is made for an activation that never ran).
 */
export async function recordStopped(db: Db, activationId: string, config: unknown, paused: StoppedPause | null): Promise<void> {
  if (!paused) {
    await db.updateTable('syncline.activations').set({ paused_reason: null, auto_paused: false }).where('id', '=', activationId).execute();
    return;
  }
  await sql`INSERT INTO syncline.activations (id, config, paused_reason, auto_paused)
    VALUES (${activationId}, ${JSON.stringify(config)}::jsonb, ${paused.reason}, ${paused.auto})
    ON CONFLICT (id) DO UPDATE SET paused_reason = excluded.paused_reason, auto_paused = excluded.auto_paused`.execute(db);
}

/**
 * Runs still marked running, oldest first; with `planned`, also that run number when it is a plan (status
 * planned, applied or not), in the same statement (a prepare sends it on every run).
 */
export async function runningRuns(
  db: Db,
  activationId: string,
  planned?: number,
): Promise<Array<{ id: string; runNumber: number; status: 'running' | 'planned' }>> {
  const q = db
    .selectFrom('syncline.runs')
    .select(['id', 'run_number', 'status'])
    .where('activation_id', '=', activationId)
    .where((eb) =>
      planned === undefined
        ? eb('status', '=', 'running')
        : eb.or([eb('status', '=', 'running'), eb.and([eb('status', '=', 'planned'), eb('run_number', '=', planned)])]),
    );
  return (await q.orderBy('run_number').execute()).map((r) => ({
    id: String(r.id),
    runNumber: r.run_number,
    status: r.status === 'planned' ? 'planned' : 'running',
  }));
}

export interface RunEnd {
  status: string;
  error?: { type: string; message: string };
  counts: unknown;
  warnings: unknown[];
}

export async function finishRun(db: Db, runId: string, e: RunEnd): Promise<void> {
  await db
    .updateTable('syncline.runs')
    .set({
      status: e.status,
      finished_at: new Date(),
      // The activities' failures left secrets out already (activities/failure.ts); so does any other text here.
      error: e.error ? withoutSecrets(`${e.error.type}: ${e.error.message}`) : null,
      counts: JSON.stringify(e.counts),
      warnings: JSON.stringify(messagesWithoutSecrets(e.warnings)),
    })
    .where('id', '=', runId)
    .execute();
}

/** `planned` (a plan run stopped after its delta) or `superseded` (a newer run made the plan stale). */
export async function setRunStatus(db: Db, runId: string, status: 'planned' | 'superseded'): Promise<void> {
  await db
    .updateTable('syncline.runs')
    .set({ status, ...(status === 'planned' ? { finished_at: new Date() } : {}) })
    .where('id', '=', runId)
    .execute();
}

/** Attributes the connector created for the run (or found created by another worker). */
export async function recordAttributeCreations(
  db: Db,
  activationId: string,
  runNumber: number,
  created: Array<{ field: string; type: string; created: boolean }>,
): Promise<void> {
  if (created.length === 0) return;
  await db
    .insertInto('syncline.attribute_creations')
    .values(created.map((r) => ({ activation_id: activationId, run_number: runNumber, field: r.field, type: r.type, created: r.created })))
    .execute();
}

export async function attributesCreated(db: Db, activationId: string, runNumber: number): Promise<string[]> {
  const rows = await db
    .selectFrom('syncline.attribute_creations')
    .select('field')
    .where('activation_id', '=', activationId)
    .where('run_number', '=', runNumber)
    .where('created', '=', true)
    .execute();
  return rows.map((r) => r.field);
}

/** The activation's health and open warnings as it last reported them (the activation row must exist: a run made it). */
export async function recordHealth(db: Db, activationId: string, health: string, warnings: unknown[], at: string): Promise<void> {
  await db
    .updateTable('syncline.activations')
    .set({ health, warnings: JSON.stringify(messagesWithoutSecrets(warnings)), health_at: new Date(at) })
    .where('id', '=', activationId)
    .execute();
}

export async function syncedRowCount(db: Db, activationId: string): Promise<number> {
  const r = await db
    .selectFrom('syncline.snapshot')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('activation_id', '=', activationId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

/**
 * The activation now writes to another target: what it knew of the previous one (snapshot, row errors,
 * held deletions) goes, so Mirror can never delete in the new target by the old one's keys. Returns
 * how many synced rows were forgotten. The previous target's records are not touched.
 *
 * A run left unfinished (its workflow ended: the activation was terminated mid-run, or reset) wrote, if
 * anything, to the previous target. It is closed as cancelled with its work tables, not settled: settled
 * by the next prepare, as such a run is, the rows it wrote would enter the new target's empty snapshot and
 * never reach the new target. An open plan of the previous target is superseded likewise.
 */
export async function forgetTargetState(db: Db, activationId: string): Promise<number> {
  return db.isTransaction ? forgetIn(db, activationId) : db.transaction().execute((tx) => forgetIn(tx, activationId));
}

/**
 * A new target accepted: its document recorded as the activation's next version (reason: `reason`, and what
 * was dropped) and the previous target's state forgotten (forgetTargetState), in one transaction. Apart, a
 * failure between the two (Postgres restarting, an activity timing out) left the state dropped under a
 * latest version that still named the previous target: started again with that document, or kept by an
 * activation whose update failed, the activation carried on from an empty snapshot, sending every model row
 * to the previous target again (Insert: every record created twice), with nothing to refuse it.
 */
export async function acceptNewTarget(
  db: Db,
  activationId: string,
  document: unknown,
  reason?: string,
): Promise<{ forgotten: number; version: number }> {
  return db.transaction().execute(async (tx) => {
    // First, the new document on the activation's row (its current document), which locks it: a run being
    // opened (openRun, which upserts that row) commits first and is cancelled below, or waits for this
    // commit and then opens nothing. Cancelling the running runs without it left a run opened meanwhile
    // running with the previous target's document, its snapshot dropped under it.
    await sql`INSERT INTO syncline.activations (id, config) VALUES (${activationId}, ${JSON.stringify(document)}::jsonb)
  ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_at = now()`.execute(tx);
    const forgotten = await forgetIn(tx, activationId);
    const why = [reason, `new target: the snapshot of ${forgotten} rows for the previous target was dropped`].filter(Boolean).join('; ');
    return { forgotten, version: await configVersion(tx, activationId, document, why) };
  });
}

async function forgetIn(tx: Db, activationId: string): Promise<number> {
  const n = await syncedRowCount(tx, activationId);
  // Locked first, as a commit locks its run: a commit of the previous target's run still under way (an
  // activity of a terminated run) finishes before, and its run is then left as it committed; or it waits
  // for this transaction and finds the run cancelled. Unlocked, this read the run as running, waited for
  // the commit at the update below and recorded a committed run as never committed, or deadlocked with
  // the commit on the work tables it drops.
  const unfinished = await tx
    .selectFrom('syncline.runs')
    .select(['id', 'run_number', 'status'])
    .where('activation_id', '=', activationId)
    .where('status', 'in', ['running', 'planned'])
    .orderBy('id')
    .forUpdate()
    .execute();
  for (const r of unfinished) {
    await dropWorkTablesOf(tx, String(r.id));
    await tx.deleteFrom('syncline.chunks').where('run_id', '=', r.id).execute();
    await tx
      .updateTable('syncline.runs')
      .set({
        status: r.status === 'planned' ? 'superseded' : 'cancelled',
        finished_at: new Date(),
        error:
          r.status === 'planned'
            ? null
            : `CANCELLED: run ${r.run_number} never committed, and its activation was given a new target: what it wrote went to the previous target and is not recorded`,
      })
      .where('id', '=', r.id)
      .execute();
    if (r.status === 'planned')
      await tx
        .updateTable('syncline.plans')
        .set({ status: 'superseded' })
        .where('activation_id', '=', activationId)
        .where('run_number', '=', r.run_number)
        .execute();
  }
  await tx.deleteFrom('syncline.snapshot').where('activation_id', '=', activationId).execute();
  await tx.deleteFrom('syncline.row_errors').where('activation_id', '=', activationId).execute();
  await tx.deleteFrom('syncline.held_deletes').where('activation_id', '=', activationId).execute();
  return n;
}

/** Everything syncline keeps of an activation, dropped (its destination records are not touched). Counts per table. */
export async function purgeActivation(db: Db, activationId: string): Promise<Record<string, number>> {
  return db.transaction().execute(async (tx) => {
    const out: Record<string, number> = {};
    const runIds = (await tx.selectFrom('syncline.runs').select('id').where('activation_id', '=', activationId).execute()).map((r) =>
      String(r.id),
    );
    for (const runId of runIds) await dropWorkTablesOf(tx, runId);
    if (runIds.length) await tx.deleteFrom('syncline.chunks').where('run_id', 'in', runIds).execute();
    for (const table of [
      'snapshot',
      'row_errors',
      'held_deletes',
      'row_changes',
      'config_versions',
      'connector_state',
      'attribute_creations',
      'plans',
      'runs',
    ] as const) {
      const r = await tx.deleteFrom(`syncline.${table}`).where('activation_id', '=', activationId).executeTakeFirst();
      out[table] = Number(r.numDeletedRows);
    }
    await tx.deleteFrom('syncline.activations').where('id', '=', activationId).execute();
    return out;
  });
}
