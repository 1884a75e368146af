/**
 * An interval schedule after a worker outage of several intervals: the fire whose timer came due while no
 * worker polled runs once when a worker is back, and it stands for every fire missed meanwhile
 * (workflows/schedule.ts: "missed while the worker was down: run once, now"). The schedule carries on from
 * the latest of them: no second run at once behind the first.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
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

test('a worker away for 3.5 intervals: one run when it is back, the next one an interval after the latest missed fire', async () => {
  const id = uniqueName('outage');
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
          schedule: { every: '10s' },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
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
