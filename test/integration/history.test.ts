/**
 * History stays bounded (continue-as-new after each run) and carries no row values and no secrets:
 * after 50 runs the activation's current history is small, and a scan of every workflow history in
 * the namespace finds neither a sentinel model value nor a sentinel credential.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, env, waitFor, type RunningWorker } from '../support/harness';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_hist');
const ROW_SENTINEL = 'SENTINEL-ROW-7f3a9c';
const SECRET_SENTINEL = 'SENTINEL-SECRET-b41d27';
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  // The credential lives only in the worker's connection map: a field the connector ignores, as a password would be.
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, connections: { secretdb: { url: env().databaseUrl, password: SECRET_SENTINEL } } }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

test('50 runs: the current history is small and no row value or secret is in any history', async () => {
  const id = uniqueName('hist');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, '${ROW_SENTINEL}-' || g AS name FROM generate_series(1, 30) g`);
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
          destination: { kind: 'testdb', connection: 'secretdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  for (let i = 1; i <= 50; i++) {
    await db.query(`UPDATE public.${id} SET name = '${ROW_SENTINEL}-' || id || '-' || $1::int WHERE id = ($1::int % 30) + 1`, [i]);
    const s = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(s.runNumber).toBe(i);
    expect(s.status).toBe('success');
  }
  const desc = await client.workflow.getHandle(activationWorkflowId(id)).describe();
  expect(desc.historyLength).toBeLessThan(60);
  const executions = await db.query(`SELECT count(*)::int AS n FROM syncline.runs WHERE activation_id = $1`, [id]);
  expect(executions.rows[0].n).toBe(50);

  // 51 activation executions (the first, then one per continue-as-new after each run) and 50 run children.
  // The listing lags behind them (the newest began as the last run ended): the scan starts once it shows all.
  const query = `WorkflowId STARTS_WITH "activation/${id}"`;
  await waitFor('every execution listed', async () => (await client.workflow.count(query)).count >= 101);
  let scanned = 0;
  for await (const wf of client.workflow.list({ query })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const text = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
    expect(text).not.toContain(ROW_SENTINEL);
    expect(text).not.toContain(SECRET_SENTINEL);
    scanned++;
  }
  expect(scanned).toBeGreaterThanOrEqual(101);
}, 300_000);
