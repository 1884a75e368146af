/**
 * The production worker (worker.ts) with SYNCLINE_LOG_FORMAT=json: every line it writes on stdout is a
 * JSON object, from its start line and the SDK's (workflow bundling, worker state) to what workflows and
 * activities log, and those of an activation's run carry its activation id and run number.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, sqlClient, testClient, uniqueName, waitFor } from '../support/harness';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';
import { startSalesforceEmulator, DEMO_CREDENTIALS, type SalesforceEmulator } from '../../emulators/salesforce/server';

const ROOT = path.resolve(__dirname, '../..');
const TQ = uniqueName('tq_logs');
let client: Client;
let db: pg.Pool;
let emu: SalesforceEmulator;
let worker: ChildProcess;
let stdout = '';
let stderr = '';

beforeAll(async () => {
  client = await testClient();
  db = sqlClient();
  emu = await startSalesforceEmulator({ port: 0 });
  const { address, databaseUrl } = env();
  const sf = {
    auth: 'client_credentials',
    loginUrl: emu.url,
    clientId: DEMO_CREDENTIALS.clientId,
    clientSecret: DEMO_CREDENTIALS.clientSecret,
  };
  worker = spawn(process.execPath, ['--import', 'tsx', 'worker.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      DATABASE_URL: databaseUrl,
      SYNCLINE_TASK_QUEUE: TQ,
      SYNCLINE_LOG_FORMAT: 'json',
      SYNCLINE_LOG_LEVEL: 'DEBUG',
      SYNCLINE_CONNECTION_SF_LOGS: JSON.stringify(sf),
    },
  });
  worker.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  worker.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  await waitFor(
    "the worker's start line",
    async () => {
      if (worker.exitCode !== null) throw new Error(`the worker exited with ${worker.exitCode}: ${stderr}`);
      return stdout.includes('syncline worker on');
    },
    180_000,
    250,
  );
}, 240_000);
afterAll(async () => {
  if (worker?.exitCode === null) worker.kill('SIGKILL');
  await db?.end();
  await client?.connection.close();
  await emu?.close();
});

test("JSON lines on stdout; an activation's workflow and activity lines name the activation and the run", async () => {
  const id = uniqueName('logs');
  await db.query(
    `CREATE TABLE public.${id} AS SELECT '${id.toUpperCase()}-' || g AS id, 'Name ' || g AS last_name FROM generate_series(1, 5) g`,
  );
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
          destination: { kind: 'salesforce', connection: 'sf-logs', object: 'Contact', key: 'External_Id__c' },
          mappings: [
            { from: 'id', to: 'External_Id__c' },
            { from: 'last_name', to: 'LastName' },
          ],
        },
      },
    ],
  });
  try {
    expect(await handle.executeUpdate(triggerSyncUpdate, { args: [{}] })).toMatchObject({ runNumber: 1, status: 'success' });
  } finally {
    await handle.terminate('test over');
  }
  // Stopped as a deployment stops it: the lines of the shutdown are JSON too.
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.kill('SIGTERM');
  await exited;

  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return { notJson: l };
    }
  });
  expect(parsed.filter((p) => 'notJson' in p)).toEqual([]);
  for (const p of parsed)
    expect(p).toMatchObject({
      time: expect.any(String),
      level: expect.stringMatching(/^(TRACE|DEBUG|INFO|WARN|ERROR)$/),
      message: expect.any(String),
    });
  expect(parsed.find((p) => String(p.message).startsWith('syncline worker on'))).toBeDefined();
  expect(parsed.some((p) => p.message === 'Worker state changed' && p.state === 'RUNNING')).toBe(true);

  const ofRun = parsed.filter((p) => p.activationId === id && p.runNumber === 1);
  // From an activity: the commit's line, with the run's counts.
  expect(
    ofRun.find(
      (p) =>
        p.sdkComponent === 'activity' &&
        p.activityType === 'commitRun' &&
        String(p.message).startsWith('committed: run 1 · upsert · manual · success'),
    ),
  ).toBeDefined();
  // From the run's workflow itself (the SDK's DEBUG lines "Workflow started" and "completed"), and from
  // the activation's own workflow, which has no run number.
  expect(ofRun.filter((p) => p.workflowType === 'syncRunWorkflow' && p.activityType === undefined).map((p) => p.message)).toEqual([
    'Workflow started',
    'Workflow completed',
  ]);
  expect(
    parsed.some(
      (p) => p.workflowType === 'activationWorkflow' && p.activityType === undefined && p.activationId === id && p.runNumber === undefined,
    ),
  ).toBe(true);
  expect(stderr).toBe('');
}, 300_000);
