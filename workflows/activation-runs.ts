/**
 * What the activation does around each run: start the run as a child workflow (with its deadline),
 * record its outcome (recent runs, held deletions, automatic pause), compute and publish the warnings
 * that hold, re-check a destination while paused by a configuration error, and check apply requests.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  currentUpdateInfo,
  executeChild,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { SynclineActivities } from '../activities';
import type { ActivationConfig } from '../common/config';
import { pausesActivation } from '../common/errors';
import { runWorkflowId } from '../common/names';
import type { RunSummary, RunWarning } from '../common/run';
import { configBrokenAtStart, currentWarnings, deadlineWarning } from '../common/thresholds';
import { healthOf, warningSignature } from '../common/warnings';
import { runStaticDetails } from '../common/details';
import { healthKey, type Health } from '../common/search-attributes';
import type { PlanResponse } from './messages';
import { mergePending, wantsRetry, type PendingRun } from './request-queue';
import { syncRunWorkflow } from './sync-run';

/** Everything carried across continue-as-new. Evolve by adding optional fields only: running activations carry it. */
export interface ActivationState {
  lastRunNumber: number;
  recent: RunSummary[];
  paused: boolean;
  pausedReason?: string;
  pending: PendingRun | null;
  lastFireAt?: number;
  /** The fire the queued scheduled run was due for, when its timer fired late and `lastFireAt` moved on to the latest fire due (activation.ts fire). */
  scheduledFor?: number;
  heldDeletes: { run: number; count: number } | null;
  consecutiveFailures: number;
  health: Health;
  /** Warnings that hold now (thresholds crossed), as last computed. */
  warnings?: RunWarning[];
  /** Signature (code:level) of the set the warnings workflow last received. */
  reported?: string;
  /**
   * Signals of a name the activation has no handler for (a misspelled `temporal workflow signal --name`), the
   * last few, newest last: names and times only. Carried over by continue-as-new with the rest of the state.
   */
  ignoredSignals?: Array<{ name: string; at: string }>;
  /** Paused by a configuration error rather than by an operator: the periodic re-check may resume it. */
  autoPaused?: boolean;
  lastRecheckAt?: number;
  /** Started again after its runs were recorded by an earlier execution (stopped since): its next warnings report goes out even when empty. */
  restarted?: boolean;
  /** The latest plan (`syncline plan`); only an `open` one can be applied. */
  plan?: {
    run: number;
    status: 'open' | 'applying' | 'applied' | 'superseded';
    by?: number;
    /** Superseded by this accepted document version (updateConfig), not by a run. */
    byVersion?: number;
  };
  /**
   * The answers of the last approveDeletes and apply updates, by update id. A client whose answer was
   * lost sends the update again with the same id; Temporal recognises it only within one execution, and
   * the activation may have continued as new meanwhile. The retry gets the answer it missed.
   */
  answered?: Array<{ updateId: string; answer: unknown }>;
}

const ANSWERS_KEPT = 20;

/** The recorded answer to this very update (same update id), if it was served before. */
export function answeredBefore(state: ActivationState): { answer: unknown } | undefined {
  const id = currentUpdateInfo()?.id;
  return id === undefined ? undefined : state.answered?.find((a) => a.updateId === id);
}

/**
 * Serves an update once per update id: a retry of one already answered gets the same answer, and the
 * answer of a new one is recorded for its retries.
 */
export async function answerOnce<T>(state: ActivationState, serve: () => Promise<T>): Promise<T> {
  const id = currentUpdateInfo()?.id; // read before the first await
  const before = answeredBefore(state);
  if (before) return before.answer as T;
  const answer = await serve();
  if (id !== undefined) state.answered = [...(state.answered ?? []), { updateId: id, answer }].slice(-ANSWERS_KEPT);
  return answer;
}

const RECENT_RUNS = 20;
export const DEFAULT_RECHECK = '1h';
const acts = proxyActivities<SynclineActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 10, initialInterval: '1s' } });
/**
 * The retries of the activation's own bookkeeping in the state Postgres, on which its main loop waits: the
 * version of an accepted document (applyConfigUpdate), open plans superseded before a run or by a new
 * document (supersedePlans), the run numbering read at a start (lastRunNumber). Tried again for as long as
 * the database stays unreachable, at least every minute: with ten tries (about 5.5 minutes) an outage longer
 * than that failed the activation workflow, which is meant to live for ever, and left the client waiting
 * for the update with an error about a closed workflow. Each of them is idempotent, so a try that committed
 * but whose answer was lost is harmless when repeated: applyConfigUpdate returns the latest version when it
 * holds the same document (db/config-versions.ts), and a retarget's second try finds the old target's state
 * already forgotten; supersedePlans finds no open plan left; lastRunNumber settles nothing more and reads.
 * A non-retryable failure still ends the tries. A replay does not compare retry policies: executions
 * recorded with the bounded one replay unchanged, and schedule their next such activity with this one.
 * What the activation retries is shown by `describe` (pending activities), which the waiting CLI reports.
 */
