/**
 * FROZEN: the activation loop as it was written up to version 0.1.0 (with the exactness fixes that
 * replay its histories), kept so that executions started before workflows/activation.ts took over
 * replay: workflows/activation.ts calls it when `patched('activation-queue')` is false. An execution
 * leaves it at its next continue-as-new (after its next run), so the file goes with the patch once
 * every activation has run once on the new version (see README, "Changing workflow code").
 *
 * One long-lived workflow per activation (id `activation/<id>`): it schedules itself on durable
 * timers, runs each sync as a child workflow `activation/<id>/run/<n>`, never overlaps runs, coalesces
 * re-syncs requested during a run into one run right after it, and continues-as-new after each run so
 * its history stays small for years.
 */
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SynclineActivities } from '../../activities';
import { formatProblems, parseActivationConfig, type ActivationConfig } from '../../common/config';
import { parseDuration } from '../../common/duration';
import { isConfigErrorCode } from '../../common/errors';
import { type RunSummary, type RunTrigger, type RunWarning } from '../../common/run';
import { currentWarnings, deadlineWarning } from '../../common/thresholds';
import { healthOf, warningSignature } from '../../common/warnings';
import { activationKey, destinationKey, healthKey, type Health } from '../../common/search-attributes';
import {
  applyPlanUpdate,
  approveDeletesUpdate,
  planUpdate,
  pauseSignal,
  resumeSignal,
  resyncSignal,
  retryFailedSignal,
  runProgressSignal,
  statusQuery,
  triggerSyncUpdate,
  type ActivationStatus,
  type PlanResponse,
  type RunProgress,
  type TriggerSyncRequest,
} from '../messages';
import { nextFireTime } from '../schedule';
import { syncRunWorkflow } from '../sync-run';

/**
 * A run waiting to start. `retryFailed`: rows whose last write failed permanently are sent again too; it
 * survives coalescing with other requests (a state carried over from an older version has only the trigger).
 */
interface PendingRun {
  trigger: RunTrigger;
  full: boolean;
  reason?: string;
  retryFailed?: boolean;
}

/** Everything carried across continue-as-new. */
interface ActivationState {
  lastRunNumber: number;
  recent: RunSummary[];
  paused: boolean;
  pausedReason?: string;
  pending: PendingRun | null;
  lastFireAt?: number;
  heldDeletes: { run: number; count: number } | null;
  consecutiveFailures: number;
  health: Health;
  /** Warnings that hold now (thresholds crossed), as last computed. Optional: added after the first release. */
  warnings?: RunWarning[];
  /** Signature (code:level) of the set the warnings workflow last received. */
  reported?: string;
  /** Paused by a configuration error rather than by an operator: the periodic re-check may resume it. */
  autoPaused?: boolean;
  lastRecheckAt?: number;
  /** The latest plan (`syncline plan`); only an `open` one can be applied. Optional: added after the first release. */
  plan?: { run: number; status: 'open' | 'applying' | 'applied' | 'superseded'; by?: number };
}

/** A plan or apply request waiting for its turn; answered in this execution (updates block continue-as-new). */
interface PlanJob {
  ticket: number;
  kind: 'plan' | 'apply';
  plan?: number;
}
type PlanOutcome = { ok: PlanResponse | RunSummary } | { error: { type: string; message: string } };

interface ActivationWorkflowInput {
  /** The activation document (validated here with the same schema the CLI uses). */
  config: unknown;
  state?: ActivationState;
}

const RECENT_RUNS = 20;
const acts = proxyActivities<SynclineActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 10, initialInterval: '1s' } });
// A quota read after every run: a local activity costs one marker event, not a task round trip.
const local = proxyLocalActivities<SynclineActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '1s' },
});
const DEFAULT_RECHECK = '1h';

/** Higher wins when requests are coalesced. */
const TRIGGER_RANK: Record<RunTrigger, number> = { retry_failed: 0, approval: 1, schedule: 1, dag: 2, manual: 2, full_resync: 3 };

