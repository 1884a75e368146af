/**
 * Worker Versioning options (client/deployment.ts, client/plugin.ts): read from the environment, given to
 * the worker as the SDK's workerDeploymentOptions; and every workflow type declares its own behaviour.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';
import { deploymentFromEnvironment, DeploymentConfigError } from '../../client/deployment';
import { synclinePlugin } from '../../client/plugin';
import * as workflows from '../../workflows';

test('both variables name a version; neither runs unversioned; one alone is refused, naming the other', () => {
  expect(deploymentFromEnvironment({})).toBeNull();
  expect(deploymentFromEnvironment({ SYNCLINE_DEPLOYMENT_NAME: ' ', SYNCLINE_BUILD_ID: '' })).toBeNull();
  expect(deploymentFromEnvironment({ SYNCLINE_DEPLOYMENT_NAME: 'syncline', SYNCLINE_BUILD_ID: '2026-12-04.1' })).toEqual({
    deploymentName: 'syncline',
    buildId: '2026-12-04.1',
  });
  expect(() => deploymentFromEnvironment({ SYNCLINE_BUILD_ID: 'b1' })).toThrow(DeploymentConfigError);
  expect(() => deploymentFromEnvironment({ SYNCLINE_BUILD_ID: 'b1' })).toThrow(
    /SYNCLINE_BUILD_ID is set but SYNCLINE_DEPLOYMENT_NAME is not/,
  );
  expect(() => deploymentFromEnvironment({ SYNCLINE_DEPLOYMENT_NAME: 'syncline' })).toThrow(
    /SYNCLINE_DEPLOYMENT_NAME is set but SYNCLINE_BUILD_ID is not/,
  );
});

test('the plugin gives a versioned worker its deployment options, and leaves an unversioned one alone', () => {
  const base = { taskQueue: 'syncline' } as WorkerOptions;
  const version = { deploymentName: 'syncline', buildId: 'b7' };
  const versioned = synclinePlugin({ databaseUrl: 'postgres://unused', codec: null, deployment: version }).configureWorker(base);
  expect(versioned.workerDeploymentOptions).toEqual({ version, useWorkerVersioning: true, defaultVersioningBehavior: 'AUTO_UPGRADE' });
  expect(
    synclinePlugin({ databaseUrl: 'postgres://unused', codec: null, deployment: null }).configureWorker(base).workerDeploymentOptions,
  ).toBeUndefined();
  // A worker that sets its own keeps them.
  const own = { version: { deploymentName: 'mine', buildId: 'x' }, useWorkerVersioning: false } as const;
  expect(
    synclinePlugin({ databaseUrl: 'postgres://unused', codec: null, deployment: version }).configureWorker({
      ...base,
      workerDeploymentOptions: own,
    }).workerDeploymentOptions,
  ).toBe(own);
});

test('every workflow type declares its versioning behaviour: runs, their write children and DAGs pinned, the long-lived ones auto-upgrading', () => {
  const behaviours = Object.fromEntries(
    Object.entries(workflows).map(([name, fn]) => [
      name,
      (fn as { workflowDefinitionOptions?: { behaviour?: string } }).workflowDefinitionOptions?.behaviour,
    ]),
  );
  expect(behaviours).toEqual({
    activationWorkflow: 'AUTO_UPGRADE',
    syncRunWorkflow: 'PINNED',
    writeChunksWorkflow: 'PINNED',
    dagWorkflow: 'PINNED',
    dagMapBatchWorkflow: 'PINNED',
    warningsWorkflow: 'AUTO_UPGRADE',
  });
});

test('a worker given half a version does not start, and says what to set', async () => {
  const root = path.resolve(__dirname, '../..');
  // Refused before any connection: nothing listens at these addresses.
  const env = {
    ...process.env,
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    SYNCLINE_BUILD_ID: 'b1',
    SYNCLINE_DEPLOYMENT_NAME: '',
  };
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(path.join(root, 'node_modules/.bin/tsx'), ['worker.ts'], { cwd: root, env, timeout: 60_000 }, (err, _stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
  expect(code).toBe(2);
  expect(stderr.trim()).toBe(
    'syncline worker: SYNCLINE_BUILD_ID is set but SYNCLINE_DEPLOYMENT_NAME is not: set both for Worker Versioning (e.g. SYNCLINE_DEPLOYMENT_NAME=syncline SYNCLINE_BUILD_ID=<release>), or neither to run unversioned',
  );
});
