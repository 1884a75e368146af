/**
 * A `resync` signal that reaches the activation in the same workflow task as its schedule's fire (here: the
 * fire came due and the signal arrived while no worker polled, so the next workflow task carries both) is one
 * run: the run asked for serves the fire too, and the schedule carries on from that fire. That run records the
 * fire it served (its `scheduled_at`), so a stop and a start before the next fire carry on from it too.
 */
import type { Client } from '@temporalio/client';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { SynclineClient } from '../../client';
import { activationWorkflowId, WORKFLOW_TYPES } from '../../common/names';
import { resyncSignal, statusQuery } from '../../workflows/messages';
import type pg from 'pg';

const TQ = uniqueName('tq_resyncfire');
let worker: RunningWorker | undefined;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  worker = await startWorker({ taskQueue: TQ });
  client = await testClient();
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await client?.connection.close();
  await db?.end();
});

const runs = async (id: string) =>
  (await db.query(`SELECT run_number, trigger, status FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`, [id]))
    .rows as Array<{
    run_number: number;
    trigger: string;
    status: string;
  }>;

test('a resync signal and the schedule fire in one workflow task: one run, not a resync run and a scheduled run back to back', async () => {
  const id = uniqueName('resyncfire');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { every: '30s' },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  // The first fire, at once; then the activation waits for the next, 30 s later.
  const fireAt = await waitFor(
    'the first run, then the timer of the next fire',
    async () => {
      const s = await h.query(statusQuery);
      return s.state === 'idle' && s.lastRuns.length === 1 && s.nextRunAt !== null && Date.parse(s.nextRunAt);
    },
    30_000,
  );

  // No worker while the fire comes due and the signal arrives: the next workflow task carries both.
  await worker!.stop();
  worker = undefined;
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt - Date.now()) + 1500));
  await h.signal(resyncSignal, { reason: 'asked as the fire came due' });
  worker = await startWorker({ taskQueue: TQ });

  await waitFor('the run after the restart', async () => (await runs(id)).filter((r) => r.status !== 'running').length >= 2, 30_000);
  // Well before the fire after (fireAt + 30 s): a scheduled run now would be the same fire run a second time.
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt + 15_000 - Date.now())));
  expect((await runs(id)).map((r) => r.trigger)).toEqual(['schedule', 'manual']);
  const s = await h.query(statusQuery);
  expect(Date.parse(s.nextRunAt!)).toBe(fireAt + 30_000);
});

test('started with a resync (signal-with-start): its first fire, due at once, and the resync are one run', async () => {
  const id = uniqueName('resyncstart');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.signalWithStart(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { every: '1h' },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
    signal: resyncSignal,
    signalArgs: [{ reason: 'started with a sync' }],
  });
  await waitFor('the first run', async () => (await runs(id)).some((r) => r.status !== 'running'), 30_000);
  await new Promise((r) => setTimeout(r, 3000));
  expect((await runs(id)).map((r) => r.trigger)).toEqual(['manual']);
  const s = await h.query(statusQuery);
  expect(s.state).toBe('idle');
  expect(Date.parse(s.nextRunAt!)).toBeGreaterThan(Date.now() + 50 * 60_000);
});

test('a resync that served the due fire, then a stop and a start before the next fire: no run at once', async () => {
  const id = uniqueName('resyncrestart');
  const EVERY = 20_000;
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const config = {
    id,
    mode: 'upsert',
    schedule: { every: '20s' },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  const syncline = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await syncline.start(config);
  const fireAt = await waitFor(
    'the first run, then the timer of the next fire',
    async () => {
      const s = await h.query(statusQuery);
      return s.state === 'idle' && s.lastRuns.length === 1 && s.nextRunAt !== null && Date.parse(s.nextRunAt);
    },
    30_000,
  );

  // No worker while the fire comes due and the signal arrives: one run serves both.
  await worker!.stop();
  worker = undefined;
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt - Date.now()) + 1500));
  await h.signal(resyncSignal, { reason: 'asked as the fire came due' });
  worker = await startWorker({ taskQueue: TQ });
  await waitFor('the run after the restart', async () => (await runs(id)).filter((r) => r.status !== 'running').length >= 2, 30_000);
  expect((await runs(id)).map((r) => r.trigger)).toEqual(['schedule', 'manual']);

  await syncline.stop(id, { wait: true, reason: 'restarted before the next fire' });
  await syncline.start(config);
  await waitFor('the started execution waiting', async () => (await h.query(statusQuery)).state === 'idle', 30_000);
  await new Promise((r) => setTimeout(r, 3000));
  expect(Date.now()).toBeLessThan(fireAt + EVERY - 1000); // still before the next fire: what ran came early
  expect((await runs(id)).map((r) => r.run_number)).toEqual([1, 2]); // no run at once on the start
  expect(Date.parse((await h.query(statusQuery)).nextRunAt!)).toBe(fireAt + EVERY);
  // The resync's run records the fire it served; its trigger stays what was asked.
  const served = await db.query(
    `SELECT trigger, extract(epoch FROM scheduled_at) * 1000 AS scheduled FROM syncline.runs WHERE activation_id = $1 AND run_number = 2`,
    [id],
  );
  expect({ trigger: served.rows[0].trigger, scheduled: Number(served.rows[0].scheduled) }).toEqual({
    trigger: 'manual',
    scheduled: fireAt,
  });
  await syncline.stop(id, { wait: true, reason: 'test done' });
});
