/**
 * The worker's Prometheus endpoint (SYNCLINE_METRICS_ADDRESS), scraped during and after a scheduled run:
 * the schedule-lag sample is there while the run writes, and once it has committed, the row counters
 * equal the run summary (by op and outcome), as do rejected rows, the run's duration sample and held
 * deletions. A Salesforce run in Bulk API 2.0 (the emulator over HTTP) shows the bulk job wait, chunk
 * latencies, the quota read after the run and the API calls by kind, equal to the requests the emulator
 * logged. The worker runs in its own process: the SDK's runtime (and its exporter) is one per process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, sqlClient, testClient, uniqueName, waitFor } from '../support/harness';
import { setupTestDestination } from '../support/testdb-connector';
import { freePort } from '../../scripts/services/ports';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { METRICS } from '../../common/metrics';
import type { RunSummary } from '../../common/run';
import { statusQuery, triggerSyncUpdate } from '../../workflows/messages';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { emulatorAdmin } from '../support/emulator-admin';

const ROOT = path.resolve(__dirname, '../..');
const TQ = uniqueName('tq_metrics');
let client: Client;
let db: pg.Pool;
let worker: ChildProcess | undefined;
let metricsUrl: string;
let emu: SalesforceEmulator;
const DAILY_API_LIMIT = 54321;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, sample lines only. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(): Promise<Sample[]> {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  return parseMetrics(await res.text());
}

/** The sum over every series of `name` whose labels include `where` (activity tags split series further). */
function total(samples: Sample[], name: string, where: Record<string, string>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/**
 * A gauge set after runs has a `_timestamp_seconds` twin with exactly its labels (PromQL's `and` in
 * LATEST_QUERIES matches on all of them), holding a time within a minute of `near` (an ISO time).
 */
function expectTimestampTwin(samples: Sample[], name: string, twin: string, where: Record<string, string>, near: string): void {
  const of = (n: string) => samples.filter((s) => s.name === n && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  const values = of(name);
  const stamps = of(twin);
  expect(values.length).toBeGreaterThan(0);
  expect(stamps.map((s) => s.labels)).toEqual(values.map((s) => s.labels));
  for (const s of stamps) expect(Math.abs(s.value - Date.parse(near) / 1000)).toBeLessThan(60);
}

/** Label values never carry row keys or messages: only the bounded labels and the SDK's tags appear. */
function expectBoundedLabels(samples: Sample[]): void {
  const labelNames = new Set(samples.filter((s) => s.name.startsWith('syncline_')).flatMap((s) => Object.keys(s.labels)));
  expect(labelNames.has('activation')).toBe(true);
  for (const l of labelNames)
    expect([
      'activation',
      'op',
      'outcome',
      'destination',
      'kind',
      'le',
      'namespace',
      'taskQueue',
      'activityType',
      'workflowType',
    ]).toContain(l);
}

beforeAll(async () => {
  client = await testClient();
  db = sqlClient();
  const { address, databaseUrl } = env();
  await setupTestDestination(databaseUrl);
  // Bulk jobs stay in progress for a while: the run's chunks are pending, then polled.
  emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 1500, dailyApiLimit: DAILY_API_LIMIT });
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  const bind = `127.0.0.1:${await freePort()}`;
  metricsUrl = `http://${bind}/metrics`;
  worker = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/worker-process.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: databaseUrl,
      SYNCLINE_TASK_QUEUE: TQ,
      SYNCLINE_METRICS_ADDRESS: bind,
      SYNCLINE_CONNECTIONS: JSON.stringify({ slowdb: { url: databaseUrl, delayMs: 100, batchSize: 25 }, sf }),
    },
  });
  await new Promise<void>((resolve, reject) => {
    worker!.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('WORKER READY')) resolve();
    });
    worker!.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}, 180_000);
afterAll(async () => {
  if (worker?.exitCode === null) worker.kill('SIGKILL');
  await db?.end();
  await client?.connection.close();
  await emu?.close();
});

test('counters equal the run summary; a scheduled run leaves a schedule-lag sample', async () => {
  const id = uniqueName('metrics');
  // 600 rows, 3 of them without a key (rejected); the destination refuses 2 keys for good.
  await db.query(
    `CREATE TABLE public.${id} AS SELECT CASE WHEN g % 200 = 0 THEN NULL ELSE g END AS id, 'Name ' || g AS name FROM generate_series(1, 600) g`,
  );
  await db.query(`INSERT INTO test_dest.faults (object, key, code) VALUES ($1, '17', 'INVALID_FIELD'), ($1, '333', 'INVALID_FIELD')`, [id]);
  const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { every: '1h' },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 100 } },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  try {
    // During the run: rows are reaching the destination, nothing is committed yet.
    await waitFor(
      'rows written',
      async () => Number((await db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n) > 0,
      120_000,
      50,
    );
    const during = await scrape();
    const committedAlready =
      (await db.query(`SELECT status FROM syncline.runs WHERE activation_id = $1`, [id])).rows[0]?.status !== 'running';
    expect(total(during, `${METRICS.scheduleLag}_count`, { activation: id })).toBe(1);
    if (!committedAlready) expect(total(during, METRICS.rows, { activation: id })).toBe(0);
    // The SDK's own runtime metrics come out of the same endpoint.
    expect(during.some((s) => s.name.startsWith('temporal_'))).toBe(true);

    const summary = await waitFor(
      'the scheduled run to finish',
      async () => (await handle.query(statusQuery)).lastRuns.find((r: RunSummary) => r.runNumber === 1),
      120_000,
    );
    expect(summary.trigger).toBe('schedule');
    expect(summary.status).toBe('partial');
    expect(summary.rejected).toBe(3);
    expect(summary.ops.upsert).toMatchObject({ planned: 597, succeeded: 595, failed: 2 });

    const after = await scrape();
    for (const [op, counts] of Object.entries(summary.ops)) {
      for (const outcome of ['succeeded', 'failed', 'skipped', 'held'] as const) {
        expect({ op, outcome, value: total(after, METRICS.rows, { activation: id, op, outcome }) }).toEqual({
          op,
          outcome,
          value: counts[outcome],
        });
      }
    }
    expect(total(after, METRICS.rowsRejected, { activation: id })).toBe(summary.rejected);
    expect(total(after, `${METRICS.runDuration}_count`, { activation: id, outcome: 'partial' })).toBe(1);
    expect(total(after, METRICS.deletesHeld, { activation: id })).toBe(0);
    // With it, when the commit finished (the dashboard takes the latest worker's): under the same labels.
    expectTimestampTwin(after, METRICS.deletesHeld, METRICS.deletesHeldTimestamp, { activation: id }, summary.finishedAt!);
    expect(total(after, `${METRICS.scheduleLag}_count`, { activation: id })).toBe(1);
    // Every chunk write was timed (6 chunks of at most 100 rows, a few re-sent for the failed keys).
    expect(total(after, `${METRICS.chunkWrite}_count`, { activation: id, destination: 'testdb', op: 'upsert' })).toBeGreaterThanOrEqual(6);
    expectBoundedLabels(after);
  } finally {
    await handle.terminate('test over');
  }
}, 300_000);

