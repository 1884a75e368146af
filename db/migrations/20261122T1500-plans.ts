/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * Plans computed by `syncline plan`: counts and a few sample rows per operation. The rows of a plan
 * stay in the plan run's work tables until it is applied or superseded.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .withSchema('syncline')
    .createTable('plans')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('run_number', 'integer', (c) => c.notNull())
    .addColumn('run_id', 'bigint', (c) => c.notNull())
    // open -> applied | superseded
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('open'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('counts', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('samples', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addPrimaryKeyConstraint('plans_pk', ['activation_id', 'run_number'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.withSchema('syncline').dropTable('plans').ifExists().execute();
}
