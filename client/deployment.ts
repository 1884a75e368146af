/**
 * Worker Versioning (Temporal Worker Deployments): a worker started with a deployment name and a build id
 * serves only the executions of its version, and `temporal worker deployment set-current-version` chooses
 * which version new executions go to (README "Rolling deploy").
 *
 *   SYNCLINE_DEPLOYMENT_NAME=syncline SYNCLINE_BUILD_ID=2026-12-04.1 npm start
 *
 * Both unset: the worker is unversioned (every worker of the task queue takes every task). Each workflow
 * declares its behaviour next to its code (workflows/versioning.ts): runs and DAGs are pinned to
 * the version they started on; activations and the warnings workflow, which live for ever and continue as
 * new, move to the current version (auto-upgrade).
 */
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkerDeploymentOptions } from '@temporalio/worker';

/** A deployment configuration that cannot be used: the message names the variables and what to set. */
export class DeploymentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentConfigError';
  }
}

/** SYNCLINE_DEPLOYMENT_NAME and SYNCLINE_BUILD_ID, or null when both are unset. */
export function deploymentFromEnvironment(env: NodeJS.ProcessEnv = process.env): WorkerDeploymentVersion | null {
  const deploymentName = env.SYNCLINE_DEPLOYMENT_NAME?.trim() || undefined;
  const buildId = env.SYNCLINE_BUILD_ID?.trim() || undefined;
  if (!deploymentName && !buildId) return null;
  if (!deploymentName || !buildId) {
    const [set, unset] = deploymentName
      ? ['SYNCLINE_DEPLOYMENT_NAME', 'SYNCLINE_BUILD_ID']
      : ['SYNCLINE_BUILD_ID', 'SYNCLINE_DEPLOYMENT_NAME'];
    throw new DeploymentConfigError(
      `${set} is set but ${unset} is not: set both for Worker Versioning (e.g. SYNCLINE_DEPLOYMENT_NAME=syncline SYNCLINE_BUILD_ID=<release>), or neither to run unversioned`,
    );
  }
  return { deploymentName, buildId };
}

/**
 * The SDK's `workerDeploymentOptions` for a version. Every workflow type declares its behaviour
 * (workflows/versioning.ts) on executions that started on a versioned worker; the default covers those
 * that started before the deployment turned versioning on. They were replaying on every worker already,
 * so they keep doing so (auto-upgrade) until they end or continue as new.
 */
export function workerDeploymentOptions(version: WorkerDeploymentVersion): WorkerDeploymentOptions {
  return { version, useWorkerVersioning: true, defaultVersioningBehavior: 'AUTO_UPGRADE' };
}
