/**
 * The DAG executor: runs a validated DagSpec inside a workflow with bounded parallelism, deciding with the
 * pure planner in common/dag.ts. Any workflow can use it with its own runners (one per task kind):
 *
 *   const state = await runDag(spec, { sql: (ctx) => acts(ctx.task).runSql(...) }, { onStateChange: (s) => (latest = s) });
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  isCancellation,
  patched,
  TimeoutFailure,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import {
  DAG_SKIP_TYPE,
  DEFAULT_MAX_PARALLELISM,
  dagStatus,
  initialDagState,
  isSkip,
  mapItems,
  mappedState,
  planNext,
  validateDag,
  type DagSpec,
  type DagState,
  type DagTask,
  type MappedRun,
  type TaskError,
  type TaskRun,
  type TaskState,
} from '../common/dag';
import {
  addCounts,
  batchLanes,
  configuredBatchSize,
  effectiveBatchSize,
  lowestFailed,
  MAP_FAILED_LISTED,
  MAP_OUTPUT_MAX_BYTES,
  planBatches,
  stateOfCounts,
  type MapBatchesRun,
  type MapBatchResult,
  type MapOutputSummary,
  type StateCounts,
} from '../common/dag-map';

/**
 * The retries of a DAG run's own bookkeeping in the state Postgres (the claim of its logical date, its end,
 * pool sizes and slot leases): about 4 minutes of tries, as an activation's steps wait out a restart of the
 * state database, so that one does not fail the run. A task's own activities follow the task's `retry`.
 * A replay does not compare retry policies: a running execution schedules its next such activity with this one.
 */
