/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE SCHEMA IF NOT EXISTS syncline`.execute(db);
  await sql`CREATE SCHEMA IF NOT EXISTS syncline_work`.execute(db);
  const s = db.schema.withSchema('syncline');

  await s
    .createTable('activations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await s
    .createTable('runs')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('run_number', 'integer', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('full_resync', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('config', 'jsonb', (c) => c.notNull())
    .addColumn('scheduled_at', 'timestamptz')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('model_rows', 'bigint')
    // Mapped fields with their model column types, and the fields the destination cannot take (not sent).
    .addColumn('fields', 'jsonb')
    .addColumn('skipped_fields', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('counts', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('warnings', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('error', 'text')
    .addUniqueConstraint('runs_activation_run_unique', ['activation_id', 'run_number'])
    .execute();

  // The last successfully synced state of each row: what the next delta compares against.
  await s
    .createTable('snapshot')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('hash', 'uuid', (c) => c.notNull())
    .addColumn('destination_id', 'text')
    .addColumn('synced_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('snapshot_pk', ['activation_id', 'key'])
    .execute();

  // The last failed write of each row (cleared when the row is accepted).
  await s
    .createTable('row_errors')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('op', 'text', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('retryable', 'boolean', (c) => c.notNull())
    .addColumn('hash', 'uuid')
    .addColumn('run_number', 'integer', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('first_seen', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('row_errors_pk', ['activation_id', 'key'])
    .execute();

  await s
    .createTable('chunks')
    .addColumn('run_id', 'bigint', (c) => c.notNull())
    .addColumn('chunk', 'integer', (c) => c.notNull())
    .addColumn('op', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('row_count', 'integer', (c) => c.notNull())
    // The chunk's rows: those of `op` whose seq in the run's delta table lies in [seq_from, seq_to].
    .addColumn('seq_from', 'integer', (c) => c.notNull())
    .addColumn('seq_to', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('state', 'jsonb')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('chunks_pk', ['run_id', 'chunk'])
    .execute();

  // Mirror deletions held by the deletion guard, until an engineer approves them for that run.
  await s
    .createTable('held_deletes')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('run_number', 'integer', (c) => c.notNull()) // the latest run that held this key
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('approved', 'boolean', (c) => c.notNull().defaultTo(false))
    .addPrimaryKeyConstraint('held_deletes_pk', ['activation_id', 'key'])
    .execute();

  await s
    .createTable('connector_state')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('connector_state_pk', ['activation_id', 'key'])
    .execute();

  await s
    .createTable('attribute_creations')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('run_number', 'integer', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('created', 'boolean', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP SCHEMA IF EXISTS syncline_work CASCADE`.execute(db);
  await sql`DROP SCHEMA IF EXISTS syncline CASCADE`.execute(db);
}
