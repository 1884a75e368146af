/** Run-level types shared by workflows, activities and the client (workflow-safe, no I/O). */
import type { RowOp } from './sync-modes';
import type { RunWarning } from '../connectors/types';

export type { RunWarning };
export type RunTrigger = 'schedule' | 'manual' | 'full_resync' | 'retry_failed' | 'approval' | 'dag';
/** `cancelled`: the run's workflow ended before its commit; a later run settled what it had written. */
export type RunStatus = 'running' | 'success' | 'partial' | 'failed' | 'paused' | 'cancelled';

export interface OpCounts {
  planned: number;
  succeeded: number;
  failed: number;
  skipped: number;
  held: number;
  /**
   * Of `succeeded`, rows the destination accepted incomplete (a row written without a lookup
   * whose parent is missing): listed in the row errors and sent again next run. Absent when none.
   */
  incomplete?: number;
  /**
   * Of `planned`, rows never sent: the run ended (failed, or was settled) before the write of their chunk
   * began. Neither failed nor listed in the row errors; the next run plans them again. Absent when none.
   */
  unsent?: number;
  /**
   * Of `planned` (deletions only), rows not deleted and not sent: the model still has their key in another case,
   * and the destination takes both for one record (a key that ignores case there; db/delta.ts
   * keepCaseVariants). Neither succeeded nor failed. Absent when none, and in summaries recorded before it was
   * counted (such deletions were counted `succeeded`).
   */
  kept?: number;
  /**
   * Of `planned` (an applied plan's deletions only), rows not deleted and not sent: their key is back in the model
   * since the plan was computed (activities/plan.ts keepDeletionsBackInModel). Absent when none.
   */
  backInModel?: number;
}

/** What a run did, in counts only: it is stored in workflow history and shown in the Web UI. */
export interface RunSummary {
  activationId: string;
  runNumber: number;
  trigger: RunTrigger;
  mode: string;
  full: boolean;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  modelRows?: number;
  /** Per operation (create / update / upsert / delete). */
  ops: Partial<Record<RowOp, OpCounts>>;
  /** Model rows rejected (null, too long or repeated key), `rejectedUnchanged` included. */
  rejected: number;
  /**
   * Of `rejected`, the rows rejected again for the reason already reported, with the same content: still
   * listed in the row errors, but no new failure of this run (like `skipped` for refused rows). Absent in
   * summaries recorded before it was counted.
   */
  rejectedUnchanged?: number;
  heldDeletes: number;
  /**
   * Of `rejected`, the model rows without a key (MODEL_NULL_KEY): while there are any, Mirror's deletion
   * guard holds every deletion (their keys look removed). Absent when there were none, and in summaries
   * recorded before it was counted.
   */
  nullKeyRows?: number;
  /**
   * Rows sent again within the run after a failure for a passing reason, by that failure's code (e.g.
   * `UNABLE_TO_LOCK_ROW`); a row re-sent twice counts twice. Absent when nothing was re-sent, and in
   * summaries recorded before it was counted.
   */
  resent?: Record<string, number>;
  attributesCreated: string[];
  warnings: RunWarning[];
  error?: { type: string; message: string };
}

export function emptyOpCounts(): OpCounts {
  return { planned: 0, succeeded: 0, failed: 0, skipped: 0, held: 0 };
}

/**
 * "upsert 120 (118 ok, 2 failed) · delete 3 held" — for workflow summaries and logs. A run that counted no
 * row says "no changes" when it succeeded, "nothing sent" otherwise (a failed run may never have read its delta).
 */
export function describeRun(s: RunSummary): string {
  const parts = Object.entries(s.ops).map(([op, c]) => {
    const bits = [`${c.succeeded} ok`];
    if (c.incomplete) bits.push(`${c.incomplete} incomplete`);
    if (c.failed) bits.push(`${c.failed} failed`);
    if (c.skipped) bits.push(`${c.skipped} skipped`);
    if (c.held) bits.push(`${c.held} held`);
    if (c.unsent) bits.push(`${c.unsent} not sent`);
    if (c.kept) bits.push(`${c.kept} kept`);
    if (c.backInModel) bits.push(`${c.backInModel} back in the model`);
    return `${op} ${c.planned} (${bits.join(', ')})`;
  });
  const resent = resentText(s.resent);
  if (resent) parts.push(resent);
  if (s.rejected) parts.push(`${s.rejected} rejected${s.rejectedUnchanged ? ` (${s.rejectedUnchanged} unchanged since reported)` : ''}`);
  return `run ${s.runNumber} · ${s.mode} · ${s.trigger}${s.full ? ' (full)' : ''} · ${s.status}${parts.length ? ' · ' + parts.join(' · ') : s.status === 'success' || s.status === 'partial' ? ' · no changes' : ' · nothing sent'}`;
}

/** "150 re-sent (UNABLE_TO_LOCK_ROW 150)", or '' when nothing was re-sent. */
export function resentText(resent: Record<string, number> | undefined): string {
  const codes = Object.entries(resent ?? {}).filter(([, n]) => n > 0);
  if (!codes.length) return '';
  const total = codes.reduce((a, [, n]) => a + n, 0);
  return `${total} re-sent (${codes.map(([code, n]) => `${code} ${n}`).join(', ')})`;
}
