/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * Limits of a destination account shared by every worker of the cluster (docs/limits.md):
 * - destination_slots: one row per concurrency slot of a scope (an Actito licence, a Salesforce org);
 *   a request holds a lease on one while it is in flight. A lease has an expiry so the slot of a worker
 *   that died comes back. A logged table on purpose: after a Postgres crash the leases of requests still
 *   in flight are there, so nobody takes their slots (fail safe, never over the limit).
 * - destination_counters: per scope and UTC day, how much of a daily allowance the cluster has used
 *   (Actito bulk imports per table).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const s = db.schema.withSchema('syncline');
  await s
    .createTable('destination_slots')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('slot', 'integer', (c) => c.notNull())
    .addColumn('holder', 'text')
    .addColumn('expires_at', 'timestamptz')
    .addPrimaryKeyConstraint('destination_slots_pk', ['scope', 'slot'])
    .execute();
  await s
    .createTable('destination_counters')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('used', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('destination_counters_pk', ['scope', 'day'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').dropTable('destination_counters').execute();
  await db.schema.withSchema('syncline').dropTable('destination_slots').execute();
}
