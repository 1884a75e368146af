/**
 * How a workflow type follows Worker Versioning (client/deployment.ts, README "Rolling deploy"), declared
 * next to each workflow with `setWorkflowOptions(versioned('PINNED'), syncRunWorkflow)`.
 *
 * The server refuses a workflow task completed with a versioning behaviour by a worker that has no
 * deployment version, so the behaviour is declared only when the execution's first workflow task ran on
 * a versioned worker (`currentDeploymentVersion` names a deployment; read once when the execution is
 * loaded, from history on a replay). Unversioned workers declare nothing and go on as before; an execution started before its
 * deployment turned versioning on takes the worker's default (auto-upgrade) until it continues as new.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { VersioningBehavior, WorkflowDefinitionOptions } from '@temporalio/common';

export type VersionedOptions = (() => WorkflowDefinitionOptions) & { behaviour: VersioningBehavior };

export function versioned(behaviour: VersioningBehavior): VersionedOptions {
  // An unversioned worker has a build id too (the SDK derives one), but no deployment name.
  return Object.assign(() => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: behaviour } : {}), {
    behaviour,
  });
}