export const STATE_RETRY = { maximumAttempts: 10, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' };

export interface TaskContext {
  task: DagTask;
  input: unknown;
  /** Outputs of the direct upstream tasks that succeeded, by task id. */
  upstream: Record<string, unknown>;
  /** Set for a mapped task: the item this execution handles and its position. */
  item?: unknown;
  index?: number;
}
export type TaskRunner = (ctx: TaskContext) => Promise<unknown>;
export interface RunDagOptions {
  /** Called after every state change with the live state (read it, do not mutate it). */
  onStateChange?: (state: DagState) => void;
  /** Extra per-task checks (e.g. a runner's input shape), reported with the graph problems before anything runs. */
  checkTask?: (task: DagTask) => string[];
  /**
   * Task records to start from, by id (a re-run: the kept tasks, settled, with their outputs; the others
   * pending with their tries so far). A settled one is never run: its output reaches its downstream as if it had.
   */
  initial?: Record<string, TaskRun>;
  /** Runs a large mapped task's items in batches elsewhere (child workflows); without it every item runs here. */
  mapBatches?: MapBatchesOption;
}

/** One batch of a mapped task's items: items[i] is item `first + i` of `total`. */
export interface MapBatchRequest {
  task: DagTask;
  /** The upstream outputs but the list mapped over: the batch gets its slice as `items`. */
  upstream: Record<string, unknown>;
  items: unknown[];
  first: number;
  total: number;
  /** 1-based, in item order. */
  batch: number;
  /** Items of this batch running at once (the batch holds that many of the DAG's slots). */
  parallelism: number;
  /** The item outputs come back only if their JSON is at most this long. */
  outputBudgetBytes: number;
}
export interface MapBatchesOption {
  run(batch: MapBatchRequest): Promise<MapBatchResult>;
  /** Which mapped tasks may run in batches (default all). */
  accepts?(task: DagTask): boolean;
}

/**
 * Runs every task once its trigger rule allows, at most `maxParallelism` executions at a time, and returns the
 * final state. Task failures are recorded, not thrown; an invalid spec throws DAG_INVALID before any task runs.
 */
export async function runDag(spec: DagSpec, runners: Record<string, TaskRunner>, opts: RunDagOptions = {}): Promise<DagState> {
  const valid = checkSpec(spec, runners, opts.checkTask);
  const state = initialDagState(valid);
  seed(state, opts.initial);
  const notify = (): void => {
    state.status = dagStatus(state.tasks);
    opts.onStateChange?.(state);
  };
  const slots = semaphore(valid.maxParallelism ?? DEFAULT_MAX_PARALLELISM);
  const launched = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  notify();
  for (;;) {
    const plan = planNext(valid, Object.fromEntries(Object.values(state.tasks).map((t) => [t.id, t.state])));
    for (const { id, state: settled } of plan.settle) finish(state.tasks[id]!, { state: settled });
    if (plan.settle.length > 0) notify();
    for (const id of plan.run.filter((r) => !launched.has(r))) {
      launched.add(id);
      const task = valid.tasks.find((t) => t.id === id)!;
      const large = opts.mapBatches && { spec: valid, option: opts.mapBatches };
      const p: Promise<void> = runTask(task, state, runners[task.kind]!, slots, notify, large).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (inFlight.size === 0) break;
    // A task rejects only on cancellation; that ends the DAG as it would any workflow code.
    try {
      await Promise.race(inFlight);
    } catch (err) {
      await settleRest([...inFlight]);
      throw err;
    }
  }
  notify();
  return state;
}

function checkSpec(spec: DagSpec, runners: Record<string, TaskRunner>, checkTask: RunDagOptions['checkTask']): DagSpec {
  const result = validateDag(spec);
  const problems = result.ok ? [] : [...result.problems];
  // Kinds and inputs are checked on every task that has them, even when the spec failed elsewhere: one report.
  const tasks: unknown[] = Array.isArray(spec?.tasks) ? spec.tasks : [];
  for (const task of tasks.filter(
    (t): t is DagTask => typeof (t as DagTask | null)?.id === 'string' && typeof (t as DagTask).kind === 'string',
  )) {
    if (!Object.hasOwn(runners, task.kind))
      problems.push(`task "${task.id}": kind "${task.kind}" has no runner (known: ${Object.keys(runners).join(', ')})`);
    else problems.push(...(checkTask?.(task) ?? []));
  }
  if (!result.ok || problems.length > 0) {
    const id = (spec as { id?: unknown } | null)?.id;
    throw ApplicationFailure.nonRetryable(`DAG "${String(id)}" is invalid, nothing was run: ${problems.join('; ')}`, 'DAG_INVALID', {
      problems,
    });
  }
  return result.spec;
}

async function runTask(
  task: DagTask,
  state: DagState,
  run: TaskRunner,
  slots: Semaphore,
  notify: () => void,
  large?: LargeMaps,
): Promise<void> {
  const upstream = Object.fromEntries(
    (task.upstream ?? []).filter((u) => state.tasks[u]?.state === 'success').map((u) => [u, state.tasks[u]!.output]),
  );
  const record = state.tasks[task.id]!;
  const start = (): void => {
    if (record.state !== 'pending') return;
    record.state = 'running';
    record.startedAt = new Date().toISOString();
    record.tries = (record.tries ?? 0) + 1;
    notify();
  };
  if (!task.map) {
    await slots.acquire();
    start();
    const outcome = await attempt(run, { task, input: task.input, upstream }).finally(() => slots.release());
    finish(record, outcome);
    return notify();
  }
  const over = state.tasks[task.map.over]!;
  // Reached under all_done / one_failed / none_failed: with no list to expand there is nothing to do.
  if (over.state !== 'success') {
    finish(record, { state: 'skipped' });
    return notify();
  }
  // A dotted field is a path into the output for executions started since paths exist (a literal key wins).
  const expanded = mapItems(task, over.output, task.map.field?.includes('.') === true && patched('dag-map-field-path'));
  if ('problem' in expanded) {
    finish(record, { state: 'failed', error: { type: 'DAG_MAP_NOT_A_LIST', message: expanded.problem } });
    return notify();
  }
  // Executions started before batches existed replay running every item here; small maps always do.
  if (large && wantsBatches(large, task, expanded.items.length) && patched('dag-map-batches'))
    return runBatched(task, record, expanded.items, upstream, large, slots, notify);
  // Items share the DAG-wide slots, so a wide fan-out never exceeds maxParallelism.
  record.mapped = expanded.items.map((_, index) => ({ index, state: 'pending' }));
  const runs = expanded.items.map(async (item, index) => {
    await slots.acquire();
    const entry = record.mapped![index]!;
    entry.state = 'running';
    start();
    Object.assign(entry, await attempt(run, { task, input: task.input, upstream, item, index }).finally(() => slots.release()));
    notify();
  });
  await allOrSettled(runs);
  const items = record.mapped;
  finish(record, { state: mappedState(items), output: items.map((i) => i.output ?? null), error: firstError(items) });
  notify();
}

/** Copies the given records over the initial state, for the tasks of this spec only. */
function seed(state: DagState, initial: RunDagOptions['initial']): void {
  for (const [id, record] of Object.entries(initial ?? {}))
    if (Object.hasOwn(state.tasks, id)) state.tasks[id] = { ...(JSON.parse(JSON.stringify(record)) as TaskRun), id };
}

type Outcome = { state: TaskState; output?: unknown; error?: TaskError };

interface LargeMaps {
  spec: DagSpec;
  option: MapBatchesOption;
}

function wantsBatches(large: LargeMaps, task: DagTask, n: number): boolean {
  return n > configuredBatchSize(large.spec, task) && (large.option.accepts?.(task) ?? true);
}

/**
 * A large mapped task: its items in batches run elsewhere (child workflows), a few batches at a time, each
 * holding as many of the DAG's slots as items it runs at once. The task keeps counts and the first failed
 * items (`mapBatches`), never one entry per item; its output is the item outputs while they stay small.
 */
async function runBatched(
  task: DagTask,
  record: TaskRun,
  items: unknown[],
  upstream: Record<string, unknown>,
  large: LargeMaps,
  slots: Semaphore,
  notify: () => void,
): Promise<void> {
  const n = items.length;
  const size = effectiveBatchSize(configuredBatchSize(large.spec, task), n);
  const batches = planBatches(n, size);
  const summary: MapBatchesRun = { items: n, batchSize: size, batches: batches.length, batchesDone: 0, counts: { pending: n }, failed: [] };
  record.mapBatches = summary;
  // The list itself reaches each batch as its slice, not again through the upstream outputs.
  const others = Object.fromEntries(Object.entries(upstream).filter(([id]) => id !== task.map!.over));
  let outputs: unknown[] | undefined = new Array<unknown>(n).fill(null);
  let outputBytes = 2;
  let next = 0;
  const lane = async (share: number): Promise<void> => {
    while (next < batches.length) {
      const { batch, from, to } = batches[next++]!;
      // A short last batch holds only the slots it can use.
      const parallelism = Math.min(share, to - from);
      await acquireMany(slots, parallelism);
      let result: MapBatchResult;
      try {
        if (record.state === 'pending') {
          record.state = 'running';
          record.startedAt = new Date().toISOString();
          record.tries = (record.tries ?? 0) + 1;
        }
        addCounts(summary.counts, { pending: from - to, running: to - from });
        notify();
        result = await large.option.run({
          task,
          upstream: others,
          items: items.slice(from, to),
          first: from,
          total: n,
          batch,
          parallelism,
          outputBudgetBytes: outputs ? MAP_OUTPUT_MAX_BYTES - outputBytes : 0,
        });
      } catch (err) {
        // The DAG's cancellation ends it; a batch that failed by itself (terminated, say) fails its items.
        if (CancellationScope.current().consideredCancelled) throw err;
        result = batchFailed(batch, from, to, err);
      } finally {
        for (let i = 0; i < parallelism; i++) slots.release();
      }
      addCounts(summary.counts, { running: from - to });
      addCounts(summary.counts, result.counts);
      summary.failed = lowestFailed(summary.failed, result.failed);
      summary.batchesDone += 1;
      const bytes = result.outputs ? JSON.stringify(result.outputs).length - 2 : Infinity;
      if (outputs && result.outputs?.length === to - from && outputBytes + bytes <= MAP_OUTPUT_MAX_BYTES) {
        outputs.splice(from, to - from, ...result.outputs);
        outputBytes += bytes;
      } else outputs = undefined;
      notify();
    }
  };
  await allOrSettled(batchLanes(large.spec.maxParallelism ?? DEFAULT_MAX_PARALLELISM).map(lane));
  const failed = summary.failed[0];
  const output: unknown[] | MapOutputSummary = outputs ?? { items: n, counts: { ...summary.counts }, outputsOmitted: true };
  finish(record, {
    state: stateOfCounts(summary.counts),
    output,
    error: failed?.error && { type: failed.error.type, message: `item ${failed.index}: ${failed.error.message}` },
  });
  notify();
}

function batchFailed(batch: number, from: number, to: number, err: unknown): MapBatchResult {
  const cause = taskError(err instanceof ChildWorkflowFailure && err.cause ? err.cause : err);
  const error = { type: cause.type, message: `batch ${batch} (items ${from}-${to - 1}) did not finish: ${cause.message}` };
  const failed = Array.from({ length: Math.min(MAP_FAILED_LISTED, to - from) }, (_, i) => ({
    index: from + i,
    state: 'failed' as const,
    error,
  }));
  return { counts: { failed: to - from }, failed };
}

/**
 * One batch's items, `parallelism` at a time in item order, with the task's runner: what a batch's child
 * workflow runs. Every item runs whatever the others do; only cancellation stops it.
 */
export async function runMapBatch(
  batch: Pick<MapBatchRequest, 'task' | 'upstream' | 'items' | 'first' | 'parallelism' | 'outputBudgetBytes'>,
  run: TaskRunner,
): Promise<MapBatchResult> {
  const { task, upstream, items, first } = batch;
  const counts: StateCounts = {};
  const failed: MappedRun[] = [];
  const outputs = new Array<unknown>(items.length).fill(null);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const index = first + i;
      const outcome = await attempt(run, { task, input: task.input, upstream, item: items[i], index });
      addCounts(counts, { [outcome.state]: 1 });
      if (outcome.error) failed.push({ index, state: outcome.state, error: outcome.error });
      outputs[i] = outcome.output ?? null;
    }
  };
  await allOrSettled(Array.from({ length: Math.max(1, Math.min(batch.parallelism, items.length)) }, lane));
  const fits = JSON.stringify(outputs).length <= batch.outputBudgetBytes;
  return { counts, failed: lowestFailed(failed, []), ...(fits && { outputs }) };
}

