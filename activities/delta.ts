/**
 * Delta: compares the stage with the activation's snapshot in Postgres, applies the deletion guard,
 * and numbers the rows to send into chunks sized by the destination.
 */
import { sql } from 'kysely';
import { modeRows, type RowOp } from '../common/sync-modes';
import { createDelta, deltaCounts, indexDelta, numberChunks } from '../db/delta';
import { deltaTable } from '../db/work-tables';
import type { SynclineDeps } from './deps';
import { buildContext, connectorFor, loadRun, sentFields, type LoadedRun } from './run-context';
import { withHeartbeat } from './work';
import { Context } from '@temporalio/activity';

export interface ComputeDeltaInput { runId: string; onlyFailed?: boolean }
export interface ComputeDeltaResult {
  /** Rows to send per operation (after the guard). */
  planned: Partial<Record<RowOp, number>>;
  rejected: number;
  skipped: number;
  heldDeletes: number;
  /** Chunk numbers to write: the DAG maps the write task over this list. */
  chunks: number[];
  methods: Partial<Record<RowOp, string>>;
}

function beat(): void {
  try { Context.current().heartbeat(); } catch { /* not in an activity */ }
}

export async function computeDelta(deps: SynclineDeps, input: ComputeDeltaInput): Promise<ComputeDeltaResult> {
  const run = await loadRun(deps, input.runId);
  const { config } = run;
  await sql`DROP TABLE IF EXISTS ${deltaTable(run.runId)}`.execute(deps.db);
  await withHeartbeat(beat, () => createDelta({
    runId: run.runId, activationId: run.activationId, modeRows: modeRows(config.destination.kind, config.mode),
    full: run.full, onlyFailed: input.onlyFailed ?? run.trigger === 'retry_failed',
  }).execute(deps.db));
  const heldDeletes = await applyDeletionGuard(deps, run);
  const counts = (await deltaCounts(run.runId).execute(deps.db)).rows;
  const planned: Partial<Record<RowOp, number>> = {};
  let rejected = 0;
  let skipped = 0;
  for (const c of counts) {
    if (c.status === 'rejected') rejected += Number(c.rows);
    else if (c.status === 'skipped') skipped += Number(c.keys);
    else if (c.status === 'pending' && c.op) planned[c.op as RowOp] = (planned[c.op as RowOp] ?? 0) + Number(c.keys);
  }
  const { chunks, methods } = await planChunks(deps, run, planned);
  return { planned, rejected, skipped, heldDeletes, chunks, methods };
}

/**
 * Mirror's deletion guard: more than `maxDeletePercent` of the synced rows, or an empty model, holds
 * every unapproved deletion. Held keys are recorded; only approveDeletes for that run releases them.
 */
async function applyDeletionGuard(deps: SynclineDeps, run: LoadedRun): Promise<number> {
  const d = deltaTable(run.runId);
  const a = run.activationId;
  // A key that came back into the model no longer needs a decision.
  await sql`DELETE FROM syncline.held_deletes h WHERE h.activation_id = ${a}
    AND NOT EXISTS (SELECT 1 FROM ${d} x WHERE x.key = h.key AND x.op = 'delete')`.execute(deps.db);
  const stats = (await sql<{ removed: string; unapproved: string; synced: string; model: string }>`SELECT
      (SELECT count(*) FROM ${d} WHERE op = 'delete' AND status = 'pending') AS removed,
      (SELECT count(*) FROM ${d} x WHERE op = 'delete' AND status = 'pending'
         AND NOT EXISTS (SELECT 1 FROM syncline.held_deletes h WHERE h.activation_id = ${a} AND h.key = x.key AND h.approved)) AS unapproved,
      (SELECT count(*) FROM syncline.snapshot WHERE activation_id = ${a}) AS synced,
      (SELECT model_rows FROM syncline.runs WHERE id = ${run.runId}) AS model`.execute(deps.db)).rows[0]!;
  const unapproved = Number(stats.unapproved);
  if (unapproved === 0) return 0;
  const limit = run.config.deletionGuard.maxDeletePercent;
  const modelEmpty = Number(stats.model) === 0;
  if (!modelEmpty && unapproved * 100 <= limit * Number(stats.synced)) return 0;
  await sql`UPDATE ${d} x SET status = 'held' WHERE op = 'delete' AND status = 'pending'
    AND NOT EXISTS (SELECT 1 FROM syncline.held_deletes h WHERE h.activation_id = ${a} AND h.key = x.key AND h.approved)`.execute(deps.db);
  await sql`INSERT INTO syncline.held_deletes (activation_id, run_number, key)
    SELECT ${a}, ${run.runNumber}, key FROM ${d} WHERE status = 'held'
    ON CONFLICT (activation_id, key) DO UPDATE SET run_number = excluded.run_number WHERE NOT held_deletes.approved`.execute(deps.db);
  return unapproved;
}

/** Asks the connector how to write each op, numbers chunks in SQL, and records them. */
async function planChunks(deps: SynclineDeps, run: LoadedRun, planned: Partial<Record<RowOp, number>>): Promise<{ chunks: number[]; methods: Partial<Record<RowOp, string>> }> {
  const ops = (Object.keys(planned) as RowOp[]).filter((op) => (planned[op] ?? 0) > 0).sort();
  if (ops.length === 0) return { chunks: [], methods: {} };
  const connector = connectorFor(deps, run.config);
  const ctx = buildContext(deps, run, sentFields(run));
  let base = 0;
  const plans: Array<{ op: RowOp; base: number; size: number; method: string; rows: number }> = [];
  for (const op of ops) {
    const rows = planned[op]!;
    const plan = connector.planWrites(ctx, op, rows);
    const size = Math.max(1, Math.min(run.config.chunkSize ?? plan.chunkSize, plan.chunkSize));
    plans.push({ op, base, size, method: plan.method, rows });
    base += Math.ceil(rows / size);
  }
  await numberChunks(run.runId, plans).execute(deps.db);
  await indexDelta(run.runId).execute(deps.db);
  await sql`ANALYZE ${deltaTable(run.runId)}`.execute(deps.db);
  const rows = (await sql<{ chunk: number; op: RowOp; n: string }>`SELECT chunk, op, count(*) AS n FROM ${deltaTable(run.runId)} WHERE status = 'pending' GROUP BY chunk, op ORDER BY chunk`.execute(deps.db)).rows;
  const method = new Map(plans.map((p) => [p.op, p.method]));
  if (rows.length) {
    await deps.db.insertInto('syncline.chunks')
      .values(rows.map((r) => ({ run_id: run.runId, chunk: r.chunk, op: r.op, method: method.get(r.op)!, row_count: Number(r.n), state: null })))
      .onConflict((oc) => oc.columns(['run_id', 'chunk']).doNothing()).execute();
  }
  return { chunks: rows.map((r) => r.chunk), methods: Object.fromEntries(method) };
}
