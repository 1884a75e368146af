/**
 * What syncline's recorders hand the SDK's metric meter from an activity: names from common/metrics.ts,
 * bounded labels, one sample per committed run. Outside an activity they record nothing and never throw.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter, MetricTags } from '@temporalio/common';
import { recordApiCall, recordCommittedRun, recordQuota, recordScheduleLag } from '../../activities/metrics';
import { LATEST_QUERIES, METRICS } from '../../common/metrics';
import dashboard from '../../docs/monitoring/grafana-dashboard.json';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunSummary } from '../../common/run';

interface Sample {
  kind: string;
  name: string;
  value: number;
  tags: MetricTags;
}

/** A meter that keeps what it is given. */
function recordingMeter(samples: Sample[], base: MetricTags = {}): MetricMeter {
  const metric = <T>(kind: 'counter' | 'histogram' | 'gauge', name: string, tags: MetricTags): T =>
    ({
      name,
      kind,
      valueType: 'int',
      add: (value: number, extra?: MetricTags) => samples.push({ kind, name, value, tags: { ...tags, ...extra } }),
      record: (value: number, extra?: MetricTags) => samples.push({ kind, name, value, tags: { ...tags, ...extra } }),
      set: (value: number, extra?: MetricTags) => samples.push({ kind, name, value, tags: { ...tags, ...extra } }),
      withTags: (more: MetricTags) => metric(kind, name, { ...tags, ...more }),
    }) as T;
  return {
    createCounter: (name) => metric<MetricCounter>('counter', name, base),
    createHistogram: (name) => metric<MetricHistogram>('histogram', name, base),
    createGauge: (name) => metric<MetricGauge>('gauge', name, base),
    withTags: (tags) => recordingMeter(samples, { ...base, ...tags }),
  };
}

const summary: RunSummary = {
  activationId: 'contacts',
  runNumber: 7,
  trigger: 'schedule',
  mode: 'mirror',
  full: false,
  status: 'partial',
  startedAt: '2026-01-01T10:00:00.000Z',
  finishedAt: '2026-01-01T10:01:30.000Z',
  modelRows: 1000,
  ops: {
    upsert: { planned: 120, succeeded: 118, failed: 2, skipped: 0, held: 0 },
    delete: { planned: 40, succeeded: 0, failed: 0, skipped: 0, held: 40 },
  },
  rejected: 3,
  heldDeletes: 40,
  attributesCreated: [],
  warnings: [],
};

const ours = (samples: Sample[]) =>
  samples
    .filter((s) => s.name.startsWith('syncline_'))
    .map(({ kind, name, value, tags }) => ({
      kind,
      name,
      value,
      tags: Object.fromEntries(Object.entries(tags).filter(([k]) => !['namespace', 'taskQueue', 'activityType'].includes(k))),
    }));

test('a committed run: rows by op and outcome (non-zero only), rejected rows, held deletions, duration by outcome', async () => {
  const samples: Sample[] = [];
  await new MockActivityEnvironment({}, { metricMeter: recordingMeter(samples) }).run(async () => recordCommittedRun(summary));
  expect(ours(samples)).toEqual([
    { kind: 'counter', name: METRICS.rows, value: 118, tags: { activation: 'contacts', op: 'upsert', outcome: 'succeeded' } },
    { kind: 'counter', name: METRICS.rows, value: 2, tags: { activation: 'contacts', op: 'upsert', outcome: 'failed' } },
    { kind: 'counter', name: METRICS.rows, value: 40, tags: { activation: 'contacts', op: 'delete', outcome: 'held' } },
    { kind: 'counter', name: METRICS.rowsRejected, value: 3, tags: { activation: 'contacts' } },
    { kind: 'gauge', name: METRICS.deletesHeld, value: 40, tags: { activation: 'contacts' } },
    { kind: 'gauge', name: METRICS.deletesHeldTimestamp, value: Date.parse(summary.finishedAt!) / 1000, tags: { activation: 'contacts' } },
    { kind: 'histogram', name: METRICS.runDuration, value: 90, tags: { activation: 'contacts', outcome: 'partial' } },
  ]);
});

// Seen failing before `unsent` was one of ROW_OUTCOMES: no sample for the 30 rows, which the run summary
// counts (before the write mark, such rows were counted failed).
test('rows a run never sent (their chunk never begun) are counted under outcome unsent, as in the run summary', async () => {
  const samples: Sample[] = [];
  const failedEarly: RunSummary = {
    ...summary,
    status: 'failed',
    ops: { upsert: { planned: 50, succeeded: 20, failed: 0, skipped: 0, held: 0, unsent: 30 } },
    heldDeletes: 0,
    rejected: 0,
  };
  await new MockActivityEnvironment({}, { metricMeter: recordingMeter(samples) }).run(async () => recordCommittedRun(failedEarly));
  expect(ours(samples).filter((x) => x.name === METRICS.rows)).toEqual([
    { kind: 'counter', name: METRICS.rows, value: 20, tags: { activation: 'contacts', op: 'upsert', outcome: 'succeeded' } },
    { kind: 'counter', name: METRICS.rows, value: 30, tags: { activation: 'contacts', op: 'upsert', outcome: 'unsent' } },
  ]);
});

