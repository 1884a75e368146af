import { Kysely, Migrator, PostgresDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import { createPool } from './connect';
import { MIGRATIONS } from './migrations';

/**
 * A connection that gets no answer within this fails (a host that drops packets, a server that accepts
 * and hangs): without it one attempt could last as long as the OS's TCP timeout, or for ever, and a
 * starting worker's wait (client/start-wait.ts) would never try again.
 */
const CONNECT_TIMEOUT_MS = 10_000;

export interface MigrateOptions {
  /**
   * Called with the migrations the database has and this release does not, when they all come after this
   * release's own: a newer release migrated it (a rolling deploy, a rollback). Migrations only add, so
   * this release runs on it.
   */
  onNewer?: (names: string[]) => void;
}

/**
 * Applies every pending migration; safe to call at each worker start (kysely takes a lock). A database a
 * newer release already migrated is left as it is (MigrateOptions.onNewer): a worker of the release before
 * must still start during a rolling deploy or after a rollback. Migrations this release does not know
 * among its own are refused, naming them.
 */
export async function migrateToLatest(url: string, opts: MigrateOptions = {}): Promise<string[]> {
  // Two connections: the migrator holds one (with kysely's lock) while the provider reads its table on the other.
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: createPool(url, 2, { connectionTimeoutMillis: CONNECT_TIMEOUT_MS }) }),
  });
  try {
    const known = Object.keys(MIGRATIONS).sort();
    const last = known.at(-1)!;
    // Asked for by the migrator once it holds its lock, so a newer release that migrated while this one
    // waited for the lock (both started at once) is seen: read before the lock, its migrations would be
    // refused as missing.
    const provider: MigrationProvider = {
      getMigrations: async () => {
        const unknown = (await executedMigrations(db)).filter((name) => !(name in MIGRATIONS)).sort();
        const among = unknown.filter((name) => name <= last);
        if (among.length)
          throw new Error(
            `the state database has migrations this release does not know among its own (${among.join(', ')}; this release's last is ${last}): ` +
              'it was migrated by another line of releases; run a release that has them',
          );
        if (unknown.length) opts.onNewer?.(unknown);
        // The newer release's migrations stand in the list as already applied, so the migrator neither
        // refuses them as missing nor runs anything for them.
        return { ...MIGRATIONS, ...Object.fromEntries(unknown.map((name) => [name, newerRelease(name)])) };
      },
    };
    const { error, results } = await new Migrator({ db, provider, migrationTableSchema: 'public' }).migrateToLatest();
    if (error) throw new Error(`migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  } finally {
    await db.destroy();
  }
}

/** A migration of a newer release, recorded as executed: never run here. */
function newerRelease(name: string): Migration {
  return {
    up: async () => {
      throw new Error(`migration ${name} belongs to a newer release; this release cannot apply it`);
    },
  };
}

/** Names in kysely's migration table (public.kysely_migration); none before the first migration. */
async function executedMigrations(db: Kysely<unknown>): Promise<string[]> {
  const exists = await sql<{ t: string | null }>`SELECT to_regclass('public.kysely_migration')::text AS t`.execute(db);
  if (!exists.rows[0]?.t) return [];
  const r = await sql<{ name: string }>`SELECT name FROM public.kysely_migration`.execute(db);
  return r.rows.map((row) => row.name);
}
