/**
 * The activation as engineers drive it: started with the real `temporal` CLI (--input-file), runs on
 * its interval as child workflows, `resync` sent with the CLI runs at once, `pause` stops scheduling,
 * and an invalid document fails at once listing every bad path.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, env, type RunningWorker } from '../support/harness';
import { findTemporalCli } from '../../scripts/services/temporal';
import { sentAgainWhileClosing } from '../../client';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { pauseSignal, resumeSignal, resyncSignal, statusQuery } from '../../workflows/messages';

const run = promisify(execFile);
const TQ = uniqueName('tq_cli');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-cli-'));

async function temporal(...args: string[]): Promise<string> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('the temporal CLI is needed: npm run temporal:install');
  const { stdout } = await run(cli, [...args, '--address', env().address], { timeout: 30_000 });
  return stdout;
}

/**
 * `temporal workflow signal` as the README says to use it: a signal that meets the activation while it
 * continues as new is refused with "workflow is closing" (not delivered) and is sent again.
 */
function signal(...args: string[]): Promise<string> {
  return sentAgainWhileClosing(() => temporal('workflow', 'signal', ...args));
}

function writeConfig(doc: unknown): string {
  const file = path.join(tmp, `${uniqueName('a')}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

async function runCount(id: string): Promise<number> {
  return Number(
    (await db.query(`SELECT count(*) AS n FROM syncline.runs WHERE activation_id = $1 AND status <> 'running'`, [id])).rows[0].n,
  );
}

function activation(id: string, schedule: unknown, connection = 'testdb') {
  return {
    id,
    mode: 'upsert',
    schedule,
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection, object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  };
}

beforeAll(async () => {
  // testdb_slow: 5 s per written batch, so that requests sent during a run find it under way.
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, connections: { testdb_slow: { url: env().databaseUrl, delayMs: 5000 } } }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

test('started with the temporal CLI, it runs on its interval, each run a child workflow; pause stops scheduling', async () => {
  const id = uniqueName('every');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
  await temporal(
    'workflow',
    'start',
    '--task-queue',
    TQ,
    '--type',
    WORKFLOW_TYPES.activation,
    '--workflow-id',
    activationWorkflowId(id),
    '--input-file',
    writeConfig(activation(id, { every: '2s' })),
  );
  await waitFor('three scheduled runs', async () => (await runCount(id)) >= 3, 60_000);
  const child = await client.workflow.getHandle(runWorkflowId(id, 2)).describe();
  expect(child.type).toBe(WORKFLOW_TYPES.syncRun);
  expect(child.parentExecution?.workflowId).toBe(activationWorkflowId(id));
  const triggers = (await db.query(`SELECT DISTINCT trigger FROM syncline.runs WHERE activation_id = $1`, [id])).rows.map((r) => r.trigger);
  expect(triggers).toEqual(['schedule']);
  // Each scheduled run records the time it was due, and starts after it (schedule lag is measurable).
  const lag = await db.query(
    `SELECT run_number, extract(epoch FROM started_at - scheduled_at) AS lag FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`,
    [id],
  );
  expect(lag.rows.length).toBeGreaterThanOrEqual(3);
  for (const r of lag.rows) {
    expect(r.lag).not.toBeNull();
    expect(Number(r.lag)).toBeGreaterThanOrEqual(0);
  }

  await temporal(
    'workflow',
    'signal',
    '--workflow-id',
    activationWorkflowId(id),
    '--name',
    pauseSignal.name,
    '--input',
    '{"reason":"maintenance"}',
  );
  await waitFor(
    'paused',
    async () =>
      JSON.parse(await temporal('workflow', 'query', '--workflow-id', activationWorkflowId(id), '--name', statusQuery.name, '-o', 'json'))
        .queryResult[0].state === 'paused',
  );
  const atPause = await runCount(id);
  await new Promise((r) => setTimeout(r, 6000));
  expect(await runCount(id)).toBeLessThanOrEqual(atPause + 1); // a run already under way may finish
  const settled = await runCount(id);
  await new Promise((r) => setTimeout(r, 4000));
  expect(await runCount(id)).toBe(settled);

  await temporal('workflow', 'signal', '--workflow-id', activationWorkflowId(id), '--name', resumeSignal.name);
  await waitFor('scheduling again after resume', async () => (await runCount(id)) > settled, 30_000);
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('a resync signal sent with the CLI runs at once; runs never overlap and requests coalesce', async () => {
  const id = uniqueName('manual');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 50) g`);
  await temporal(
    'workflow',
    'start',
    '--task-queue',
    TQ,
    '--type',
    WORKFLOW_TYPES.activation,
    '--workflow-id',
    activationWorkflowId(id),
    '--input-file',
    writeConfig(activation(id, { manual: true }, 'testdb_slow')),
  );
  await new Promise((r) => setTimeout(r, 2000));
  expect(await runCount(id)).toBe(0); // manual: nothing runs by itself
  await temporal(
    'workflow',
    'signal',
    '--workflow-id',
    activationWorkflowId(id),
    '--name',
    resyncSignal.name,
    '--input',
    '{"reason":"from the CLI"}',
  );
  await waitFor('the re-sync run', async () => (await runCount(id)) === 1, 30_000);
  const dest = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id]);
  expect(dest.rows[0].n).toBe(50);

  // Three requests while idle or running become at most two runs (one now, one coalesced after it). Full
  // re-syncs, so each run writes (5 s on testdb_slow): the three CLI processes, started at once but some
  // hundreds of ms apart on a loaded machine, all meet the first run under way. (Runs with nothing to write
  // end in a quarter of a second: requests that far apart would each find the activation idle, and each be
  // a run of its own, as they should.)
  await Promise.all(
    [1, 2, 3].map(() => signal('--workflow-id', activationWorkflowId(id), '--name', resyncSignal.name, '--input', '{"full":true}')),
  );
  await waitFor('coalesced runs', async () => (await runCount(id)) >= 2, 30_000);
  // Long enough for two more runs of 5 s: requests that did not coalesce would have started them.
  await new Promise((r) => setTimeout(r, 12_000));
  expect(await runCount(id)).toBeLessThanOrEqual(3);
  const overlaps = await db.query(
    `SELECT count(*)::int AS n FROM syncline.runs a JOIN syncline.runs b ON a.activation_id = b.activation_id AND a.run_number < b.run_number
    WHERE a.activation_id = $1 AND b.started_at < a.finished_at`,
    [id],
  );
  expect(overlaps.rows[0].n).toBe(0);
  const status = JSON.parse(
    await temporal('workflow', 'query', '--workflow-id', activationWorkflowId(id), '--name', statusQuery.name, '-o', 'json'),
  ).queryResult[0];
  expect(status.lastRuns.length).toBeGreaterThanOrEqual(2);
  expect(status.lastRuns[0]).toMatchObject({ runNumber: 1, trigger: 'manual', status: 'success' });
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('an invalid document fails the workflow at once, listing every problem with its path', async () => {
  const id = uniqueName('bad');
  const file = writeConfig({
    id,
    mode: 'merge',
    schedule: { every: 'often' },
    source: { key: 'id' },
    destination: { kind: 'testdb' },
    mappings: [],
  });
  await temporal(
    'workflow',
    'start',
    '--task-queue',
    TQ,
    '--type',
    WORKFLOW_TYPES.activation,
    '--workflow-id',
    activationWorkflowId(id),
    '--input-file',
    file,
  );
  const err = await client.workflow
    .getHandle(activationWorkflowId(id))
    .result()
    .catch((e: Error & { cause?: Error }) => e);
  const message = (err as Error & { cause?: Error }).cause?.message ?? '';
  for (const p of ['mode', 'schedule', 'source', 'destination.connection', 'destination.key', 'mappings'])
    expect(message).toContain(`- ${p}`);
  const desc = await client.workflow.getHandle(activationWorkflowId(id)).describe();
  expect(desc.status.name).toBe('FAILED');
  expect(desc.historyLength ?? 99).toBeLessThan(10); // failed in its first workflow task, nothing ran
});
