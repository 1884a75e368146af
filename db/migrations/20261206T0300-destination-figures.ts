/** Frozen in time: never import application code here. */
import type { Kysely } from 'kysely';

/**
 * destination_figures: per scope (a Salesforce org's daily API requests), the freshest usage figure any
 * worker observed at the destination, with when it was observed on the database's clock (docs/limits.md).
 * One row per scope, replaced only by a figure observed later.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('syncline')
    .createTable('destination_figures')
    .addColumn('scope', 'text', (c) => c.primaryKey())
    .addColumn('used', 'integer', (c) => c.notNull())
    .addColumn('max', 'integer', (c) => c.notNull())
    .addColumn('observed_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').dropTable('destination_figures').execute();
}
