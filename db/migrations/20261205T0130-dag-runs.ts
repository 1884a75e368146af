/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * syncline.dag_runs: one row per (DAG, logical date) of a scheduled, backfilled or triggered DAG run, so a date
 * that succeeded is not run again by a second backfill of the same interval (Temporal's workflow id of a
 * scheduled run is no lasting guard: a closed execution leaves the namespace after its retention).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE syncline.dag_runs (
    dag_id text NOT NULL,
    logical_date timestamptz NOT NULL,
    workflow_id text NOT NULL,
    run_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    PRIMARY KEY (dag_id, logical_date)
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE syncline.dag_runs`.execute(db);
}
