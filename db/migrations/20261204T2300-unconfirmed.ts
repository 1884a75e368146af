/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * snapshot.unconfirmed: the key's last write went unanswered (a run that never committed), so the
 * destination may hold that write rather than the snapshot's content; the next run that can send the key
 * sends it whatever its hash. Kept on the snapshot row, not in row_errors, whose one entry per key a later
 * rejection (a repeated key) replaces. Existing unanswered rows are marked from their row errors.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('syncline')
    .alterTable('snapshot')
    .addColumn('unconfirmed', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await sql`UPDATE syncline.snapshot s SET unconfirmed = true FROM syncline.row_errors e
    WHERE e.activation_id = s.activation_id AND e.key = s.key AND e.code = 'NOT_ACKNOWLEDGED'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').alterTable('snapshot').dropColumn('unconfirmed').execute();
}
