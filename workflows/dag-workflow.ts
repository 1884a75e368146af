/**
 * dagWorkflow: runs a user DAG (dag.json) whose tasks are SQL statements, HTTP calls, activation syncs and
 * sleeps. The DAG's state is readable at any time through dagStateQuery; a failed DAG fails the workflow
 * (red in the Web UI) with the failed task ids in the message and the final state in the failure details.
 */
import { DAG_IGNORED_SIGNAL_HINT, dagSignal, dagStateQuery } from './messages';
import { noteIgnoredSignal } from './interceptors';
import {
  ApplicationFailure,
  condition,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  setWorkflowOptions,
  sleep,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { versioned } from './versioning';
import type { DagTaskActivities, HttpRequestInput, RunSqlInput, RunSqlResult, TriggerActivationSyncInput } from '../activities/dag-tasks';
import { SKIP, type DagSpec, type DagState, type DagTask } from '../common/dag';
import { credentialHeaderNames, credentialHeaderProblems, isTaskKind, taskInputProblems, type TASK_KINDS } from '../common/dag-kinds';
import type { DagRerun } from '../common/dag-rerun';
import { dagDetails } from '../common/dag-view';
import { bindValues, runContext, type DagRunContext } from '../common/dag-schedule';
import {
  DEFAULT_POKE_INTERVAL_SECONDS,
  MAX_SIGNAL_PAYLOAD_BYTES,
  sensorInputProblems,
  type ActivationSensorInput,
  type SqlSensorInput,
  type WaitForSignalInput,
} from '../common/dag-sensors';
import { activityOptionsFor, runDag, runMapBatch, STATE_RETRY, type MapBatchesOption, type TaskContext, type TaskRunner } from './dag';
import type { MapBatchResult } from '../common/dag-map';
import { type RunPools, runPools, withoutPools } from './dag-pools';

export type DagWorkflowInput = DagSpec & {
  /** Set by `syncline dag trigger`: the run's time (its logical date) and its conf. */
  run?: { logicalDate: string; conf?: unknown };
  /** Set by `syncline dag rerun`: the run re-run and the tasks it keeps (they are not run again). */
  rerun?: DagRerun;
};
export type DagWorkflowResult = DagState & {
  /** The logical date and data interval of a scheduled, backfilled or triggered run. */
  run?: DagRunContext;
  /** The run of the same logical date that already succeeded (or is running): this one ran no task. */
  alreadyDone?: { workflowId: string; runId: string; status: string };
};

export { dagSignal, dagStateQuery } from './messages';

const RETRY = { maximumAttempts: 3, initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1 minute' };
const DEFAULTS: ActivityOptions = { startToCloseTimeout: '10 minutes', retry: RETRY };
// A sync can run long; the activity heartbeats while it waits on the activation's update.
const ACTIVATION_DEFAULTS: ActivityOptions = { startToCloseTimeout: '2 hours', heartbeatTimeout: '1 minute', retry: RETRY };

const acts = (task: DagTask, defaults = DEFAULTS) => proxyActivities<DagTaskActivities>(activityOptionsFor(task, defaults));

/** Each kind's runner; the shape of its input is checked in common/dag-kinds.ts (also at `syncline dag deploy`). */
const KINDS: Record<(typeof TASK_KINDS)[number], { run: TaskRunner }> = {
  sql: {
    // A mapped statement reads its item as $1 (objects arrive as JSON: ($1::jsonb->>'id')).
    run: (ctx) => acts(ctx.task).runSql({ ...(ctx.input as RunSqlInput), ...(isMapped(ctx) && { params: [ctx.item] }) }),
  },
  http: {
    run: (ctx) => {
      const input = ctx.input as HttpRequestInput;
      return acts(ctx.task).httpRequest({ ...input, body: input.body ?? (isMapped(ctx) ? ctx.item : undefined) });
    },
  },
  activation: {
    run: (ctx) => acts(ctx.task, ACTIVATION_DEFAULTS).triggerActivationSync(activationInput(ctx)),
  },
  sleep: {
    run: async (ctx) => {
      const seconds = (ctx.input as { seconds?: number } | undefined)?.seconds ?? ctx.item;
      if (typeof seconds !== 'number')
        throw ApplicationFailure.nonRetryable(
          `task "${ctx.task.id}": item ${ctx.index} is not a number of seconds`,
          'DAG_TASK_INPUT_INVALID',
        );
      await sleep(seconds * 1000);
      return { seconds };
    },
  },
};
const RUNNERS: Record<string, TaskRunner> = Object.fromEntries(Object.entries(KINDS).map(([kind, k]) => [kind, k.run]));

/**
 * This run's runners: the kinds above, the sensors (which wait on this run's signals), and for a dated run
 * the values its sql statements may bind by name (`:logical_date`).
 */
function runnersFor(signals: ReadonlyMap<string, unknown>, run?: DagRunContext): Record<string, TaskRunner> {
  const bind = run && bindValues(run);
  return {
    ...RUNNERS,
    ...(bind && {
      sql: (ctx: TaskContext) =>
        acts(ctx.task).runSql({ ...(ctx.input as RunSqlInput), ...(isMapped(ctx) && { params: [ctx.item] }), bind }),
    }),
    sql_sensor: (ctx) => sqlSensor(ctx, bind),
    wait_for_signal: (ctx) => waitForSignal(ctx, signals),
  };
}

/**
 * Pokes the statement until it returns a row, sleeping on a workflow timer in between: the wait holds no
 * worker slot, and the pokes are bounded by the timeout over the interval (checked before the run).
 */
async function sqlSensor(ctx: TaskContext, bind: Record<string, unknown> | undefined): Promise<unknown> {
  const input = ctx.input as SqlSensorInput;
  const interval = (input.pokeIntervalSeconds ?? DEFAULT_POKE_INTERVAL_SECONDS) * 1000;
  const deadline = Date.now() + input.timeoutSeconds * 1000;
  const { connection, statement, params } = input;
  // One attempt's timeout is the task's, or the poke interval: a stuck poke does not outlive its turn.
  const options = ctx.task.timeoutSeconds === undefined ? { ...DEFAULTS, startToCloseTimeout: Math.max(interval, 10_000) } : DEFAULTS;
  for (let pokes = 1; ; pokes++) {
    const result = (await acts(ctx.task, options).runSql({ connection, statement, params, ...(bind && { bind }) })) as RunSqlResult;
    if (result.rowCount > 0) return { pokes };
    const left = deadline - Date.now();
    if (left <= 0) return timedOut(ctx.task, input.softFail, `no row after ${pokes} poke(s) in ${input.timeoutSeconds} s`);
    await sleep(Math.min(interval, left));
  }
}

/**
 * The activation_sensor runner, for a run whose tasks use it. Runs that started before it existed refused the
 * kind ("has no runner"); they replay the same way.
 */
function withActivationSensor(runners: Record<string, TaskRunner>, tasks: unknown, run?: DagRunContext): Record<string, TaskRunner> {
  const uses = Array.isArray(tasks) && tasks.some((t) => (t as DagTask | null)?.kind === 'activation_sensor');
  if (!uses || !patched('dag-activation-sensor')) return runners;
  return { ...runners, activation_sensor: (ctx) => activationSensor(ctx, run) };
}

/**
 * Pokes the activation's run records until a run that ended in success (or partial) finished after the sensor
 * started (or after the run's logical date), sleeping on a workflow timer in between, like sql_sensor.
 */
async function activationSensor(ctx: TaskContext, run: DagRunContext | undefined): Promise<unknown> {
  const input = ctx.input as ActivationSensorInput;
  if (input.since === 'logical_date' && !run)
    throw ApplicationFailure.nonRetryable(
      `task "${ctx.task.id}": "since": "logical_date" needs a dated run: deploy the DAG with a schedule ("syncline dag deploy") and run it from there or with "syncline dag trigger"`,
      'DAG_RUN_NOT_DATED',
    );
  const since = input.since === 'logical_date' ? run!.logicalDate : new Date(Date.now()).toISOString();
  const statuses = input.acceptPartial ? ['success', 'partial'] : ['success'];
  const interval = (input.pokeIntervalSeconds ?? DEFAULT_POKE_INTERVAL_SECONDS) * 1000;
  const deadline = Date.now() + input.timeoutSeconds * 1000;
  const options = ctx.task.timeoutSeconds === undefined ? { ...DEFAULTS, startToCloseTimeout: Math.max(interval, 10_000) } : DEFAULTS;
  for (let pokes = 1; ; pokes++) {
    const found = await acts(ctx.task, options).activationRunSince({ activationId: input.activationId, since, statuses });
    if (found) return { ...found, pokes };
    const left = deadline - Date.now();
    if (left <= 0)
      return timedOut(
        ctx.task,
        input.softFail,
        `activation "${input.activationId}" had no ${statuses.join(' or ')} run finished after ${since} in ${input.timeoutSeconds} s (${pokes} poke(s))`,
      );
    await sleep(Math.min(interval, left));
  }
}

/** Waits on a durable condition for this run's signal `input.signal`; the payload is the task's output. */
async function waitForSignal(ctx: TaskContext, signals: ReadonlyMap<string, unknown>): Promise<unknown> {
  const input = ctx.input as WaitForSignalInput;
  const released = await condition(() => signals.has(input.signal), input.timeoutSeconds * 1000);
  if (!released) return timedOut(ctx.task, input.softFail, `signal "${input.signal}" did not come in ${input.timeoutSeconds} s`);
  const payload = signals.get(input.signal);
  const size = JSON.stringify(payload ?? null).length;
  if (size > MAX_SIGNAL_PAYLOAD_BYTES)
    throw ApplicationFailure.nonRetryable(
      `task "${ctx.task.id}": the payload of signal "${input.signal}" is ${size} bytes; at most ${MAX_SIGNAL_PAYLOAD_BYTES}: send ids, keep data in Postgres`,
      'SIGNAL_PAYLOAD_TOO_LARGE',
    );
  return { signal: input.signal, payload: payload ?? null };
}

function timedOut(task: DagTask, softFail: boolean | undefined, what: string): unknown {
  if (softFail) return SKIP;
  throw ApplicationFailure.nonRetryable(`sensor "${task.id}" timed out: ${what}`, 'SENSOR_TIMEOUT');
}

/** Set by Temporal on a workflow its Schedule started (scheduled, backfilled or triggered): the action's nominal time. */
const SCHEDULED_START = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);
/** The (DAG, logical date) record in Postgres: small and quick, and waits out a restart of the state database. */
const record = proxyActivities<DagTaskActivities>({ startToCloseTimeout: '1 minute', retry: STATE_RETRY });

// Worker Versioning: a DAG run ends on the version it started on (a DAG with long sleeps keeps that
// version's workers busy until it ends).
setWorkflowOptions(versioned('PINNED'), dagWorkflow);

export async function dagWorkflow(input: DagWorkflowInput): Promise<DagWorkflowResult> {
  let latest: DagState = { id: String(input?.id), status: 'running', tasks: {} };
  // Set once the pools are read; a query before then answers without them.
  let pools: RunPools | undefined = undefined;
  let ignored: Array<{ name: string; at: string }> = [];
  setHandler(dagStateQuery, () => ({
    ...latest,
    ...(pools?.leasesLost.length && { leasesLost: [...pools.leasesLost] }),
    ...(ignored.length && { ignoredSignals: [...ignored] }),
  }));
  const signals = new Map<string, unknown>();
  setHandler(dagSignal, (s) => {
    if (typeof s?.name === 'string' && !signals.has(s.name)) signals.set(s.name, s.payload ?? null);
  });
  // A signal of another name (`--name dagsignal`): buffered by the SDK until the run ended, unseen. Now logged
  // and listed by the state query (`syncline dag show`). Only a log line and query state: no command.
  setDefaultSignalHandler((delivered) => {
    ignored = noteIgnoredSignal(`DAG "${String(input?.id)}"`, delivered, DAG_IGNORED_SIGNAL_HINT, ignored);
  });
  // Only a DAG whose tasks name a pool reads the pools (before anything runs); others run as they always did.
  const { workflowId: wfId, runId: wfRunId } = workflowInfo();
  pools = await runPools(Array.isArray(input?.tasks) ? input.tasks : [], `${wfId}/${wfRunId}/`, () => patched('dag-pools'));
  const pooled = (runners: Record<string, TaskRunner>) => (pools ? pools.wrap(runners) : runners);
  const check = pools ? pools.check(checkTask) : withoutPools(checkTask);
  const time = runTime(input);
  const rerun = input?.rerun;
  // Details are metadata, not commands: setting them changes nothing a replay compares.
  const onStateChange = (s: DagState): void => {
    latest = s;
    setCurrentDetails(dagDetails(Array.isArray(input?.tasks) ? input : { tasks: [] }, s, rerun?.workflowId));
  };
  // A re-run's kept tasks are seeded settled. Executions started before re-runs existed have no `rerun` in
  // their input: they run the same spec with no seed, the same commands, so this needs no patch.
  const options = { onStateChange, checkTask, ...(rerun && { initial: rerun.tasks }) };
  // Runs without a time (started by hand with `temporal workflow start`), and runs started before this
  // code, take the path they always took.
  if (time === undefined || !patched('dag-logical-date')) {
    const runners = withActivationSensor(runnersFor(signals), input?.tasks);
    const state = await runDag(rerun ? withoutRerun(input) : input, pooled(runners), {
      ...options,
      checkTask: check,
      mapBatches: mapBatchesFor(String(input?.id)),
    });
    if (state.status === 'failed') throw dagFailed(state);
    return state;
  }
  const { run: given, rerun: _rerun, ...spec } = input;
  const run = runContext(spec.schedule, time, given?.conf);
  const { workflowId, runId } = workflowInfo();
  const key = { dagId: String(spec.id), logicalDate: run.logicalDate };
  // A re-run may take over its date from the run it re-runs, even one that succeeded (re-run with --from).
  const claim = await record.claimDagRun({ ...key, workflowId, runId, ...(rerun && { replaces: rerun.runId }) });
  if (!claim.claimed) {
    latest = { id: String(spec.id), status: 'success', tasks: {} };
    return { ...latest, run, alreadyDone: claim.by };
  }
  let state: DagState;
  try {
    const runners = withActivationSensor(runnersFor(signals, run), spec.tasks, run);
    state = await runDag(spec, pooled(runners), { ...options, checkTask: check, mapBatches: mapBatchesFor(String(spec.id), run) });
  } catch (err) {
    // A cancelled run keeps its claim: the next claim of this date sees that run closed and takes over.
    if (!isCancellation(err)) await record.finishDagRun({ ...key, runId, status: 'failed' });
    throw err;
  }
  await record.finishDagRun({ ...key, runId, status: state.status });
  if (state.status === 'failed') throw dagFailed(state);
  return { ...state, run };
}

/**
 * The time a run is for: a trigger's `run.logicalDate`, else the scheduled time Temporal's Schedule put in the
 * search attributes (never the clock: a backfilled or late run keeps the time it was scheduled for).
 */
function runTime(input: DagWorkflowInput): number | undefined {
  const given = (input as { run?: { logicalDate?: unknown } } | null)?.run?.logicalDate;
  if (typeof given === 'string' && !Number.isNaN(Date.parse(given))) return Date.parse(given);
  return workflowInfo().typedSearchAttributes.get(SCHEDULED_START)?.getTime();
}

function withoutRerun(input: DagWorkflowInput): DagWorkflowInput {
  const { rerun: _rerun, ...spec } = input;
  return spec;
}

function dagFailed(state: DagState): ApplicationFailure {
  const failed = Object.values(state.tasks)
    .filter((t) => t.state === 'failed')
    .map((t) => `${t.id} (${t.error?.type})`);
  const blocked = Object.values(state.tasks)
    .filter((t) => t.state === 'upstream_failed')
    .map((t) => t.id);
  const message = `DAG "${state.id}" failed: ${failed.join(', ')} failed${blocked.length ? `; ${blocked.join(', ')} did not run (upstream_failed)` : ''}`;
  return ApplicationFailure.nonRetryable(message, 'DAG_FAILED', state);
}

function checkTask(task: DagTask): string[] {
  if (!isTaskKind(task.kind)) return sensorInputProblems(task);
  const problems = taskInputProblems(task);
  if (task.kind === 'http') problems.push(...credentialHeaders(task));
  return problems;
}

/**
 * Inline headers named like credentials are refused: the input is kept in workflow history. Executions
 * started before this check replay without it (the patch is asked only when such a header is there).
 */
function credentialHeaders(task: DagTask): string[] {
  const names = credentialHeaderNames(task);
  if (names.length === 0 || !patched('dag-http-credential-headers')) return [];
  return credentialHeaderProblems(task, names);
}

function isMapped(ctx: TaskContext): boolean {
  return ctx.index !== undefined;
}

/** A mapped activation task takes its id from the item: a string, or an object merged over the task input. */
function activationInput(ctx: TaskContext): TriggerActivationSyncInput {
  const base = ctx.input as Partial<TriggerActivationSyncInput> | undefined;
  const merged = !isMapped(ctx)
    ? base
    : typeof ctx.item === 'string'
      ? { ...base, activationId: ctx.item }
      : { ...base, ...(ctx.item as object) };
  if (typeof merged?.activationId !== 'string') {
    throw ApplicationFailure.nonRetryable(
      `task "${ctx.task.id}": no activationId in the input or item ${ctx.index}`,
      'DAG_TASK_INPUT_INVALID',
    );
  }
  return merged as TriggerActivationSyncInput;
}

/** One batch of a large mapped task (workflows/dag.ts, common/dag-map.ts): small, bounded by the batch size. */
export interface DagMapBatchInput {
  dagId: string;
  task: DagTask;
  /** The outputs of the task's other direct upstream tasks. */
  upstream: Record<string, unknown>;
  /** This batch's items: item `first + i` of the `total` the task maps over. */
  items: unknown[];
  first: number;
  total: number;
  parallelism: number;
  outputBudgetBytes: number;
  /** The DAG run's logical date and conf, for sql statements binding `:logical_date`. */
  run?: DagRunContext;
}
export type DagMapBatchResult = MapBatchResult;

/**
 * Batches run as child workflows `<DAG workflow id>/map/<task>/<batch>`, on the DAG's task queue; the DAG's
 * cancellation reaches them (a child is cancelled with its parent's scope). A wait_for_signal task waits on
 * the DAG's own signals, so it never goes to a child.
 */
function mapBatchesFor(dagId: string, run?: DagRunContext): MapBatchesOption {
  return {
    accepts: (task) => task.kind !== 'wait_for_signal',
    run: (b) =>
      executeChild(dagMapBatchWorkflow, {
        workflowId: `${workflowInfo().workflowId}/map/${b.task.id}/${b.batch}`,
        args: [
          {
            dagId,
            task: b.task,
            upstream: b.upstream,
            items: b.items,
            first: b.first,
            total: b.total,
            parallelism: b.parallelism,
            outputBudgetBytes: b.outputBudgetBytes,
            ...(run && { run }),
          },
        ],
        staticSummary: `DAG ${dagId} · ${b.task.id} · items ${b.first}–${b.first + b.items.length - 1} of ${b.total}`,
      }),
  };
}

// Like the DAG run that starts it: it ends on the version it started on.
setWorkflowOptions(versioned('PINNED'), dagMapBatchWorkflow);

/** Runs one batch of a mapped task's items with the task's runner; returns counts, not one entry per item. */
export async function dagMapBatchWorkflow(input: DagMapBatchInput): Promise<DagMapBatchResult> {
  // The DAG's own runners: an activation_sensor item polls like one in the DAG, a pooled item leases a slot.
  const runners = withActivationSensor(runnersFor(new Map(), input.run), [input.task], input.run);
  const { workflowId, runId } = workflowInfo();
  const pools = await runPools([input.task], `${workflowId}/${runId}/`, () => patched('dag-pools'));
  const run = (pools ? pools.wrap(runners) : runners)[input.task.kind];
  if (!run)
    throw ApplicationFailure.nonRetryable(
      `DAG "${input.dagId}", task "${input.task.id}": kind "${input.task.kind}" has no runner`,
      'DAG_INVALID',
    );
  return runMapBatch(input, run);
}
