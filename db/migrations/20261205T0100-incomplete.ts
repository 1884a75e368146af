/** Frozen in time: never import application code here. */
import type { Kysely } from 'kysely';

/**
 * snapshot.incomplete: the key's last write was accepted, but not as the model says (a row
 * written without a lookup whose parent was not found): the record it wrote is kept (destination_id), the
 * row is listed in row_errors, and the next run that can send the key sends it again whatever its hash, to
 * that record, until a write is complete. Apart from `unconfirmed` (an unanswered write), which the commit
 * of any answered write clears.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('syncline')
    .alterTable('snapshot')
    .addColumn('incomplete', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').alterTable('snapshot').dropColumn('incomplete').execute();
}