function mergePending(a: PendingRun | null, b: PendingRun): PendingRun {
  if (!a) return b;
  const trigger = TRIGGER_RANK[b.trigger] > TRIGGER_RANK[a.trigger] ? b.trigger : a.trigger;
  const retryFailed = wantsRetry(a) || wantsRetry(b);
  return {
    trigger,
    full: a.full || b.full,
    reason: [a.reason, b.reason].filter(Boolean).join('; ') || undefined,
    ...(retryFailed ? { retryFailed } : {}),
  };
}

function wantsRetry(p: PendingRun): boolean {
  return !!p.retryFailed || p.trigger === 'retry_failed';
}

/**
 * Input is `{ "config": {...} }`, or the activation document itself (handy with
 * `temporal workflow start --input-file activation.json`).
 */
export async function activationWorkflowV1(raw: ActivationWorkflowInput | Record<string, unknown>): Promise<void> {
  const input: ActivationWorkflowInput =
    raw && typeof raw === 'object' && 'config' in raw ? (raw as ActivationWorkflowInput) : { config: raw };
  const parsed = parseActivationConfig(input.config);
  if (!parsed.ok) {
    const id = (input.config as { id?: unknown } | null)?.id;
    throw ApplicationFailure.nonRetryable(formatProblems(id, parsed.problems), 'CONFIG_INVALID', { problems: parsed.problems });
  }
  const config = parsed.config;
  const expectedId = `activation/${config.id}`;
  if (workflowInfo().workflowId !== expectedId) {
    throw ApplicationFailure.nonRetryable(
      `activation "${config.id}" must run with workflow id "${expectedId}" (got "${workflowInfo().workflowId}")`,
      'CONFIG_INVALID',
    );
  }
  // Handlers are registered before the first await: an update sent with the start must find them.
  const state: ActivationState = input.state ?? {
    lastRunNumber: -1,
    recent: [],
    paused: false,
    pending: null,
    heldDeletes: null,
    consecutiveFailures: 0,
    health: 'ok',
  };
  upsertSearchAttributes([
    { key: activationKey, value: config.id },
    { key: destinationKey, value: config.destination.kind },
    { key: healthKey, value: state.health },
  ] as never);

  let running: RunProgress | null = null;
  let wake = 0;
  // Requests waiting for a run are numbered; a run serves every request numbered up to `covers`.
  let requests = 0;
  const finished: Array<{ covers: number; summary: RunSummary }> = [];
  const waitForRun = async (ticket: number): Promise<RunSummary> => {
    await condition(() => finished.some((f) => f.covers >= ticket));
    return finished.find((f) => f.covers >= ticket)!.summary;
  };

  setHandler(resyncSignal, (req) => {
    state.pending = mergePending(state.pending, { trigger: req?.full ? 'full_resync' : 'manual', full: !!req?.full, reason: req?.reason });
  });
  setHandler(retryFailedSignal, () => {
    state.pending = mergePending(state.pending, { trigger: 'retry_failed', full: false, retryFailed: true });
  });
  setHandler(pauseSignal, (req) => {
    state.paused = true;
    state.autoPaused = false; // an operator's pause is never lifted by the re-check
    state.pausedReason = req?.reason ?? 'paused by an operator';
    wake++;
  });
  setHandler(resumeSignal, () => {
    // After an automatic pause, resume syncs at once what piled up; the run's outcome clears CONFIG_BROKEN (or not).
    if (state.paused && state.autoPaused) resumeWithCatchUp(config, state, 'resumed after a configuration error');
    state.paused = false;
    state.pausedReason = undefined;
    wake++;
  });
  setHandler(runProgressSignal, (p) => {
    if (running && p?.runNumber === running.runNumber) running = p;
  });
  setHandler(
    triggerSyncUpdate,
    async (req?: TriggerSyncRequest) => {
      const ticket = ++requests;
      state.pending = mergePending(state.pending, {
        trigger: req?.full ? 'full_resync' : 'manual',
        full: !!req?.full,
        reason: req?.reason,
      });
      return waitForRun(ticket);
    },
    {
      validator: (req?: TriggerSyncRequest) => {
        if (req !== undefined && (typeof req !== 'object' || req === null))
          throw new Error('triggerSync takes {"full"?: boolean, "reason"?: string}');
        if (req?.full !== undefined && typeof req.full !== 'boolean') throw new Error('"full" must be true or false');
      },
    },
  );
  setHandler(
    approveDeletesUpdate,
    async (req) => {
      const { approved } = await acts.approveHeldDeletes({ activationId: config.id, runNumber: req.run });
      const ticket = ++requests;
      state.heldDeletes = null;
      state.pending = mergePending(state.pending, { trigger: 'approval', full: false, reason: `deletions of run ${req.run} approved` });
      return { approved, run: await waitForRun(ticket) };
    },
    {
      validator: (req) => {
        if (!req || !Number.isInteger(req.run)) throw new Error('approveDeletes takes {"run": <run number that held the deletions>}');
        if (!state.heldDeletes) throw new Error(`activation "${config.id}" has no deletions waiting for approval`);
        if (state.heldDeletes.run !== req.run)
          throw new Error(
            `run ${req.run} holds no deletions; the deletions waiting for approval were held by run ${state.heldDeletes.run}`,
          );
      },
    },
  );
  const planJobs: PlanJob[] = [];
  const planOutcomes = new Map<number, PlanOutcome>();
  let planTickets = 0;
  const waitForPlanJob = async (job: PlanJob): Promise<PlanResponse | RunSummary> => {
    planJobs.push(job);
    await condition(() => planOutcomes.has(job.ticket));
    const outcome = planOutcomes.get(job.ticket)!;
    planOutcomes.delete(job.ticket);
    if ('error' in outcome) throw ApplicationFailure.nonRetryable(outcome.error.message, outcome.error.type);
    return outcome.ok;
  };
  setHandler(planUpdate, async () => (await waitForPlanJob({ ticket: ++planTickets, kind: 'plan' })) as PlanResponse);
  setHandler(
    applyPlanUpdate,
    async (req) => {
      state.plan!.status = 'applying'; // a second apply of the same plan is refused from now on
      return (await waitForPlanJob({ ticket: ++planTickets, kind: 'apply', plan: req.plan })) as RunSummary;
    },
    { validator: (req) => validateApply(config, state, req) },
  );
  setHandler(statusQuery, (): ActivationStatus => {
    const next = state.paused ? null : nextFireTime(config.schedule, state.lastFireAt, Date.now());
    return {
      activationId: config.id,
      state: running ? 'running' : state.paused ? 'paused' : 'idle',
      pausedReason: state.pausedReason,
      health: state.health,
      schedule: config.schedule,
      nextRunAt: next === null ? null : new Date(next).toISOString(),
      currentRun: running,
      pending: state.pending && { trigger: state.pending.trigger, full: state.pending.full },
      heldDeletes: state.heldDeletes,
      consecutiveFailures: state.consecutiveFailures,
      lastRuns: state.recent,
    };
  });

  if (state.lastRunNumber < 0) state.lastRunNumber = (await acts.lastRunNumber({ activationId: config.id })).runNumber;
  // Before each continue-as-new: callers of triggerSync/approveDeletes/plan/apply are answered first.
  // A handler still waiting (an approval's activity, a caller waiting for the next run) may request a
  // run at any moment: the wait ends then too, and the loop serves it, even past a suggested
  // continue-as-new (otherwise nothing would ever run it and the activation would stop for good).
  const settle = async (): Promise<void> => {
    if ((state.pending || planJobs.length) && !workflowInfo().continueAsNewSuggested) return;
    await condition(() => allHandlersFinished() || planJobs.length > 0 || state.pending !== null);
    if ((state.pending || planJobs.length) && !allHandlersFinished()) return;
    await continueAsNew<typeof activationWorkflowV1>({ config, state });
  };
  for (;;) {
    const next = await nextRequest(
      config,
      state,
      () => wake,
      () => recheck(config, state),
      () => planJobs.length > 0,
    );
    const job = next === null ? planJobs.shift()! : null;
    if (job?.kind === 'plan') {
      planOutcomes.set(job.ticket, await planOnce(config, state, ++state.lastRunNumber, (p) => (running = p)));
      running = null;
      await settle();
      continue;
    }
    if (job && state.plan?.status !== 'applying') {
      planOutcomes.set(job.ticket, {
        error: {
          type: 'PLAN_STALE',
          message: `plan ${job.plan} of "${config.id}" is stale: run ${state.plan?.by ?? '?'} ran after it; run \`syncline plan ${config.id}\` again`,
        },
      });
      continue;
    }
    const request: PendingRun = next ?? { trigger: 'manual', full: false, reason: `apply plan ${job!.plan}` };
    const covers = requests;
    // Applying a plan completes the plan's own run (same number, same work tables).
    const runNumber = job ? job.plan! : ++state.lastRunNumber;
    if (!job && state.plan?.status === 'open' && patched('plan-apply')) await supersedePlan(config, state, runNumber);
    running = { runNumber, phase: 'starting', chunksDone: 0, chunksTotal: 0 };
    // An execution that was mid-run when this code was deployed replays without the deadline timer and warnings activities.
    const warningsEnabled = patched('activation-warnings');
    const scheduledAt = request.trigger === 'schedule' && state.lastFireAt !== undefined ? state.lastFireAt : Date.now();
    const child = runOnce(config, state, request, runNumber, job ? { applyPlan: job.plan } : undefined);
    const summary = warningsEnabled ? await withDeadline(config, state, child, runNumber, scheduledAt) : await child;
    const configBroken = recordRun(state, summary);
    // Warnings are settled before callers are answered: a request arriving meanwhile would keep this execution from continuing as new.
    if (warningsEnabled) {
      const quota = configBroken ? null : await local.checkQuota({ config }).catch(() => null);
      // Executions recorded before FAILED_ROWS stayed open for unchanged problems replay without it.
      const previous = patched('failed-rows-stay-open') ? state.warnings : undefined;
      state.warnings = currentWarnings(config, summary, {
        consecutiveFailures: state.consecutiveFailures,
        configBroken,
        quota,
        recheck: config.recheck ?? DEFAULT_RECHECK,
        previous,
      });
      await publishWarnings(config, state);
    } else {
      setHealth(state, legacyHealth(config, state, summary, configBroken));
    }
    running = null;
    if (job) {
      state.plan = { run: job.plan!, status: 'applied' };
      planOutcomes.set(job.ticket, { ok: summary });
    } else {
      finished.push({ covers, summary });
    }
    // Callers waiting on triggerSync/approveDeletes for a later run keep this execution alive until served.
    await settle();
  }
}

