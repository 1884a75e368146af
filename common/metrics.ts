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
  /**
   * Gauge. Deletions the latest commit of the activation held for approval (0 when none). Labels: activation.
   * Each worker exports the value of the last commit it made: read it with `LATEST_QUERIES.deletesHeld`.
   */
  deletesHeld: 'syncline_deletes_held',
  /** Gauge, Unix time in seconds. When the commit that set this worker's `syncline_deletes_held` finished. Labels: activation. */
  deletesHeldTimestamp: 'syncline_deletes_held_timestamp_seconds',
  /** Counter. Requests sent to a destination's API. Labels: destination, kind. */
  apiCalls: 'syncline_destination_api_calls_total',
  /**
   * Gauge. API calls left in the destination's quota, read after each run. Labels: activation, destination.
   * Each worker exports the value it read last: read it with `LATEST_QUERIES.quotaLeft`.
   */
  quotaRemaining: 'syncline_destination_quota_remaining',
  /** Gauge. The destination's quota, read after each run. Labels: activation, destination. */
  quotaLimit: 'syncline_destination_quota_limit',
  /** Gauge, Unix time in seconds. When this worker read its `syncline_destination_quota_*` values. Labels: activation, destination. */
  quotaTimestamp: 'syncline_destination_quota_timestamp_seconds',
  /** Histogram, seconds. From a chunk's asynchronous (bulk) job being pending to its results. Labels: activation, destination. */
  bulkJobWait: 'syncline_bulk_job_wait_seconds',
  /** Histogram, seconds. One writeChunk or pollChunk activity, from its start to its answer. Labels: activation, destination, op. */
  chunkWrite: 'syncline_chunk_write_seconds',
  /** Histogram, seconds. A scheduled run's start minus the time it was scheduled for. Labels: activation. */
  scheduleLag: 'syncline_schedule_lag_seconds',
} as const;

/**
 * PromQL that reads a gauge set after each run (`syncline_deletes_held`, `syncline_destination_quota_*`)
 * as its latest observation. Every worker keeps exporting the value of the last run it saw of an
 * activation, however long ago; another worker may have run the activation since (the deletions approved
 * and applied, the quota reset and read again). So each such gauge has a `_timestamp_seconds` twin with
 * the same labels, and these keep, per activation (and destination), only the series whose timestamp is
 * the newest of all workers (`max by` then only settles ties). `max by (activation) (syncline_deletes_held)`
 * instead showed deletions held long after their approval, whenever a worker had not run the activation
 * since. The dashboard (docs/monitoring/grafana-dashboard.json) and README's alert examples use them.
 * `$activation` is the dashboard's variable; `activation=~".*"` in alerts.
 */
export const LATEST_QUERIES = {
  /** Deletions held by the activation's latest commit, any worker's; only activations holding some. */
  deletesHeld: `max by (activation) (syncline_deletes_held{activation=~"$activation"} and (syncline_deletes_held_timestamp_seconds == on (activation) group_left () max by (activation) (syncline_deletes_held_timestamp_seconds))) > 0`,
  /** The share of the destination's quota left, as read last (by any worker) after a run of the activation. */
  quotaLeft: `min by (activation, destination) ((syncline_destination_quota_remaining{activation=~"$activation"} / syncline_destination_quota_limit{activation=~"$activation"}) and (syncline_destination_quota_timestamp_seconds == on (activation, destination) group_left () max by (activation, destination) (syncline_destination_quota_timestamp_seconds)))`,
} as const;

/** The outcomes of `syncline_rows_total`: the fields of a run summary's per-operation counts. */
export const ROW_OUTCOMES = ['succeeded', 'failed', 'skipped', 'held', 'unsent', 'kept', 'backInModel'] as const;

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