export const STATE_WAIT = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' };
export const bookkeeping = proxyActivities<SynclineActivities>({ startToCloseTimeout: '1m', retry: STATE_WAIT });
/**
 * The wait for a run's open workflow of an earlier execution (awaitEarlierAttempt): as long as that run takes,
 * heartbeating; tried again while the worker or Temporal is away.
 */
const earlier = proxyActivities<SynclineActivities>({ startToCloseTimeout: '24h', heartbeatTimeout: '1m', retry: STATE_WAIT });
// A quota read after every run: a local activity costs one marker event, not a task round trip.
const local = proxyLocalActivities<SynclineActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '1s' },
});

/**
 * Runs run `runNumber` as the child `activation/<id>/run/<n>` and returns its summary (a failed run
 * too). A durable timer at `scheduledAt + deadlineMinutes` opens DEADLINE_MISSED while it goes on.
 * `servedFire`: the schedule fire a requested run serves too (activation.ts serveRun), recorded as its
 * scheduled time as a scheduled run's is.
 */
export async function runChild(
  config: ActivationConfig,
  state: ActivationState,
  request: PendingRun,
  runNumber: number,
  scheduledAt: number,
  plan?: { planOnly?: boolean; applyPlan?: number },
  servedFire?: number,
): Promise<RunSummary> {
  let done = false;
  const fireAt = request.trigger === 'schedule' ? scheduledAt : servedFire;
  const run = runOnce(config, state, request, runNumber, plan, fireAt !== undefined ? new Date(fireAt).toISOString() : undefined);
  void run.then(
    () => (done = true),
    () => (done = true),
  );
  const left = scheduledAt + config.thresholds.deadlineMinutes * 60_000 - Date.now();
  if (!plan?.planOnly && !(await condition(() => done, Math.max(1, left)))) {
    state.warnings = [
      ...(state.warnings ?? []).filter((w) => w.code !== 'DEADLINE_MISSED'),
      deadlineWarning(config, runNumber, scheduledAt),
    ];
    await publishWarnings(config, state);
  }
  return run;
}

async function runOnce(
  config: ActivationConfig,
  state: ActivationState,
  request: PendingRun,
  runNumber: number,
  plan?: { planOnly?: boolean; applyPlan?: number },
  scheduledAt?: string,
): Promise<RunSummary> {
  const previous = state.recent.filter((r) => r.status !== 'failed').at(-1);
  const workflowId = runWorkflowId(config.id, runNumber, plan?.applyPlan !== undefined);
  const start = () =>
    executeChild(syncRunWorkflow, {
      workflowId,
      args: [
        {
          activationId: config.id,
          runNumber,
          trigger: request.trigger,
          full: request.full,
          config,
          previous: previous && { modelRows: previous.modelRows, status: previous.status },
          ...(wantsRetry(request) ? { retryFailed: true } : {}),
          ...(scheduledAt ? { scheduledAt } : {}),
          ...(plan?.planOnly ? { planOnly: true } : {}),
          ...(plan?.applyPlan !== undefined ? { applyPlan: plan.applyPlan } : {}),
        },
      ],
      staticSummary: `${config.id} · run ${runNumber} · ${config.mode} · ${request.trigger}${request.full ? ' (full)' : ''}${request.reason ? ` · ${request.reason}` : ''}`,
      staticDetails: runStaticDetails(config, { runNumber, trigger: request.trigger, full: request.full, reason: request.reason, ...plan }),
    });
  try {
    return await start();
  } catch (err) {
    // Asked only when the run's workflow id is held: executions before the patch failed here (nothing else asks it).
    if (err instanceof WorkflowExecutionAlreadyStartedError && patched('run-child-meets-earlier-attempt'))
      return awaitEarlierAttempt(config, request, runNumber, workflowId, start);
    if (!(err instanceof ChildWorkflowFailure)) throw err;
    return childFailed(config, request, runNumber, err);
  }
}

