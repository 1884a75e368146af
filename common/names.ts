/**
 * syncline's Temporal names, defined once (workflow-safe): workflow types and workflow ids. Signals,
 * queries and updates are defined with their types in workflows/messages.ts; workflows, the client, the
 * CLI, activities, tests and benchmarks all use these definitions instead of spelling the strings.
 */
export const WORKFLOW_TYPES = {
  activation: 'activationWorkflow',
  syncRun: 'syncRunWorkflow',
  writeChunks: 'writeChunksWorkflow',
  dag: 'dagWorkflow',
  dagMapBatch: 'dagMapBatchWorkflow',
  warnings: 'warningsWorkflow',
} as const;

/** The task queue syncline workers poll unless SYNCLINE_TASK_QUEUE names another. */
export const TASK_QUEUE = 'syncline';

/** `activation/<id>`: one long-lived workflow per activation. */
export function activationWorkflowId(activationId: string): string {
  return `activation/${activationId}`;
}

/** `activation/<id>/run/<n>`, or `.../apply` for the run that applies plan n. */
export function runWorkflowId(activationId: string, runNumber: number, apply = false): string {
  return `${activationWorkflowId(activationId)}/run/${runNumber}${apply ? '/apply' : ''}`;
}

/** The namespace's warnings workflow, unless a deployment names another (activities/notify.ts). */
export const WARNINGS_WORKFLOW_ID = 'syncline-warnings';

/**
 * The activation (and run) a workflow id names, for log lines: the inverse of activationWorkflowId and
 * runWorkflowId. Null for other workflows (DAGs, warnings).
 */
export function activationOfWorkflowId(workflowId: string): { activationId: string; runNumber?: number } | null {
  const m = /^activation\/([^/]+)(?:\/run\/(\d+)(?:\/apply)?)?$/.exec(workflowId);
  if (!m) return null;
  return m[2] === undefined ? { activationId: m[1]! } : { activationId: m[1]!, runNumber: Number(m[2]) };
}
