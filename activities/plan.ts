/**
 * Plan and apply: a plan run stops after the delta and keeps its work tables; they ARE the frozen
 * plan (stage values + numbered delta rows + chunk ranges). Only counts and up to 5 sample rows per
 * op are recorded in syncline.plans; the rows never enter workflow history.
 */
import { SyncError } from '../common/errors';
import { exactJsonColumnValue } from '../common/json-exact';
import type { RowOp } from '../common/sync-modes';
import { listChunks } from '../db/chunks';
import { chunkLabel } from './delta';
import { getPlan, openPlans, planSamples, savePlan, setPlanStatus } from '../db/plans';
import { nullKeyRows, releasePlanClaims } from '../db/held-deletes';
import { setRunStatus } from '../db/runs';
import type { SynclineDeps } from './deps';
import { loadRun, sentFields, type LoadedRun } from './run-context';
import { settleRestartedApply, settleSupersededPlan } from './commit';
import { describeRun } from '../common/run';
import { markBackInModel, plannedDeletions } from '../db/plans';
import { modelKeysAmong, resolveSource } from '../connectors/postgres/source';

const SAMPLES_PER_OP = 5;

export interface RecordPlanInput {
  runId: string;
  planned: Partial<Record<RowOp, number>>;
  rejected: number;
  heldDeletes: number;
}
export interface RecordPlanResult {
  plan: number;
  counts: Record<string, number>;
}

/** Records the plan and supersedes (and cleans up) the activation's older open plans. */
export async function recordPlan(deps: SynclineDeps, input: RecordPlanInput): Promise<RecordPlanResult> {
  const run = await loadRun(deps, input.runId);
  const fields = sentFields(run);
  const rows = await planSamples(
    deps.db,
    deps.pool,
    run.runId,
    fields.map((f) => f.from),
    SAMPLES_PER_OP,
  );
  const samples: Record<string, Array<{ key: string; values: Record<string, unknown> }>> = {};
  for (const r of rows) {
    const values: Record<string, unknown> = {};
    // json(b) and json(b)[] values parsed with every digit (a JsonNumber where a double would change one).
    if (r.__has) for (const f of fields) values[f.to] = exactJsonColumnValue(r[f.from], f.pgType);
    (samples[String(r.__op)] ??= []).push({ key: String(r.__key), values });
  }
  const counts: Record<string, number> = {
    ...(input.planned as Record<string, number>),
    rejected: input.rejected,
    heldDeletes: input.heldDeletes,
  };
  // Held deletions of a model with rows without a key: the plan says why (their keys look removed), as DELETES_HELD does.
  const noKey = input.heldDeletes > 0 ? await nullKeyRows(deps.db, run.runId) : 0;
  if (noKey > 0) counts.nullKeyRows = noKey;
  await supersedePlans(deps, { activationId: run.activationId, except: run.runNumber });
  await savePlan(deps.db, { activationId: run.activationId, runNumber: run.runNumber, runId: run.runId, counts, samples });
  // Approved deletions the plan's prepare claimed stay for the run that follows the approval.
  await releasePlanClaims(deps.db, run.activationId, run.runNumber);
  await setRunStatus(deps.db, run.runId, 'planned');
  return { plan: run.runNumber, counts };
}

export interface SupersedePlansInput {
  activationId: string;
  except?: number;
  /** Only plans whose apply has started (some row has the destination's answer): an apply that never committed. */
  appliedOnly?: boolean;
}
export interface SupersedePlansResult {
  superseded: number[];
}

/** A newer plan or a normal run makes open plans stale: they are marked superseded, their answers kept, their work tables dropped. */
export async function supersedePlans(deps: SynclineDeps, input: SupersedePlansInput): Promise<SupersedePlansResult> {
  const superseded: number[] = [];
  for (const p of await openPlans(deps.db, input.activationId, input.except)) {
    await deps.db.transaction().execute(async (tx) => {
      if (input.appliedOnly && !(await settleSupersededPlan(tx, p.runId, { answeredOnly: true }))) return;
      if (!input.appliedOnly) await settleSupersededPlan(tx, p.runId);
      await setPlanStatus(tx, input.activationId, p.runNumber, 'superseded');
      superseded.push(p.runNumber);
    });
  }
  return { superseded };
}

export interface LoadPlanInput {
  activationId: string;
  plan: number;
}
export interface LoadPlanResult {
  runId: string;
  chunks: number[];
  chunkLabels?: string[];
  missingAttributes: number;
  createdAt: string;
}

/**
 * The frozen plan to apply: its run id and chunk numbers (planned by the plan run's delta). Refused for a plan
 * closed in Postgres, and for one an earlier attempt of the apply began writing, settled first (settleRestartedApply).
 */