/**
 * The run's workflow id is held by an open workflow: the run's workflow of an execution of this activation
 * that was reset (`temporal workflow reset` of the activation to before the run, or to the start of an
 * execution continued as new, which serves its request again with the same run number). A reset does not
 * end the reset execution's children: that attempt goes on writing. Starting another beside it would race
 * its writes (and the server refuses the id: WorkflowExecutionAlreadyStarted failed the activation). The
 * activation waits for it instead (an activity that heartbeats) and takes its outcome as the run's: the run
 * is written once, by that attempt. Ended with no outcome of its own (terminated, timed out), the run is
 * started again, and its prepare settles that attempt. A workflow of that id that is no run of this
 * activation fails the run (RUN_ID_TAKEN), not the activation.
 */
async function awaitEarlierAttempt(
  config: ActivationConfig,
  request: PendingRun,
  runNumber: number,
  workflowId: string,
  start: () => Promise<RunSummary>,
): Promise<RunSummary> {
  for (let tries = 1; ; tries++) {
    log.info(`activation "${config.id}": run ${runNumber} is still open (${workflowId}, an earlier execution's); waiting for it to end`);
    const ended = await earlier
      .awaitRunWorkflow({ activationWorkflowId: workflowInfo().workflowId, workflowId })
      .catch((err: Error) => ({ failed: failureOf(err) }));
    if ('summary' in ended) return ended.summary;
    if ('failed' in ended) return failedRun(config, request, runNumber, ended.failed);
    try {
      return await start();
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        if (tries < 3) continue;
        return failedRun(config, request, runNumber, {
          type: 'RUN_ID_TAKEN',
          message: `run ${runNumber} of "${config.id}" could not start: its workflow id ${workflowId} was taken again each time the workflow holding it ended`,
        });
      }
      if (!(err instanceof ChildWorkflowFailure)) throw err;
      return childFailed(config, request, runNumber, err);
    }
  }
}

/** An activity's failure as a run error: the ApplicationFailure's type and message (the activity's own words). */
function failureOf(err: Error): { type: string; message: string } {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return { type: cause instanceof ApplicationFailure ? (cause.type ?? 'INTERNAL') : 'INTERNAL', message: cause.message };
}

/** The summary of a run whose workflow failed: the one it carries (a sync run's), else a failed one with its error. */
function childFailed(config: ActivationConfig, request: PendingRun, runNumber: number, err: ChildWorkflowFailure): RunSummary {
  const cause = err.cause;
  const detail = cause instanceof ApplicationFailure ? (cause.details?.[0] as RunSummary | undefined) : undefined;
  if (detail && typeof detail === 'object' && 'runNumber' in detail) return detail;
  return failedRun(config, request, runNumber, {
    type: cause instanceof ApplicationFailure ? (cause.type ?? 'INTERNAL') : 'INTERNAL',
    message: cause?.message ?? err.message,
  });
}

function failedRun(config: ActivationConfig, request: PendingRun, runNumber: number, error: { type: string; message: string }): RunSummary {
  return {
    activationId: config.id,
    runNumber,
    trigger: request.trigger,
    mode: config.mode,
    full: request.full,
    status: 'failed',
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    ops: {},
    rejected: 0,
    heldDeletes: 0,
    attributesCreated: [],
    warnings: [],
    error,
  };
}

/** Runs the delta as run `runNumber`, records it as the open plan, and returns its counts. */
export async function planRun(config: ActivationConfig, state: ActivationState, runNumber: number): Promise<PlanResponse> {
  const summary = await runChild(config, state, { trigger: 'manual', full: false, reason: 'plan' }, runNumber, Date.now(), {
    planOnly: true,
  });
  if (summary.status === 'failed') {
    const e = summary.error ?? { type: 'INTERNAL', message: `plan ${runNumber} of "${config.id}" failed` };
    throw ApplicationFailure.nonRetryable(e.message, e.type);
  }
  // recordPlan superseded (and dropped) any older plan in Postgres; the workflow's view follows.
  state.plan = { run: runNumber, status: 'open' };
  const counts: Record<string, number> = { rejected: summary.rejected, heldDeletes: summary.heldDeletes };
  for (const [op, c] of Object.entries(summary.ops)) counts[op] = c.planned;
  return { plan: runNumber, counts };
}

