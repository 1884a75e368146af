/**
 * The worker is killed with SIGKILL in the middle of a run and started again: the run completes,
 * every row reaches the destination exactly once (Insert mode, where a replayed create would show
 * as a duplicate record), and the snapshot covers every key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, sqlClient, testClient, uniqueName, waitFor } from '../support/harness';
import { setupTestDestination } from '../support/testdb-connector';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const ROOT = path.resolve(__dirname, '../..');
const TQ = uniqueName('tq_crash');
let client: Client;
let db: pg.Pool;
const children: ChildProcess[] = [];

function startWorkerProcess(): Promise<ChildProcess> {
  const { address, databaseUrl } = env();
  // `node --import tsx`: one process, so SIGKILL kills the worker itself (tsx's CLI would run it in a child).
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/worker-process.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: databaseUrl,
      SYNCLINE_TASK_QUEUE: TQ,
      SYNCLINE_CONNECTIONS: JSON.stringify({ slowdb: { url: databaseUrl, delayMs: 150, batchSize: 25 } }),
    },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('WORKER READY')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

beforeAll(async () => {
  client = await testClient();
  db = sqlClient();
  await setupTestDestination(env().databaseUrl);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await db?.end();
  await client?.connection.close();
});

test('SIGKILL mid-run: the run completes after a restart, nothing lost or written twice', async () => {
  const id = uniqueName('crash');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 2000) g`);
  const first = await startWorkerProcess();
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'insert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 100 } },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  const result = client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
  await waitFor(
    'some rows written',
    async () => Number((await db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n) > 200,
  );
  first.kill('SIGKILL');
  const writtenAtKill = Number((await db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n);
  expect(writtenAtKill).toBeLessThan(2000);
  await startWorkerProcess();
  const summary = await result;
  expect(summary.status).toBe('success');
  expect(summary.ops.create).toMatchObject({ planned: 2000, succeeded: 2000, failed: 0 });
  const dest = (await db.query(`SELECT count(*)::int AS n, count(DISTINCT key)::int AS k FROM test_dest.records WHERE object = $1`, [id]))
    .rows[0];
  expect(dest).toEqual({ n: 2000, k: 2000 });
  const snap = (await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0];
  expect(snap.n).toBe(2000);
}, 300_000);