test('a Salesforce Bulk API run: bulk job wait, chunk latency and the quota left', async () => {
  const id = uniqueName('metrics_sf');
  await db.query(
    `CREATE TABLE public.${id} AS SELECT '${id.toUpperCase()}-' || g AS id, 'Name ' || g AS last_name FROM generate_series(1, 400) g`,
  );
  const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'id' },
          destination: {
            kind: 'salesforce',
            connection: 'sf',
            object: 'Contact',
            key: 'External_Id__c',
            options: { bulkThreshold: 300, bulkPollMs: 0 },
          },
          mappings: [
            { from: 'id', to: 'External_Id__c' },
            { from: 'last_name', to: 'LastName' },
          ],
        },
      },
    ],
  });
  try {
    const summary = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(summary).toMatchObject({ status: 'success', ops: { upsert: { succeeded: 400 } } });
    const { requests, apiUsed, counts } = await emulatorAdmin<{
      requests: Array<{ path: string }>;
      apiUsed: number;
      counts: { byCategory: Record<string, number> };
    }>(emu.url, '/requests');
    expect(requests.some((r) => r.path.includes('/jobs/ingest'))).toBe(true);

    const after = await scrape();
    const sf = { activation: id, destination: 'salesforce' };
    expect(total(after, METRICS.rows, { activation: id, op: 'upsert', outcome: 'succeeded' })).toBe(400);
    expect(total(after, `${METRICS.bulkJobWait}_count`, sf)).toBeGreaterThanOrEqual(1);
    // Recorded in the run's workflow: it carries the workflow's tags.
    expect(after.find((x) => x.name === `${METRICS.bulkJobWait}_count` && x.labels.activation === id)?.labels.workflowType).toBe(
      'syncRunWorkflow',
    );
    expect(total(after, `${METRICS.chunkWrite}_count`, { ...sf, op: 'upsert' })).toBeGreaterThanOrEqual(2); // the upload, then at least one poll
    // A manual run has no schedule to lag behind.
    expect(total(after, `${METRICS.scheduleLag}_count`, { activation: id })).toBe(0);
    // Read after the run (from the last response's usage header or GET /limits): the emulator's figures.
    expect(total(after, METRICS.quotaLimit, sf)).toBe(DAILY_API_LIMIT);
    const remaining = total(after, METRICS.quotaRemaining, sf);
    expect(remaining).toBeGreaterThanOrEqual(DAILY_API_LIMIT - apiUsed);
    expect(remaining).toBeLessThan(DAILY_API_LIMIT);
    expectTimestampTwin(after, METRICS.quotaRemaining, METRICS.quotaTimestamp, sf, summary.finishedAt!);
    // Every request the emulator saw (this worker is its only client) was counted under its kind; the
    // emulator files them in coarser categories of its own.
    const calls = after.filter((x) => x.name === METRICS.apiCalls && x.labels.destination === 'salesforce');
    const counted: Record<string, number> = {};
    for (const c of calls) counted[c.labels.kind!] = (counted[c.labels.kind!] ?? 0) + c.value;
    expect(counted).toMatchObject({
      auth: 1,
      describe: expect.any(Number),
      bulk_job: expect.any(Number),
      bulk_upload: 1,
      bulk_poll: expect.any(Number),
      bulk_results: expect.any(Number),
    });
    for (const n of Object.values(counted)) expect(n).toBeGreaterThan(0);
    const CATEGORY: Record<string, string> = {
      collections: 'composite',
      bulk_job: 'bulk',
      bulk_upload: 'bulk',
      bulk_poll: 'bulk',
      bulk_results: 'bulk',
    };
    const byCategory: Record<string, number> = {};
    for (const [kind, n] of Object.entries(counted)) byCategory[CATEGORY[kind] ?? kind] = (byCategory[CATEGORY[kind] ?? kind] ?? 0) + n;
    expect(byCategory).toEqual(counts.byCategory);
    expectBoundedLabels(after);
  } finally {
    await handle.terminate('test over');
  }
}, 300_000);
