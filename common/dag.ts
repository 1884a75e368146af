/**
 * The DAG model (Airflow-style tasks, trigger rules and dynamic mapping) and its pure planner.
 * Workflow-safe: no I/O, no clocks. The executor (workflows/dag.ts) owns time and concurrency; this file
 * only decides, from task states, what may run next and which tasks settle without running.
 */
import { z } from 'zod';
import { dagScheduleSchema, type DagSchedule } from './dag-schedule';
import { MAX_MAP_BATCH_SIZE, type MapBatchesRun } from './dag-map';

export const TRIGGER_RULES = ['all_success', 'all_done', 'one_failed', 'none_failed'] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

export interface TaskRetry {
  maximumAttempts?: number;
  initialIntervalSeconds?: number;
  backoffCoefficient?: number;
  maximumIntervalSeconds?: number;
  nonRetryableErrorTypes?: string[];
}
export interface DagTask {
  id: string;
  /** Which runner executes it ('sql', 'http', 'activation', 'sleep' in dagWorkflow; custom kinds elsewhere). */
  kind: string;
  /** Small JSON input handed to the runner; it is recorded in workflow history. */
  input?: unknown;
  /** Ids of the tasks this one depends on. */
  upstream?: string[];
  /** Default all_success. */
  triggerRule?: TriggerRule;
  retry?: TaskRetry;
  /** Start-to-close timeout of one attempt. */
  timeoutSeconds?: number;
  /** Dynamic mapping: one execution per item of the array that upstream task `over` returned (or its `field`). */
  map?: {
    over: string;
    field?: string;
    /** More items than this run in child workflows of this many each (common/dag-map.ts). */
    batchSize?: number;
  };
  /** A named pool (docs/dag.md "Pools"): the task, each mapped item, holds one of its cluster-wide slots while it runs. */
  pool?: string;
}
export interface DagSpec {
  id: string;
  /** Task executions (mapped items included) running at once; default 4. */
  maxParallelism?: number;
  /** The batch size of every mapped task that sets none (default 200, common/dag-map.ts). */
  mapBatchSize?: number;
  tasks: DagTask[];
  /** When `syncline dag deploy` runs it (a Temporal Schedule); dagWorkflow itself ignores it. */
  schedule?: DagSchedule;
}

export type TaskState = 'pending' | 'running' | 'success' | 'failed' | 'skipped' | 'upstream_failed';
export interface TaskError {
  type: string;
  message: string;
}
export interface MappedRun {
  index: number;
  state: TaskState;
  output?: unknown;
  error?: TaskError;
}
export interface TaskRun {
  id: string;
  state: TaskState;
  output?: unknown;
  error?: TaskError;
  startedAt?: string;
  endedAt?: string;
  mapped?: MappedRun[];
  /** How many times the task was started, counting the runs this one re-runs (Airflow's try number). */
  tries?: number;
  /** Not run here: its outcome (and output) was kept from the run this one re-runs. */
  kept?: boolean;
  /** A mapped task run in batches (child workflows): counts and the first failed items, no `mapped`. */
  mapBatches?: MapBatchesRun;
}
export interface DagState {
  id: string;
  status: 'running' | 'success' | 'failed';
  tasks: Record<string, TaskRun>;
  /**
   * Pool leases this run lost while its task ran (docs/dag.md "Pools"): its renewal came after the lease ran
   * out (no worker for longer than a lease, 10 minutes by default) and the slot was not this run's any more.
   * In the state query only.
   */
  leasesLost?: Array<{ pool: string; task: string; at: string }>;
  /**
   * The last few signals of a name the run has no handler for (a misspelled `temporal workflow signal --name`,
   * one with Temporal's reserved prefix `__temporal_`), newest last: Temporal accepted them, nothing was done.
   * In the state query only.
   */
  ignoredSignals?: Array<{ name: string; at: string }>;
}

export const DEFAULT_MAX_PARALLELISM = 4;

/**
 * What a runner returns to skip its own task (e.g. "ensure attributes" found nothing to do). Plain JSON, so an
 * activity can return it too. A runner may instead throw an ApplicationFailure of type DAG_SKIP.
 */
export const SKIP = Object.freeze({ __dagSkip: true as const });
export const DAG_SKIP_TYPE = 'DAG_SKIP';
export function isSkip(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { __dagSkip?: unknown }).__dagSkip === true;
}

/**
 * Built on first use, not when the module loads: the worker preloads this module into the workflow context
 * its executions share (client/workflow-bundle.ts), and zod schemas, memoizing on first use, cannot be frozen
 * as the SDK freezes what a preloaded module holds when it loads (common/config.ts says more).
 */
