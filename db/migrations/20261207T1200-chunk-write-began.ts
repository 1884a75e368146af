/** Frozen in time: never import application code here. */
import type { Kysely } from 'kysely';

/**
 * chunks.write_began: whether a write of the chunk may have begun. The delta that plans a chunk records
 * false; the first write of it sets true in the statement that reads the chunk, before the destination
 * is called. A settle or a failed run's commit takes the pending rows of a chunk still false for never
 * sent: they are neither listed NOT_ACKNOWLEDGED nor marked unconfirmed, and the next delta plans them
 * again. NULL: a chunk planned by a release before this column (its rows, and those a release before this
 * one plans during a rolling deploy): a write possibly begun, as before. A worker of the release before
 * (a rolling deploy) sets no mark: a chunk not begun keeps its seq range negated until a write marks it
 * (db/chunks.ts, a later release), so that worker finds no row in it and sends nothing.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').alterTable('chunks').addColumn('write_began', 'boolean').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').alterTable('chunks').dropColumn('write_began').execute();
}
