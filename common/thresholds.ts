/** Per-run warning thresholds (pure): failed-row rate, volume anomalies, held deletions. */
import type { ActivationConfig } from './config';
import type { RunSummary, RunWarning } from './run';

export function evaluateRunWarnings(config: ActivationConfig, s: RunSummary, previous?: Pick<RunSummary, 'modelRows' | 'status'>): RunWarning[] {
  const t = config.thresholds;
  const out: RunWarning[] = [];
  const ops = Object.values(s.ops);
  const planned = ops.reduce((a, o) => a + o.planned - o.skipped - o.held, 0);
  const failed = ops.reduce((a, o) => a + o.failed, 0) + s.rejected;
  if (planned + s.rejected > 0 && (failed * 100) / (planned + s.rejected) > t.failedRowPercent) {
    out.push({ code: 'FAILED_ROWS', level: 'warning', message: `activation "${s.activationId}" run ${s.runNumber}: ${failed} of ${planned + s.rejected} rows failed (over ${t.failedRowPercent}%); see: syncline errors ${s.activationId} --run ${s.runNumber}` });
  }
  if (previous?.modelRows && s.modelRows !== undefined && previous.modelRows > 0) {
    const drop = ((previous.modelRows - s.modelRows) * 100) / previous.modelRows;
    if (drop > t.modelDropPercent) {
      out.push({ code: 'MODEL_DROP', level: 'warning', message: `activation "${s.activationId}" run ${s.runNumber}: the model has ${s.modelRows} rows, ${drop.toFixed(1)}% fewer than the previous run (${previous.modelRows})` });
    }
  }
  if (s.modelRows && planned * 100 > t.deltaPercent * s.modelRows && previous !== undefined) {
    out.push({ code: 'DELTA_LARGE', level: 'warning', message: `activation "${s.activationId}" run ${s.runNumber}: ${planned} rows to send is more than ${t.deltaPercent}% of the model (${s.modelRows})` });
  }
  if (s.heldDeletes > 0) {
    out.push({ code: 'DELETES_HELD', level: 'critical', message: `activation "${s.activationId}" run ${s.runNumber}: ${s.heldDeletes} deletions held by the deletion guard (limit ${config.deletionGuard.maxDeletePercent}% of synced rows, or an empty model). Nothing was deleted. Approve with the approveDeletes update naming run ${s.runNumber}.` });
  }
  return out;
}
