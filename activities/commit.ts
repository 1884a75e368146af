/**
 * Commit and finish a run: accepted rows advance the snapshot, the rest are recorded as row errors,
 * the run record gets its counts, and the work tables are dropped. Safe to run twice.
 */
import { sql } from 'kysely';
import { commitStatements, summaryCounts } from '../db/commit';
import { deltaName } from '../db/work-tables';
import { emptyOpCounts, type RunStatus, type RunSummary, type RunWarning } from '../common/run';
import type { RowOp } from '../common/sync-modes';
import type { SynclineDeps } from './deps';
import { loadRun } from './run-context';
import { dropWorkTables } from './work';

export interface CommitRunInput {
  runId: string;
  /** The first failed task's error, when the run did not get to write everything. */
  error?: { type: string; message: string };
  /** Warnings raised by the workflow (quota waits, held deletions). */
  warnings?: RunWarning[];
  keepWorkTables?: boolean;
}

export async function commitRun(deps: SynclineDeps, input: CommitRunInput): Promise<RunSummary> {
  const run = await loadRun(deps, input.runId);
  const exists = (await sql<{ t: string | null }>`SELECT to_regclass(${'syncline_work.' + deltaName(run.runId)})::text AS t`.execute(deps.db)).rows[0]?.t;
  const summary = await baseSummary(deps, run.runId);
  if (exists) {
    await deps.db.transaction().execute(async (tx) => {
      for (const stmt of commitStatements(run.runId, run.activationId, run.runNumber, run.config.source.key)) await stmt.execute(tx);
    });
    for (const c of (await summaryCounts(run.runId).execute(deps.db)).rows) {
      const n = Number(c.n);
      if (c.status === 'rejected') { summary.rejected += Number(c.rows); continue; } // model rows, not keys
      if (!c.op) continue;
      const ops = (summary.ops[c.op as RowOp] ??= emptyOpCounts());
      ops.planned += n;
      if (c.status === 'ok') ops.succeeded += n;
      else if (c.status === 'failed' || c.status === 'pending') ops.failed += n;
      else if (c.status === 'skipped') ops.skipped += n;
      else if (c.status === 'held') ops.held += n;
    }
    summary.heldDeletes = summary.ops.delete?.held ?? 0;
  }
  const failedRows = Object.values(summary.ops).reduce((a, o) => a + o.failed, 0);
  const status: RunStatus = input.error ? 'failed' : failedRows > 0 || summary.rejected > 0 ? 'partial' : 'success';
  summary.status = status;
  summary.error = input.error;
  summary.warnings = [...summary.warnings, ...(input.warnings ?? [])];
  summary.finishedAt = new Date().toISOString();
  await deps.db.updateTable('syncline.runs').set({
    status, finished_at: new Date(), error: input.error ? `${input.error.type}: ${input.error.message}` : null,
    counts: JSON.stringify({ ops: summary.ops, rejected: summary.rejected, heldDeletes: summary.heldDeletes }),
    warnings: JSON.stringify(summary.warnings),
  }).where('id', '=', run.runId).execute();
  if (exists && !input.keepWorkTables) await dropWorkTables(deps, run.runId);
  return summary;
}

async function baseSummary(deps: SynclineDeps, runId: string): Promise<RunSummary> {
  const r = await deps.db.selectFrom('syncline.runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
  const created = await deps.db.selectFrom('syncline.attribute_creations').select('field').where('activation_id', '=', r.activation_id).where('run_number', '=', r.run_number).where('created', '=', true).execute();
  const config = r.config as { mode: string };
  return {
    activationId: r.activation_id, runNumber: r.run_number, trigger: r.trigger as RunSummary['trigger'], mode: config.mode, full: r.full_resync,
    status: 'running', startedAt: new Date(r.started_at).toISOString(), modelRows: r.model_rows === null ? undefined : Number(r.model_rows),
    ops: {}, rejected: 0, heldDeletes: 0, attributesCreated: created.map((c) => c.field), warnings: (r.warnings as RunWarning[]) ?? [],
  };
}

/** Deletions held in a run stay held until this marks them approved; the next run applies them. */
export interface ApproveDeletesInput { activationId: string; runNumber: number }
export interface ApproveDeletesResult { approved: number }

export async function approveHeldDeletes(deps: SynclineDeps, input: ApproveDeletesInput): Promise<ApproveDeletesResult> {
  const r = await deps.db.updateTable('syncline.held_deletes').set({ approved: true })
    .where('activation_id', '=', input.activationId).where('run_number', '=', input.runNumber).executeTakeFirst();
  return { approved: Number(r.numUpdatedRows) };
}

