/** Run bookkeeping read by the activation workflow and the client. */
import type { SynclineDeps } from './deps';
import { settleUnfinishedRuns } from './commit';
import { lastRunNumber as lastRun } from '../db/runs';

export interface LastRunNumberInput {
  activationId: string;
}
export interface LastRunNumberResult {
  runNumber: number;
}

/** A re-created activation workflow continues the numbering instead of reusing run numbers. */
export async function lastRunNumber(deps: SynclineDeps, input: LastRunNumberInput): Promise<LastRunNumberResult> {
  // Called once when an activation (re)starts: a run its previous workflow left open is closed now.
  await settleUnfinishedRuns(deps, input.activationId, "the activation's restart");
  return { runNumber: await lastRun(deps.db, input.activationId) };
}
