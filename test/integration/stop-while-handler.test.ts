/**
 * A stop signal that arrives after a run, while the activation waits for a request handler still under way
 * (an updateConfig checking its document against the destination) before it continues as new: the activation
 * must end, as the stop says, not continue as new and keep scheduling.
 */
import type { Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { activationWorkflowId, WORKFLOW_TYPES } from '../../common/names';
import { resyncSignal, statusQuery, stopSignal, updateConfigUpdate } from '../../workflows/messages';
import { WorkflowUpdateStage } from '@temporalio/client';

const TQ = uniqueName('tq_stophandler');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
let slowCheck = false;

/** checkConfigUpdate takes 8 s while `slowCheck`: the update's handler is under way when the run ends. */
const slow: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      if (ctx.info.activityType === 'checkConfigUpdate' && slowCheck) await new Promise((r) => setTimeout(r, 8000));
      return next(input);
    },
  },
});

beforeAll(async () => {
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, activityInterceptors: [slow] }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

test('a stop signal while an updateConfig handler is under way after a run: the activation ends', async () => {
  const id = uniqueName('stophandler');
  const wid = activationWorkflowId(id);
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 5) g`);
  const config = {
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  const started = await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: wid, args: [{ config }] });
  const h = client.workflow.getHandle(wid);
  await waitFor('the activation idle', async () => (await h.query(statusQuery)).state === 'idle', 30_000);

  slowCheck = true;
  await h.signal(resyncSignal, { reason: 'a run' });
  const dry = await h.startUpdate(updateConfigUpdate, {
    args: [{ config: { ...config, mappings: [{ from: 'name', to: 'Title' }] }, dryRun: true }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await waitFor('the run ended', async () => {
    const s = await h.query(statusQuery);
    return s.lastRuns.length === 1 && s.currentRun === null;
  });
  await h.signal(stopSignal, { reason: 'stopped while an update is checked' });
  await dry.result();
  slowCheck = false;

  await waitFor(
    'the activation ended',
    async () => (await client.workflow.getHandle(wid).describe()).status.name === 'COMPLETED',
    15_000,
  ).catch(async (err: Error) => {
    const d = await client.workflow.getHandle(wid).describe();
    throw new Error(
      `${err.message}: status ${d.status.name}, run ${d.runId === started.firstExecutionRunId ? 'the first' : 'continued as new'}`,
    );
  });
  const d = await client.workflow.getHandle(wid).describe();
  expect(d.runId).toBe(started.firstExecutionRunId); // ended there, not continued as new
});
