/**
 * `npm run services`: a Temporal dev server (gRPC 7233, Web UI 8233) and Postgres for development.
 * Prints the environment to export, then runs until Ctrl-C.
 */
import path from 'node:path';
import { startTemporalDevServer } from './services/temporal';
import { startPostgres } from './services/postgres';
import { migrateToLatest } from '../db/migrate';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const [temporal, pg] = await Promise.all([
    startTemporalDevServer({
      port: Number(process.env.TEMPORAL_PORT ?? 7233),
      uiPort: Number(process.env.TEMPORAL_UI_PORT ?? 8233),
      dbFile: path.join(root, '.data/temporal.db'),
      quiet: true,
    }),
    startPostgres({ port: process.env.DATABASE_URL ? undefined : Number(process.env.PGPORT ?? 5433) }),
  ]);
  await migrateToLatest(pg.url);
  console.log(`export TEMPORAL_ADDRESS=${temporal.address}\nexport DATABASE_URL=${pg.url}\n# Temporal Web UI: ${temporal.uiUrl}`);
  const stop = async (): Promise<void> => {
    await Promise.all([temporal.stop(), pg.stop()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
