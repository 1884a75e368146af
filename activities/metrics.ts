/**
 * Records syncline's metrics (common/metrics.ts) through the SDK metric meter of the current activity,
 * so they leave the worker with the SDK's own (Prometheus when SYNCLINE_METRICS_ADDRESS is set, see
 * worker.ts). Outside an activity (direct tests, scripts) nothing is recorded.
 */
import { Context } from '@temporalio/activity';
import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter } from '@temporalio/common';
import { METRICS, ROW_OUTCOMES } from '../common/metrics';
import type { RunSummary } from '../common/run';

type Instruments = {
  counter(name: string, description: string): MetricCounter;
  histogram(name: string, description: string): MetricHistogram;
  gauge(name: string, description: string): MetricGauge;
  /** A float gauge: a Unix time in seconds, milliseconds kept. */
  timestamp(name: string, description: string): MetricGauge;
};

// One set of instruments per activity meter (its tags name the activity); they are created on first use.
const cache = new WeakMap<MetricMeter, Map<string, MetricCounter | MetricGauge | MetricHistogram>>();

function instruments(): Instruments | null {
  let meter: MetricMeter;
  try {
    meter = Context.current().metricMeter;
  } catch {
    return null;
  }
  let made = cache.get(meter);
  if (!made) cache.set(meter, (made = new Map()));
  const get = <T extends MetricCounter | MetricGauge | MetricHistogram>(name: string, create: () => T): T => {
    let m = made.get(name) as T | undefined;
    if (!m) made.set(name, (m = create()));
    return m;
  };
  return {
    counter: (name, d) => get(name, () => meter.createCounter(name, '', d)),
    histogram: (name, d) => get(name, () => meter.createHistogram(name, 'float', 's', d)),
    gauge: (name, d) => get(name, () => meter.createGauge(name, 'int', '', d)),
    timestamp: (name, d) => get(name, () => meter.createGauge(name, 'float', '', d)),
  };
}

/**
 * One request to a destination's API, for `syncline_destination_api_calls_total`. Connectors do not import
 * this (they know no Temporal): they call `ctx.apiCall(kind)` once per HTTP request sent, and
 * buildContext (run-context.ts) forwards it here with the connector's kind as `destination`. The meter is
 * the calling activity's, found from the async context, so the call counts wherever in the activity it runs.
 *
 * `kind` is a small fixed word for the endpoint family (auth, describe, query, bulk_poll, ...): never a
 * URL, a record id or a message.
 */
export function recordApiCall(destination: string, kind: string): void {
  instruments()?.counter(METRICS.apiCalls, 'Requests sent to a destination API').add(1, { destination, kind });
}

/**
 * A committed run: rows by op and outcome, rejected rows, duration by outcome, deletions held and when
 * the commit finished (`syncline_deletes_held_timestamp_seconds`: with several workers, the dashboard
 * takes the value of the latest commit, whichever worker made it; common/metrics.ts LATEST_QUERIES).
 */
export function recordCommittedRun(s: RunSummary): void {
  const m = instruments();
  if (!m) return;
  const activation = s.activationId;
  const rows = m.counter(METRICS.rows, 'Model rows settled by committed runs, by operation and outcome');
  for (const [op, counts] of Object.entries(s.ops)) {
    for (const outcome of ROW_OUTCOMES) {
      const n = counts[outcome] ?? 0;
      if (n > 0) rows.add(n, { activation, op, outcome });
    }
  }
  if (s.rejected > 0)
    m.counter(METRICS.rowsRejected, 'Model rows rejected before any write (null, too long or repeated key)').add(s.rejected, {
      activation,
    });
  const started = Date.parse(s.startedAt);
  const finished = (s.finishedAt && Date.parse(s.finishedAt)) || Date.now();
  m.gauge(METRICS.deletesHeld, 'Deletions the latest run held for approval').set(s.heldDeletes, { activation });
  m.timestamp(METRICS.deletesHeldTimestamp, 'When the commit that set syncline_deletes_held finished').set(finished / 1000, {
    activation,
  });
  if (Number.isFinite(started))
    m.histogram(METRICS.runDuration, 'Run duration, start to commit').record(Math.max(0, finished - started) / 1000, {
      activation,
      outcome: s.status,
    });
}

/** How late a scheduled run started. Recorded on the first attempt of its prepareRun only. */
export function recordScheduleLag(activation: string, scheduledAt: string): void {
  const m = instruments();
  const at = Date.parse(scheduledAt);
  if (!m || !Number.isFinite(at) || Context.current().info.attempt > 1) return;
  m.histogram(METRICS.scheduleLag, 'Scheduled run start minus its scheduled time').record(Math.max(0, Date.now() - at) / 1000, {
    activation,
  });
}

export function recordChunkWrite(activation: string, destination: string, op: string, seconds: number): void {
  instruments()
    ?.histogram(METRICS.chunkWrite, 'One writeChunk or pollChunk activity')
    .record(Math.max(0, seconds), { activation, destination, op });
}

/** The quota read after a run, and when (`syncline_destination_quota_timestamp_seconds`, see recordCommittedRun). */
export function recordQuota(activation: string, destination: string, quota: { used: number; max: number }): void {
  const m = instruments();
  if (!m) return;
  const at = Date.now() / 1000;
  m.gauge(METRICS.quotaRemaining, 'API calls left in the destination quota').set(Math.max(0, quota.max - quota.used), {
    activation,
    destination,
  });
  m.gauge(METRICS.quotaLimit, 'The destination API quota').set(quota.max, { activation, destination });
  m.timestamp(METRICS.quotaTimestamp, 'When the destination quota gauges were read').set(at, { activation, destination });
}
