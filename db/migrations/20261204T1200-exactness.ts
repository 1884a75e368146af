/** Frozen in time: never import application code here. */
import type { Kysely } from 'kysely';

/**
 * - held_deletes.approved_for: the run an approval belongs to. An approval is claimed by the first run
 *   that starts after it and lapses with that run, used or not: it never outlives one run's decision.
 * - runs.retry_failed: the run also re-sends rows whose last write failed permanently (a retryFailed
 *   request, possibly coalesced with another request).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').alterTable('held_deletes').addColumn('approved_for', 'integer').execute();
  await db.schema
    .withSchema('syncline')
    .alterTable('runs')
    .addColumn('retry_failed', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').alterTable('runs').dropColumn('retry_failed').execute();
  await db.schema.withSchema('syncline').alterTable('held_deletes').dropColumn('approved_for').execute();
}
