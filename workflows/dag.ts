/**
 * The DAG executor: runs a validated DagSpec inside a workflow with bounded parallelism, deciding with the
 * pure planner in common/dag.ts. Any workflow can use it with its own runners (one per task kind):
 *
 *   const state = await runDag(spec, { sql: (ctx) => acts(ctx.task).runSql(...) }, { onStateChange: (s) => (latest = s) });
 */
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
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
      const p: Promise<void> = runTask(task, state, runners[task.kind]!, slots, notify).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (inFlight.size === 0) break;
    // A task rejects only on cancellation; that ends the DAG as it would any workflow code.
    await Promise.race(inFlight);
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

async function runTask(task: DagTask, state: DagState, run: TaskRunner, slots: Semaphore, notify: () => void): Promise<void> {
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
  const expanded = mapItems(task, over.output);
  if ('problem' in expanded) {
    finish(record, { state: 'failed', error: { type: 'DAG_MAP_NOT_A_LIST', message: expanded.problem } });
    return notify();
  }
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
  await Promise.all(runs);
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
