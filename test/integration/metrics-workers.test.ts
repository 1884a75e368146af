/**
 * Two worker processes, each exporting its own metrics (SYNCLINE_METRICS_ADDRESS): the first commits a run
 * whose deletions the guard holds, then stops polling (its endpoint stays up, as a worker busy elsewhere
 * or idle does); the approval's run commits on the second. The first worker still exports the held
 * deletions: the largest value of all workers, which the dashboard read before, says 10 are held after
 * they were applied. Each value's `_timestamp_seconds` twin says which is newest: the second worker's 0,
 * which is what LATEST_QUERIES keep (common/metrics.ts; their PromQL is tested with promtool in
 * docs/monitoring/latest-queries.test.yml).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, sqlClient, testClient, uniqueName } from '../support/harness';
import { setupTestDestination } from '../support/testdb-connector';
import { freePort } from '../../scripts/services/ports';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { METRICS } from '../../common/metrics';
import { approveDeletesUpdate, triggerSyncUpdate } from '../../workflows/messages';

const ROOT = path.resolve(__dirname, '../..');
const TQ = uniqueName('tq_metrics2');
let client: Client;
let db: pg.Pool;
const workers: ChildProcess[] = [];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

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

/** A worker process on TQ with its own metrics endpoint; resolves once it polls. */
async function startWorker(): Promise<{ proc: ChildProcess; url: string }> {
  const { address, databaseUrl } = env();
  const bind = `127.0.0.1:${await freePort()}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/worker-process.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: databaseUrl,
      SYNCLINE_TASK_QUEUE: TQ,
      SYNCLINE_METRICS_ADDRESS: bind,
      SYNCLINE_TEST_KEEP_UP: '1',
      SYNCLINE_CONNECTIONS: JSON.stringify({ testdb: { url: databaseUrl } }),
    },
  });
  workers.push(proc);
  await lineFrom(proc, 'WORKER READY');
  return { proc, url: `http://${bind}/metrics` };
}

function lineFrom(proc: ChildProcess, text: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes(text)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`worker exited with ${code} before "${text}"`)));
  });
}

async function scrape(url: string, activation: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  // As Prometheus stores a scrape: with the target's `instance` label.
  const instance = new URL(url).host;
  return parseMetrics(await res.text())
    .filter((s) => s.labels.activation === activation)
    .map((s) => ({ ...s, labels: { ...s.labels, instance } }));
}

beforeAll(async () => {
  client = await testClient();
  db = sqlClient();
  await setupTestDestination(env().databaseUrl);
}, 60_000);
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await db?.end();
  await client?.connection.close();
});

test("deletions held on one worker, approved and applied on another: the newest observation is the second worker's 0", async () => {
  const id = uniqueName('metrics_held');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
  const a = await startWorker();
  const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'mirror',
          schedule: { manual: true },
          source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  try {
    expect((await handle.executeUpdate(triggerSyncUpdate, { args: [{}] })).status).toBe('success');
    await db.query(`DELETE FROM public.${id} WHERE id > 10`);
    const held = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(held.heldDeletes).toBe(10);

    // The first worker stops polling; its endpoint stays up. The second takes the approval's run.
    const stopped = lineFrom(a.proc, 'WORKER STOPPED');
    a.proc.kill('SIGUSR2');
    await stopped;
    const b = await startWorker();
    const approval = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }] });
    expect(approval.approved).toBe(10);
    expect(approval.run.heldDeletes).toBe(0);
    expect(approval.run.ops.delete).toMatchObject({ succeeded: 10 });

    const [fromA, fromB] = await Promise.all([scrape(a.url, id), scrape(b.url, id)]);
    const of = (samples: Sample[], name: string) => samples.filter((s) => s.name === name);
    // The first worker still says 10 held: what `max by (activation) (syncline_deletes_held)` showed.
    expect(of(fromA, METRICS.deletesHeld).map((s) => s.value)).toEqual([10]);
    expect(of(fromB, METRICS.deletesHeld).map((s) => s.value)).toEqual([0]);
    expect(Math.max(...[...fromA, ...fromB].filter((s) => s.name === METRICS.deletesHeld).map((s) => s.value))).toBe(10);
    // The twins carry each value's labels, and the second worker's is the newer.
    for (const w of [fromA, fromB])
      expect(of(w, METRICS.deletesHeldTimestamp).map((s) => s.labels)).toEqual(of(w, METRICS.deletesHeld).map((s) => s.labels));
    const [tA] = of(fromA, METRICS.deletesHeldTimestamp).map((s) => s.value);
    const [tB] = of(fromB, METRICS.deletesHeldTimestamp).map((s) => s.value);
    expect(tA).toBeCloseTo(Date.parse(held.finishedAt!) / 1000, 2);
    expect(tB).toBeCloseTo(Date.parse(approval.run.finishedAt!) / 1000, 2);
    expect(tB!).toBeGreaterThan(tA!);
    // What LATEST_QUERIES.deletesHeld keeps: the value under the newest timestamp, 0 (nothing shown).
    const all = [...fromA, ...fromB];
    const newest = Math.max(...of(all, METRICS.deletesHeldTimestamp).map((s) => s.value));
    const latest = of(all, METRICS.deletesHeldTimestamp)
      .filter((s) => s.value === newest)
      .map((t) => of(all, METRICS.deletesHeld).find((v) => JSON.stringify(v.labels) === JSON.stringify(t.labels))!.value);
    expect(latest).toEqual([0]);
  } finally {
    await handle.terminate('test over').catch(() => undefined);
  }
}, 180_000);