/** Apply is refused for anything but the latest, still-open plan: applied, superseded and older plans no longer match. */
function validateApply(config: ActivationConfig, state: ActivationState, req: { plan: number } | undefined): void {
  if (!req || !Number.isInteger(req.plan)) throw new Error('apply takes {"plan": <plan number printed by `syncline plan`>}');
  const p = state.plan;
  const again = `run \`syncline plan ${config.id}\` to compute a new plan`;
  if (!p || req.plan > p.run) throw new Error(`activation "${config.id}" has no plan ${req.plan}; ${again}`);
  if (req.plan < p.run)
    throw new Error(`plan ${req.plan} of "${config.id}" is stale: plan ${p.run} was computed after it; apply plan ${p.run} or ${again}`);
  if (p.status === 'applied') throw new Error(`plan ${req.plan} of "${config.id}" was already applied; ${again}`);
  if (p.status === 'applying') throw new Error(`plan ${req.plan} of "${config.id}" is being applied already`);
  if (p.status === 'superseded')
    throw new Error(`plan ${req.plan} of "${config.id}" is stale: run ${p.by ?? '?'} synced after it was computed; ${again}`);
}

/** Runs the DAG up to the delta as run `runNumber` and records it as the open plan. */
async function planOnce(
  config: ActivationConfig,
  state: ActivationState,
  runNumber: number,
  progress: (p: RunProgress | null) => void,
): Promise<PlanOutcome> {
  progress({ runNumber, phase: 'starting', chunksDone: 0, chunksTotal: 0 });
  const summary = await runOnce(config, state, { trigger: 'manual', full: false, reason: 'plan' }, runNumber, { planOnly: true });
  if (summary.status === 'failed')
    return { error: summary.error ?? { type: 'INTERNAL', message: `plan ${runNumber} of "${config.id}" failed` } };
  // recordPlan superseded (and dropped) any older plan in Postgres; the workflow's view follows.
  state.plan = { run: runNumber, status: 'open' };
  const counts: Record<string, number> = { rejected: summary.rejected, heldDeletes: summary.heldDeletes };
  for (const [op, c] of Object.entries(summary.ops)) counts[op] = c.planned;
  return { ok: { plan: runNumber, counts } };
}

