/** `npm run migrate`: applies syncline's migrations to DATABASE_URL (or the embedded Postgres). */
import { startPostgres } from './services/postgres';
import { migrateToLatest } from '../db/migrate';

async function main(): Promise<void> {
  const pg = await startPostgres();
  try {
    const applied = await migrateToLatest(pg.url, {
      onNewer: (names) => console.log(`the database has migrations of a newer release, left as they are: ${names.join(', ')}`),
    });
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await pg.stop();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
