/**
 * A database that goes away (restart, failover, pg_terminate_backend) fails the query that was running and
 * nothing else: the worker process survives. pg emits an 'error' event besides rejecting the query; with no
 * listener that event is an uncaught exception, which jest reports as a failure of this file.
 */
import type pg from 'pg';
import { createClient, createPool } from '../../db/connect';
import { modelError } from '../../connectors/postgres/source';
import type { ActivationConfig } from '../../common/config';
import { env, sqlClient } from '../support/harness';

let admin: pg.Pool;
beforeAll(() => {
  admin = sqlClient();
});
afterAll(async () => {
  await admin.end();
});

/** Runs a long query on `c`, kills its backend from another session, and returns the query's error. */
async function killMidQuery(c: pg.PoolClient | pg.Client): Promise<Error & { code?: string }> {
  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const ended = new Promise<void>((resolve) => (c as pg.Client).once('end', () => resolve()));
  const running = c.query('SELECT pg_sleep(30)').then(
    () => new Error('the query was expected to fail'),
    (e: Error) => e,
  );
  await new Promise((r) => setTimeout(r, 200));
  expect((await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid])).rows[0]!.ok).toBe(true);
  const err = await running;
  await ended; // the socket has closed: pg has emitted its 'error' event by now
  return err;
}

test('a client of its own: the running query rejects with 57P01, a later query says not queryable, nothing is thrown at the process', async () => {
  const c = createClient({ connectionString: env().databaseUrl });
  await c.connect();
  const err = await killMidQuery(c);
  expect(err.code).toBe('57P01');
  await expect(c.query('SELECT 1')).rejects.toThrow(/not queryable|Connection terminated/);
  await c.end();
});

test('a client checked out of the pool: the query rejects, the dead client is not handed out again, the pool keeps working', async () => {
  const pool = createPool(env().databaseUrl, 1);
  try {
    const c = await pool.connect();
    const err = await killMidQuery(c);
    expect(err.code).toBe('57P01');
    c.release();
    // max 1: the pool must open a new connection, as the killed one was not returned to it.
    expect((await pool.query<{ n: number }>('SELECT 41 + 1 AS n')).rows[0]!.n).toBe(42);
    expect(pool.totalCount).toBe(1);
  } finally {
    await pool.end();
  }
});

test('a lost connection is a retryable source error, never a model SQL error asking the user to fix the query', () => {
  const config = { id: 'contacts' } as ActivationConfig;
  for (const e of [
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    new Error('Connection terminated unexpectedly'),
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
  ]) {
    const mapped = modelError(config, e);
    expect(mapped.retryable).toBe(true);
    expect(mapped.message).toContain('activation "contacts": lost the source database');
  }
  const syntax = modelError(config, Object.assign(new Error('syntax error at or near "FORM"'), { code: '42601', position: '10' }));
  expect(syntax.retryable).toBe(false);
  expect(syntax.message).toContain('Fix source.sql');
});