/** A normal run makes the open plan stale: it no longer describes what the destination would receive. Its work tables go. */
export async function supersedePlan(config: ActivationConfig, state: ActivationState, runNumber: number): Promise<void> {
  try {
    await bookkeeping.supersedePlans({ activationId: config.id });
  } catch (err) {
    // Waited out while the database is unreachable (STATE_WAIT); a failure no try can mend does not stop the
    // run, and the plan is refused from now on all the same. Executions before the patch failed here.
    if (!(err instanceof ActivityFailure) || !patched('bookkeeping-failure-survived')) throw err;
    log.warn(
      `activation "${config.id}": open plans could not be marked superseded before run ${runNumber}: ${err.cause?.message ?? err.message}`,
    );
  }
  state.plan = { run: state.plan!.run, status: 'superseded', by: runNumber };
}

/** Apply is refused for anything but the latest, still-open plan: applied, superseded and older plans no longer match. */
export function validateApply(config: ActivationConfig, state: ActivationState, req: { plan: number } | undefined): void {
  if (!req || !Number.isInteger(req.plan)) throw new Error('apply takes {"plan": <plan number printed by `syncline plan`>}');
  const p = state.plan;
  const again = `run \`syncline plan ${config.id}\` to compute a new plan`;
  if (!p || req.plan > p.run) throw new Error(`activation "${config.id}" has no plan ${req.plan}; ${again}`);
  if (req.plan < p.run)
    throw new Error(`plan ${req.plan} of "${config.id}" is stale: plan ${p.run} was computed after it; apply plan ${p.run} or ${again}`);
  if (p.status === 'applied') throw new Error(`plan ${req.plan} of "${config.id}" was already applied; ${again}`);
  if (p.status === 'applying') throw new Error(`plan ${req.plan} of "${config.id}" is being applied already`);
  if (p.status === 'superseded') throw new Error(`${staleReason(config, p)}; ${again}`);
}

/** Why a superseded plan no longer applies: a run synced after it, or the activation's document changed. */
export function staleReason(config: ActivationConfig, p: NonNullable<ActivationState['plan']>): string {
  if (p.byVersion !== undefined)
    return `plan ${p.run} of "${config.id}" is stale: the activation's document changed after it was computed (version ${p.byVersion})`;
  // Neither: superseded for a new document that could not be recorded (activation.ts serveJob).
  return p.by !== undefined
    ? `plan ${p.run} of "${config.id}" is stale: run ${p.by} synced after it was computed`
    : `plan ${p.run} of "${config.id}" is stale: it was superseded for a new document (which could not be recorded)`;
}

/**
 * Keeps the last runs and the held-deletion state; a configuration error pauses the activation. Then the
 * warnings that hold after the run are computed and published — before any caller is answered, since a
 * request arriving meanwhile would keep this execution from continuing as new.
 */
export async function recordRun(config: ActivationConfig, state: ActivationState, s: RunSummary): Promise<void> {
  state.recent = [...state.recent, s].slice(-RECENT_RUNS);
  state.heldDeletes =
    s.heldDeletes > 0 ? { run: s.runNumber, count: s.heldDeletes } : state.heldDeletes && s.status !== 'failed' ? null : state.heldDeletes;
  state.consecutiveFailures = s.status === 'failed' ? state.consecutiveFailures + 1 : 0;
  const configBroken = s.status === 'failed' && !!s.error && pausesActivation(s.error.type);
  if (configBroken) {
    state.paused = true;
    state.autoPaused = true;
    state.lastRecheckAt = Date.now();
    state.pausedReason = `paused after a configuration error in run ${s.runNumber}: ${s.error!.message}`;
  } else if (state.autoPaused && s.status !== 'failed') {
    // A run requested while auto-paused went through: the configuration works again.
    state.paused = false;
    state.autoPaused = false;
    state.pausedReason = undefined;
  }
  let quotaUnreadable = false;
  const quota = configBroken
    ? null
    : await local.checkQuota({ config }).catch(() => {
        quotaUnreadable = true;
        return null;
      });
  state.warnings = currentWarnings(config, s, {
    consecutiveFailures: state.consecutiveFailures,
    configBroken,
    quota,
    recheck: config.recheck ?? DEFAULT_RECHECK,
    previous: state.warnings,
    deletesHeld: state.heldDeletes !== null,
    quotaUnreadable,
    // Executions recorded before warnings were kept open on what tells nothing about them replay without it.
    keepWhenUnknown: () => patched('warnings-kept-when-unknown'),
  });
  await publishWarnings(config, state);
}

