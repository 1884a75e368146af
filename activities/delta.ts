/**
 * Delta: compares the stage with the activation's snapshot in Postgres, applies the deletion guard,
 * and numbers the rows to send into chunks sized by the destination.
 */
import { sql } from 'kysely';
import { modeRows, type RowOp } from '../common/sync-modes';
import { chunkRanges, createDelta, createDups, deltaCounts, indexDelta, markRejectedUnchanged, uniqueKeyIndex } from '../db/delta';
import { deltaTable, dupsTable } from '../db/work-tables';
import type { SynclineDeps } from './deps';
import { buildContext, connectorFor, loadRun, sentFields, type LoadedRun } from './run-context';
import { withHeartbeat } from './work';
import { Context } from '@temporalio/activity';

export interface ComputeDeltaInput { runId: string; onlyFailed?: boolean }
export interface ComputeDeltaResult {
  /** Rows to send per operation (after the guard). */
  planned: Partial<Record<RowOp, number>>;
  /** Model rows rejected (null or repeated key), those already reported unchanged included. */
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
  await sql`DROP TABLE IF EXISTS ${dupsTable(run.runId)}`.execute(deps.db);
  const hasDups = await withHeartbeat(beat, () => findDuplicateKeys(deps, run.runId));
  await withHeartbeat(beat, () => deps.db.transaction().execute(async (tx) => {
    // The join with the snapshot stays in memory instead of spilling to disk.
    await sql`SET LOCAL work_mem = '256MB'`.execute(tx);
    await createDelta({
      runId: run.runId, activationId: run.activationId, modeRows: modeRows(config.destination.kind, config.mode),
      full: run.full, onlyFailed: input.onlyFailed ?? run.trigger === 'retry_failed', retryFailed: run.retryFailed, hasDups,
    }).execute(tx);
  }));
  let counts = (await deltaCounts(run.runId).execute(deps.db)).rows;
  const anyRejected = counts.some((c) => c.status === 'rejected');
  if (anyRejected) await markRejectedUnchanged(run.runId, run.activationId).execute(deps.db);
  const heldDeletes = counts.some((c) => c.op === 'delete' && c.status === 'pending') ? await applyDeletionGuard(deps, run) : 0;
  if (heldDeletes > 0 || anyRejected) counts = (await deltaCounts(run.runId).execute(deps.db)).rows;
  const planned: Partial<Record<RowOp, number>> = {};
  let rejected = 0;
  let skipped = 0;
  for (const c of counts) {
    if (c.status === 'rejected' || c.status === 'rejected_unchanged') rejected += Number(c.rows);
    else if (c.status === 'skipped') skipped += Number(c.keys);
    else if (c.status === 'pending' && c.op) planned[c.op as RowOp] = (planned[c.op as RowOp] ?? 0) + Number(c.keys);
  }
  const { chunks, methods } = await planChunks(deps, run, planned);
  return { planned, rejected, skipped, heldDeletes, chunks, methods };
}

/** True when the model repeats a key; the repeats are then listed in the run's dups table. */
async function findDuplicateKeys(deps: SynclineDeps, runId: string): Promise<boolean> {
  try {
    await deps.db.transaction().execute(async (tx) => {
      await sql`SET LOCAL maintenance_work_mem = '256MB'`.execute(tx);
      await uniqueKeyIndex(runId).execute(tx);
    });
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await createDups(runId).execute(deps.db);
    return true;
  }
}

/**
 * Mirror's deletion guard: at most `maxDeletePercent` % of the synced rows are deleted without approval
 * (inclusive: exactly that share goes through); more, or an empty model, holds every unapproved deletion.
 * Held keys are recorded; only approveDeletes for that run releases them.
 */
