/**
 * The Postgres source: where a model lives (the state database itself, "default", or another named
 * connection) and how it is read.
 *
 * A model only reads. Every model query runs in a READ ONLY transaction (optionally as the connection's
 * `role`) — on a session of the worker's pool when the model lives in the state database, on a connection
 * of its own elsewhere — and its text is parsed with the extended protocol, which
 * takes exactly one statement: a model that writes, calls a function that writes, or smuggles a second
 * statement in is refused with the activation named — whichever database it lives in, the state
 * database (held deletions, snapshots) included.
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { StageColumn } from '../../db/stage';
import { SyncError } from '../../common/errors';
import { activationConnection } from '../connections';
import type { ActivationConfig } from '../../common/config';
import { createClient } from '../../db/connect';

/** Session settings that make `row(...)::text`, and so every hash, independent of server defaults. */
export const CANONICAL_SETTINGS = [
  "SET LOCAL TimeZone = 'UTC'",
  "SET LOCAL DateStyle = 'ISO, YMD'",
  "SET LOCAL IntervalStyle = 'iso_8601'",
  'SET LOCAL extra_float_digits = 1',
];

export interface SourceDb {
  url: string;
  /** True when the model lives in the state database. */
  sameDatabase: boolean;
  /** Role the model runs as (`"role"` in the connection's JSON), e.g. one that may only read the marts. */
  role?: string;
}

function normalise(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}/${u.pathname.replace(/^\//, '')}`;
  } catch {
    return url;
  }
}

/** Where the model lives: `resolveConnection` is the worker's named-connection resolver, `stateDbUrl` the "default" database. */
export function resolveSource(
  deps: { stateDbUrl: string; resolveConnection(name: string): Record<string, unknown> },
  config: ActivationConfig,
): SourceDb {
  const name = config.source.connection;
  const conn = activationConnection(deps.resolveConnection, config.id, 'source.connection', name);
  const role = typeof conn.role === 'string' && conn.role ? conn.role : undefined;
  if (name === 'default') return { url: deps.stateDbUrl, sameDatabase: true, role };
  const url = typeof conn.url === 'string' ? conn.url : undefined;
  if (!url)
    throw new SyncError('CONFIG_INVALID', `activation "${config.id}": source connection "${name}" has no "url" (a postgres:// URL)`);
  return { url, sameDatabase: normalise(url) === normalise(deps.stateDbUrl), role };
}

/** Model SQL errors fail the run with Postgres' own message; lost connections are retried. */
export function modelError(config: ActivationConfig, err: unknown): SyncError {
  const e = err as { code?: string; message?: string; position?: string };
  const sqlstate = e.code ?? '';
  // No SQLSTATE and pg's own wording: the socket closed under the query (network drop, server restart).
  const socketLost = !sqlstate && /Connection terminated|not queryable/i.test(e.message ?? '');
  if (/^(08|57|53)/.test(sqlstate) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(sqlstate) || socketLost) {
    return new SyncError('INTERNAL', `activation "${config.id}": lost the source database: ${e.message}`, { retryable: true, cause: err });
  }
  const name = `activation "${config.id}"`;
  // Inside the wrapping parentheses a second statement is a syntax error at its ";" (or, smuggled past
  // them, one the extended protocol refuses): either way the model held more than one statement.
  if (sqlstate === '42601' && /multiple commands|at or near ";"/i.test(e.message ?? '')) {
    return new SyncError(
      'MODEL_SQL_ERROR',
      `${name}: the model must be one SELECT statement, and source.sql holds several. Keep the query only; run other statements elsewhere (e.g. a DAG sql task).`,
      { details: { sqlstate }, cause: err },
    );
  }
  if (sqlstate === '25006') {
    return new SyncError(
      'MODEL_SQL_ERROR',
      `${name}: the model tried to write (${e.message}); a model runs read-only. Keep source.sql to a query, and move writes (or functions that write) into a DAG sql task that runs before the sync.`,
      { details: { sqlstate }, cause: err },
    );
  }
  const where = e.position ? ` (at character ${e.position} of the model SQL)` : '';
  return new SyncError(
    'MODEL_SQL_ERROR',
    `${name}: the model query failed in Postgres: ${e.message}${where}. Fix source.sql / source.table and re-sync.`,
    { details: { sqlstate }, cause: err },
  );
}

/**
 * Runs `fn` with a connection to the model's database inside a READ ONLY transaction (as the source's
 * role when one is set, with the canonical settings every hash depends on); rolled back on error.
 *
 * A model in the state database is read on a session of `pool` when one is given: opening a connection
 * costs Postgres more than a small run's describe itself (a backend started, its caches filled). The
 * transaction leaves nothing behind in the session (SET LOCAL only); a session that failed is closed,
 * not handed out again.
 */
export async function withModelReader<T>(
  source: SourceDb,
  config: ActivationConfig,
  fn: (reader: pg.ClientBase) => Promise<T>,
  pool?: pg.Pool,
): Promise<T> {
  if (pool && source.sameDatabase) {
    let session: pg.PoolClient;
    try {
      session = await pool.connect();
    } catch (err) {
      // No session to be had is the state database's failure (down, or the pool closed at shutdown), not the model's.
      throw new SyncError(
        'INTERNAL',
        `activation "${config.id}": could not get a session of the state database to read the model: ${(err as Error).message}`,
        { retryable: true, cause: err },
      );
    }
    try {
      const result = await readOnly(session, source, config, () => fn(session));
      session.release();
      return result;
    } catch (err) {
      session.release(true);
      throw err;
    }
  }
  const reader = createClient({ connectionString: source.url, application_name: 'syncline-model' });
  try {
    await reader.connect();
  } catch (err) {
    throw modelError(config, err);
  }
  try {
    return await readOnly(reader, source, config, () => fn(reader));
  } finally {
    await reader.end().catch(() => undefined);
  }
}

