/**
 * The state database a user may run for real: the production worker refuses to start without
 * DATABASE_URL and says what to do; the embedded default is durable — a kill -9 of every Postgres
 * process right after a burst of commits loses none of them.
 */
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { boundary } from '../../activities/failure';
import { createDagTaskActivities } from '../../activities/dag-tasks';
import { MockActivityEnvironment } from '@temporalio/testing';
import { SyncError } from '../../common/errors';
import { migrateToLatest } from '../../db/migrate';
import { postgresMayRecover } from '../../client/start-wait';
import { serviceGate } from '../support/service-gate';

const ROOT = path.resolve(__dirname, '../..');

/** `tsx worker.ts` with `env` until it exits (or is killed after `timeout` ms): its exit code and stderr. */
function workerExit(env: NodeJS.ProcessEnv, timeout: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/tsx'), ['worker.ts'], { cwd: ROOT, env, timeout }, (err, _out, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
}

test('the production worker without DATABASE_URL exits 2 with a message saying what to set', async () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const r = await workerExit(env, 60_000);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('DATABASE_URL is not set');
  expect(r.stderr).toContain('npm run worker');
});

test('the production worker whose state database stays unreachable exits 1 after its wait, naming where it looked, without its password', async () => {
  const env = {
    ...process.env,
    DATABASE_URL: 'postgres://syncline:s3cret-pw@127.0.0.1:1/syncline_state',
    SYNCLINE_START_WAIT_SECONDS: '2',
  };
  const r = await workerExit(env, 120_000);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('syncline worker: cannot reach the state database at 127.0.0.1:1/syncline_state');
  expect(r.stderr).toContain('ECONNREFUSED');
  expect(r.stderr).toContain('waiting for the state database at 127.0.0.1:1/syncline_state');
  expect(r.stderr).toMatch(/after waiting [23] s \(SYNCLINE_START_WAIT_SECONDS\): check DATABASE_URL/);
  expect(r.stderr).toContain('check DATABASE_URL');
  expect(r.stderr).not.toContain('s3cret-pw');
  expect(r.stderr).not.toContain('IllegalStateError');
}, 180_000);

test('a state database that answers with a refusal no wait can mend (no such database) stops the worker at once', async () => {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = '/syncline_no_such_database';
  // The default wait (minutes) would outlast the timeout if the worker waited on this.
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url.toString() };
  delete env.SYNCLINE_START_WAIT_SECONDS;
  const r = await workerExit(env, 100_000);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('does not exist');
  expect(r.stderr).toContain('check DATABASE_URL');
  expect(r.stderr).not.toContain('waiting for the state database');
}, 180_000);

test('the embedded default survives a kill -9 of Postgres with every committed row', async () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['test/support/kill-embedded.ts', `.data/pg-kill-${process.pid}`],
      { cwd: ROOT, env, timeout: 150_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(JSON.parse(/^FOUND (.*)$/m.exec(r.stdout)?.[1] ?? 'null')).toEqual({ n: 300, last: 300 });
}, 180_000);

