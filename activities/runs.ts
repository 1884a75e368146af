/** Run bookkeeping read by the activation workflow and the client. */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { SynclineDeps } from './deps';
import { settleUnfinishedRuns } from './commit';
import { describeWorkflow } from './run-workflows';
import { lastRunNumber as lastRun, recordStopped, restartState, type StoppedPause } from '../db/runs';
import type { RunSummary } from '../common/run';

export interface LastRunNumberInput {
  activationId: string;
}
export interface LastRunNumberResult {
  runNumber: number;
  /** The scheduled time of the last scheduled run (ISO), when there was one: an interval schedule carries on from it. */
  lastScheduledAt?: string;
  /**
   * When that run started (ISO; its row opened): one started a fire time or more after `lastScheduledAt` stood for
   * the fires due by then (its timer fired late), and the schedule carries on from the latest of them.
   */
  lastScheduledStartedAt?: string;
  /** The pause the activation was stopped in, when it was paused then: the start keeps it. */
  paused?: StoppedPause;
  /** Deletions an earlier execution's run held that still wait for approval: the start shows them, and approves them. */
  heldDeletes?: { run: number; count: number };
}

/** A re-created activation workflow continues the numbering instead of reusing run numbers. */
export async function lastRunNumber(deps: SynclineDeps, input: LastRunNumberInput): Promise<LastRunNumberResult> {
  // Called once when an activation (re)starts: a run its previous workflow left open is closed now.
  await settleUnfinishedRuns(deps, input.activationId, "the activation's restart");
  const runNumber = await lastRun(deps.db, input.activationId);
  // Fields only when there is something to carry on: the result enters history.
  const { lastScheduledAt, lastScheduledStartedAt, paused, heldDeletes } = await restartState(deps.db, input.activationId);
  return {
    runNumber,
    ...(lastScheduledAt ? { lastScheduledAt } : {}),
    ...(lastScheduledAt && lastScheduledStartedAt ? { lastScheduledStartedAt } : {}),
    ...(paused ? { paused } : {}),
    ...(heldDeletes ? { heldDeletes } : {}),
  };
}

export interface RecordStopInput {
  activationId: string;
  config: unknown;
  paused: StoppedPause | null;
}

/** As the activation stops: whether it is paused (and why), for the next start to keep. */
export async function recordStop(deps: SynclineDeps, input: RecordStopInput): Promise<void> {
  await recordStopped(deps.db, input.activationId, input.config, input.paused);
}

export interface AwaitRunWorkflowInput {
  activationWorkflowId: string;
  /** The run's workflow id (`activation/<id>/run/<n>`, or `…/apply`). */
  workflowId: string;
}
/**
 * How the run's open workflow ended: its summary (a failed run's too), the failure of a run that gave none
 * (a plan), or `closed` when it ended with no outcome of its own (terminated, cancelled, timed out).
 */
export type AwaitRunWorkflowResult = { summary: RunSummary } | { failed: { type: string; message: string } } | { closed: string };

/**
 * The activation started a run and found its workflow id held by an open workflow: the run's workflow of an
 * execution of the activation that was reset (a reset does not end the reset execution's children). Waits
 * for it to end (heartbeating) and answers how it ended; the activation takes that as the run's outcome.
 * Refused (non-retryable, RUN_ID_TAKEN) when the workflow is not a child of this activation.
 */
export async function awaitRunWorkflow(deps: SynclineDeps, input: AwaitRunWorkflowInput): Promise<AwaitRunWorkflowResult> {
  const client = deps.client();
  const d = await describeWorkflow(client, input.workflowId);
  if (!d) return { closed: 'NOT_FOUND' };
  if (d.parentExecution?.workflowId !== input.activationWorkflowId)
    throw ApplicationFailure.nonRetryable(
      `workflow id "${input.workflowId}" is held by a workflow that is not a run of ${input.activationWorkflowId} (run ${d.runId}${d.parentExecution ? ` of ${d.parentExecution.workflowId}` : ', started by no workflow'}): the run could not start`,
      'RUN_ID_TAKEN',
    );
  try {
    return { summary: (await client.workflow.getHandle(input.workflowId, d.runId).result()) as RunSummary };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause;
    if (!(cause instanceof ApplicationFailure)) return { closed: cause?.name ?? 'CLOSED' };
    const detail = cause.details?.[0] as RunSummary | undefined;
    if (detail && typeof detail === 'object' && 'runNumber' in detail) return { summary: detail };
    return { failed: { type: cause.type ?? 'INTERNAL', message: cause.message } };
  }
}
