import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database';

// bigint (int8) and numeric stay strings: no precision is lost on their way to a destination.
export function createPool(url: string, max = 10, extra: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'syncline', ...extra });
  pool.on('error', () => {}); // idle-client errors surface on the next query instead of crashing the worker
  // pg-pool listens for errors only on idle clients: a checked-out client whose server goes away (restart,
  // failover, pg_terminate_backend) would emit an unhandled 'error' and take the whole worker down.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * One connection of its own (a model's source database, a DAG task). When the server goes away, the
 * running query rejects with the error (and a later query with "not queryable"); the 'error' event pg
 * also emits is absorbed here, so one lost database connection fails one activity attempt, not the worker.
 */
export function createClient(config: pg.ClientConfig): pg.Client {
  const client = new pg.Client(config);
  client.on('error', () => {});
  return client;
}

/** What databaseWhere says of a URL whose user or password may read as its host, port or path. */
const MISREAD_DATABASE_URL = 'DATABASE_URL (percent-encode a "/", "?" or "#" in its user or password)';

/**
 * Whether part of `url`'s user or password may read as its host, port or path: an unencoded "/", "?" or "#"
 * in the password ends the URL's authority early (`postgres://u:2024/pw@host/db` is host "u", port 2024, path
 * "/pw@host/db", and pg connects to host "u"). Then an "@" is left outside the user part.
 */
export function databaseUrlMisread(url: string): boolean {
  try {
    const u = new URL(url);
    return url.includes('@') && ((u.username === '' && u.password === '') || `${u.pathname}${u.search}${u.hash}`.includes('@'));
  } catch {
    return false;
  }
}

/** host:port/database of a Postgres URL, never its user or password (nor a part of them, misread). */
export function databaseWhere(url: string): string {
  try {
    const u = new URL(url);
    if (databaseUrlMisread(url)) return MISREAD_DATABASE_URL;
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'DATABASE_URL (not a URL)';
  }
}

export function createDb(pool: pg.Pool): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
