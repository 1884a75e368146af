/**
 * Whether a run's workflow is still open. A reset of the activation (`temporal workflow reset`) does not
 * end the reset execution's runs: their workflows go on writing. A run settled under such a workflow
 * lists the rows it has in flight as unacknowledged, and the next delta sends them again beside it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { activationWorkflowId, runWorkflowId } from '../common/names';
import type { SynclineDeps } from './deps';

/** The workflow's latest execution, or undefined when there is none. */
export async function describeWorkflow(client: Client, workflowId: string) {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** What a RUN_STILL_OPEN refusal carries (its first detail): the workflow ids of the open runs, for the run to wait for. */
export interface RunStillOpenDetails {
  workflowIds: string[];
}

/**
 * Refuses, retryably (RUN_STILL_OPEN), when one of `runNumbers` (runs still marked running) has its
 * workflow open as a child of an execution of the activation: the caller settles them only once it has
 * ended (committed itself, or been closed). Asks Temporal only when there is such a run. The refusal names
 * their workflow ids (RunStillOpenDetails): a run's prepare waits for them (workflows/sync-run.ts).
 */
export async function refuseWhileRunsOpen(deps: SynclineDeps, activationId: string, runNumbers: number[]): Promise<void> {
  if (!runNumbers.length) return;
  const client = deps.client();
  const open: number[] = [];
  for (const n of runNumbers) {
    const d = await describeWorkflow(client, runWorkflowId(activationId, n));
    if (d?.status.name === 'RUNNING' && d.parentExecution?.workflowId === activationWorkflowId(activationId)) open.push(n);
  }
  if (open.length) {
    const details: RunStillOpenDetails = { workflowIds: open.map((n) => runWorkflowId(activationId, n)) };
    throw ApplicationFailure.retryable(
      `activation "${activationId}": run ${open.join(', ')} is still open (its workflow, of an earlier execution of the activation, which was reset, goes on); it is settled once it has ended`,
      'RUN_STILL_OPEN',
      details,
    );
  }
}
