/** Per-run warning thresholds (pure): failed-row rate, volume anomalies, held deletions. */
import type { ActivationConfig } from './config';
import type { RunSummary, RunWarning } from './run';

/**
 * What FAILED_ROWS weighs in run `s`: the rows it tried (sent, or rejected anew) and of those the ones
 * that failed or were rejected; `carried` are the problems reported by earlier runs that still hold
 * unchanged (refused rows skipped until their data changes, rejections with the same content).
 */
export function failedRowCounts(s: RunSummary): { tried: number; failed: number; carried: number } {
  const ops = Object.values(s.ops);
  const newlyRejected = s.rejected - (s.rejectedUnchanged ?? 0);
  const sent = ops.reduce((a, o) => a + o.planned - o.skipped - o.held - (o.kept ?? 0) - (o.backInModel ?? 0), 0);
  return {
    tried: sent + newlyRejected,
    failed: ops.reduce((a, o) => a + o.failed, 0) + newlyRejected,
    carried: ops.reduce((a, o) => a + o.skipped, 0) + (s.rejectedUnchanged ?? 0),
  };
}

export interface RunWarningOptions {
  /**
   * A full re-sync (`s.full`, asked for) sends every row by design: no DELTA_LARGE for it. Off for
   * executions recorded before (the workflow's patch), which raised it.
   */
  fullRunSendsAll?: boolean;
}

export function evaluateRunWarnings(
  config: ActivationConfig,
  s: RunSummary,
  previous?: Pick<RunSummary, 'modelRows' | 'status'>,
  opts: RunWarningOptions = {},
): RunWarning[] {
  const t = config.thresholds;
  const out: RunWarning[] = [];
  // Not sent: skipped, held, and deletions kept for a case variant of their key.
  const planned = Object.values(s.ops).reduce((a, o) => a + o.planned - o.skipped - o.held - (o.kept ?? 0), 0);
  // Only this run's own failures: a problem already reported and unchanged is not reported again.
  const { tried, failed } = failedRowCounts(s);
  if (tried > 0 && (failed * 100) / tried > t.failedRowPercent) {
    out.push({
      code: 'FAILED_ROWS',
      level: 'warning',
      message: `activation "${s.activationId}" run ${s.runNumber}: ${failed} of ${tried} rows failed or were rejected (over ${t.failedRowPercent}%); see: syncline errors ${s.activationId} --run ${s.runNumber}`,
    });
  }
  if (previous?.modelRows && s.modelRows !== undefined && previous.modelRows > 0) {
    const drop = ((previous.modelRows - s.modelRows) * 100) / previous.modelRows;
    if (drop > t.modelDropPercent) {
      out.push({
        code: 'MODEL_DROP',
        level: 'warning',
        message: `activation "${s.activationId}" run ${s.runNumber}: the model has ${s.modelRows} rows, ${drop.toFixed(1)}% fewer than the previous run (${previous.modelRows}). If the rows were not removed on purpose, check the model's source (a load that failed or ran part-way, a filter or a join changed); in Mirror the deletion guard holds large deletions for approval. It clears at the next run whose model does not drop`,
      });
    }
  }
  if (s.modelRows && planned * 100 > t.deltaPercent * s.modelRows && previous !== undefined && !(s.full && opts.fullRunSendsAll)) {
    out.push({
      code: 'DELTA_LARGE',
      level: 'warning',
      message: `activation "${s.activationId}" run ${s.runNumber}: ${planned} rows to send is more than ${t.deltaPercent}% of the model (${s.modelRows}). If the data did not change that much, look for what rewrote the rows (a column's type or format, a query or mapping change, a source reloaded): "syncline rows ${s.activationId} --run ${s.runNumber}" lists them. It clears at the next run that sends less`,
    });
  }
  if (s.heldDeletes > 0) {
    out.push({
      code: 'DELETES_HELD',
      level: 'critical',
      message: s.nullKeyRows
        ? `activation "${s.activationId}" run ${s.runNumber}: ${s.heldDeletes} deletions held by the deletion guard: ${s.nullKeyRows} model rows have no key (column "${config.source.key}"), so the removed keys may be theirs (a model bug, such as a LEFT JOIN gone wrong, makes their keys look removed). ${deletedBesides(s)} Fix the model so that every row has its key (the next run then deletes only the keys really removed); or, if these keys are removed indeed, review them ("syncline rows ${s.activationId} --run ${s.runNumber} --op delete" lists them), then approve with: syncline approve-deletes ${s.activationId} --run ${s.runNumber}`
        : `activation "${s.activationId}" run ${s.runNumber}: ${s.heldDeletes} deletions held by the deletion guard (over the ${config.deletionGuard.maxDeletePercent}% of the synced rows deleted without approval, or an empty model). ${deletedBesides(s)} Review them ("syncline rows ${s.activationId} --run ${s.runNumber} --op delete" lists them), then approve with: syncline approve-deletes ${s.activationId} --run ${s.runNumber}`,
    });
  }
  return out;
}