async function applyDeletionGuard(deps: SynclineDeps, run: LoadedRun): Promise<number> {
  const d = deltaTable(run.runId);
  const a = run.activationId;
  // Only an approval claimed by this very run counts (see prepareRun's claimApprovals).
  const approvedHere = sql`h.approved AND h.approved_for = ${run.runNumber}`;
  // A key that came back into the model no longer needs a decision.
  await sql`DELETE FROM syncline.held_deletes h WHERE h.activation_id = ${a}
    AND NOT EXISTS (SELECT 1 FROM ${d} x WHERE x.key = h.key AND x.op = 'delete')`.execute(deps.db);
  const stats = (await sql<{ removed: string; unapproved: string; synced: string; model: string }>`SELECT
      (SELECT count(*) FROM ${d} WHERE op = 'delete' AND status = 'pending') AS removed,
      (SELECT count(*) FROM ${d} x WHERE op = 'delete' AND status = 'pending'
         AND NOT EXISTS (SELECT 1 FROM syncline.held_deletes h WHERE h.activation_id = ${a} AND h.key = x.key AND ${approvedHere})) AS unapproved,
      (SELECT count(*) FROM syncline.snapshot WHERE activation_id = ${a}) AS synced,
      (SELECT model_rows FROM syncline.runs WHERE id = ${run.runId}) AS model`.execute(deps.db)).rows[0]!;
  const unapproved = Number(stats.unapproved);
  if (unapproved === 0) return 0;
  const limit = run.config.deletionGuard.maxDeletePercent;
  const modelEmpty = Number(stats.model) === 0;
  if (!modelEmpty && unapproved * 100 <= limit * Number(stats.synced)) return 0;
  await sql`UPDATE ${d} x SET status = 'held' WHERE op = 'delete' AND status = 'pending'
    AND NOT EXISTS (SELECT 1 FROM syncline.held_deletes h WHERE h.activation_id = ${a} AND h.key = x.key AND ${approvedHere})`.execute(deps.db);
  await sql`INSERT INTO syncline.held_deletes (activation_id, run_number, key)
    SELECT ${a}, ${run.runNumber}, key FROM ${d} WHERE status = 'held'
    ON CONFLICT (activation_id, key) DO UPDATE SET run_number = excluded.run_number WHERE NOT held_deletes.approved`.execute(deps.db);
  return unapproved;
}

/** Asks the connector how to write each op, numbers chunks in SQL, and records them. */
async function planChunks(deps: SynclineDeps, run: LoadedRun, planned: Partial<Record<RowOp, number>>): Promise<{ chunks: number[]; methods: Partial<Record<RowOp, string>> }> {
  const ops = (Object.keys(planned) as RowOp[]).filter((op) => (planned[op] ?? 0) > 0).sort();
  if (ops.length === 0) {
    await deps.db.deleteFrom('syncline.chunks').where('run_id', '=', run.runId).execute();
    return { chunks: [], methods: {} };
  }
  const connector = connectorFor(deps, run.config);
  const ctx = buildContext(deps, run, sentFields(run));
  const plans = ops.map((op) => {
    const plan = connector.planWrites(ctx, op, planned[op]!);
    return { op, method: plan.method, size: Math.max(1, Math.min(run.config.chunkSize ?? plan.chunkSize, plan.chunkSize)) };
  });
  for (const stmt of indexDelta(run.runId)) await stmt.execute(deps.db);
  await sql`ANALYZE ${deltaTable(run.runId)}`.execute(deps.db);
  const ranges = (await chunkRanges(run.runId, plans).execute(deps.db)).rows;
  const method = new Map(plans.map((p) => [p.op, p.method]));
  // A retried delta replaces the chunks of its earlier attempt (no write has started before the delta returns).
  await deps.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('syncline.chunks').where('run_id', '=', run.runId).execute();
    if (ranges.length) {
      await tx.insertInto('syncline.chunks')
        .values(ranges.map((r, i) => ({ run_id: run.runId, chunk: i, op: r.op, method: method.get(r.op)!, row_count: Number(r.pending), seq_from: r.from, seq_to: r.to, state: null })))
        .execute();
    }
  });
  return { chunks: ranges.map((_, i) => i), methods: Object.fromEntries(method) };
}