test('deletions kept for a case variant of their key are counted under outcome kept, not succeeded', async () => {
  const samples: Sample[] = [];
  const kept: RunSummary = {
    ...summary,
    status: 'success',
    ops: { delete: { planned: 3, succeeded: 1, failed: 0, skipped: 0, held: 0, kept: 2 } },
    heldDeletes: 0,
    rejected: 0,
  };
  await new MockActivityEnvironment({}, { metricMeter: recordingMeter(samples) }).run(async () => recordCommittedRun(kept));
  expect(ours(samples).filter((x) => x.name === METRICS.rows)).toEqual([
    { kind: 'counter', name: METRICS.rows, value: 1, tags: { activation: 'contacts', op: 'delete', outcome: 'succeeded' } },
    { kind: 'counter', name: METRICS.rows, value: 2, tags: { activation: 'contacts', op: 'delete', outcome: 'kept' } },
  ]);
});

/**
 * Two workers, each with its own registry (as two worker processes export): what a Prometheus scrape of
 * each holds of a gauge set after runs, the scrape's `instance` label added. Keeps the last value set per
 * series, as a gauge does.
 */
async function worker(instance: string, record: () => void): Promise<Sample[]> {
  const samples: Sample[] = [];
  await new MockActivityEnvironment({}, { metricMeter: recordingMeter(samples, { namespace: 'default', taskQueue: 'syncline' }) }).run(
    async () => record(),
  );
  const last = new Map<string, Sample>();
  for (const x of samples) {
    const labels = { ...x.tags, instance };
    last.set(`${x.name}${JSON.stringify(Object.entries(labels).sort())}`, { ...x, tags: labels });
  }
  return [...last.values()].filter((x) => x.name.startsWith('syncline_'));
}

/**
 * What LATEST_QUERIES compute, step by step, on the series of every worker: per group (`by`), the series
 * of `stamp` whose value is the newest; the series of `value` with exactly its labels (PromQL's `and`);
 * then `agg` over them.
 */
function latest(all: Sample[], value: (labels: MetricTags) => number | undefined, stamp: string, by: string[], agg: 'max' | 'min') {
  const key = (t: MetricTags) => JSON.stringify(by.map((b) => t[b]));
  const stamps = all.filter((x) => x.name === stamp);
  const newest = new Map<string, number>();
  for (const x of stamps) newest.set(key(x.tags), Math.max(newest.get(key(x.tags)) ?? -Infinity, x.value));
  const out = new Map<string, number>();
  for (const x of stamps.filter((x) => x.value === newest.get(key(x.tags)))) {
    const v = value(x.tags);
    if (v === undefined) continue;
    const k = key(x.tags);
    out.set(k, out.has(k) ? Math[agg](out.get(k)!, v) : v);
  }
  return Object.fromEntries(out);
}

