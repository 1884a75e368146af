/** Frozen in time: never import application code here (the schema of that day, whatever the code becomes). */
import { type Kysely, sql } from 'kysely';

/**
 * What happened, kept for people and BI tools:
 * - config_versions: every accepted activation document (version, document, diff from the previous
 *   one, reason); runs.config_version names the version a run ran.
 * - row_changes: per run, each key sent (or held, skipped, rejected) with its operation, outcome,
 *   destination id and the hash of its mapped values; kept for a retention period, then pruned.
 * - activations.health / warnings: the activation's health and open warnings as last reported.
 * - syncline_reporting: stable views over all of it (docs/reporting.md), the interface for SQL users.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const s = db.schema.withSchema('syncline');
  await s
    .createTable('config_versions')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('document', 'jsonb', (c) => c.notNull())
    .addColumn('diff', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('config_versions_pk', ['activation_id', 'version'])
    .execute();
  await s.alterTable('runs').addColumn('config_version', 'integer').execute();
  await s
    .createTable('row_changes')
    .addColumn('activation_id', 'text', (c) => c.notNull())
    .addColumn('run_number', 'integer', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('op', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('destination_id', 'text')
    .addColumn('hash', 'uuid')
    .addColumn('code', 'text')
    .addColumn('message', 'text')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // One index, appended to in order (a run's rows share activation and run number): a second one on the
  // key cost twice the log's own write on the 1,000,000-row benchmark. Looking a key up reads the
  // activation's log through this index.
  await sql`CREATE INDEX row_changes_by_run ON syncline.row_changes (activation_id, run_number)`.execute(db);
  await s
    .alterTable('activations')
    .addColumn('health', 'text')
    .addColumn('warnings', 'jsonb')
    .addColumn('health_at', 'timestamptz')
    .execute();

  await sql`CREATE SCHEMA IF NOT EXISTS syncline_reporting`.execute(db);
  await sql`CREATE VIEW syncline_reporting.activations AS
    SELECT a.id AS activation_id, a.config->'destination'->>'kind' AS destination_kind, a.config->>'mode' AS mode, a.config AS config,
      v.version AS config_version, a.health, coalesce(a.warnings, '[]'::jsonb) AS warnings, a.health_at,
      r.run_number AS last_run_number, r.status AS last_run_status, r.finished_at AS last_run_finished_at, a.created_at, a.updated_at
    FROM syncline.activations a
    LEFT JOIN LATERAL (SELECT max(version) AS version FROM syncline.config_versions c WHERE c.activation_id = a.id) v ON true
    LEFT JOIN LATERAL (SELECT run_number, status, finished_at FROM syncline.runs x WHERE x.activation_id = a.id ORDER BY run_number DESC LIMIT 1) r ON true`.execute(
    db,
  );
  await sql`CREATE VIEW syncline_reporting.runs AS
    SELECT activation_id, run_number, trigger, full_resync, status, config_version, scheduled_at, started_at, finished_at,
      extract(epoch FROM finished_at - started_at) AS duration_seconds, extract(epoch FROM started_at - scheduled_at) AS schedule_lag_seconds,
      model_rows,
      (SELECT coalesce(sum((o.value->>'planned')::bigint), 0) FROM jsonb_each(coalesce(counts->'ops', '{}'::jsonb)) o) AS rows_planned,
      (SELECT coalesce(sum((o.value->>'succeeded')::bigint), 0) FROM jsonb_each(coalesce(counts->'ops', '{}'::jsonb)) o) AS rows_succeeded,
      (SELECT coalesce(sum((o.value->>'failed')::bigint), 0) FROM jsonb_each(coalesce(counts->'ops', '{}'::jsonb)) o) AS rows_failed,
      coalesce((counts->>'rejected')::bigint, 0) AS rows_rejected, coalesce((counts->>'heldDeletes')::bigint, 0) AS deletions_held,
      counts->'ops' AS ops, warnings, error
    FROM syncline.runs`.execute(db);
  await sql`CREATE VIEW syncline_reporting.row_changes AS
    SELECT activation_id, run_number, key, op, outcome, destination_id, hash AS values_hash, code, message, at FROM syncline.row_changes`.execute(
    db,
  );
  await sql`CREATE VIEW syncline_reporting.row_errors AS
    SELECT activation_id, key, op, code, message, retryable, attempts, run_number, first_seen, last_seen FROM syncline.row_errors`.execute(
    db,
  );
  await sql`CREATE VIEW syncline_reporting.config_versions AS
    SELECT activation_id, version, document, diff, reason, created_at FROM syncline.config_versions`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP SCHEMA IF EXISTS syncline_reporting CASCADE`.execute(db);
  await db.schema
    .withSchema('syncline')
    .alterTable('activations')
    .dropColumn('health')
    .dropColumn('warnings')
    .dropColumn('health_at')
    .execute();
  await db.schema.withSchema('syncline').dropTable('row_changes').execute();
  await db.schema.withSchema('syncline').alterTable('runs').dropColumn('config_version').execute();
  await db.schema.withSchema('syncline').dropTable('config_versions').execute();
}
