/**
 * Commit and finish a run: accepted rows advance the snapshot, the rest are recorded as row errors,
 * the run record gets its counts, and the work tables are dropped — all in one transaction, so a crash
 * leaves either nothing or everything done, and a retried commit finds the run committed and returns
 * what was recorded.
 *
 * A run that never commits (its commit out of attempts, its workflow terminated, its history cut) is
 * settled the same way by the next run of the activation, or when the activation starts again: the
 * destination's answers it holds are committed before anything is sent again.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import {
  commitStatements,
  deltaHolds,
  deltaSeesOnlyFailed,
  FIRST_INSERT_MIN_ROWS,
  holdDelta,
  markUnsent,
  resentCounts,
  snapshotHasRows,
  snapshotWrite,
  summaryCounts,
} from '../db/commit';
import type { Database } from '../db/database';
import { hasAnswers } from '../db/delta';
import { approveHeld, heldByCommit } from '../db/held-deletes';
import { someWriteBegan } from '../db/chunks';
import { setPlanStatus } from '../db/plans';
import {
  attributesCreated,
  finishRun,
  lockRun,
  pruneRuns,
  renumberRun,
  runHistoryDays,
  runningRuns,
  setRunStatus,
  type RunRecord,
} from '../db/runs';
import { dropWorkTablesOf, hasDeltaTable } from '../db/work-tables';
import { logRowChanges, pruneRowChanges, rowLogDays } from '../db/row-changes';
import { parseActivationConfig } from '../common/config';
import { evaluateRunWarnings } from '../common/thresholds';
import { describeRun, emptyOpCounts, type RunStatus, type RunSummary, type RunWarning } from '../common/run';
import type { RowOp } from '../common/sync-modes';
import type { SynclineDeps } from './deps';
import { recordCommittedRun } from './metrics';
import { refuseWhileRunsOpen } from './run-workflows';
import { activityLogger, keyMatch } from './run-context';
import type { FieldSpec } from '../connectors/types';

export interface CommitRunInput {
  runId: string;
  /** The first failed task's error, when the run did not get to write everything. */
  error?: { type: string; message: string };
  /** Warnings raised by the workflow (quota waits, held deletions). */
  warnings?: RunWarning[];
  /**
   * Set by the run's workflow: the commit also evaluates the run's thresholds (FAILED_ROWS, MODEL_DROP,
   * DELTA_LARGE, DELETES_HELD: common/thresholds.ts) against `previous`, the last run that did not fail,
   * so the run's record holds what the run printed (`syncline runs`, the reporting view `runs`).
   */
  thresholds?: { previous?: Pick<RunSummary, 'modelRows' | 'status'> };
}

/** Statuses a commit (or a settle) leaves behind: a run in one of them is never committed again. */
const FINISHED: ReadonlySet<string> = new Set(['success', 'partial', 'failed', 'cancelled']);

export async function commitRun(deps: SynclineDeps, input: CommitRunInput): Promise<RunSummary> {
  const { summary, committed } = await deps.db.transaction().execute(async (tx) => {
    const rec = await lockRun(tx, input.runId);
    if (FINISHED.has(rec.status)) return { summary: await recordedSummary(tx, rec), committed: false };
    return {
      summary: await commitIn(tx, rec, {
        error: input.error,
        warnings: input.warnings ?? [],
        listUnacknowledged: true,
        heldByRun: true,
        ...(input.thresholds ? { thresholds: input.thresholds } : {}),
      }),
      committed: true,
    };
  });
  // Counted once, after the transaction: a retried commit returns what was recorded and counts nothing again.
  if (committed) {
    recordCommittedRun(summary);
    // One line per run in the worker's log (tagged with the activation and run by the logger).
    activityLogger().info(`committed: ${describeRun(summary)}`);
  }
  return summary;
}

/**
 * Closes every other run of the activation still marked running: its workflow is gone (runs of one
 * activation never overlap), so what it wrote is committed now and the rest will be sent again.
 *
 * `opening`: the run number a prepare is opening. Earlier runs still running are settled, and so is an
 * earlier attempt of this very number that got as far as its delta: the run was started again from its
 * beginning (`temporal workflow reset`), and its delta may hold answers the destination gave; dropping
 * them would send those rows again. The settled attempt's row then gets a new id (renumberRun), which
 * the prepare reopens: a write of the earlier attempt still under way finds neither its run nor its
 * delta, and cannot record into the new attempt's. An attempt without a delta (a retried prepare)
 * wrote nothing and is simply reopened. Runs after `opening` still running (a reset of the activation to
 * before them) are settled and renumbered the same way, before this run computes a delta that would send
 * their acknowledged rows again. A plan of this number whose apply wrote is settled and renumbered too
 * (superseded, its plan with it).
 */
