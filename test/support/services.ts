import fs from 'node:fs';
import path from 'node:path';
import { startTemporalDevServer, type TemporalServer } from '../../scripts/services/temporal';
import { startPostgres, type PostgresServer } from '../../scripts/services/postgres';
import { migrateToLatest } from '../../db/migrate';

let temporal: TemporalServer | undefined;
let postgres: PostgresServer | undefined;
// Each jest run gets its own data directory: concurrent runs must not wipe each other's Postgres.
const dataDir = path.resolve(__dirname, `../../.data/pg-test-${process.pid}`);

export async function startTestServices(): Promise<void> {
  const [t, p] = await Promise.allSettled([
    process.env.TEMPORAL_ADDRESS ? Promise.resolve(undefined) : startTemporalDevServer({ headless: true, quiet: true }),
    startPostgres({ dataDir, fresh: true, noFsync: true }),
  ]);
  temporal = t.status === 'fulfilled' ? t.value : undefined;
  postgres = p.status === 'fulfilled' ? p.value : undefined;
  if (t.status === 'rejected' || p.status === 'rejected') {
    await stopTestServices();
    throw t.status === 'rejected' ? t.reason : (p as PromiseRejectedResult).reason;
  }
  if (temporal) {
    process.env.TEMPORAL_ADDRESS = temporal.address;
    if (temporal.cli) process.env.TEMPORAL_CLI = temporal.cli;
  }
  process.env.DATABASE_URL = postgres!.url;
  await migrateToLatest(postgres!.url);
}

export async function stopTestServices(): Promise<void> {
  await Promise.allSettled([temporal?.stop(), postgres?.stop()]);
  if (postgres?.embedded) fs.rmSync(dataDir, { recursive: true, force: true });
}
