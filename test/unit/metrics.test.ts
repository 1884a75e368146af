/**
 * What syncline's recorders hand the SDK's metric meter from an activity: names from common/metrics.ts,
 * bounded labels, one sample per committed run. Outside an activity they record nothing and never throw.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter, MetricTags } from '@temporalio/common';
import { recordApiCall, recordCommittedRun, recordScheduleLag } from '../../activities/metrics';
import { METRICS } from '../../common/metrics';
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
    { kind: 'histogram', name: METRICS.runDuration, value: 90, tags: { activation: 'contacts', outcome: 'partial' } },
  ]);
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