describe('gauges set after runs, with several workers: the latest observation wins, whichever worker made it', () => {
  const valueOf = (all: Sample[], name: string) => (labels: MetricTags) =>
    all.find((x) => x.name === name && JSON.stringify(Object.entries(x.tags).sort()) === JSON.stringify(Object.entries(labels).sort()))
      ?.value;

  test.each([
    ["approved and applied on the other worker: 0, not the first worker's 40", 'b', 0],
    ["held again on the first worker after the other's run: 40", 'a', 40],
  ])('deletions held: %s', async (_label, lastWorker, expected) => {
    const held = { ...summary, runNumber: 7, heldDeletes: 40, finishedAt: '2026-01-01T10:01:30.000Z' };
    const applied = { ...summary, runNumber: 8, heldDeletes: 0, finishedAt: '2026-01-01T11:00:00.500Z' };
    const heldLater = { ...summary, runNumber: 9, heldDeletes: 40, finishedAt: '2026-01-01T12:00:00.000Z' };
    const a = await worker('worker-a:9464', () => {
      recordCommittedRun(held);
      if (lastWorker === 'a') recordCommittedRun(heldLater);
    });
    const b = await worker('worker-b:9464', () => recordCommittedRun(applied));
    const all = [...a, ...b];
    // Each worker exports the value of the last commit it made, under the same labels as its timestamp.
    for (const w of [a, b])
      expect(w.filter((x) => x.name === METRICS.deletesHeld).map((x) => x.tags)).toEqual(
        w.filter((x) => x.name === METRICS.deletesHeldTimestamp).map((x) => x.tags),
      );
    // What the dashboard read before: the largest of the workers' values, stale or not.
    expect(Math.max(...all.filter((x) => x.name === METRICS.deletesHeld).map((x) => x.value))).toBe(40);
    expect(latest(all, valueOf(all, METRICS.deletesHeld), METRICS.deletesHeldTimestamp, ['activation'], 'max')).toEqual({
      '["contacts"]': expected,
    });
  });

  test('quota: read low by one worker, read again after the reset by the other: the fresh share', async () => {
    const realNow = Date.now;
    try {
      Date.now = () => Date.parse('2026-01-01T23:50:00.000Z');
      const a = await worker('worker-a:9464', () => recordQuota('contacts', 'salesforce', { used: 99_000, max: 100_000 }));
      Date.now = () => Date.parse('2026-01-02T00:10:00.000Z');
      const b = await worker('worker-b:9464', () => recordQuota('contacts', 'salesforce', { used: 500, max: 100_000 }));
      const all = [...a, ...b];
      const share = (labels: MetricTags) => {
        const r = valueOf(all, METRICS.quotaRemaining)(labels);
        const l = valueOf(all, METRICS.quotaLimit)(labels);
        return r === undefined || l === undefined ? undefined : r / l;
      };
      const before = Math.min(...[a, b].map((w) => w.find((x) => x.name === METRICS.quotaRemaining)!.value / 100_000));
      expect(before).toBe(0.01);
      expect(latest(all, share, METRICS.quotaTimestamp, ['activation', 'destination'], 'min')).toEqual({
        '["contacts","salesforce"]': 0.995,
      });
      expect(b.find((x) => x.name === METRICS.quotaTimestamp)!.value).toBe(Date.parse('2026-01-02T00:10:00.000Z') / 1000);
    } finally {
      Date.now = realNow;
    }
  });

  test('docs/monitoring/latest-queries.test.yml (promtool) tests LATEST_QUERIES as they are', () => {
    const yml = readFileSync(path.join(__dirname, '../../docs/monitoring/latest-queries.test.yml'), 'utf8');
    const exprs = [...yml.matchAll(/- expr: (".*")$/gm)].map((m) => JSON.parse(m[1]!) as string);
    for (const q of Object.values(LATEST_QUERIES)) expect(exprs).toContain(q.replaceAll('$activation', '.*'));
  });

  test('the dashboard reads both gauges with LATEST_QUERIES', () => {
    const exprs = (dashboard as { panels: Array<{ title?: string; targets?: Array<{ expr: string }> }> }).panels.flatMap((p) =>
      (p.targets ?? []).map((t) => t.expr),
    );
    expect(exprs).toContain(LATEST_QUERIES.deletesHeld);
    expect(exprs).toContain(LATEST_QUERIES.quotaLeft);
    // No other panel reads them without the timestamp.
    for (const e of exprs.filter((e) => /syncline_deletes_held|syncline_destination_quota_remaining/.test(e)))
      expect([LATEST_QUERIES.deletesHeld, LATEST_QUERIES.quotaLeft]).toContain(e);
  });
});

test('recordApiCall counts one request under its destination and kind', async () => {
  const samples: Sample[] = [];
  await new MockActivityEnvironment({}, { metricMeter: recordingMeter(samples) }).run(async () => {
    recordApiCall('salesforce', 'composite');
    recordApiCall('salesforce', 'composite');
    recordApiCall('actito', 'auth');
  });
  expect(ours(samples)).toEqual([
    { kind: 'counter', name: METRICS.apiCalls, value: 1, tags: { destination: 'salesforce', kind: 'composite' } },
    { kind: 'counter', name: METRICS.apiCalls, value: 1, tags: { destination: 'salesforce', kind: 'composite' } },
    { kind: 'counter', name: METRICS.apiCalls, value: 1, tags: { destination: 'actito', kind: 'auth' } },
  ]);
});

test('schedule lag is sampled on the first attempt of prepareRun only', async () => {
  const samples: Sample[] = [];
  const at = new Date(Date.now() - 5000).toISOString();
  await new MockActivityEnvironment({ attempt: 1 }, { metricMeter: recordingMeter(samples) }).run(async () =>
    recordScheduleLag('contacts', at),
  );
  await new MockActivityEnvironment({ attempt: 2 }, { metricMeter: recordingMeter(samples) }).run(async () =>
    recordScheduleLag('contacts', at),
  );
  const lag = ours(samples);
  expect(lag).toHaveLength(1);
  expect(lag[0]).toMatchObject({ kind: 'histogram', name: METRICS.scheduleLag, tags: { activation: 'contacts' } });
  expect(lag[0]!.value).toBeGreaterThanOrEqual(5);
});

test('outside an activity nothing is recorded, and nothing throws', () => {
  expect(() => {
    recordApiCall('salesforce', 'composite');
    recordCommittedRun(summary);
    recordScheduleLag('contacts', new Date().toISOString());
  }).not.toThrow();
});