/** One READ ONLY transaction on `client` (a connection or a pool session) around `fn`; model errors named as such. */
export async function readOnly<T>(client: pg.ClientBase, source: SourceDb, config: ActivationConfig, fn: () => Promise<T>): Promise<T> {
  try {
    // One round trip (the simple protocol takes several statements): a run opens three such transactions.
    const role = source.role ? [`SET LOCAL ROLE ${quoteIdent(source.role)}`] : [];
    await client.query(['BEGIN READ ONLY', ...role, ...CANONICAL_SETTINGS].join('; '));
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err instanceof SyncError ? err : modelError(config, err);
  }
}

/**
 * The columns of one SELECT, read without fetching a row. Parsed with the extended protocol, so Postgres
 * itself refuses a text that holds more than one statement.
 */
export async function selectFields(reader: pg.ClientBase, selectText: string): Promise<pg.FieldDef[]> {
  const res = await reader.query({
    text: `SELECT * FROM (\n${selectText}\n) AS q LIMIT 0`,
    values: [],
    queryMode: 'extended',
  } as pg.QueryConfig);
  return res.fields;
}

/** The model as a SELECT: source.sql as written (a trailing ";" dropped), or every column of the quoted source.table. */
export function modelSelectText(config: ActivationConfig): string {
  if (config.source.sql !== undefined) return config.source.sql.trim().replace(/;\s*$/, '');
  return `SELECT * FROM ${quoteTable(config.source.table!)}`;
}

/** Column names and Postgres type names of the model, without reading any row (on a session of `pool` in the state database). */
export async function describeModel(source: SourceDb, config: ActivationConfig, pool?: pg.Pool): Promise<Map<string, string>> {
  return withModelReader(
    source,
    config,
    async (reader) => {
      const fields = await selectFields(reader, modelSelectText(config));
      const oids = [...new Set(fields.map((f) => f.dataTypeID))];
      const types = await reader.query<{ oid: number; typname: string }>(
        'SELECT oid::int AS oid, typname FROM pg_type WHERE oid = ANY($1::oid[])',
        [oids],
      );
      const byOid = new Map(types.rows.map((r) => [r.oid, r.typname]));
      return new Map(fields.map((f) => [f.name, byOid.get(f.dataTypeID) ?? 'text']));
    },
    pool,
  );
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` (or `table`) with each part quoted, as kysely's sql.table does in the stage query. */
export function quoteTable(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

/**
 * The stage's column types, from the model's own result description (the SELECT parsed once, as one
 * statement). In the state database every type exists; from another database, types that exist only
 * there (enums, domains) arrive as text.
 */
export async function stageColumns(reader: pg.ClientBase, selectText: string, sameDatabase: boolean): Promise<StageColumn[]> {
  const fields = await selectFields(reader, selectText);
  const types = await reader.query<{ i: number; t: string }>(
    `SELECT i::int AS i, format_type(oid, CASE WHEN mod >= 0 THEN mod END) AS t FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS f(oid, mod, i)
     WHERE $3::bool OR oid < 16384`,
    [fields.map((f) => f.dataTypeID), fields.map((f) => f.dataTypeModifier), sameDatabase],
  );
  const byIndex = new Map(types.rows.map((r) => [r.i, r.t]));
  return fields.map((f, i) => ({ name: f.name, type: byIndex.get(i + 1) ?? 'text' }));
}

/** The rows of the stage SELECT as a COPY text stream (it has no bind parameters: COPY takes none). */
export function copyModelOut(reader: pg.ClientBase, selectSql: string): NodeJS.ReadableStream {
  return reader.query(copyTo(`COPY (${selectSql}) TO STDOUT`));
}

/**
 * Of `keys`, those the model has now (its key column as text, as the stage reads it: db/delta.ts stageSelect),
 * read in one READ ONLY query with the keys as a text[] parameter (Postgres hashes a large ANY array): the model
 * runs once, however many keys. For an applied plan's deletions: a key back in the model since the plan is not
 * deleted (activities/plan.ts keepDeletionsBackInModel).
 *
 * `timeoutMs` bounds the query (statement_timeout, local to its transaction): a model that does not answer in
 * time fails with a non-retryable SyncError whose details say `statementTimeout` (the caller names what to do).
 */
export async function modelKeysAmong(
  source: SourceDb,
  config: ActivationConfig,
  keys: string[],
  pool?: pg.Pool,
  timeoutMs?: number,
): Promise<string[]> {
  if (!keys.length) return [];
  return withModelReader(
    source,
    config,
    async (reader) => {
      if (timeoutMs !== undefined) await reader.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      try {
        const res = await reader.query<{ k: string }>({
          text: `SELECT DISTINCT q.k FROM (SELECT (m.${quoteIdent(config.source.key)})::text AS k FROM (\n${modelSelectText(config)}\n) AS m) AS q WHERE q.k = ANY($1::text[])`,
          values: [keys],
        });
        return res.rows.map((r) => r.k);
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (timeoutMs !== undefined && e.code === '57014' && /statement timeout/i.test(e.message ?? ''))
          throw new SyncError('INTERNAL', `activation "${config.id}": the model did not answer within ${Math.round(timeoutMs / 1000)} s`, {
            retryable: false,
            details: { sqlstate: e.code, statementTimeout: true },
            cause: err,
          });
        throw err;
      }
    },
    pool,
  );
}
