/**
 * The transaction every model read runs in (connectors/postgres/source.ts `readOnly`): read-only, as the
 * source's role when one is set, with the canonical settings every row hash depends on, whatever the
 * session had before; and the session gets its own settings back after it.
 */
import pg from 'pg';
import { describeModel, readOnly, type SourceDb } from '../../connectors/postgres/source';
import { createPool } from '../../db/connect';
import type { ActivationConfig } from '../../common/config';
import { env, sqlClient, uniqueName } from '../support/harness';

let db: pg.Pool;
const config = { id: 'readonly_check' } as ActivationConfig;

beforeAll(() => {
  db = sqlClient();
});
afterAll(async () => {
  await db?.end();
});

const SETTINGS = `SELECT current_setting('TimeZone') AS tz, current_setting('DateStyle') AS ds, current_setting('IntervalStyle') AS iv,
  current_setting('extra_float_digits') AS efd, current_setting('transaction_read_only') AS ro, current_user AS who`;

test('a model read runs read-only, with the canonical settings, as the role; the session keeps its own after', async () => {
  const role = uniqueName('model_reader');
  await db.query(`CREATE ROLE ${role}`);
  const client = await db.connect();
  try {
    await client.query(
      `SET TimeZone = 'America/New_York'; SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 0`,
    );
    const user = (await client.query<{ who: string }>('SELECT current_user AS who')).rows[0]!.who;
    await client.query(`GRANT ${role} TO ${user}`);
    const source: SourceDb = { url: env().databaseUrl, sameDatabase: true };
    const inside = await readOnly(client, source, config, async () => (await client.query(SETTINGS)).rows[0]);
    expect(inside).toEqual({ tz: 'UTC', ds: 'ISO, YMD', iv: 'iso_8601', efd: '1', ro: 'on', who: user });
    const asRole = await readOnly(client, { ...source, role }, config, async () => (await client.query(SETTINGS)).rows[0]);
    expect(asRole).toEqual({ tz: 'UTC', ds: 'ISO, YMD', iv: 'iso_8601', efd: '1', ro: 'on', who: role });
    // A write inside is refused as the model's own error, and the transaction is gone after it.
    await expect(readOnly(client, source, config, () => client.query(`CREATE TABLE ${role}_t (a int)`))).rejects.toThrow(
      /the model tried to write/,
    );
    expect((await client.query(SETTINGS)).rows[0]).toEqual({
      tz: 'America/New_York',
      ds: 'SQL, DMY',
      iv: 'postgres',
      efd: '0',
      ro: 'off',
      who: user,
    });
  } finally {
    client.release(true);
    await db.query(`DROP ROLE IF EXISTS ${role}`);
  }
});

test('a role that does not exist fails the read as the model’s error and leaves no transaction open', async () => {
  const client = await db.connect();
  try {
    const source: SourceDb = { url: env().databaseUrl, sameDatabase: true, role: uniqueName('no_such_role') };
    await expect(readOnly(client, source, config, async () => 1)).rejects.toThrow(/activation "readonly_check"/);
    expect((await client.query<{ ro: string }>(`SELECT current_setting('transaction_read_only') AS ro`)).rows[0]!.ro).toBe('off');
  } finally {
    client.release(true);
  }
});

test('a model in the state database is described on a session of the pool, not a connection of its own', async () => {
  const table = uniqueName('described');
  await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, amount numeric(12,2), seen timestamptz)`);
  const pool = createPool(env().databaseUrl, 1);
  const connects = jest.spyOn(pg.Client.prototype, 'connect');
  try {
    (await pool.connect()).release(); // the pool's one session, opened before
    connects.mockClear();
    const source: SourceDb = { url: env().databaseUrl, sameDatabase: true };
    const described = { ...config, source: { connection: 'default', table, key: 'id' } } as unknown as ActivationConfig;
    for (let i = 0; i < 3; i++) {
      const columns = await describeModel(source, described, pool);
      expect([...columns]).toEqual([
        ['id', 'text'],
        ['amount', 'numeric'],
        ['seen', 'timestamptz'],
      ]);
    }
    expect(connects).not.toHaveBeenCalled();
    // The session went back read-write, with no transaction open.
    const session = await pool.connect();
    try {
      expect((await session.query<{ ro: string }>(`SELECT current_setting('transaction_read_only') AS ro`)).rows[0]!.ro).toBe('off');
    } finally {
      session.release();
    }
  } finally {
    connects.mockRestore();
    await pool.end();
    await db.query(`DROP TABLE IF EXISTS ${table}`);
  }
});

test('no session of the pool to be had is the state database’s failure, retried, not the model’s', async () => {
  const pool = createPool(env().databaseUrl, 1);
  await pool.end(); // a pool that cannot hand out a session (here: ended, as at a worker's shutdown)
  const source: SourceDb = { url: env().databaseUrl, sameDatabase: true };
  const described = { ...config, source: { connection: 'default', table: 'syncline.runs', key: 'id' } } as unknown as ActivationConfig;
  const err = await describeModel(source, described, pool).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'INTERNAL', retryable: true });
  expect((err as Error).message).toMatch(/activation "readonly_check".*state database/);
});
