/**
 * Worker Versioning on the real dev server, driven as the README's "Rolling deploy" recipe says: workers
 * of a deployment version (the plugin's `deployment`, SYNCLINE_DEPLOYMENT_NAME / SYNCLINE_BUILD_ID in
 * production), the version made current with the real `temporal worker deployment set-current-version`,
 * then a second version rolled out while a run of the first is in flight. What `temporal workflow
 * describe` shows: runs pinned to the version they started on, the activation auto-upgrading.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { findTemporalCli } from '../../scripts/services/temporal';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';
import { SynclineClient } from '../../client';

const TQ = uniqueName('tq_versioning');
const DEPLOYMENT = uniqueName('syncline_deploy');
let client: Client;
let db: pg.Pool;
const workers: RunningWorker[] = [];

async function temporal(...args: string[]): Promise<string> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI: set TEMPORAL_CLI or run "npm run temporal:install"');
  const { stdout } = await promisify(execFile)(cli, [...args, '--address', env().address], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** `temporal workflow describe -o json`: its versioning info (behaviour and the version it runs on). */
async function versioningOf(
  workflowId: string,
): Promise<{ behavior?: string; deploymentVersion?: { deploymentName?: string; buildId?: string } }> {
  const d = JSON.parse(await temporal('workflow', 'describe', '--workflow-id', workflowId, '--output', 'json')) as {
    workflowExecutionInfo?: { versioningInfo?: unknown };
  };
  return (d.workflowExecutionInfo?.versioningInfo ?? {}) as never;
}

/** The real CLI, retried until the new version's workers have polled (the server refuses a version without pollers). */
async function setCurrentVersion(buildId: string): Promise<void> {
  await waitFor(
    `version ${buildId} made current`,
    () =>
      temporal('worker', 'deployment', 'set-current-version', '--deployment-name', DEPLOYMENT, '--build-id', buildId, '--yes').then(
        () => true,
      ),
    60_000,
    500,
  );
}

beforeAll(async () => {
  client = await testClient();
  db = sqlClient();
});
afterAll(async () => {
  for (const w of workers) await w.stop();
  await db?.end();
  await client?.connection.close();
});

/** The build ids the execution's workflow tasks completed on, in order (`temporal workflow show -o json`). */
async function taskBuildIds(workflowId: string, runId: string): Promise<string[]> {
  const out = JSON.parse(await temporal('workflow', 'show', '--workflow-id', workflowId, '--run-id', runId, '--output', 'json')) as {
    events: Array<Record<string, any>>;
  };
  return out.events
    .filter((e) => e.workflowTaskCompletedEventAttributes)
    .map((e) => {
      const a = e.workflowTaskCompletedEventAttributes;
      return a.deploymentVersion?.buildId ?? a.workerDeploymentVersion ?? JSON.stringify(a);
    });
}

test('a run stays on the version it started on; the activation moves to the current version', async () => {
  workers.push(await startWorker({ taskQueue: TQ, deployment: { deploymentName: DEPLOYMENT, buildId: 'b1' }, maxCachedWorkflows: 0 }));
  await setCurrentVersion('b1');

  const id = uniqueName('versioned');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
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
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  // The model table locked: run 1 starts and cannot read it until the lock goes, so it is in flight during the deploy.
  const holder = await db.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE public.${id} IN ACCESS EXCLUSIVE MODE`);
    const first = handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    const run1 = await waitFor(
      'run 1 started on b1',
      async () => {
        const v = await versioningOf(runWorkflowId(id, 1)).catch(() => null);
        return v?.behavior ? v : null;
      },
      60_000,
      500,
    );
    expect(run1).toMatchObject({
      behavior: 'VERSIONING_BEHAVIOR_PINNED',
      deploymentVersion: { deploymentName: DEPLOYMENT, buildId: 'b1' },
    });

    // The deploy: workers of b2 start (b1's keep running), b2 becomes current.
    workers.push(await startWorker({ taskQueue: TQ, deployment: { deploymentName: DEPLOYMENT, buildId: 'b2' }, maxCachedWorkflows: 0 }));
    await setCurrentVersion('b2');
    const deployment = JSON.parse(await temporal('worker', 'deployment', 'describe', '--name', DEPLOYMENT, '--output', 'json'));
    expect(deployment.routingConfig).toMatchObject({ currentVersionBuildID: 'b2' });
    expect((await client.workflow.getHandle(runWorkflowId(id, 1)).describe()).status.name).toBe('RUNNING');

    await holder.query('COMMIT');
    expect(await first).toMatchObject({ runNumber: 1, status: 'success' });
    // Run 1 finished where it started.
    expect(await versioningOf(runWorkflowId(id, 1))).toMatchObject({
      behavior: 'VERSIONING_BEHAVIOR_PINNED',
      deploymentVersion: { buildId: 'b1' },
    });
    // The activation's execution that started on b1 went on on b2 (auto-upgrade) while run 1 was still in
    // flight, and so does the one it continued as after the run.
    const tasks = await taskBuildIds(activationWorkflowId(id), handle.firstExecutionRunId);
    expect(tasks[0]).toBe('b1');
    expect(tasks.at(-1)).toBe('b2');
    expect(tasks.join(' ')).toMatch(/^(b1 )+(b2 ?)+$/);
    const current = await waitFor(
      'the activation on b2',
      async () => {
        const v = await versioningOf(activationWorkflowId(id));
        return v.behavior ? v : null;
      },
      60_000,
      500,
    );
    expect(current).toMatchObject({
      behavior: 'VERSIONING_BEHAVIOR_AUTO_UPGRADE',
      deploymentVersion: { deploymentName: DEPLOYMENT, buildId: 'b2' },
    });

    // The next run starts on the current version and stays there.
    expect(await handle.executeUpdate(triggerSyncUpdate, { args: [{}] })).toMatchObject({ runNumber: 2, status: 'success' });
    expect(await versioningOf(runWorkflowId(id, 2))).toMatchObject({
      behavior: 'VERSIONING_BEHAVIOR_PINNED',
      deploymentVersion: { buildId: 'b2' },
    });
    const rows = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id]);
    expect(rows.rows[0].n).toBe(20);
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    holder.release();
    await handle.terminate('test over').catch(() => undefined);
  }
}, 300_000);

test('with versioned workers polling its task queue, the CLI does not say that no worker polls it (unpolledQueue)', async () => {
  // Runs after the test above: workers of b1 and b2 (b2 current) poll TQ.
  const id = uniqueName('versioned_polled');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 5) g`);
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
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  expect(await handle.executeUpdate(triggerSyncUpdate, { args: [{}] })).toMatchObject({ status: 'success' });
  const syncline = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
  expect(await syncline.unpolledQueue(id)).toBeUndefined();
});