/** What the activation knows beyond the run summary when it computes its current warnings. */
export interface ActivationView {
  consecutiveFailures: number;
  /** Set when the run failed with a configuration error: the activation pauses itself. */
  configBroken: boolean;
  /** Remaining API quota from the connector's `quota()`, when it has one. */
  quota?: { used: number; max: number } | null;
  recheck: string;
  /** The warnings that held before this run: an open FAILED_ROWS stays open while its rows still fail unchanged. */
  previous?: RunWarning[];
  /** Deletions held by an earlier run still wait for approval (the activation's `heldDeletes`). */
  deletesHeld?: boolean;
  /** The connector's `quota()` failed (`quota` is then null): nothing is known of the quota left. */
  quotaUnreadable?: boolean;
  /**
   * Asked only when a warning would clear on what tells nothing about it (keptOpen): true keeps it open
   * as it was (the workflow's patch; executions recorded before it cleared them).
   */
  keepWhenUnknown?: () => boolean;
}

/**
 * The complete set of warnings that hold after run `s` (what the warnings workflow diffs against):
 * the run's own warnings, plus FAILED_ROWS kept open (see stillFailing), RUN_FAILED (critical from `consecutiveFailedRuns` failures in a row),
 * QUOTA_LOW from the connector's quota, or — on a configuration error — CONFIG_BROKEN alone.
 */
export function currentWarnings(config: ActivationConfig, s: RunSummary, view: ActivationView): RunWarning[] {
  const t = config.thresholds;
  if (view.configBroken) {
    return [
      {
        code: 'CONFIG_BROKEN',
        level: 'critical',
        message: `activation "${s.activationId}" is paused: run ${s.runNumber} failed with ${s.error?.type ?? 'a configuration error'}: ${sentence(s.error?.message ?? '')} ${whatToDo(s.activationId, view.recheck)}`,
      },
    ];
  }
  const out = [...s.warnings];
  const kept = stillFailing(config, s, view.previous);
  if (kept) out.push(kept);
  out.push(...keptOpen(s, view, out));
  if (s.status === 'failed') {
    const n = view.consecutiveFailures;
    const critical = n >= t.consecutiveFailedRuns;
    out.push({
      code: 'RUN_FAILED',
      level: critical ? 'critical' : 'warning',
      message: `activation "${s.activationId}": ${critical ? `${n} runs in a row failed (threshold ${t.consecutiveFailedRuns}); ` : ''}run ${s.runNumber} failed with ${s.error?.type ?? 'INTERNAL'}: ${s.error?.message ?? 'unknown error'}`,
    });
  }
  const q = view.quota;
  if (q && q.max > 0 && !out.some((w) => w.code === 'QUOTA_LOW')) {
    const left = ((q.max - q.used) * 100) / q.max;
    if (left < t.quotaLowPercent) {
      out.push({
        code: 'QUOTA_LOW',
        level: 'warning',
        message: `activation "${s.activationId}": ${left.toFixed(1)}% of the destination's API quota is left (${q.max - q.used} of ${q.max}; threshold ${t.quotaLowPercent}%). Later runs may wait for the quota to refill.`,
      });
    }
  }
  return out;
}

/** A message that goes on with another sentence: a full stop unless it ends one already. */
function sentence(message: string): string {
  const m = message.trimEnd();
  return m === '' || /[.!?]$/.test(m) ? m : `${m}.`;
}