/**
 * Promise.all, except that after a rejection (cancellation: tasks reject on nothing else) it waits for the
 * others to end before rejecting too.
 */
async function allOrSettled(promises: Array<Promise<void>>): Promise<void> {
  try {
    await Promise.all(promises);
  } catch (err) {
    await settleRest(promises);
    throw err;
  }
}

/**
 * A cancelled run ends once every task it started has ended: each gives back what it holds (a pool slot, a
 * batch's child workflow) on its way out, which the run's close would otherwise cut short (a release not yet
 * started is dropped, a child still running is terminated), leaving a slot taken until its lease expires.
 * Executions started before this ended at the first task that rejected; they replay that way.
 */
async function settleRest(promises: Array<Promise<void>>): Promise<void> {
  if (patched('dag-cancel-settles')) await Promise.allSettled(promises);
}

async function attempt(run: TaskRunner, ctx: TaskContext): Promise<Outcome> {
  try {
    const output = await run(ctx);
    return isSkip(output) ? { state: 'skipped' } : { state: 'success', output };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = taskError(err);
    return error.type === DAG_SKIP_TYPE ? { state: 'skipped' } : { state: 'failed', error };
  }
}

function finish(record: TaskRun, outcome: Outcome): void {
  Object.assign(record, outcome);
  if (outcome.error === undefined) delete record.error;
  record.endedAt = new Date().toISOString();
}