export async function settleUnfinishedRuns(
  deps: SynclineDeps,
  activationId: string,
  settledBy: string,
  opening?: number,
): Promise<number[]> {
  const settled: number[] = [];
  // With `opening`, runs after it too: only a reset of the activation to before them (it goes back to run
  // numbers it used) leaves them running, their workflows ended; this activation will open their numbers again.
  const open = await runningRuns(deps.db, activationId, opening);
  // Not under a workflow that still runs (an activation reset does not end its runs): tried again until it has ended.
  await refuseWhileRunsOpen(
    deps,
    activationId,
    open.filter((r) => r.status === 'running' && r.runNumber !== opening).map((r) => r.runNumber),
  );
  for (const o of open.filter((r) => r.status === 'running')) {
    const again = opening !== undefined && o.runNumber >= opening;
    const done = await deps.db.transaction().execute(async (tx) => {
      const rec = await lockRun(tx, o.id);
      if (rec.status !== 'running') return null;
      if (again && !(await hasDeltaTable(tx, o.id))) return null;
      const summary = await commitIn(tx, rec, {
        error: { type: 'CANCELLED', message: settledMessage(rec.run_number, opening, settledBy) },
        warnings: [],
        listUnacknowledged: true,
        status: 'cancelled',
      });
      if (again) await renumberRun(tx, o.id);
      return summary;
    });
    if (done) {
      recordCommittedRun(done);
      // One line per settled run, as a commit writes one: what the destination had acknowledged is now committed.
      activityLogger().info(
        `settled: ${describeRun(done)}${o.runNumber === opening ? ' (its earlier attempt: the run was started again)' : ''}`,
      );
      settled.push(o.runNumber);
    }
  }
  // A plan of this very number whose apply wrote (the apply keeps the plan run 'planned'): its activation was
  // reset to before the plan, which ended the apply. What the apply wrote is committed, the plan closed, and
  // the run renumbered, as above.
  const planned = open.find((r) => r.status === 'planned')?.id;
  if (planned !== undefined) {
    await deps.db.transaction().execute(async (tx) => {
      if (!(await settleSupersededPlan(tx, planned, { answeredOnly: true }))) return;
      await setPlanStatus(tx, activationId, opening!, 'superseded');
      await renumberRun(tx, planned);
    });
  }
  return settled;
}

/** Why a settled run never committed, for its record: before `opening`, the number itself, or after it. */
function settledMessage(run: number, opening: number | undefined, settledBy: string): string {
  const why =
    opening === undefined || run < opening
      ? `never committed (its workflow ended first); settled by ${settledBy}`
      : run === opening
        ? 'was started again (a workflow reset) before it committed; its earlier attempt is settled'
        : `never committed: its activation was reset to before it; settled by ${settledBy}`;
  return `run ${run} ${why}: the rows the destination acknowledged are committed, the others are sent again`;
}

/**
 * Commits the answers a plan's apply received before it stopped (none when it never started), then
 * drops the plan's work tables: a superseded plan must not take the destination's answers with it.
 * `answeredOnly`: leaves a plan whose apply never started alone. True when the plan was settled.
 */
export async function settleSupersededPlan(
  tx: Transaction<Database>,
  runId: string,
  opts: { answeredOnly?: boolean } = {},
): Promise<boolean> {
  const rec = await lockRun(tx, runId);
  if (FINISHED.has(rec.status) || rec.status === 'superseded') return false;
  // A write begun without an answer yet counts as well: its rows may be at the destination, and are listed.
  if ((await hasDeltaTable(tx, runId)) && ((await hasAnswers(tx, runId)) || (await someWriteBegan(tx, runId)))) {
    await commitIn(tx, rec, { warnings: [], listUnacknowledged: true, status: 'superseded' });
    return true;
  }
  if (opts.answeredOnly) return false;
  await dropWorkTablesOf(tx, runId);
  await setRunStatus(tx, runId, 'superseded');
  return true;
}

