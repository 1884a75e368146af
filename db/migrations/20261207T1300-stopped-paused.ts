/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * activations.paused_reason / auto_paused: whether the activation was paused when it was last stopped (and
 * why, and whether by a configuration error). A start carries the pause on (workflows/activation.ts).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE syncline.activations ADD COLUMN IF NOT EXISTS paused_reason text,
    ADD COLUMN IF NOT EXISTS auto_paused boolean NOT NULL DEFAULT false`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE syncline.activations DROP COLUMN IF EXISTS paused_reason, DROP COLUMN IF EXISTS auto_paused`.execute(db);
}
