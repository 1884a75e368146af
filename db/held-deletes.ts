/**
 * Mirror's deletion guard and its approvals (syncline.held_deletes). An approval belongs to the run that
 * follows it: that run claims it when it starts, and it lapses with that run, used or not, once that run
 * completes; the approval of a run that failed stands for the next run (claimApprovals).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database';
import { deltaTable } from './work-tables';

type Db = Kysely<Database>;

/** Marks the deletions held by `heldBy` approved, for the next run to claim. */
export async function approveHeld(db: Db, activationId: string, heldBy: number): Promise<number> {
  const r = await db
    .updateTable('syncline.held_deletes')
    .set({ approved: true, approved_for: null })
    .where('activation_id', '=', activationId)
    .where('run_number', '=', heldBy)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * Run `runNumber` claims the unclaimed approvals, and those claimed by an earlier run that did not complete
 * (every record of that run number failed or cancelled: the approval's run failed, say its model query): the
 * user approved those deletions, and the run that was to make them never got to them. Approvals claimed by an
 * earlier run that completed (success, partial) lapse. Idempotent for a retried run. Before, a failed run's
 * approval lapsed too, and nothing showed it: the next run held the same deletions again.
 */
export async function claimApprovals(db: Db, activationId: string, runNumber: number): Promise<void> {
  // One statement for two sets of rows that do not overlap: an approval claimed by a completed run lapses (not
  // approved, claimed by none); an unclaimed one, or one of a run that did not complete, is claimed by this run.
  await sql`WITH unfinished AS (
  SELECT r.run_number FROM syncline.runs r WHERE r.activation_id = ${activationId} AND r.run_number IN (
    SELECT approved_for FROM syncline.held_deletes WHERE activation_id = ${activationId} AND approved AND approved_for <> ${runNumber})
  GROUP BY r.run_number HAVING bool_and(r.status IN ('failed', 'cancelled'))
)
UPDATE syncline.held_deletes h
SET approved = approved_for IS NULL OR approved_for IN (SELECT run_number FROM unfinished),
  approved_for = CASE WHEN approved_for IS NULL OR approved_for IN (SELECT run_number FROM unfinished) THEN ${runNumber}::int END
WHERE activation_id = ${activationId} AND approved AND (approved_for IS NULL OR approved_for <> ${runNumber})`.execute(db);
}

export interface GuardStats {
  removed: number;
  unapproved: number;
  synced: number;
  modelRows: number;
  /** The model's rows without a key (a key made NULL by a model bug looks removed: the guard then holds every deletion). */
  nullKeyRows: number;
}

/**
 * Forgets held keys that are back in the model, then counts the run's pending deletions, those not
 * approved for this run, the synced rows, the model's rows and those of them without a key.
 */
export async function guardStats(db: Db, run: { runId: string; activationId: string; runNumber: number }): Promise<GuardStats> {
  const d = deltaTable(run.runId);
  const a = run.activationId;
  await sql`DELETE FROM syncline.held_deletes h WHERE h.activation_id = ${a}
    AND NOT EXISTS (SELECT 1 FROM ${d} x WHERE x.key = h.key AND x.op = 'delete')`.execute(db);
  const s = (
    await sql<{ removed: string; unapproved: string; synced: string; model: string; null_keys: string }>`SELECT
      (SELECT count(*) FROM ${d} WHERE op = 'delete' AND status = 'pending') AS removed,
      (SELECT count(*) FROM ${d} x WHERE op = 'delete' AND status = 'pending' AND NOT ${approvedHere(run)}) AS unapproved,
      (SELECT count(*) FROM syncline.snapshot WHERE activation_id = ${a}) AS synced,
      (SELECT model_rows FROM syncline.runs WHERE id = ${run.runId}) AS model,
      (SELECT count(*) FROM ${d} WHERE change = 'null_key') AS null_keys`.execute(db)
  ).rows[0]!;
  return {
    removed: Number(s.removed),
    unapproved: Number(s.unapproved),
    synced: Number(s.synced),
    modelRows: Number(s.model),
    nullKeyRows: Number(s.null_keys),
  };
}

/**
 * Holds every pending deletion not approved for this run, and records the keys held for the first time. A key
 * held before keeps the run it was held by until this run commits (heldByCommit): the delta of a plan that is
 * never applied (`syncline plan`) must not take the held keys from the run the activation asks to approve, or
 * approving that run approved none of them (test/integration/held-deletes-lifecycle.test.ts).
 */
export async function holdUnapproved(db: Db, run: { runId: string; activationId: string; runNumber: number }): Promise<void> {
  const d = deltaTable(run.runId);
  await sql`UPDATE ${d} x SET status = 'held' WHERE op = 'delete' AND status = 'pending' AND NOT ${approvedHere(run)}`.execute(db);
  await sql`INSERT INTO syncline.held_deletes (activation_id, run_number, key)
    SELECT ${run.activationId}, ${run.runNumber}, key FROM ${d} WHERE status = 'held'
    ON CONFLICT (activation_id, key) DO NOTHING`.execute(db);
}

/**
 * The commit of a run that held deletions: its held keys are now held by it (the run the activation names for
 * approval), but for those approved meanwhile, which keep their approval and the run it named.
 */
export function heldByCommit(runId: string, activationId: string, runNumber: number) {
  return sql`INSERT INTO syncline.held_deletes (activation_id, run_number, key)
    SELECT ${activationId}, ${runNumber}, key FROM ${deltaTable(runId)} WHERE op = 'delete' AND status = 'held'
    ON CONFLICT (activation_id, key) DO UPDATE SET run_number = excluded.run_number
      WHERE NOT held_deletes.approved AND held_deletes.run_number <> excluded.run_number`;
}

/** The run's model rows without a key (its delta's null_key rows): why the guard held every deletion (guardStats). */
export async function nullKeyRows(db: Db, runId: string): Promise<number> {
  const r = await sql<{ n: string }>`SELECT count(*) AS n FROM ${deltaTable(runId)} WHERE change = 'null_key'`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * A plan is no run that follows an approval: the approvals its prepare claimed (claimApprovals) are left to
 * the next run, which claims them again. Applied, the plan deletes the approved keys its delta counted.
 */
export async function releasePlanClaims(db: Db, activationId: string, planNumber: number): Promise<void> {
  await sql`UPDATE syncline.held_deletes SET approved_for = NULL
    WHERE activation_id = ${activationId} AND approved AND approved_for = ${planNumber}`.execute(db);
}

function approvedHere(run: { activationId: string; runNumber: number }) {
  return sql`EXISTS (SELECT 1 FROM syncline.held_deletes h WHERE h.activation_id = ${run.activationId} AND h.key = x.key AND h.approved AND h.approved_for = ${run.runNumber})`;
}
