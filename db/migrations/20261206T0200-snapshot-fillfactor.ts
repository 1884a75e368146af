/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * snapshot with room on its pages (fillfactor 50): every commit rewrites the snapshot row of each
 * changed key (hash, destination_id, synced_at). With full pages each new version went to another page
 * and into the primary key index; with room beside it, the update stays on its page and leaves the index
 * alone (a HOT update: no column of the index changes). Applies to pages written from now on: existing
 * rows move to such pages the first time a run changes them, and stay there.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE syncline.snapshot SET (fillfactor = 50)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE syncline.snapshot RESET (fillfactor)`.execute(db);
}
