/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * attribute_creations looked up by run: each commit reads the attributes its run created, and the
 * commit's pruning deletes those of the runs it prunes. Without an index both read the whole table.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS attribute_creations_run ON syncline.attribute_creations (activation_id, run_number)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS syncline.attribute_creations_run`.execute(db);
}
