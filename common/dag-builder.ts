/**
 * DAGs in TypeScript (docs/dag.md "DAGs in TypeScript"): a typed builder that compiles to the same DagSpec as a
 * dag.json, checked by the same validateDag. A task's method returns a reference to its output; handing that
 * reference to a downstream task (`map`, `after`) is what makes the edge, so `upstream` is never written by hand.
 *
 *   const dag = defineDag('nightly', { schedule: { cron: '0 2 * * *' } });
 *   const changed = dag.sql('changed', { statement: 'SELECT id FROM crm.changed', returnRows: true });
 *   dag.activation('sync', {}, { map: changed.field('rows') });
 *   await syncline.dags().deploy(dag.toSpec());
 */
import { validateDag, type DagSpec, type DagTask, type TaskRetry, type TriggerRule } from './dag';
import type { DagSchedule } from './dag-schedule';
import { sensorInputProblems, type ActivationSensorInput, type SqlSensorInput, type WaitForSignalInput } from './dag-sensors';
import type {
  HttpRequestInput,
  HttpRequestResult,
  RunSqlInput,
  RunSqlResult,
  TriggerActivationSyncInput,
  TriggerActivationSyncResult,
} from '../activities/dag-tasks';

declare const OUTPUT: unique symbol;
declare const ITEM: unique symbol;

/** A task of this builder; `Out` is the type of its output, as downstream tasks receive it. */
export interface TaskRef<Out> {
  readonly id: string;
  readonly [OUTPUT]?: Out;
  /** Map a downstream task over the list in field `name` of this task's output (e.g. a sql task's `rows`). */
  field<K extends ListKeys<Out>>(name: K): ListRef<ItemOf<NonNullable<Out[K]>>>;
  /** Map a downstream task over this task's output, itself a list. */
  items(this: TaskRef<readonly unknown[]>): ListRef<ItemOf<Out>>;
}
/** A list a mapped task runs over, one execution per item. */
export interface ListRef<Item> {
  readonly over: string;
  readonly field?: string;
  readonly [ITEM]?: Item;
}
type ListKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[] ? K : never }[keyof T] & string;
type ItemOf<T> = T extends readonly (infer I)[] ? I : never;

export interface TaskOptions {
  /** Tasks this one runs after (the trigger rule decides on their states). */
  after?: Array<TaskRef<unknown>>;
  /** One execution per item of this list; its task is upstream too. */
  map?: ListRef<unknown>;
  /** With `map`: more items than this run in batches of child workflows (docs/dag.md "Large maps"). */
  batchSize?: number;
  triggerRule?: TriggerRule;
  retry?: TaskRetry;
  timeoutSeconds?: number;
  pool?: string;
}

export interface DagOptions {
  maxParallelism?: number;
  /** The batch size of mapped tasks that set none (default 200). */
  mapBatchSize?: number;
  schedule?: DagSchedule;
}

export class DagBuilder {
  private readonly tasks: DagTask[] = [];

  constructor(
    readonly id: string,
    private readonly options: DagOptions = {},
  ) {}

  sql(id: string, input: RunSqlInput, opts?: TaskOptions): TaskRef<RunSqlResult> {
    return this.task(id, 'sql', input, opts);
  }

  http(id: string, input: HttpRequestInput, opts?: TaskOptions): TaskRef<HttpRequestResult> {
    return this.task(id, 'http', input, opts);
  }

  /** Mapped, the item gives the activation id (a string) or fields merged over `input`, which may then leave it out. */
  activation(id: string, input: Partial<TriggerActivationSyncInput>, opts?: TaskOptions): TaskRef<TriggerActivationSyncResult> {
    return this.task(id, 'activation', input, opts);
  }

  sleep(id: string, input: { seconds?: number }, opts?: TaskOptions): TaskRef<{ seconds: number }> {
    return this.task(id, 'sleep', input, opts);
  }

  sqlSensor(id: string, input: SqlSensorInput, opts?: TaskOptions): TaskRef<{ pokes: number }> {
    return this.task(id, 'sql_sensor', input, opts);
  }

  waitForSignal(id: string, input: WaitForSignalInput, opts?: TaskOptions): TaskRef<{ signal: string; payload: unknown }> {
    return this.task(id, 'wait_for_signal', input, opts);
  }

  activationSensor(
    id: string,
    input: ActivationSensorInput,
    opts?: TaskOptions,
  ): TaskRef<{ runNumber: number; status: string; finishedAt: string; pokes: number }> {
    return this.task(id, 'activation_sensor', input, opts);
  }

  /** Any kind, e.g. one that another workflow registers a runner for. */
  task<Out = unknown>(id: string, kind: string, input?: unknown, opts: TaskOptions = {}): TaskRef<Out> {
    const upstream = [...new Set([...(opts.map ? [opts.map.over] : []), ...(opts.after ?? []).map((t) => t.id)])];
    const task: DagTask = { id, kind };
    if (input !== undefined) task.input = input;
    if (upstream.length > 0) task.upstream = upstream;
    if (opts.triggerRule !== undefined) task.triggerRule = opts.triggerRule;
    if (opts.retry !== undefined) task.retry = opts.retry;
    if (opts.timeoutSeconds !== undefined) task.timeoutSeconds = opts.timeoutSeconds;
    if (opts.map)
      task.map = {
        over: opts.map.over,
        ...(opts.map.field !== undefined && { field: opts.map.field }),
        ...(opts.batchSize !== undefined && { batchSize: opts.batchSize }),
      };
    if (opts.pool !== undefined) task.pool = opts.pool;
    this.tasks.push(task);
    return taskRef<Out>(id);
  }

  /** The DagSpec (the dag.json form), validated as `syncline dag deploy` and a run validate it; throws with every problem. */
  toSpec(): DagSpec {
    const spec: DagSpec = { id: this.id, tasks: this.tasks.map((t) => structuredClone(t)) };
    if (this.options.maxParallelism !== undefined) spec.maxParallelism = this.options.maxParallelism;
    if (this.options.mapBatchSize !== undefined) spec.mapBatchSize = this.options.mapBatchSize;
    if (this.options.schedule !== undefined) spec.schedule = structuredClone(this.options.schedule);
    const result = validateDag(spec);
    const problems = [...(result.ok ? [] : result.problems), ...spec.tasks.flatMap(sensorInputProblems)];
    if (problems.length > 0) throw new Error(`DAG "${this.id}" is invalid:\n  ${problems.join('\n  ')}`);
    return spec;
  }
}

function taskRef<Out>(id: string): TaskRef<Out> {
  return {
    id,
    field: (name) => ({ over: id, field: name }),
    items: () => ({ over: id }),
  } as TaskRef<Out>;
}

export function defineDag(id: string, options?: DagOptions): DagBuilder {
  return new DagBuilder(id, options);
}
