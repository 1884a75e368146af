/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * DAG pools (docs/dag.md "Pools"): named concurrency limits shared by every DAG run of the cluster.
 * - dag_pools: one row per pool and its size, managed with `syncline pool set|delete`; `syncline dag deploy`
 *   and a run's start refuse a task naming a pool that is not here.
 * - dag_pool_slots: one row per slot of a pool; a task holds a lease on one while it runs. A lease has an
 *   expiry on Postgres's clock, renewed by the run while its task runs, so the slot of a run that was
 *   terminated (and never released it) comes back.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE syncline.dag_pools (
    name text PRIMARY KEY,
    size integer NOT NULL CHECK (size >= 1),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`.execute(db);
  await sql`CREATE TABLE syncline.dag_pool_slots (
    pool text NOT NULL,
    slot integer NOT NULL,
    holder text,
    expires_at timestamptz,
    PRIMARY KEY (pool, slot)
  )`.execute(db);
  // A holder (one task execution of one run) leases one slot at most, even when its acquire is retried.
  await sql`CREATE UNIQUE INDEX dag_pool_slots_holder ON syncline.dag_pool_slots (holder)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE syncline.dag_pool_slots`.execute(db);
  await sql`DROP TABLE syncline.dag_pools`.execute(db);
}
