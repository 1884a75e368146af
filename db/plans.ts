/** Plans computed by `syncline plan` (syncline.plans): counts and a few sample rows; the rows stay in the plan run's work tables. */
import { sql, type Kysely, type Selectable } from 'kysely';
import type pg from 'pg';
import type { Database, PlansTable } from './database';
import { deltaTable, stageTable } from './work-tables';
import { ROW_VALUE_TYPES } from './delta';
import { stringifyExact } from '../common/json-exact';

type Db = Kysely<Database>;
export type PlanRecord = Selectable<PlansTable>;

export async function savePlan(
  db: Db,
  p: { activationId: string; runNumber: number; runId: string; counts: unknown; samples: unknown },
): Promise<void> {
  const counts = JSON.stringify(p.counts);
  // A sample's json(b) numbers may be JsonNumbers (activities/plan.ts): written with every digit.
  const samples = stringifyExact(p.samples);
  await db
    .insertInto('syncline.plans')
    .values({ activation_id: p.activationId, run_number: p.runNumber, run_id: p.runId, counts, samples })
    .onConflict((oc) => oc.columns(['activation_id', 'run_number']).doUpdateSet({ counts, samples, status: 'open' }))
    .execute();
}

export async function openPlans(db: Db, activationId: string, except?: number): Promise<Array<{ runNumber: number; runId: string }>> {
  const rows = await db
    .selectFrom('syncline.plans')
    .select(['run_number', 'run_id'])
    .where('activation_id', '=', activationId)
    .where('status', '=', 'open')
    .where('run_number', '!=', except ?? -1)
    .execute();
  return rows.map((r) => ({ runNumber: r.run_number, runId: String(r.run_id) }));
}

export async function setPlanStatus(db: Db, activationId: string, runNumber: number, status: 'applied' | 'superseded'): Promise<void> {
  await db
    .updateTable('syncline.plans')
    .set({ status })
    .where('activation_id', '=', activationId)
    .where('run_number', '=', runNumber)
    .execute();
}

export async function getPlan(db: Db, activationId: string, runNumber: number): Promise<PlanRecord | undefined> {
  return db
    .selectFrom('syncline.plans')
    .selectAll()
    .where('activation_id', '=', activationId)
    .where('run_number', '=', runNumber)
    .executeTakeFirst();
}

/**
 * Up to `perOp` pending rows per op, in seq order, with the values of `columns` (none for a deletion),
 * read as chunk rows are (`ROW_VALUE_TYPES`: json(b) and json(b)[] as Postgres's text), on `pool`.
 */
export async function planSamples(
  db: Db,
  pool: pg.Pool,
  runId: string,
  columns: string[],
  perOp: number,
): Promise<Array<Record<string, unknown>>> {
  const cols = [...new Set(columns)].map((c) => sql`s.${sql.id(c)}`);
  const q = sql<Record<string, unknown>>`SELECT * FROM (
      SELECT d.key AS __key, d.op AS __op, (s.ctid IS NOT NULL) AS __has, row_number() OVER (PARTITION BY d.op ORDER BY d.seq) AS __n, ${sql.join(cols)}
      FROM ${deltaTable(runId)} d LEFT JOIN ${stageTable(runId)} s ON s.ctid = d.tid WHERE d.status = 'pending' AND d.op IS NOT NULL) x
    WHERE __n <= ${perOp} ORDER BY __op, __n`.compile(db);
  return (await pool.query<Record<string, unknown>>({ text: q.sql, values: q.parameters as unknown[], types: ROW_VALUE_TYPES })).rows;
}

/**
 * The keys of an applied plan's deletions still to make (pending), `limit` at a time in seq order, after `afterSeq`.
 */
export async function plannedDeletions(
  db: Db,
  runId: string,
  afterSeq: number,
  limit: number,
): Promise<Array<{ key: string; seq: number }>> {
  const r = await sql<{ key: string; seq: number }>`SELECT key, seq FROM ${deltaTable(runId)}
WHERE op = 'delete' AND status = 'pending' AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`.execute(db);
  return r.rows.map((x) => ({ key: x.key, seq: Number(x.seq) }));
}

/**
 * An applied plan's deletions whose key is back in the model become `back_in_model`: not sent, not listed, the
 * key's snapshot row, row errors and held deletion left as they were (the commit acts on none of them), so the
 * next run sees the key as the model has it. Idempotent (pending rows only): a retried load marks them again.
 */
export async function markBackInModel(db: Db, runId: string, plan: number, keys: string[]): Promise<number> {
  if (!keys.length) return 0;
  const r = await sql`UPDATE ${deltaTable(runId)} SET status = 'back_in_model',
  message = ${`not deleted: the key is back in the model since plan ${plan} was computed`}
WHERE op = 'delete' AND status = 'pending' AND key = ANY(${keys}::text[])`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