/**
 * An apply of plan `plan` (run id `runId`) started again after its earlier attempt began writing: a reset of
 * `…/run/<n>/apply` (`temporal workflow reset`), or an apply whose earlier attempt never committed. That
 * attempt's writes may still be under way (a reset does not stop the activities of the execution it ends), and
 * the rows they hold are pending in the plan's delta: applied again, they were sent a second time. So the
 * earlier attempt is settled as a reset run's is, in one transaction: the rows the destination acknowledged are
 * committed, those sent without an answer are listed NOT_ACKNOWLEDGED (sent again by the next run), those of a
 * chunk never begun count `unsent`; the run is recorded `cancelled`, its chunks and work tables go, the plan is
 * closed (superseded) and the run takes a new id (renumberRun). A write of the earlier attempt still under way
 * then finds neither its chunk (claimChunk: nothing) nor its delta, and stops. Returns the settled run's
 * summary; null when no write of the plan began (the apply goes on) or its run is no longer planned (committed).
 */
export async function settleRestartedApply(
  deps: SynclineDeps,
  activationId: string,
  plan: number,
  runId: string,
): Promise<RunSummary | null> {
  const summary = await deps.db.transaction().execute(async (tx) => {
    const rec = await lockRun(tx, runId);
    if (rec.status !== 'planned' || !(await hasDeltaTable(tx, runId))) return null;
    if (!(await someWriteBegan(tx, runId)) && !(await hasAnswers(tx, runId))) return null;
    const done = await commitIn(tx, rec, {
      error: {
        type: 'CANCELLED',
        message: `the apply of plan ${plan} was started again (a workflow reset) after it began writing; its earlier attempt is settled: the rows the destination acknowledged are committed, the others are sent by the next run, and the plan is closed`,
      },
      warnings: [],
      listUnacknowledged: true,
      status: 'cancelled',
    });
    await setPlanStatus(tx, activationId, plan, 'superseded');
    await renumberRun(tx, runId);
    return done;
  });
  if (summary) {
    recordCommittedRun(summary);
    activityLogger().info(`settled: ${describeRun(summary)} (the earlier attempt of the apply of plan ${plan}: it was started again)`);
  }
  return summary;
}

interface CommitOptions {
  error?: { type: string; message: string };
  warnings: RunWarning[];
  /** Record rows still pending as NOT_ACKNOWLEDGED row errors (false for a plan that was never applied). */
  listUnacknowledged: boolean;
  /** Forced final status (cancelled, superseded); otherwise derived from the error and the counts. */
  status?: RunStatus | 'superseded';
  /** Evaluate the run's thresholds into its warnings (CommitRunInput.thresholds). */
  thresholds?: { previous?: Pick<RunSummary, 'modelRows' | 'status'> };
  /**
   * The run's own commit (not a settle): the deletions it held are now held by it, the run the activation
   * names for approval (db/held-deletes.ts heldByCommit). A plan that is never applied never commits.
   */
  heldByRun?: boolean;
}

