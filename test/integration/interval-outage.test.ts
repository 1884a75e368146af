/**
 * An interval schedule after a worker outage of several intervals: the fire whose timer came due while no
 * worker polled runs once when a worker is back, and it stands for every fire missed meanwhile
 * (workflows/schedule.ts: "missed while the worker was down: run once, now"). The schedule carries on from
 * the latest of them: no second run at once behind the first. Stopped and started again before the next fire, it
 * carries on from that latest fire too, not from the first one the run served (its scheduled_at).
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { SynclineClient } from '../../client';
import { activationWorkflowId, WORKFLOW_TYPES } from '../../common/names';
import { statusQuery } from '../../workflows/messages';

const TQ = uniqueName('tq_outage');
const EVERY = 10_000;
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
  (
    await db.query(
      `SELECT run_number, trigger, status, extract(epoch FROM scheduled_at) * 1000 AS scheduled, extract(epoch FROM started_at) * 1000 AS started
         FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`,
      [id],
    )
  ).rows.map((r) => ({ ...r, scheduled: Number(r.scheduled), started: Number(r.started) })) as Array<{
    run_number: number;
    trigger: string;
    status: string;
    scheduled: number;
    started: number;
  }>;

function activation(id: string) {
  return {
    id,
    mode: 'upsert',
    schedule: { every: '10s' },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  };
}

test('a worker away for 3.5 intervals: one run when it is back, the next one an interval after the latest missed fire', async () => {
  const id = uniqueName('outage');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: activation(id) }],
  });
  const fireAt = await waitFor(
    'the first run, then the timer of the next fire',
    async () => {
      const s = await h.query(statusQuery);
      return s.state === 'idle' && s.lastRuns.length === 1 && s.nextRunAt !== null && Date.parse(s.nextRunAt);
    },
    30_000,
  );

  // No worker while the fires at fireAt, +10 s, +20 s and +30 s come due.
  await worker!.stop();
  worker = undefined;
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt + 3.5 * EVERY - Date.now())));
  worker = await startWorker({ taskQueue: TQ });
  const back = Date.now();

  await waitFor('the run after the outage', async () => (await runs(id)).filter((r) => r.status !== 'running').length >= 2, 30_000);
  // The latest missed fire was fireAt + 30 s: the next is due at fireAt + 40 s. Look just before it.
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt + 4 * EVERY - 1500 - Date.now())));
  const after = (await runs(id)).filter((r) => r.run_number > 1);
  expect(after.map((r) => r.trigger)).toEqual(['schedule']); // one run since the worker came back, not two back to back
  expect(after[0]!.started).toBeGreaterThanOrEqual(back - 1000);
  expect(after[0]!.scheduled).toBe(fireAt); // its lag counts from the first fire it serves
  await waitFor('the next fire', async () => (await runs(id)).length >= 3, 30_000);
  const next = (await runs(id))[2]!;
  expect(next.trigger).toBe('schedule');
  expect(next.scheduled).toBe(fireAt + 4 * EVERY);
  await h.terminate('test done');
});

test('the run after an outage of several fires, then a stop and a start before the next fire: no run until the fire after the latest it served', async () => {
  const id = uniqueName('outage_restart');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const syncline = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await syncline.start(activation(id));
  const fireAt = await waitFor(
    'the first run, then the timer of the next fire',
    async () => {
      const s = await h.query(statusQuery);
      return s.state === 'idle' && s.lastRuns.length === 1 && s.nextRunAt !== null && Date.parse(s.nextRunAt);
    },
    30_000,
  );

  // No worker while the fires at fireAt, +10 s, +20 s and +30 s come due; back just after the last of them, so
  // the stop and the start below come well before the next one (fireAt + 40 s).
  await worker!.stop();
  worker = undefined;
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt + 3 * EVERY + 500 - Date.now())));
  worker = await startWorker({ taskQueue: TQ });
  await waitFor('the run after the outage', async () => (await runs(id)).filter((r) => r.status !== 'running').length >= 2, 30_000);
  const late = (await runs(id))[1]!;
  expect({ trigger: late.trigger, scheduled: late.scheduled }).toEqual({ trigger: 'schedule', scheduled: fireAt });

  await syncline.stop(id, { wait: true, reason: 'restarted after the outage' });
  await syncline.start(activation(id));
  await waitFor('the started execution waiting', async () => (await h.query(statusQuery)).state === 'idle', 30_000);
  await new Promise((r) => setTimeout(r, 3000));
  expect(Date.now()).toBeLessThan(fireAt + 4 * EVERY - 1000); // still before the next fire: what ran came early
  expect((await runs(id)).map((r) => r.run_number)).toEqual([1, 2]); // no run at once on the start
  expect(Date.parse((await h.query(statusQuery)).nextRunAt!)).toBe(fireAt + 4 * EVERY);
  await waitFor('the next fire', async () => (await runs(id)).length >= 3, 30_000);
  const next = (await runs(id))[2]!;
  expect({ trigger: next.trigger, scheduled: next.scheduled }).toEqual({ trigger: 'schedule', scheduled: fireAt + 4 * EVERY });
  await syncline.stop(id, { wait: true, reason: 'test done' });
});

test('a fire served by a run a request was merged with, then a stop and a start before the next fire: no run until the fire after it', async () => {
  const id = uniqueName('merged_restart');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const syncline = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await syncline.start(activation(id));
  const fireAt = await waitFor(
    'the first run, then the timer of the next fire',
    async () => {
      const s = await h.query(statusQuery);
      return s.state === 'idle' && s.lastRuns.length === 1 && s.nextRunAt !== null && Date.parse(s.nextRunAt);
    },
    30_000,
  );
  // No worker while the fire comes due, and a resync request just after it: one run serves both, its trigger the request's.
  await worker!.stop();
  worker = undefined;
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt + 500 - Date.now())));
  await syncline.resync(id, { reason: 'merged with the fire' });
  worker = await startWorker({ taskQueue: TQ });
  await waitFor('the merged run', async () => (await runs(id)).filter((r) => r.status !== 'running').length >= 2, 30_000);
  const merged = (await runs(id))[1]!;
  expect({ trigger: merged.trigger, scheduled: merged.scheduled }).toEqual({ trigger: 'manual', scheduled: fireAt });
  expect(Date.parse((await h.query(statusQuery)).nextRunAt!)).toBe(fireAt + EVERY); // the running activation carries on from fireAt

  await syncline.stop(id, { wait: true, reason: 'restarted after the merged run' });
  await syncline.start(activation(id));
  await waitFor('the started execution waiting', async () => (await h.query(statusQuery)).state === 'idle', 30_000);
  await new Promise((r) => setTimeout(r, 2000));
  expect(Date.now()).toBeLessThan(fireAt + EVERY - 1000); // still before the next fire: what ran came early
  expect((await runs(id)).map((r) => r.run_number)).toEqual([1, 2]); // no run at once on the start
  expect(Date.parse((await h.query(statusQuery)).nextRunAt!)).toBe(fireAt + EVERY);
  await syncline.stop(id, { wait: true, reason: 'test done' });
});

test('the catch-up run after a pause by a configuration error over a fire time, then a stop and a start before the next fire: no run at once', async () => {
  const id = uniqueName('catchup_restart');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const syncline = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await syncline.start(activation(id));
  await waitFor('the first run', async () => (await runs(id)).some((r) => r.status === 'success'), 30_000);
  // The model loses its mapped column: the next scheduled run fails and the activation pauses.
  await db.query(`ALTER TABLE public.${id} DROP COLUMN name`);
  await waitFor('paused by the configuration error', async () => (await h.query(statusQuery)).state === 'paused', 40_000);
  await db.query(`ALTER TABLE public.${id} ADD COLUMN name text DEFAULT 'x'`);
  const failedAt = (await runs(id)).at(-1)!.scheduled;
  await new Promise((r) => setTimeout(r, Math.max(0, failedAt + EVERY + 1000 - Date.now()))); // paused over a fire time
  const before = (await runs(id)).length;
  await syncline.resume(id);
  await waitFor('the catch-up run', async () => (await runs(id)).length > before && (await runs(id)).at(-1)!.status === 'success', 30_000);
  await waitFor('idle after it', async () => (await h.query(statusQuery)).state === 'idle', 30_000);
  const catchUp = (await runs(id)).at(-1)!;
  const next = Date.parse((await h.query(statusQuery)).nextRunAt!); // the running activation: an interval after the catch-up
  expect({ trigger: catchUp.trigger, scheduled: catchUp.scheduled }).toEqual({ trigger: 'manual', scheduled: next - EVERY });

  await syncline.stop(id, { wait: true, reason: 'restarted after the catch-up run' });
  await syncline.start(activation(id));
  await waitFor('the started execution waiting', async () => (await h.query(statusQuery)).state === 'idle', 30_000);
  await new Promise((r) => setTimeout(r, 1500));
  expect(Date.now()).toBeLessThan(next - 1000); // still before the next fire: what ran came early
  expect((await runs(id)).length).toBe(before + 1); // no run at once on the start
  expect(Date.parse((await h.query(statusQuery)).nextRunAt!)).toBe(next);
  await syncline.stop(id, { wait: true, reason: 'test done' });
});
