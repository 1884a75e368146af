/**
 * An activation whose history is suggested to continue-as-new while a triggerSync caller waits for a
 * run: the run is served and the activation keeps scheduling. A Temporal dev server of its own, whose
 * continue-as-new suggestion comes after 30 events instead of thousands, makes that happen every run.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startTemporalDevServer, type TemporalServer } from '../../scripts/services/temporal';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import type { RunSummary } from '../../common/run';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_can');
let server: TemporalServer;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  server = await startTemporalDevServer({ headless: true, quiet: true, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 30 } });
  [worker, client] = await Promise.all([
    startWorker({
      taskQueue: TQ,
      address: server.address,
      connections: { slowdb: { url: process.env.DATABASE_URL!, delayMs: 300, batchSize: 10 } },
    }),
    testClient(server.address),
  ]);
  db = sqlClient();
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await server?.stop();
});

test('a triggerSync waiting when continue-as-new is suggested gets its run; the activation goes on', async () => {
  const id = uniqueName('can_wait');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 100) g`);
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
          destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 10 } },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  const first = handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
  await waitFor(
    'run 1 to be writing',
    async () => Number((await db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n) > 0,
  );
  // Asked while run 1 writes: served by run 2, after run 1's execution was told to continue as new.
  const second = handle.executeUpdate(triggerSyncUpdate, { args: [{ reason: 'second caller' }] });
  expect((await first).runNumber).toBe(1);
  const answered = await Promise.race([second, new Promise<'stalled'>((r) => setTimeout(() => r('stalled'), 90_000))]);
  expect(answered).not.toBe('stalled');
  expect((answered as RunSummary).runNumber).toBe(2);
  const third = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(third.runNumber).toBe(3);
}, 240_000);
