/**
 * The internal runProgress signal sent by hand (`temporal workflow signal --name runProgress`, no input) while a
 * run goes on reaches the activation unchecked (a signal has no validator): it must not leave the activation
 * failing its workflow task for ever (stuck until a reset). test/integration/signal-payloads.test.ts has the
 * documented signals.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, env, type RunningWorker } from '../support/harness';
import { findTemporalCli } from '../../scripts/services/temporal';
import { activationWorkflowId, WORKFLOW_TYPES } from '../../common/names';
import { resyncSignal, runProgressSignal, statusQuery } from '../../workflows/messages';

const exec = promisify(execFile);
const TQ = uniqueName('tq_sigprogress');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

async function signal(workflowId: string, name: string, input?: string): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('the temporal CLI is needed: npm run temporal:install');
  const args = ['workflow', 'signal', '--workflow-id', workflowId, '--name', name, ...(input ? ['--input', input] : [])];
  await exec(cli, [...args, '--address', env().address], { timeout: 30_000 });
}

beforeAll(async () => {
  // testdb_slow: 3 s per written batch, so that a signal sent during a run finds it under way.
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, connections: { testdb_slow: { url: env().databaseUrl, delayMs: 3000 } } }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

const finishedRuns = async (id: string) =>
  (
    await db.query(
      `SELECT run_number, trigger, status FROM syncline.runs WHERE activation_id = $1 AND status <> 'running' ORDER BY run_number`,
      [id],
    )
  ).rows as Array<{ run_number: number; trigger: string; status: string }>;

/** WorkflowTaskFailed events in the activation's execution `runId` (default: its current one). */
async function failedTasks(workflowId: string, runId?: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.workflowTaskFailedEventAttributes)
    .map((e) => e.workflowTaskFailedEventAttributes!.failure?.message ?? '');
}

test('a runProgress signal without its payload during a run (sent by hand): the run ends and is recorded, no task fails', async () => {
  const id = uniqueName('sigprogress');
  const wid = activationWorkflowId(id);
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 5) g`);
  const { firstExecutionRunId: first } = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: wid,
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb_slow', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  const h = client.workflow.getHandle(wid);
  await h.signal(resyncSignal, { reason: 'a run' });
  await waitFor('the run under way', async () => (await h.query(statusQuery)).state === 'running', 30_000);
  await signal(wid, runProgressSignal.name);
  await waitFor('the run recorded', async () => (await finishedRuns(id)).length >= 1, 30_000).catch(async (err: Error) => {
    throw new Error(`${err.message}; workflow tasks failed: ${JSON.stringify(await failedTasks(wid, first))}`);
  });
  await waitFor('idle', async () => (await h.query(statusQuery)).state === 'idle', 15_000);
  expect(await failedTasks(wid, first)).toEqual([]);
  expect((await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n).toBe(5);
  await h.terminate('test done');
});