/** A normal run makes the open plan stale: it no longer describes what the destination would receive. Its work tables go. */
async function supersedePlan(config: ActivationConfig, state: ActivationState, runNumber: number): Promise<void> {
  await acts.supersedePlans({ activationId: config.id });
  state.plan = { run: state.plan!.run, status: 'superseded', by: runNumber };
}

/**
 * Waits for a re-sync request or the next scheduled fire time, whichever comes first. While paused by
 * a configuration error it wakes every `recheck` to re-check the destination instead.
 */
async function nextRequest(
  config: ActivationConfig,
  state: ActivationState,
  wake: () => number,
  recheck: () => Promise<void>,
  planWaiting: () => boolean = () => false,
): Promise<PendingRun | null> {
  for (;;) {
    // A plan or apply goes first: a run before an apply would make its plan stale.
    if (planWaiting()) return null;
    if (state.pending) {
      const p = state.pending;
      state.pending = null;
      return p;
    }
    const now = Date.now();
    const rechecking = state.paused && !!state.autoPaused;
    const next = rechecking
      ? (state.lastRecheckAt ?? now) + parseDuration(config.recheck ?? DEFAULT_RECHECK)
      : state.paused
        ? null
        : nextFireTime(config.schedule, state.lastFireAt, now);
    const seen = wake();
    const woke =
      next === null
        ? (await condition(() => state.pending !== null || wake() !== seen || planWaiting()), true)
        : await condition(() => state.pending !== null || wake() !== seen || planWaiting(), Math.max(1, next - now));
    if (woke || next === null) continue;
    if (rechecking) {
      await recheck();
      continue;
    }
    state.lastFireAt = next;
    return { trigger: 'schedule', full: false };
  }
}

