/**
 * Writing a run's chunks. A run writes up to `chunksPerWorkflow` chunks itself (default 500); a run with
 * more fans them out to child workflows (`writeChunksWorkflow`, id `<run id>/write/<b>`) of at most that
 * many each, one after the other, so no history grows with the row count: a chunk costs about 6 events in
 * the history that writes it (more for each poll of a bulk job), a child about 8 in the run's. Temporal
 * refuses a history past 51,200 events and warns past 10,240; 500 chunks stay under the warning.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  getExternalWorkflowHandle,
  metricMeter,
  patched,
  proxyActivities,
  setWorkflowOptions,
  sleep,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { SynclineActivities } from '../activities';
import type { TaskError } from '../common/dag';
import type { RunWarning } from '../common/run';
import { chunkSummary } from '../common/details';
import { METRICS } from '../common/metrics';
import { taskError } from './dag';
import { runProgressSignal, type RunProgress } from './messages';
import { versioned } from './versioning';

export const CHUNKS_PER_WORKFLOW = 500;
export const WRITE_PARALLELISM = 4;
const MAX_QUOTA_WAITS = 48;

export type MetricLabels = { activation: string; destination: string };

/** Where a quota wait is told: the activation hears it as progress, the run's summary lists the warning. */
export interface QuotaWaiter {
  activationId: string;
  runNumber: number;
  /** The activation's workflow id (a run started by hand has none). */
  activationWorkflowId?: string;
  warnings: RunWarning[];
  /** Called as a wait begins, before the activation is told: the run drops a progress signal it holds back. */
  beforeWait?: () => void;
}

/**
 * Any call to the destination may find its API quota (or the reserve kept for others) used up: the
 * run then waits on a durable timer, warns, tells its activation, and tries again. Never a tight retry.
 * `fn` may run an activity or a local activity (a small run's validate, workflows/sync-run.ts).
 */
export async function quotaWait<T>(q: QuotaWaiter, fn: () => Promise<T>): Promise<T> {
  for (let wait = 0; ; wait++) {
    try {
      return await fn();
    } catch (err) {
      // An activity's failure comes as an ActivityFailure around it; a local activity's (a small run's validate)
      // as the failure itself. Runs recorded before the patch failed on the latter: asked only then.
      const wrapped = err instanceof ActivityFailure;
      const cause = wrapped ? err.cause : err;
      if (!(cause instanceof ApplicationFailure) || cause.type !== 'QUOTA_RESERVE_REACHED' || wait >= MAX_QUOTA_WAITS) throw err;
      if (!wrapped && !patched('quota-wait-local-activity')) throw err;
      const waitMs = Number((cause.details?.[0] as { waitMs?: number } | undefined)?.waitMs ?? 3_600_000);
      if (!q.warnings.some((w) => w.code === 'QUOTA_LOW')) {
        q.warnings.push({
          code: 'QUOTA_LOW',
          level: 'warning',
          message: `activation "${q.activationId}": ${cause.message}; waiting ${Math.round(waitMs / 60000)} min before trying again`,
        });
      }
      q.beforeWait?.();
      if (q.activationWorkflowId) {
        const progress: RunProgress = { runNumber: q.runNumber, phase: 'waiting_quota', chunksDone: 0, chunksTotal: 0 };
        getExternalWorkflowHandle(q.activationWorkflowId)
          .signal(runProgressSignal, progress)
          .catch(() => {});
      }
      await sleep(waitMs, { summary: `quota wait · ${Math.round(waitMs / 60000)} min · ${cause.message.slice(0, 120)}` });
    }
  }
}

/**
 * Writes one chunk; an asynchronous (bulk) job is polled on durable timers, holding no worker slot.
 * The job's wait is measured in workflow time (the SDK records no metric while replaying).
 */
export async function writeOneChunk(
  write: ReturnType<typeof proxyActivities<SynclineActivities>>,
  options: ActivityOptions,
  runId: string,
  chunk: number,
  summary: string,
  labels: MetricLabels,
): Promise<{ chunk: number; succeeded?: number; failed?: number }> {
  let r = await write.writeChunk.executeWithOptions({ ...options, summary }, [{ runId, chunk }]);
  const pendingSince = Date.now();
  const waited = r.status === 'pending';
  while (r.status === 'pending') {
    await sleep(Math.max(1000, r.pollAfterMs ?? 5000), { summary: `bulk job poll · ${summary}` });
    r = await write.pollChunk.executeWithOptions({ ...options, summary: `poll · ${summary}` }, [{ runId, chunk, handle: r.handle! }]);
  }
  if (waited) bulkJobWait().record((Date.now() - pendingSince) / 1000, labels);
  return { chunk, succeeded: r.succeeded, failed: r.failed };
}

const bulkJobWait = () => metricMeter.createHistogram(METRICS.bulkJobWait, 'float', 's', 'Bulk job pending to results');

export interface WriteChunksInput {
  activationId: string;
  runNumber: number;
  runId: string;
  /** The destination kind, for metric labels. */
  destination: string;
  activationWorkflowId?: string;
  /** The chunk numbers this workflow writes: items `first` .. `first + chunks.length - 1` of the run's `total`. */
  chunks: number[];
  first: number;
  total: number;
  /** The frozen plan's chunk labels for these chunks, when the run applies a plan. */
  labels?: string[];
  /** The run's own activity options for writes (they stay those of the run's code version). */
  writeOptions: ActivityOptions;
}

export interface WriteChunksResult {
  /** Failed chunks, by their index in the run, in the order they failed. */
  failures: Array<{ index: number; error: TaskError }>;
  quotaWarnings: RunWarning[];
}

// Like the run that starts it: it ends within hours, on the version it started on.
setWorkflowOptions(versioned('PINNED'), writeChunksWorkflow);

/** Writes its share of a run's chunks, at most WRITE_PARALLELISM at a time; one chunk's failure stops no other. */
export async function writeChunksWorkflow(input: WriteChunksInput): Promise<WriteChunksResult> {
  const write = proxyActivities<SynclineActivities>(input.writeOptions);
  const quota: QuotaWaiter = {
    activationId: input.activationId,
    runNumber: input.runNumber,
    activationWorkflowId: input.activationWorkflowId,
    warnings: [],
  };
  const labels = { activation: input.activationId, destination: input.destination };
  const failures: WriteChunksResult['failures'] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < input.chunks.length) {
      const i = next++;
      const index = input.first + i;
      try {
        const summary = chunkSummary(index, input.total, input.labels?.[i]);
        await quotaWait(quota, () => writeOneChunk(write, input.writeOptions, input.runId, input.chunks[i]!, summary, labels));
      } catch (err) {
        failures.push({ index, error: taskError(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_PARALLELISM, input.chunks.length) }, lane));
  return { failures, quotaWarnings: quota.warnings };
}