function buildSpecSchema() {
  const taskId = z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, "_", "-" or "."');
  const taskSchema = z
    .object({
      id: taskId,
      kind: z.string().min(1),
      input: z.unknown().optional(),
      upstream: z.array(z.string()).optional(),
      triggerRule: z.enum(TRIGGER_RULES).optional(),
      retry: z
        .object({
          maximumAttempts: z.number().int().min(1).optional(),
          initialIntervalSeconds: z.number().positive().optional(),
          backoffCoefficient: z.number().min(1).optional(),
          maximumIntervalSeconds: z.number().positive().optional(),
          nonRetryableErrorTypes: z.array(z.string().min(1)).optional(),
        })
        .strict()
        .optional(),
      timeoutSeconds: z.number().positive().optional(),
      map: z
        .object({
          over: z.string().min(1),
          field: z.string().min(1).optional(),
          batchSize: z.number().int().min(1).max(MAX_MAP_BATCH_SIZE).optional(),
        })
        .strict()
        .optional(),
      pool: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'a pool name: letters, digits, "_", "-" or "."')
        .optional(),
    })
    .strict();
  const dagSpecSchema = z
    .object({
      id: z.string().min(1),
      maxParallelism: z.number().int().min(1).max(100).optional(),
      mapBatchSize: z.number().int().min(1).max(MAX_MAP_BATCH_SIZE).optional(),
      tasks: z.array(taskSchema).min(1),
      schedule: dagScheduleSchema().optional(),
    })
    .strict();
  return dagSpecSchema;
}

let built: ReturnType<typeof buildSpecSchema> | undefined;
/** Exported for the test that checks no shared schema uses one of zod's frozen string formats. */
export const dagSpecSchema = (): ReturnType<typeof buildSpecSchema> => (built ??= buildSpecSchema());

/** Checks shape and graph at once and reports every problem, so one edit fixes a dag.json. */
export function validateDag(spec: unknown): { ok: true; spec: DagSpec } | { ok: false; problems: string[] } {
  const parsed = dagSpecSchema().safeParse(spec);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  problems.push(...graphProblems(looseTasks(spec)));
  return parsed.success && problems.length === 0 ? { ok: true, spec: parsed.data as DagSpec } : { ok: false, problems };
}

/** The graph checks run even when the schema fails elsewhere, on whatever tasks have usable ids. */
function looseTasks(spec: unknown): Array<{ id: string; upstream: string[]; mapOver?: string }> {
  const tasks = (spec as { tasks?: unknown } | null)?.tasks;
  if (!Array.isArray(tasks)) return [];
  return tasks.flatMap((t: { id?: unknown; upstream?: unknown; map?: { over?: unknown } } | null) => {
    if (typeof t?.id !== 'string') return [];
    const upstream = Array.isArray(t.upstream) ? t.upstream.filter((u): u is string => typeof u === 'string') : [];
    return [{ id: t.id, upstream, mapOver: typeof t.map?.over === 'string' ? t.map.over : undefined }];
  });
}

function graphProblems(tasks: Array<{ id: string; upstream: string[]; mapOver?: string }>): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const t of tasks) {
    if (ids.has(t.id)) problems.push(`task "${t.id}": duplicate task id`);
    ids.add(t.id);
  }
  for (const t of tasks) {
    for (const u of t.upstream) if (!ids.has(u)) problems.push(`task "${t.id}": upstream "${u}" is not a task of this DAG`);
    if (t.mapOver !== undefined && !t.upstream.includes(t.mapOver)) {
      problems.push(`task "${t.id}": map.over "${t.mapOver}" must also be listed in its upstream`);
    }
  }
  for (const cycle of findCycles(tasks)) problems.push(`cycle: ${cycle.join(' -> ')}`);
  return problems;
}

/** Each cycle once, in run order (upstream first), e.g. ["a", "b", "a"]. */
export function findCycles(tasks: Array<{ id: string; upstream: string[] }>): string[][] {
  const downstream = new Map<string, string[]>(tasks.map((t) => [t.id, []]));
  for (const t of tasks) for (const u of t.upstream) downstream.get(u)?.push(t.id);
  const color = new Map<string, 'grey' | 'black'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (id: string): void => {
    color.set(id, 'grey');
    stack.push(id);
    for (const next of downstream.get(id) ?? []) {
      if (color.get(next) === 'grey') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!color.has(next)) visit(next);
    }
    stack.pop();
    color.set(id, 'black');
  };
  for (const id of downstream.keys()) if (!color.has(id)) visit(id);
  return cycles;
}