function whatToDo(activationId: string, recheck: string): string {
  return `Fix the connection or the activation, then resume it ("syncline resume ${activationId}"; a re-check every ${recheck} resumes it by itself once the destination checks out).`;
}

/**
 * CONFIG_BROKEN of an activation started again while paused by a configuration error whose destination check
 * still fails: the warning the execution before left open, with what the check says now.
 */
export function configBrokenAtStart(
  config: ActivationConfig,
  pausedReason: string | undefined,
  failure: { code: string; message: string },
  recheck: string,
): RunWarning {
  return {
    code: 'CONFIG_BROKEN',
    level: 'critical',
    message: `activation "${config.id}" is paused (${pausedReason ?? 'paused after a configuration error'}); started again, its destination still fails its check with ${failure.code}: ${sentence(failure.message)} ${whatToDo(config.id, recheck)}`,
  };
}

/**
 * FAILED_ROWS already open stays open after a run that raised none of its own while the problems
 * reported earlier still hold unchanged: with them counted in, the run's rows still fail over the
 * threshold. A run that sends nothing therefore neither warns again nor lets the warning clear as if
 * the rows had recovered; it clears once they are fixed (or drowned in rows that go through). Carried
 * problems never open the warning by themselves: they were under the threshold when reported.
 */
function stillFailing(config: ActivationConfig, s: RunSummary, previous: RunWarning[] | undefined): RunWarning | null {
  if (!previous?.some((w) => w.code === 'FAILED_ROWS') || s.warnings.some((w) => w.code === 'FAILED_ROWS') || s.status === 'failed')
    return null;
  const { tried, failed, carried } = failedRowCounts(s);
  if (carried === 0 || ((failed + carried) * 100) / (tried + carried) <= config.thresholds.failedRowPercent) return null;
  return {
    code: 'FAILED_ROWS',
    level: 'warning',
    message: `activation "${s.activationId}": ${failed + carried} rows still fail or are rejected (${carried} reported by earlier runs and unchanged since, ${failed} new of the ${tried} rows run ${s.runNumber} tried). Fix them in the model, or in the destination and then run "syncline retry-failed ${s.activationId}"; see: syncline errors ${s.activationId}`,
  };
}

/**
 * Open warnings that stay as they were because what would clear them tells nothing about them, rather
 * than notify a recovery that never happened: a failed run (it may have sent none of the rows that failed
 * before, and applies no held deletion) keeps FAILED_ROWS, and DELETES_HELD while its deletions wait; a
 * quota that could not be read keeps QUOTA_LOW. FAILED_ROWS, once closed, never came back for the problems
 * still carried (stillFailing keeps only a warning that is open).
 */
function keptOpen(s: RunSummary, view: ActivationView, raised: RunWarning[]): RunWarning[] {
  const failed = s.status === 'failed';
  const keep = (view.previous ?? []).filter(
    (w) =>
      !raised.some((r) => r.code === w.code) &&
      ((w.code === 'FAILED_ROWS' && failed) ||
        (w.code === 'DELETES_HELD' && failed && view.deletesHeld) ||
        (w.code === 'QUOTA_LOW' && view.quotaUnreadable)),
  );
  return keep.length > 0 && view.keepWhenUnknown?.() ? keep : [];
}

/** Raised by the activation's deadline timer while run `runNumber` is still going. */
export function deadlineWarning(config: ActivationConfig, runNumber: number, scheduledAt: number): RunWarning {
  return {
    code: 'DEADLINE_MISSED',
    level: 'warning',
    message: `activation "${config.id}": run ${runNumber} has not finished ${config.thresholds.deadlineMinutes} min after its scheduled start (${new Date(scheduledAt).toISOString()}); see its progress with the "status" query`,
  };
}

/** What a run that held deletions deleted all the same: only deletions approved before it. */
function deletedBesides(s: RunSummary): string {
  const made = s.ops.delete?.succeeded ?? 0;
  return made > 0
    ? `The run made only the ${made} deletion(s) approved before it; these ${s.heldDeletes} were not made.`
    : 'Nothing was deleted.';
}