/** `tsx worker.ts` with `env`, running, its output gathered: wait for a line of it, stop it, see how it ended. */
function runningWorker(env: NodeJS.ProcessEnv) {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['worker.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exit: number | string | null | undefined;
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  child.once('exit', (code, signal) => (exit = code ?? signal));
  return {
    output: () => output,
    exit: () => exit,
    async waitFor(what: RegExp, ms: number): Promise<void> {
      for (const end = Date.now() + ms; !what.test(output);) {
        if (exit !== undefined) throw new Error(`the worker exited (${exit}) before printing ${what}:\n${output}`);
        if (Date.now() > end) throw new Error(`the worker did not print ${what} within ${ms} ms:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    /** SIGTERM; how it exited, or undefined if it is still there after `ms`. */
    async stop(ms = 60_000): Promise<number | string | null | undefined> {
      child.kill('SIGTERM');
      for (const end = Date.now() + ms; exit === undefined && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
      return exit;
    },
    kill(): void {
      if (exit === undefined) child.kill('SIGKILL');
    },
  };
}

test('a production worker started while its state database is down waits for it, then runs', async () => {
  const real = new URL(process.env.DATABASE_URL!);
  const db = serviceGate({ hostname: real.hostname, port: real.port || '5432' });
  const url = new URL(real.toString());
  url.hostname = '127.0.0.1';
  url.port = String(await db.port);
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url.toString(), SYNCLINE_TASK_QUEUE: `late-db-${process.pid}` };
  delete env.SYNCLINE_START_WAIT_SECONDS;
  const w = runningWorker(env);
  try {
    // The worker finds its database down: it says so, names where it looked (never the password) and waits.
    await w.waitFor(/waiting for the state database at 127\.0\.0\.1:\d+\/\S+ \(.*ECONNREFUSED.*\)/, 120_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(w.exit()).toBeUndefined();
    // Scripts (bench/, the chaos campaign) take the ready line for a worker that polls: not while it waits.
    expect(w.output()).not.toContain('syncline worker on');
    await db.up();
    await w.waitFor(/state database at 127\.0\.0\.1:\d+\/\S+ reached after \d+ s/, 60_000);
    await w.waitFor(/syncline worker on /, 120_000);
    expect(w.output().indexOf('syncline worker on')).toBeGreaterThan(w.output().search(/reached after \d+ s/));
    expect(db.connections()).toBeGreaterThan(0);
    // Running: still there a few seconds later, and a SIGTERM drains it to a clean exit.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(w.exit()).toBeUndefined();
    expect(await w.stop()).toBe(0);
    expect(w.output()).not.toContain(real.password || 'no-password-in-url');
  } finally {
    w.kill();
    db.close();
  }
}, 240_000);

test('a worker waiting for its state database stops at once when asked (SIGTERM), exit 0, having started nothing', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: 'postgres://syncline@127.0.0.1:1/syncline_state' };
  delete env.SYNCLINE_START_WAIT_SECONDS;
  const w = runningWorker(env);
  try {
    await w.waitFor(/waiting for the state database/, 120_000);
    const asked = Date.now();
    expect(await w.stop()).toBe(0);
    // Well inside the default wait (120 s) and its pauses (up to 10 s).
    expect(Date.now() - asked).toBeLessThan(30_000);
    expect(w.output()).toContain('syncline worker: stopped while waiting for the state database at 127.0.0.1:1/syncline_state');
  } finally {
    w.kill();
  }
}, 240_000);

test('a Postgres program limit (SQLSTATE class 54) fails the step at once, saying a retry cannot lift it; a lost connection is still retried', async () => {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  try {
    // A real refusal of the state database: a string longer than Postgres can hold.
    const limit = await pool.query(`SELECT repeat('x', 2147483647)`).catch((e: unknown) => e);
    expect((limit as { code?: string }).code).toBe('54000');
    const step = boundary(async () => {
      throw limit;
    });
    const plain = (await step().catch((e: unknown) => e)) as ApplicationFailure;
    expect(plain).toBeInstanceOf(ApplicationFailure);
    expect(plain.nonRetryable).toBe(true);
    expect(plain.message).toContain('requested length too large');
    expect(plain.message).toContain('SQLSTATE 54000');
    expect(plain.message).toContain('a retry cannot lift');
    // The extract wraps state-database errors as retryable: a program limit underneath is not.
    const wrapped = boundary(async () => {
      throw new SyncError('INTERNAL', 'could not create the temporary stage of run 3 of "a": requested length too large', {
        retryable: true,
        cause: limit,
      });
    });
    expect(((await wrapped().catch((e: unknown) => e)) as ApplicationFailure).nonRetryable).toBe(true);
    const lost = boundary(async () => {
      throw new SyncError('INTERNAL', 'lost the state database', {
        retryable: true,
        cause: Object.assign(new Error('x'), { code: '57P01' }),
      });
    });
    expect(((await lost().catch((e: unknown) => e)) as ApplicationFailure).nonRetryable).toBe(false);
  } finally {
    await pool.end();
  }
});

test('an attempt on a state database host that accepts and never answers (a black hole) ends on its own, as one waiting may mend', async () => {
  // Accepts the connection, then says nothing: the startup message is never answered, and no OS timeout fires.
  const held: net.Socket[] = [];
  const silent = net.createServer((s) => void held.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const started = Date.now();
    const err = await migrateToLatest(`postgres://syncline@127.0.0.1:${port}/syncline`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(postgresMayRecover(err)).toBe(true);
  } finally {
    for (const s of held) s.destroy();
    silent.close();
  }
}, 120_000);

describe('a worker of the release before, started on a state database a newer release migrated (a rolling deploy, a rollback)', () => {
  let admin: pg.Pool;
  const scratch: string[] = [];
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  });
  afterAll(async () => {
    for (const name of scratch) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  });
  /** A database of its own, migrated by this release, with `names` recorded as executed after its migrations. */
  async function migratedWith(names: string[]): Promise<string> {
    const name = `rolling_${process.pid}_${scratch.length}`;
    scratch.push(name);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    await migrateToLatest(url.toString());
    const db = new pg.Client({ connectionString: url.toString() });
    await db.connect();
    for (const n of names)
      await db.query(`INSERT INTO public.kysely_migration (name, timestamp) VALUES ($1, $2)`, [n, new Date().toISOString()]);
    await db.end();
    return url.toString();
  }

  test('runs on it when the migrations it does not know all come after its own (they are the newer release’s), and says so', async () => {
    const url = await migratedWith(['20991231T2300-from-a-newer-release']);
    const newer: string[][] = [];
    await expect(migrateToLatest(url, { onNewer: (names) => newer.push(names) })).resolves.toEqual([]);
    expect(newer).toEqual([['20991231T2300-from-a-newer-release']]);
  });

  test('runs on it when the newer release migrates it while this one waits for the migration lock (both started at once)', async () => {
    const url = await migratedWith([]);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      // The newer release holds kysely's migration lock (its key, taken per database) while it migrates.
      await other.query(`SELECT pg_advisory_lock(3853314791062309107)`);
      const newer: string[][] = [];
      const migrating = migrateToLatest(url, { onNewer: (names) => newer.push(names) }).catch((e: unknown) => e);
      for (const end = Date.now() + 30_000; ;) {
        const r = await other.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
        if (r.rows[0].n > 0) break;
        if (Date.now() > end) throw new Error('this release never waited for the migration lock');
        await new Promise((r) => setTimeout(r, 50));
      }
      await other.query(`INSERT INTO public.kysely_migration (name, timestamp) VALUES ($1, $2)`, [
        '20991231T2300-from-a-newer-release',
        new Date().toISOString(),
      ]);
      await other.query(`SELECT pg_advisory_unlock(3853314791062309107)`);
      expect(await migrating).toEqual([]);
      expect(newer).toEqual([['20991231T2300-from-a-newer-release']]);
    } finally {
      await other.end();
    }
  });

  test('refuses, naming them, migrations it does not know among its own (not a newer release of this line)', async () => {
    const url = await migratedWith(['20261122T1400-from-another-branch']);
    const err = (await migrateToLatest(url).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain('20261122T1400-from-another-branch');
    expect(postgresMayRecover(err)).toBe(false);
  });
});

test('a DAG sql task that meets a Postgres program limit fails for good (SQL_54000), as a syntax error does', async () => {
  const acts = createDagTaskActivities({
    resolvePg: () => ({ url: process.env.DATABASE_URL! }),
    client: () => {
      throw new Error('not used');
    },
  });
  const env = new MockActivityEnvironment({ startToCloseTimeoutMs: 60_000 });
  const failed = async (statement: string) => (await env.run(acts.runSql, { statement }).catch((e: unknown) => e)) as ApplicationFailure;
  const limit = await failed(`SELECT repeat('x', 2147483647)`);
  expect(limit).toBeInstanceOf(ApplicationFailure);
  expect(limit.type).toBe('SQL_54000');
  expect(limit.nonRetryable).toBe(true);
  const syntax = await failed('SELEC 1');
  expect([syntax.type, syntax.nonRetryable]).toEqual(['SQL_42601', true]);
});

test('a production worker started while Temporal is down waits for it, then polls', async () => {
  const [host, port] = process.env.TEMPORAL_ADDRESS!.split(':');
  const temporal = serviceGate({ hostname: host!, port: port! });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${await temporal.port}`,
    SYNCLINE_TASK_QUEUE: `late-temporal-${process.pid}`,
  };
  delete env.SYNCLINE_START_WAIT_SECONDS;
  const w = runningWorker(env);
  try {
    await w.waitFor(/waiting for Temporal at 127\.0\.0\.1:\d+ \(.*(refused|tcp connect error).*\)/i, 120_000);
    expect(w.output()).not.toContain('syncline worker on');
    await temporal.up();
    await w.waitFor(/Temporal at 127\.0\.0\.1:\d+ reached after \d+ s/, 60_000);
    await w.waitFor(/syncline worker on 127\.0\.0\.1:\d+/, 60_000);
    expect(temporal.connections()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(w.exit()).toBeUndefined();
    expect(await w.stop()).toBe(0);
  } finally {
    w.kill();
    temporal.close();
  }
}, 240_000);