function firstError(items: MappedRun[]): TaskError | undefined {
  const failed = items.find((i) => i.error);
  return failed && { type: failed.error!.type, message: `item ${failed.index}: ${failed.error!.message}` };
}

/** The failure's stable type: the activity's ApplicationFailure type when there is one. */
export function taskError(err: unknown): TaskError {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof TimeoutFailure) return { type: `TIMEOUT_${cause.timeoutType}`, message: cause.message };
  return { type: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** Maps a task's retry and timeout onto activity options, over the caller's defaults. */
export function activityOptionsFor(task: DagTask, defaults: ActivityOptions = {}): ActivityOptions {
  const r = task.retry;
  const retry: RetryPolicy | undefined = r && {
    ...defaults.retry,
    ...(r.maximumAttempts !== undefined && { maximumAttempts: r.maximumAttempts }),
    ...(r.initialIntervalSeconds !== undefined && { initialInterval: r.initialIntervalSeconds * 1000 }),
    ...(r.backoffCoefficient !== undefined && { backoffCoefficient: r.backoffCoefficient }),
    ...(r.maximumIntervalSeconds !== undefined && { maximumInterval: r.maximumIntervalSeconds * 1000 }),
    ...(r.nonRetryableErrorTypes !== undefined && { nonRetryableErrorTypes: r.nonRetryableErrorTypes }),
  };
  return {
    ...defaults,
    ...(task.timeoutSeconds !== undefined && { startToCloseTimeout: task.timeoutSeconds * 1000 }),
    ...(retry && { retry }),
    ...(defaults.startToCloseTimeout === undefined &&
      task.timeoutSeconds === undefined &&
      !defaults.scheduleToCloseTimeout && { startToCloseTimeout: '10 minutes' }),
  };
}

interface Semaphore {
  acquire(): Promise<void>;
  release(): void;
}

const takers = new WeakMap<Semaphore, Promise<void>>();
/**
 * Takes n slots. Takers of several slots queue behind each other, so two of them never each hold part of
 * what the other waits for (single-slot takers hold one and release it: they cannot deadlock anyone).
 */
async function acquireMany(slots: Semaphore, n: number): Promise<void> {
  const before = takers.get(slots) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  takers.set(slots, mine);
  await before;
  try {
    for (let i = 0; i < n; i++) await slots.acquire();
  } finally {
    done();
  }
}
/** FIFO, so the order tasks get slots is the order they became ready: deterministic on replay. */
function semaphore(size: number): Semaphore {
  let free = size;
  const waiting: Array<() => void> = [];
  return {
    async acquire() {
      if (free > 0) free -= 1;
      else await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else free += 1;
    },
  };
}
