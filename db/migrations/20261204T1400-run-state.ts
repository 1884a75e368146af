/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * runs.missing_attributes: the attributes a run's check found missing (the runtime's own state, kept
 * with the run instead of in the connectors' key-value table, where it was never cleaned up).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').alterTable('runs').addColumn('missing_attributes', 'jsonb').execute();
  await sql`UPDATE syncline.runs r SET missing_attributes = cs.value FROM syncline.connector_state cs
    WHERE cs.activation_id = r.activation_id AND cs.key = 'run:' || r.run_number || ':missingAttributes'`.execute(db);
  await sql`DELETE FROM syncline.connector_state WHERE key LIKE 'run:%:missingAttributes'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`INSERT INTO syncline.connector_state (activation_id, key, value)
    SELECT activation_id, 'run:' || run_number || ':missingAttributes', missing_attributes FROM syncline.runs WHERE missing_attributes IS NOT NULL
    ON CONFLICT DO NOTHING`.execute(db);
  await db.schema.withSchema('syncline').alterTable('runs').dropColumn('missing_attributes').execute();
}
