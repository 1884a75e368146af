/**
 * Signals, queries and updates of syncline's workflows, defined once with their types: the workflows
 * handle them, and clients, the CLI, activities and tests send them through these definitions.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RunSummary, RunWarning } from '../common/run';
import type { DagState } from '../common/dag';
import type { OpenWarning, WarningReport } from '../common/warnings';
import type { ConfigChange } from '../common/config-diff';
import type { Health } from '../common/search-attributes';
import { quotedForTerminal, terminalSafe } from '../common/terminal';

/**
 * The `reason` of a signal (resync, pause, stop) as text. A signal cannot be refused as an update is, and a
 * service or a `temporal workflow signal --input` may send a number or an object there: taken as it is, it
 * failed the activation's workflow task at every retry (the activation then ran, answered and stopped no
 * more). A text stays as sent, nothing (null, absent) is none, anything else is its JSON.
 */
export function signalText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export interface ResyncRequest {
  full?: boolean;
  reason?: string;
}
export interface PauseRequest {
  reason?: string;
}
export interface TriggerSyncRequest {
  full?: boolean;
  reason?: string;
}
export interface ApproveDeletesRequest {
  run: number;
}
export interface ApproveDeletesResponse {
  approved: number;
  run: RunSummary;
}

/** `syncline plan`: the plan's number (its run number) and its counts per op (plus `rejected`, `heldDeletes`). */
export interface PlanResponse {
  plan: number;
  counts: Record<string, number>;
}
export interface ApplyPlanRequest {
  plan: number;
}

export interface RunProgress {
  runNumber: number;
  phase: string;
  chunksDone: number;
  chunksTotal: number;
}

export interface ActivationStatus {
  activationId: string;
  state: 'idle' | 'running' | 'paused';
  pausedReason?: string;
  /** Paused by a configuration error (the periodic re-check may resume it), not by an operator; absent when not. */
  autoPaused?: true;
  health: Health;
  schedule: unknown;
  /** ISO time of the next scheduled run; null when manual or paused. */
  nextRunAt: string | null;
  currentRun: RunProgress | null;
  /** A re-sync requested and not started yet (coalesced). */
  pending: { trigger: string; full: boolean } | null;
  heldDeletes: { run: number; count: number } | null;
  consecutiveFailures: number;
  /** The warnings that hold now, which `health` follows (docs/warnings.md); absent from executions of older code. */
  warnings?: RunWarning[];
  /**
   * Signals of an unknown name the activation received (a misspelled `temporal workflow signal --name`): the
   * last 5, newest last; absent when none (and from executions of older code). Nothing was done for them.
   */
  ignoredSignals?: Array<{ name: string; at: string }>;
  /** The last 20 runs, newest last. */
  lastRuns: RunSummary[];
}

export const resyncSignal = defineSignal<[ResyncRequest?]>('resync');
export const pauseSignal = defineSignal<[PauseRequest?]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const retryFailedSignal = defineSignal<[]>('retryFailed');
/** Internal: a run reports its progress to its activation. */
export const runProgressSignal = defineSignal<[RunProgress]>('runProgress');
/** The argument may be left out on the wire (`temporal workflow update execute --name triggerSync`); the handler takes undefined. */
export const triggerSyncUpdate = defineUpdate<RunSummary, [TriggerSyncRequest]>('triggerSync');
export const approveDeletesUpdate = defineUpdate<ApproveDeletesResponse, [ApproveDeletesRequest]>('approveDeletes');
/** Computes the delta and records it as a plan; nothing is written to the destination. */
export const planUpdate = defineUpdate<PlanResponse, []>('plan');
/** Writes exactly the frozen rows of an open plan, then commits them. */
export const applyPlanUpdate = defineUpdate<RunSummary, [ApplyPlanRequest]>('apply');
export const statusQuery = defineQuery<ActivationStatus>('status');

/**
 * A new activation document, applied between runs once validated (same schema) and checked against the
 * destination. `retarget` accepts another target (its snapshot starts empty); `confirm` accepts that every
 * synced row is sent again as a new record (Insert); `dryRun` only answers what would change.
 */
export interface UpdateConfigRequest {
  config: unknown;
  retarget?: boolean;
  confirm?: boolean;
  dryRun?: boolean;
  reason?: string;
}
export interface UpdateConfigResponse {
  applied: boolean;
  version?: number;
  changes: ConfigChange[];
  consequences: string[];
}
export const updateConfigUpdate = defineUpdate<UpdateConfigResponse, [UpdateConfigRequest]>('updateConfig');
/** The activation document the activation runs next (defaults applied): one accepted and waiting for the run in progress to end, else the one it runs now. */
export const configQuery = defineQuery<unknown>('config');
export interface StopRequest {
  reason?: string;
}
/** Finish the current run (if any), then end the workflow; its state stays in Postgres for a later start. */
export const stopSignal = defineSignal<[StopRequest?]>('stop');

/** What a signal of an unknown name is told (activation log, `syncline status`): the activation's signals (runProgress is internal). */
export const IGNORED_SIGNAL_HINT = `not a signal of an activation (known: ${[
  resyncSignal,
  pauseSignal,
  resumeSignal,
  retryFailedSignal,
  stopSignal,
]
  .map((s) => s.name)
  .join(', ')})`;

/** A sync run's progress (the child `activation/<id>/run/<n>`): each step with its state and times, the writes per chunk. */
export const runStateQuery = defineQuery<DagState | null>('runState');

/** The warnings workflow: an activation reports its current warning set. */
export const reportWarningsSignal = defineSignal<[WarningReport]>('reportWarnings');
/** The warnings workflow: warnings open now (of one activation, or all). */
export const openWarningsQuery = defineQuery<OpenWarning[], [string?]>('openWarnings');
/** A DAG run's state: every task with its state, tries and times. */
export const dagStateQuery = defineQuery<DagState>('dagState');
/** Releases a DAG run's wait_for_signal tasks that wait for `name`; the first payload per name is kept. */
export interface DagSignal {
  name: string;
  payload?: unknown;
}
export const dagSignal = defineSignal<[DagSignal]>('dagSignal');
/** What a signal of another name is told (DAG run log, its state query, `syncline dag show`). */
export const DAG_IGNORED_SIGNAL_HINT = `not a signal of a DAG run (known: ${dagSignal.name})`;

/**
 * The worker's log line for a signal of an unknown name sent to `subject` (`activation "contacts"`): the name,
 * anyone's choice, quoted and escaped (an escape sequence in it would act on the terminal that shows the log).
 * Log text only, no command: no patch.
 */
export function ignoredSignalLog(subject: string, name: string, hint: string): string {
  return `${terminalSafe(subject)}: ignored signal ${quotedForTerminal(name)}: ${hint}`;
}
