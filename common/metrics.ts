/**
 * syncline's own metrics, named once for the activities and workflows that record them, the worker that
 * exports them (Prometheus, SYNCLINE_METRICS_ADDRESS) and the Grafana dashboard in docs/.
 *
 * Labels stay bounded: an activation id, an operation, an outcome, a destination kind, a call kind.
 * Never a row key, a field value or an error message: each distinct label value is a series kept forever.
 * Series recorded from activities also carry the SDK's tags `namespace`, `taskQueue` and `activityType`;
 * those recorded from workflows `namespace`, `taskQueue` and `workflowType`: sum them away in queries.
 */

export const METRICS = {
  /** Counter. Model rows a committed run settled, by operation and outcome (the run summary's counts). Labels: activation, op, outcome. */
  rows: 'syncline_rows_total',
  /** Counter. Model rows rejected before any write (null, too long or repeated key). Labels: activation. */
  rowsRejected: 'syncline_rows_rejected_total',
  /** Histogram, seconds. From a run's start to its commit. Labels: activation, outcome (success, partial, failed, cancelled). */
  runDuration: 'syncline_run_duration_seconds',
  /** Gauge. Deletions the latest commit of the activation held for approval (0 when none). Labels: activation. */
  deletesHeld: 'syncline_deletes_held',
  /** Counter. Requests sent to a destination's API. Labels: destination, kind. */
  apiCalls: 'syncline_destination_api_calls_total',
  /** Gauge. API calls left in the destination's quota, read after each run. Labels: activation, destination. */
  quotaRemaining: 'syncline_destination_quota_remaining',
  /** Gauge. The destination's quota, read after each run. Labels: activation, destination. */
  quotaLimit: 'syncline_destination_quota_limit',
  /** Histogram, seconds. From a chunk's asynchronous (bulk) job being pending to its results. Labels: activation, destination. */
  bulkJobWait: 'syncline_bulk_job_wait_seconds',
  /** Histogram, seconds. One writeChunk or pollChunk activity, from its start to its answer. Labels: activation, destination, op. */
  chunkWrite: 'syncline_chunk_write_seconds',
  /** Histogram, seconds. A scheduled run's start minus the time it was scheduled for. Labels: activation. */
  scheduleLag: 'syncline_schedule_lag_seconds',
} as const;

/** The outcomes of `syncline_rows_total`: the fields of a run summary's per-operation counts. */
export const ROW_OUTCOMES = ['succeeded', 'failed', 'skipped', 'held'] as const;

const seconds = (...b: number[]) => b;

/**
 * Bucket boundaries (seconds) of syncline's histograms. The SDK's default buckets are meant for
 * milliseconds; these fit what each histogram measures.
 */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [METRICS.runDuration]: seconds(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400),
  [METRICS.bulkJobWait]: seconds(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
  [METRICS.chunkWrite]: seconds(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
  [METRICS.scheduleLag]: seconds(0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600),
};