export const FINISHED: ReadonlySet<TaskState> = new Set(['success', 'failed', 'skipped', 'upstream_failed']);
const isFailed = (s: TaskState): boolean => s === 'failed' || s === 'upstream_failed';

/**
 * Airflow's trigger rules over the states of a task's direct upstream. Decisions are eager, as in Airflow:
 * all_success settles as upstream_failed on the first failure without waiting for the other upstreams.
 * A task without upstream always runs.
 */
export function evaluateTriggerRule(rule: TriggerRule, upstream: TaskState[]): 'wait' | 'run' | 'skipped' | 'upstream_failed' {
  if (upstream.length === 0) return 'run';
  const allDone = upstream.every((s) => FINISHED.has(s));
  const failed = upstream.some(isFailed);
  switch (rule) {
    case 'all_success':
      if (failed) return 'upstream_failed';
      if (upstream.includes('skipped')) return 'skipped';
      return allDone ? 'run' : 'wait';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'one_failed':
      if (failed) return 'run';
      return allDone ? 'skipped' : 'wait';
    case 'none_failed':
      if (failed) return 'upstream_failed';
      return allDone ? 'run' : 'wait';
  }
}

/**
 * The next step from the current states: tasks that settle without running (skipped / upstream_failed,
 * cascaded to a fixpoint so skips propagate down whole branches) and pending tasks whose rule says run.
 */
export function planNext(
  spec: DagSpec,
  states: Readonly<Record<string, TaskState>>,
): { settle: Array<{ id: string; state: 'skipped' | 'upstream_failed' }>; run: string[] } {
  const current: Record<string, TaskState> = { ...states };
  const settle: Array<{ id: string; state: 'skipped' | 'upstream_failed' }> = [];
  for (let changed = true; changed;) {
    changed = false;
    for (const task of spec.tasks) {
      if (current[task.id] !== 'pending') continue;
      const decision = decide(task, current);
      if (decision === 'skipped' || decision === 'upstream_failed') {
        current[task.id] = decision;
        settle.push({ id: task.id, state: decision });
        changed = true;
      }
    }
  }
  const run = spec.tasks.filter((t) => current[t.id] === 'pending' && decide(t, current) === 'run').map((t) => t.id);
  return { settle, run };
}

function decide(task: DagTask, states: Readonly<Record<string, TaskState>>): ReturnType<typeof evaluateTriggerRule> {
  const upstream = (task.upstream ?? []).map((u) => states[u] ?? 'pending');
  return evaluateTriggerRule(task.triggerRule ?? 'all_success', upstream);
}

/** running while any task is unfinished; then failed if any task failed or was upstream_failed. */
export function dagStatus(tasks: Record<string, Pick<TaskRun, 'state'>>): DagState['status'] {
  const states = Object.values(tasks).map((t) => t.state);
  if (!states.every((s) => FINISHED.has(s))) return 'running';
  return states.some(isFailed) ? 'failed' : 'success';
}

export function initialDagState(spec: DagSpec): DagState {
  return {
    id: spec.id,
    status: 'running',
    tasks: Object.fromEntries(spec.tasks.map((t) => [t.id, { id: t.id, state: 'pending' as TaskState }])),
  };
}

/** The items a mapped task expands over, or a message saying why the upstream output is not a list. */
export function mapItems(task: DagTask, upstreamOutput: unknown, paths = false): { items: unknown[] } | { problem: string } {
  const { over, field } = task.map!;
  const value = field === undefined ? upstreamOutput : fieldOf(upstreamOutput, field, paths);
  if (Array.isArray(value)) return { items: value };
  const where = field === undefined ? `the output of "${over}"` : `field "${field}" of the output of "${over}"`;
  return { problem: `task "${task.id}" maps over ${where}, which is ${value === undefined ? 'missing' : `a ${typeof value}`}, not a list` };
}

/**
 * The output's `field`. With `paths`, a field that is not a key of the output is a path through it, e.g.
 * `rows.0.ids` (one row holding an array: a list longer than returnRows allows).
 */
function fieldOf(output: unknown, field: string, paths: boolean): unknown {
  const at = (v: unknown, key: string): unknown => (v as Record<string, unknown> | null | undefined)?.[key];
  if (!paths || (typeof output === 'object' && output !== null && Object.hasOwn(output, field))) return at(output, field);
  return field.split('.').reduce(at, output);
}

/** A mapped task: failed if any item failed; skipped if every item skipped; else success. */
export function mappedState(items: Array<Pick<MappedRun, 'state'>>): TaskState {
  if (items.some((i) => isFailed(i.state))) return 'failed';
  return items.every((i) => i.state === 'skipped') ? 'skipped' : 'success';
}