/** The auto-pause re-check: when the destination checks out, clear CONFIG_BROKEN, resume and sync what is pending. */
async function recheck(config: ActivationConfig, state: ActivationState): Promise<void> {
  state.lastRecheckAt = Date.now();
  const result = await acts
    .recheckDestination({ config })
    .catch((err: Error) => ({ ok: false as const, code: 'INTERNAL', message: err.message }));
  if (!state.paused || !state.autoPaused) return; // resumed or paused by an operator meanwhile
  if (!result.ok) {
    log.info(`activation "${config.id}" is still broken: ${result.code}: ${result.message}`);
    return;
  }
  resumeWithCatchUp(config, state, 'configuration re-check passed');
  state.warnings = (state.warnings ?? []).filter((w) => w.code !== 'CONFIG_BROKEN');
  await publishWarnings(config, state);
}

/** Leaves an automatic pause with one run now; it stands in for the fire times missed while paused. */
function resumeWithCatchUp(config: ActivationConfig, state: ActivationState, reason: string): void {
  state.paused = false;
  state.autoPaused = false;
  state.pausedReason = undefined;
  state.pending = mergePending(state.pending, { trigger: 'manual', full: false, reason });
  if (!('manual' in config.schedule)) state.lastFireAt = Date.now();
}

/**
 * Races the run against a durable timer at `scheduledAt + deadlineMinutes`: if the timer fires first,
 * DEADLINE_MISSED opens while the run goes on; the set computed when the run finishes clears it.
 */
async function withDeadline(
  config: ActivationConfig,
  state: ActivationState,
  run: Promise<RunSummary>,
  runNumber: number,
  scheduledAt: number,
): Promise<RunSummary> {
  let done = false;
  void run.then(
    () => (done = true),
    () => (done = true),
  );
  const left = scheduledAt + config.thresholds.deadlineMinutes * 60_000 - Date.now();
  if (!(await condition(() => done, Math.max(1, left)))) {
    state.warnings = [
      ...(state.warnings ?? []).filter((w) => w.code !== 'DEADLINE_MISSED'),
      deadlineWarning(config, runNumber, scheduledAt),
    ];
    await publishWarnings(config, state);
  }
  return run;
}

