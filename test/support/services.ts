import path from 'node:path';
import { startTemporalDevServer, type TemporalServer } from '../../scripts/services/temporal';
import { startPostgres, type PostgresServer } from '../../scripts/services/postgres';
import { migrateToLatest } from '../../db/migrate';

let temporal: TemporalServer | undefined;
let postgres: PostgresServer | undefined;

export async function startTestServices(): Promise<void> {
  [temporal, postgres] = await Promise.all([
    process.env.TEMPORAL_ADDRESS ? Promise.resolve(undefined) : startTemporalDevServer({ headless: true, quiet: true }),
    startPostgres({ dataDir: path.resolve(__dirname, '../../.data/pg-test'), fresh: true }),
  ]);
  if (temporal) {
    process.env.TEMPORAL_ADDRESS = temporal.address;
    if (temporal.cli) process.env.TEMPORAL_CLI = temporal.cli;
  }
  process.env.DATABASE_URL = postgres!.url;
  await migrateToLatest(postgres!.url);
}

export async function stopTestServices(): Promise<void> {
  await Promise.all([temporal?.stop(), postgres?.stop()]);
}