export async function loadPlan(deps: SynclineDeps, input: LoadPlanInput): Promise<LoadPlanResult> {
  const p = await getPlan(deps.db, input.activationId, input.plan);
  if (!p)
    throw new SyncError(
      'INTERNAL',
      `activation "${input.activationId}" has no plan ${input.plan}; run \`syncline plan ${input.activationId}\` first`,
      { retryable: false },
    );
  const again = `run \`syncline plan ${input.activationId}\` and apply the new plan to send what is left`;
  // Closed in Postgres (a settle below whose activity was retried, a new target accepted): it describes no
  // longer what the destination would receive, and its work tables are gone.
  if (p.status === 'superseded')
    throw new SyncError('INTERNAL', `plan ${input.plan} of "${input.activationId}" is closed (superseded); ${again}`, { retryable: false });
  // An earlier attempt of this apply began writing (a reset of the apply): settled first, then refused. Applied
  // again, the rows its writes still had in flight were sent a second time (settleRestartedApply).
  const settled = await settleRestartedApply(deps, input.activationId, input.plan, String(p.run_id));
  if (settled)
    throw new SyncError(
      'INTERNAL',
      `plan ${input.plan} of "${input.activationId}" was not applied again: its apply was started again (a workflow reset) after it had begun writing. ` +
        `Its earlier attempt is settled (${describeRun(settled)}): the rows the destination acknowledged are committed, those sent without an answer are listed NOT_ACKNOWLEDGED, and the plan is closed; ${again}`,
      { retryable: false },
    );
  const run = await loadRun(deps, String(p.run_id));
  await keepDeletionsBackInModel(deps, run, input.plan);
  return {
    runId: run.runId,
    ...(await chunkList(deps.db, run.runId)),
    missingAttributes: run.missingAttributes.length,
    createdAt: new Date(p.created_at).toISOString(),
  };
}

/** Planned deletions read from (and marked in) the state database per statement. */
const BACK_IN_MODEL_BATCH = 20_000;

/**
 * The longest the model query of the check may run (statement_timeout): loadPlan is called with a five-minute
 * start-to-close timeout, and this leaves a minute for the rest of it. Tests shorten it.
 */
export const backInModelCheck = { timeoutMs: 240_000 };

/**
 * A plan's deletions are the keys that had left the model when it was computed. One the user put back before
 * the apply is no longer removed: deleting it lost the record (the next run made it again, a new record, its
 * history in the destination gone). Before the apply writes, the model is asked which of the planned deletions'
 * keys it has now; those are marked `back_in_model` and not sent (counted `backInModel`), as the run after an
 * approval deletes only the approved keys still gone from the model. Every other planned row is written as the
 * plan says. A key that leaves the model again after this check is deleted by the next run.
 *
 * The model runs once, for every planned deletion's key (the activity heartbeats on its timer meanwhile:
 * activities/liveness.ts). A model that does not answer within `backInModelCheck.timeoutMs` fails the apply,
 * not retried (each attempt would run it again, and time out again), before anything is written.
 */
async function keepDeletionsBackInModel(deps: SynclineDeps, run: LoadedRun, plan: number): Promise<void> {
  const keys: string[] = [];
  for (let after = 0; ;) {
    const batch = await plannedDeletions(deps.db, run.runId, after, BACK_IN_MODEL_BATCH);
    if (!batch.length) break;
    for (const r of batch) keys.push(r.key);
    after = batch[batch.length - 1]!.seq;
  }
  if (!keys.length) return;
  let back: string[];
  try {
    back = await modelKeysAmong(resolveSource(deps, run.config), run.config, keys, deps.pool, backInModelCheck.timeoutMs);
  } catch (err) {
    if (!(err instanceof SyncError && err.details?.statementTimeout)) throw err;
    const id = run.activationId;
    throw new SyncError(
      'INTERNAL',
      `plan ${plan} of "${id}" was not applied: checking which of its ${keys.length} planned deletion(s) are back in the model did not finish ` +
        `within ${Math.round(backInModelCheck.timeoutMs / 1000)} s (the model runs longer than an apply can wait for it). Nothing was written. ` +
        `Run \`syncline sync ${id}\` instead: its delta reads the model in a long-running step and deletes only keys still gone from it.`,
      { retryable: false, details: { statementTimeout: true }, cause: err },
    );
  }
  for (let i = 0; i < back.length; i += BACK_IN_MODEL_BATCH)
    await markBackInModel(deps.db, run.runId, plan, back.slice(i, i + BACK_IN_MODEL_BATCH));
}

export interface FinishPlanInput {
  activationId: string;
  plan: number;
}

export async function markPlanApplied(deps: SynclineDeps, input: FinishPlanInput): Promise<void> {
  await setPlanStatus(deps.db, input.activationId, input.plan, 'applied');
}

async function chunkList(db: SynclineDeps['db'], runId: string): Promise<{ chunks: number[]; chunkLabels: string[] }> {
  const rows = await listChunks(db, runId);
  return { chunks: rows.map((c) => c.chunk), chunkLabels: rows.map((c) => chunkLabel(c.op, c.row_count)) };
}
