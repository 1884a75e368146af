/**
 * Large mapped tasks. A mapped task with more items than its batch size runs them in child workflows
 * (dagMapBatchWorkflow) of at most that many items each, so no history grows with the list: an item costs
 * about 6 events in the child that runs it, a batch about 10 in the DAG's own history. Temporal refuses a
 * history past 51,200 events and warns past 10,240; 200 items stay far under the warning.
 *
 * At scale the task keeps counts per state and the first failed items instead of one entry per item, and
 * its output is the list of item outputs only while that list stays small (MAP_OUTPUT_MAX_BYTES).
 * Pure and workflow-safe: the executor (workflows/dag.ts) owns the children and the slots.
 */
import type { DagSpec, DagTask, MappedRun, TaskState } from './dag';

/** Items per child workflow unless the task (`map.batchSize`) or the DAG (`mapBatchSize`) says otherwise. */
export const DEFAULT_MAP_BATCH_SIZE = 200;
/** The largest batch size one may set: 1,000 items is about 6,000 events in a child, under the warning. */
export const MAX_MAP_BATCH_SIZE = 1000;
/** Batches of one task at most; a longer list gets larger batches (its children's histories grow instead). */
export const MAX_MAP_BATCHES = 500;
/** Failed items a batched task lists (with their errors); the others are counted. */
export const MAP_FAILED_LISTED = 20;
/** A batched task's output is the list of item outputs while its JSON stays under this; else a summary. */
export const MAP_OUTPUT_MAX_BYTES = 64 * 1024;

export type StateCounts = Partial<Record<TaskState, number>>;

/** What a batched task shows instead of one `mapped` entry per item. */
export interface MapBatchesRun {
  items: number;
  batchSize: number;
  batches: number;
  batchesDone: number;
  /** Items per state (pending and running too while the task runs). */
  counts: StateCounts;
  /** The failed items of lowest index, at most MAP_FAILED_LISTED, with their errors. */
  failed: MappedRun[];
}

/** What one batch (a child workflow) returns: small whatever its size. */
export interface MapBatchResult {
  counts: StateCounts;
  /** Its failed items of lowest index, at most MAP_FAILED_LISTED. */
  failed: MappedRun[];
  /** Every item's output (null for none), in item order, when their JSON fits the budget it was given. */
  outputs?: unknown[];
}

/** The output of a batched task whose item outputs were too large to keep. */
export interface MapOutputSummary {
  items: number;
  counts: StateCounts;
  outputsOmitted: true;
}

/** The batch size the task asks for: its own, else the DAG's, else the default. */
export function configuredBatchSize(spec: Pick<DagSpec, 'mapBatchSize'>, task: DagTask): number {
  return task.map?.batchSize ?? spec.mapBatchSize ?? DEFAULT_MAP_BATCH_SIZE;
}

/** The batch size used for n items: the configured one, raised so that there are at most MAX_MAP_BATCHES. */
export function effectiveBatchSize(configured: number, n: number): number {
  return Math.max(configured, Math.ceil(n / MAX_MAP_BATCHES));
}

/** Batches 1..k over n items, in item order: items from..to-1. */
export function planBatches(n: number, size: number): Array<{ batch: number; from: number; to: number }> {
  const batches: Array<{ batch: number; from: number; to: number }> = [];
  for (let from = 0; from < n; from += size) batches.push({ batch: batches.length + 1, from, to: Math.min(n, from + size) });
  return batches;
}

/**
 * The item parallelism of each batch running at once: two batches share the DAG's maxParallelism (one
 * starts while the other finishes its last items), a single one when it is 1. They sum to it exactly.
 */
export function batchLanes(maxParallelism: number): number[] {
  return [Math.ceil(maxParallelism / 2), Math.floor(maxParallelism / 2)].filter((p) => p > 0);
}

export function addCounts(into: StateCounts, more: StateCounts): void {
  for (const [state, n] of Object.entries(more) as Array<[TaskState, number]>) into[state] = (into[state] ?? 0) + n;
  for (const state of Object.keys(into) as TaskState[]) if (into[state] === 0) delete into[state];
}

/** Like mappedState over the items these counts describe: failed if any failed, skipped if all skipped. */
export function stateOfCounts(counts: StateCounts): TaskState {
  if ((counts.failed ?? 0) + (counts.upstream_failed ?? 0) > 0) return 'failed';
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  return (counts.skipped ?? 0) === total ? 'skipped' : 'success';
}

/** The failed items of lowest index among both lists, at most MAP_FAILED_LISTED. */
export function lowestFailed(a: MappedRun[], b: MappedRun[]): MappedRun[] {
  return [...a, ...b].sort((x, y) => x.index - y.index).slice(0, MAP_FAILED_LISTED);
}
