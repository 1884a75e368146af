import { Kysely, Migrator, PostgresDialect, type MigrationProvider } from 'kysely';
import { createPool } from './connect';
import { MIGRATIONS } from './migrations';

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/**
 * A connection that gets no answer within this fails (a host that drops packets, a server that accepts
 * and hangs): without it one attempt could last as long as the OS's TCP timeout, or for ever, and a
 * starting worker's wait (db/wait.ts) would never try again.
 */
const CONNECT_TIMEOUT_MS = 10_000;

/** Applies every pending migration; safe to call at each worker start (kysely takes a lock). */
export async function migrateToLatest(url: string): Promise<string[]> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: createPool(url, 1, { connectionTimeoutMillis: CONNECT_TIMEOUT_MS }) }),
  });
  try {
    const { error, results } = await new Migrator({ db, provider, migrationTableSchema: 'public' }).migrateToLatest();
    if (error) throw new Error(`migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  } finally {
    await db.destroy();
  }
}