async function commitIn(tx: Transaction<Database>, rec: RunRecord, opts: CommitOptions): Promise<RunSummary> {
  const runId = String(rec.id);
  const config = rec.config as { mode: string; source: { key: string } };
  const summary = await baseSummary(tx, rec);
  const exists = await hasDeltaTable(tx, runId);
  // Deletions kept for a case variant of their key (db/delta.ts keepCaseVariants): the row log says more of them.
  let kept = false;
  if (exists) {
    const wholeModel = !deltaSeesOnlyFailed(rec.trigger);
    // Held still until the commit ends: a write of the run still under way (timed out for the workflow, its
    // activity not yet stopped) may be recording answers. Its transaction finishes first; a later one waits,
    // then finds the delta dropped, and its rows stay listed as unacknowledged.
    await holdDelta(runId).execute(tx);
    // Read first: the statements below do not change the delta, and the counts say which of them have rows to act on.
    let counts = (await summaryCounts(runId, rec.activation_id).execute(tx)).rows;
    // Rows of a chunk whose write never began were never sent: `unsent`, not listed, planned again by the
    // next delta. Only when some row is pending and some chunk was never begun (a failed or settled run).
    if (counts.some((c) => c.status === 'pending') && counts.some((c) => c.unbegun)) {
      await markUnsent(runId).execute(tx);
      counts = (await summaryCounts(runId, rec.activation_id).execute(tx)).rows;
    }
    const written = counts
      .filter((c) => c.op !== 'delete' && (c.status === 'ok' || c.status === 'incomplete'))
      .reduce((n, c) => n + Number(c.n), 0);
    if (written > 0) await writeSnapshot(tx, runId, rec.activation_id, written);
    // A run without chunk rows never started a write (a delta that failed before planning them): its pending
    // rows were never sent, so none is listed as unacknowledged. A release before the limit on key length
    // (MAX_KEY_BYTES) left such runs holding a key no row error can index; listing it failed every settle.
    const listUnacknowledged = opts.listUnacknowledged && counts.some((c) => c.sent);
    const holds = deltaHolds(counts, listUnacknowledged);
    kept = holds.kept;
    // The destination's key field, where it ignores case: a repeated key's message names its other spellings
    // (only when some row is rejected: else the row errors' insert reads its rows once, as it always did).
    const rejections = counts.some((c) => c.status === 'rejected' || c.status === 'rejected_unchanged');
    const match = keyMatch(rec.fields as FieldSpec[] | null);
    const keyField = (rec.fields as FieldSpec[] | null)?.find((f) => f.isKey && (f.keyNumber || f.keyIgnoresCase))?.to;
    const matchedKey = rejections && match && keyField !== undefined ? { field: keyField, match } : undefined;
    for (const stmt of commitStatements(
      runId,
      rec.activation_id,
      rec.run_number,
      config.source.key,
      listUnacknowledged,
      wholeModel,
      holds,
      matchedKey,
      written > 0 || (listUnacknowledged && counts.some((c) => c.status === 'pending' && c.op !== 'delete')) ? match : undefined,
    ))
      await stmt.execute(tx);
    if (opts.heldByRun && holds.held) await heldByCommit(runId, rec.activation_id, rec.run_number).execute(tx);
    for (const c of counts) {
      const n = Number(c.n);
      // Model rows, not keys. An unchanged rejection, already reported, stays listed but is no failure of this run.
      if (c.status === 'rejected' || c.status === 'rejected_unchanged') {
        summary.rejected += Number(c.rows);
        if (c.change === 'null_key') summary.nullKeyRows = (summary.nullKeyRows ?? 0) + Number(c.rows);
        if (c.status === 'rejected_unchanged') summary.rejectedUnchanged = (summary.rejectedUnchanged ?? 0) + Number(c.rows);
        continue;
      }
      if (!c.op) continue;
      const ops = (summary.ops[c.op as RowOp] ??= emptyOpCounts());
      ops.planned += n;
      if (c.status === 'ok') ops.succeeded += n;
      else if (c.status === 'incomplete') {
        // Written, yet listed and sent again next run: the run is partial.
        ops.succeeded += n;
        ops.incomplete = (ops.incomplete ?? 0) + n;
      } else if (c.status === 'failed' || c.status === 'pending') ops.failed += n;
      else if (c.status === 'unsent') ops.unsent = (ops.unsent ?? 0) + n;
      else if (c.status === 'skipped') ops.skipped += n;
      else if (c.status === 'held') ops.held += n;
      else if (c.status === 'kept') ops.kept = (ops.kept ?? 0) + n;
      else if (c.status === 'back_in_model') ops.backInModel = (ops.backInModel ?? 0) + n;
    }
    summary.heldDeletes = summary.ops.delete?.held ?? 0;
    const resent = (await resentCounts(runId).execute(tx)).rows.filter((r) => Number(r.n) > 0);
    if (resent.length) summary.resent = Object.fromEntries(resent.map((r) => [r.code, Number(r.n)]));
  }
  const failedRows = Object.values(summary.ops).reduce((a, o) => a + o.failed, 0);
  const newlyRejected = summary.rejected - (summary.rejectedUnchanged ?? 0);
  const incompleteRows = Object.values(summary.ops).reduce((a, o) => a + (o.incomplete ?? 0), 0);
  const unsentRows = Object.values(summary.ops).reduce((a, o) => a + (o.unsent ?? 0), 0);
  const status =
    opts.status ??
    (opts.error ? 'failed' : failedRows > 0 || newlyRejected > 0 || incompleteRows > 0 || unsentRows > 0 ? 'partial' : 'success');
  summary.status = status as RunStatus;
  summary.error = opts.error;
  summary.warnings = [...summary.warnings, ...opts.warnings];
  if (opts.thresholds) {
    // The run's own document, as prepareRun parsed it (defaults filled in).
    const parsed = parseActivationConfig(rec.config);
    if (parsed.ok)
      summary.warnings.push(...evaluateRunWarnings(parsed.config, summary, opts.thresholds.previous, { fullRunSendsAll: true }));
  }
  summary.finishedAt = new Date().toISOString();
  await finishRun(tx, runId, {
    status,
    error: opts.error,
    counts: {
      ops: summary.ops,
      rejected: summary.rejected,
      rejectedUnchanged: summary.rejectedUnchanged,
      heldDeletes: summary.heldDeletes,
      resent: summary.resent,
    },
    warnings: summary.warnings,
  });
  if (exists) {
    const days = rowLogDays();
    if (days > 0) {
      await logRowChanges(tx, runId, rec.activation_id, rec.run_number, kept);
      await pruneRowChanges(tx, rec.activation_id, days);
    }
    await dropWorkTablesOf(tx, runId);
  }
  // The run's chunks are done with, and the activation's oldest run records past their retention go (a few index reads).
  await pruneRuns(tx, rec.activation_id, runHistoryDays(), runId);
  return summary;
}