/** Sets SynclineHealth from the current warnings and sends the set to the warnings workflow when it changed. */
async function publishWarnings(config: ActivationConfig, state: ActivationState): Promise<void> {
  const warnings = state.warnings ?? [];
  setHealth(state, healthOf(warnings));
  const signature = warningSignature(warnings);
  if (signature === (state.reported ?? '')) return;
  try {
    await acts.reportWarnings({ activationId: config.id, warnings, at: new Date().toISOString(), channel: config.warnings });
    state.reported = signature;
  } catch (err) {
    // Not fatal to the activation: the set is sent again with the next change (or run).
    log.warn(`activation "${config.id}": could not report warnings: ${(err as Error).message}`);
  }
}

async function runOnce(
  config: ActivationConfig,
  state: ActivationState,
  request: PendingRun,
  runNumber: number,
  plan?: { planOnly?: boolean; applyPlan?: number },
): Promise<RunSummary> {
  const previous = state.recent.filter((r) => r.status !== 'failed').at(-1);
  try {
    return await executeChild(syncRunWorkflow, {
      workflowId: `activation/${config.id}/run/${runNumber}${plan?.applyPlan !== undefined ? '/apply' : ''}`,
      args: [
        {
          activationId: config.id,
          runNumber,
          trigger: request.trigger,
          full: request.full,
          config,
          previous: previous && { modelRows: previous.modelRows, status: previous.status },
          ...(wantsRetry(request) ? { retryFailed: true } : {}),
          ...(plan?.planOnly ? { planOnly: true } : {}),
          ...(plan?.applyPlan !== undefined ? { applyPlan: plan.applyPlan } : {}),
        },
      ],
      staticSummary: `${config.id} · run ${runNumber} · ${config.mode} · ${request.trigger}${request.full ? ' (full)' : ''}${request.reason ? ` · ${request.reason}` : ''}`,
    });
  } catch (err) {
    if (!(err instanceof ChildWorkflowFailure)) throw err;
    const cause = err.cause;
    const detail = cause instanceof ApplicationFailure ? (cause.details?.[0] as RunSummary | undefined) : undefined;
    if (detail && typeof detail === 'object' && 'runNumber' in detail) return detail;
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
      error: {
        type: cause instanceof ApplicationFailure ? (cause.type ?? 'INTERNAL') : 'INTERNAL',
        message: cause?.message ?? err.message,
      },
    };
  }
}

/** Keeps the last runs and held-deletion state; a configuration error pauses the activation (returns true). */
function recordRun(state: ActivationState, s: RunSummary): boolean {
  state.recent = [...state.recent, s].slice(-RECENT_RUNS);
  state.heldDeletes =
    s.heldDeletes > 0 ? { run: s.runNumber, count: s.heldDeletes } : state.heldDeletes && s.status !== 'failed' ? null : state.heldDeletes;
  state.consecutiveFailures = s.status === 'failed' ? state.consecutiveFailures + 1 : 0;
  const configBroken = s.status === 'failed' && !!s.error && isConfigErrorCode(s.error.type) && s.error.type !== 'MODEL_SQL_ERROR';
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
  return configBroken;
}

function setHealth(state: ActivationState, health: Health): void {
  if (health === state.health) return;
  state.health = health;
  upsertSearchAttributes([{ key: healthKey, value: health }] as never);
}

/** Health as computed before warnings were tracked (kept for replaying executions started by older code). */
function legacyHealth(config: ActivationConfig, state: ActivationState, s: RunSummary, configBroken: boolean): Health {
  return configBroken ||
    state.consecutiveFailures >= config.thresholds.consecutiveFailedRuns ||
    s.warnings.some((w) => w.level === 'critical')
    ? 'critical'
    : s.status !== 'success' || s.warnings.some((w) => w.level === 'warning')
      ? 'warning'
      : 'ok';
}
