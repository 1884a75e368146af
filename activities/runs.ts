/** Run bookkeeping read by the activation workflow and the client. */
import type { SynclineDeps } from './deps';
import { settleUnfinishedRuns } from './commit';
import { lastRunNumber as lastRun, recordStopped, restartState, type StoppedPause } from '../db/runs';

export interface LastRunNumberInput {
  activationId: string;
}
export interface LastRunNumberResult {
  runNumber: number;
  /** The scheduled time of the last scheduled run (ISO), when there was one: an interval schedule carries on from it. */
  lastScheduledAt?: string;
  /** The pause the activation was stopped in, when it was paused then: the start keeps it. */
  paused?: StoppedPause;
}

/** A re-created activation workflow continues the numbering instead of reusing run numbers. */
export async function lastRunNumber(deps: SynclineDeps, input: LastRunNumberInput): Promise<LastRunNumberResult> {
  // Called once when an activation (re)starts: a run its previous workflow left open is closed now.
  await settleUnfinishedRuns(deps, input.activationId, "the activation's restart");
  const runNumber = await lastRun(deps.db, input.activationId);
  // Fields only when there is something to carry on: the result enters history.
  const { lastScheduledAt, paused } = await restartState(deps.db, input.activationId);
  return { runNumber, ...(lastScheduledAt ? { lastScheduledAt } : {}), ...(paused ? { paused } : {}) };
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