/**
 * The auto-pause re-check: when the destination checks out, clear CONFIG_BROKEN, resume and sync what is pending.
 * Returns the failure when it is still broken (and still paused by it), else undefined.
 */
export async function recheck(config: ActivationConfig, state: ActivationState): Promise<{ code: string; message: string } | undefined> {
  state.lastRecheckAt = Date.now();
  const result = await acts
    .recheckDestination({ config })
    .catch((err: Error) => ({ ok: false as const, code: 'INTERNAL', message: err.message }));
  if (!state.paused || !state.autoPaused) return; // resumed or paused by an operator meanwhile
  if (!result.ok) {
    log.info(`activation "${config.id}" is still broken: ${result.code}: ${result.message}`);
    return { code: result.code, message: result.message };
  }
  resumeWithCatchUp(config, state, 'configuration re-check passed');
  state.warnings = (state.warnings ?? []).filter((w) => w.code !== 'CONFIG_BROKEN');
  await publishWarnings(config, state);
}

/**
 * Started again while paused by a configuration error, and the start's re-check still fails: CONFIG_BROKEN, open
 * since the run that failed (the execution before reported it), holds again, and the health it makes. Reported,
 * it is the same open warning to the warnings workflow (no notice); it clears when a re-check passes or a run
 * goes through, as in the execution before. Patched: executions before it started with no warning and health
 * `ok` while paused, and reported nothing until the configuration was fixed.
 */
export async function keepConfigBroken(
  config: ActivationConfig,
  state: ActivationState,
  failure: { code: string; message: string },
): Promise<void> {
  if (!patched('restart-keeps-config-broken')) return;
  state.warnings = [configBrokenAtStart(config, state.pausedReason, failure, config.recheck ?? DEFAULT_RECHECK)];
  await publishWarnings(config, state);
}

/** Leaves an automatic pause with one run now; it stands in for the fire times missed while paused. */
export function resumeWithCatchUp(config: ActivationConfig, state: ActivationState, reason: string): void {
  state.paused = false;
  state.autoPaused = false;
  state.pausedReason = undefined;
  // Not a manual schedule: the run stands for the fires missed and the schedule carries on from it, so it records
  // that time as its scheduled_at (activation.ts serveRun), which a start after a stop carries on from.
  const scheduled = !('manual' in config.schedule);
  state.pending = mergePending(state.pending, { trigger: 'manual', full: false, reason, ...(scheduled ? { catchUp: true } : {}) });
  if (scheduled) state.lastFireAt = Date.now();
}

/**
 * A new target was accepted: the held deletions were the old target's, and are forgotten with its snapshot
 * (db/runs.ts forgetTargetState). The activation stops showing them and asking for their approval, and
 * DELETES_HELD clears. Asked only when something is held or open (patched: executions before it kept them
 * until the next run).
 */
export async function dropHeldDeletes(config: ActivationConfig, state: ActivationState): Promise<void> {
  const open = (state.warnings ?? []).some((w) => w.code === 'DELETES_HELD');
  if ((!state.heldDeletes && !open) || !patched('retarget-drops-held-deletes')) return;
  state.heldDeletes = null;
  state.warnings = (state.warnings ?? []).filter((w) => w.code !== 'DELETES_HELD');
  await publishWarnings(config, state);
}

/** Sets SynclineHealth from the current warnings and sends the set to the warnings workflow when it changed. */
async function publishWarnings(config: ActivationConfig, state: ActivationState): Promise<void> {
  const warnings = state.warnings ?? [];
  const health = healthOf(warnings);
  if (health !== state.health) {
    state.health = health;
    upsertSearchAttributes([{ key: healthKey, value: health }] as never);
  }
  const signature = warningSignature(warnings);
  // Started again after a stop: what the execution before reported stays open in the warnings workflow and
  // the activation's health in Postgres until a report says otherwise, so the first set is reported even
  // when empty. Executions recorded before the patch reported nothing until a warning opened.
  if (signature === (state.reported ?? '') && !(state.restarted && patched('report-after-restart'))) return;
  try {
    await acts.reportWarnings({ activationId: config.id, warnings, at: new Date().toISOString(), channel: config.warnings });
    state.reported = signature;
    delete state.restarted;
  } catch (err) {
    // Not fatal to the activation: the set is sent again with the next change (or run).
    log.warn(`activation "${config.id}": could not report warnings: ${(err as Error).message}`);
  }
}