/**
 * The accepted rows (`written` of them) into the snapshot. An activation without snapshot rows (its first
 * commit) gets the plain insert, in a savepoint: should a key be there after all (another commit of the
 * activation got in since it was found empty), the insert fails alone and the upsert runs. A few rows
 * (FIRST_INSERT_MIN_ROWS) take the upsert without asking.
 */
async function writeSnapshot(tx: Transaction<Database>, runId: string, activationId: string, written: number): Promise<void> {
  if (written <= FIRST_INSERT_MIN_ROWS || (await snapshotHasRows(activationId).execute(tx)).rows[0]?.has) {
    await snapshotWrite(runId, activationId, 'upsert').execute(tx);
    return;
  }
  await sql`SAVEPOINT syncline_first_commit`.execute(tx);
  try {
    await snapshotWrite(runId, activationId, 'insert').execute(tx);
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await sql`ROLLBACK TO SAVEPOINT syncline_first_commit`.execute(tx);
    await snapshotWrite(runId, activationId, 'upsert').execute(tx);
  }
  await sql`RELEASE SAVEPOINT syncline_first_commit`.execute(tx);
}

async function baseSummary(db: Kysely<Database>, r: RunRecord): Promise<RunSummary> {
  const created = await attributesCreated(db, r.activation_id, r.run_number);
  const config = r.config as { mode: string };
  return {
    activationId: r.activation_id,
    runNumber: r.run_number,
    trigger: r.trigger as RunSummary['trigger'],
    mode: config.mode,
    full: r.full_resync,
    status: 'running',
    startedAt: new Date(r.started_at).toISOString(),
    modelRows: r.model_rows === null ? undefined : Number(r.model_rows),
    ops: {},
    rejected: 0,
    rejectedUnchanged: 0,
    heldDeletes: 0,
    attributesCreated: created,
    warnings: (r.warnings as RunWarning[]) ?? [],
  };
}

/** The summary a finished run's record holds (what its commit returned). */
async function recordedSummary(db: Kysely<Database>, r: RunRecord): Promise<RunSummary> {
  const s = await baseSummary(db, r);
  const counts = r.counts as unknown as Partial<Pick<RunSummary, 'ops' | 'rejected' | 'rejectedUnchanged' | 'heldDeletes' | 'resent'>>;
  const error = r.error === null ? undefined : /^([A-Z0-9_]+): ([\s\S]*)$/.exec(r.error);
  return {
    ...s,
    status: r.status as RunStatus,
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : undefined,
    ops: counts.ops ?? {},
    rejected: counts.rejected ?? 0,
    rejectedUnchanged: counts.rejectedUnchanged ?? 0,
    heldDeletes: counts.heldDeletes ?? 0,
    ...(counts.resent ? { resent: counts.resent } : {}),
    error: error ? { type: error[1]!, message: error[2]! } : r.error === null ? undefined : { type: 'INTERNAL', message: r.error },
  };
}

/** Deletions held in a run stay held until this marks them approved; the next run applies them, and only it. */
export interface ApproveDeletesInput {
  activationId: string;
  runNumber: number;
}
export interface ApproveDeletesResult {
  approved: number;
}

export async function approveHeldDeletes(deps: SynclineDeps, input: ApproveDeletesInput): Promise<ApproveDeletesResult> {
  // Claimed by the next run that starts (prepareRun), and by no other.
  return { approved: await approveHeld(deps.db, input.activationId, input.runNumber) };
}
