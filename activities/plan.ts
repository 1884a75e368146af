/**
 * Plan and apply: a plan run stops after the delta and keeps its work tables; they ARE the frozen
 * plan (stage values + numbered delta rows + chunk ranges). Only counts and up to 5 sample rows per
 * op are recorded in syncline.plans; the rows never enter workflow history.
 */
import { sql } from 'kysely';
import { SyncError } from '../common/errors';
import type { RowOp } from '../common/sync-modes';
import { deltaTable, stageTable } from '../db/work-tables';
import type { SynclineDeps } from './deps';
import { loadRun, sentFields } from './run-context';
import { settleSupersededPlan } from './commit';

const SAMPLES_PER_OP = 5;

export interface RecordPlanInput { runId: string; planned: Partial<Record<RowOp, number>>; rejected: number; heldDeletes: number }
export interface RecordPlanResult { plan: number; counts: Record<string, number> }

/** Records the plan and supersedes (and cleans up) the activation's older open plans. */
export async function recordPlan(deps: SynclineDeps, input: RecordPlanInput): Promise<RecordPlanResult> {
  const run = await loadRun(deps, input.runId);
  const fields = sentFields(run);
  const cols = [...new Set(fields.map((f) => f.from))].map((c) => sql`s.${sql.id(c)}`);
  const rows = (await sql<Record<string, unknown>>`SELECT * FROM (
      SELECT d.key AS __key, d.op AS __op, (s.ctid IS NOT NULL) AS __has, row_number() OVER (PARTITION BY d.op ORDER BY d.seq) AS __n, ${sql.join(cols)}
      FROM ${deltaTable(run.runId)} d LEFT JOIN ${stageTable(run.runId)} s ON s.ctid = d.tid WHERE d.status = 'pending' AND d.op IS NOT NULL) x
    WHERE __n <= ${SAMPLES_PER_OP} ORDER BY __op, __n`.execute(deps.db)).rows;
  const samples: Record<string, Array<{ key: string; values: Record<string, unknown> }>> = {};
  for (const r of rows) {
    const values: Record<string, unknown> = {};
    if (r.__has) for (const f of fields) values[f.to] = r[f.from];
    (samples[String(r.__op)] ??= []).push({ key: String(r.__key), values });
  }
  const counts: Record<string, number> = { ...(input.planned as Record<string, number>), rejected: input.rejected, heldDeletes: input.heldDeletes };
  await supersedePlans(deps, { activationId: run.activationId, except: run.runNumber });
  await deps.db.insertInto('syncline.plans').values({
    activation_id: run.activationId, run_number: run.runNumber, run_id: run.runId, counts: JSON.stringify(counts), samples: JSON.stringify(samples),
  }).onConflict((oc) => oc.columns(['activation_id', 'run_number']).doUpdateSet({ counts: JSON.stringify(counts), samples: JSON.stringify(samples), status: 'open' })).execute();
  await deps.db.updateTable('syncline.runs').set({ status: 'planned', finished_at: new Date() }).where('id', '=', run.runId).execute();
  return { plan: run.runNumber, counts };
}

export interface SupersedePlansInput { activationId: string; except?: number }
export interface SupersedePlansResult { superseded: number[] }

/** A newer plan or a normal run makes open plans stale: they are marked superseded and their work tables dropped. */
export async function supersedePlans(deps: SynclineDeps, input: SupersedePlansInput): Promise<SupersedePlansResult> {
  const open = await deps.db.selectFrom('syncline.plans').select(['run_number', 'run_id'])
    .where('activation_id', '=', input.activationId).where('status', '=', 'open').where('run_number', '!=', input.except ?? -1).execute();
  for (const p of open) {
    await deps.db.transaction().execute(async (tx) => {
      await settleSupersededPlan(tx, String(p.run_id));
      await tx.updateTable('syncline.plans').set({ status: 'superseded' }).where('activation_id', '=', input.activationId).where('run_number', '=', p.run_number).execute();
    });
  }
  return { superseded: open.map((p) => p.run_number) };
}

export interface LoadPlanInput { activationId: string; plan: number }
export interface LoadPlanResult { runId: string; chunks: number[]; missingAttributes: number; createdAt: string }

/** The frozen plan to apply: its run id and chunk numbers (planned by the plan run's delta). */
export async function loadPlan(deps: SynclineDeps, input: LoadPlanInput): Promise<LoadPlanResult> {
  const p = await deps.db.selectFrom('syncline.plans').selectAll().where('activation_id', '=', input.activationId).where('run_number', '=', input.plan).executeTakeFirst();
  if (!p) throw new SyncError('INTERNAL', `activation "${input.activationId}" has no plan ${input.plan}; run \`syncline plan ${input.activationId}\` first`, { retryable: false });
  const chunks = await deps.db.selectFrom('syncline.chunks').select('chunk').where('run_id', '=', String(p.run_id)).orderBy('chunk').execute();
  const missing = await deps.db.selectFrom('syncline.connector_state').select('value').where('activation_id', '=', input.activationId).where('key', '=', `run:${input.plan}:missingAttributes`).executeTakeFirst();
  return {
    runId: String(p.run_id), chunks: chunks.map((c) => c.chunk),
    missingAttributes: ((missing?.value as unknown[] | undefined) ?? []).length, createdAt: new Date(p.created_at).toISOString(),
  };
}

export interface FinishPlanInput { activationId: string; plan: number }

export async function markPlanApplied(deps: SynclineDeps, input: FinishPlanInput): Promise<void> {
  await deps.db.updateTable('syncline.plans').set({ status: 'applied' }).where('activation_id', '=', input.activationId).where('run_number', '=', input.plan).execute();
}
