/**
 * Sources and hashing: a model in another Postgres database streams in with COPY; changing the
 * mapping re-sends every row; a model SQL error fails the run with Postgres' message and the
 * activation id, without pausing the activation.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { startWorker, sqlClient, testClient, uniqueName, env, waitFor, type RunningWorker } from '../support/harness';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { statusQuery, triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_src');
const WAREHOUSE = uniqueName('warehouse');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
let warehouse: pg.Pool;
let warehouseUrl: string;

beforeAll(async () => {
  db = sqlClient();
  await db.query(`CREATE DATABASE ${WAREHOUSE}`);
  const u = new URL(env().databaseUrl);
  u.pathname = `/${WAREHOUSE}`;
  warehouseUrl = u.toString();
  // createPool handles errors of closing clients: pool.end() resolves before its sockets close, and the
  // DROP DATABASE ... WITH (FORCE) in afterAll may then terminate one.
  warehouse = createPool(warehouseUrl, 2);
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, connections: { warehouse: { url: warehouseUrl } } }), testClient()]);
});
afterAll(async () => {
  await worker?.stop();
  await warehouse?.end();
  await db?.query(`DROP DATABASE IF EXISTS ${WAREHOUSE} WITH (FORCE)`).catch(() => {});
  await db?.end();
  await client?.connection.close();
});

async function start(cfg: Record<string, unknown>) {
  return client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(String(cfg.id)),
    args: [{ config: cfg }],
  });
}
const sync = (id: string) => client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
async function destination(object: string): Promise<Map<string, Record<string, unknown>>> {
  const r = await db.query(`SELECT key, "values" FROM test_dest.records WHERE object = $1`, [object]);
  return new Map(r.rows.map((x) => [x.key as string, x.values as Record<string, unknown>]));
}

test('a model in another Postgres is streamed with COPY, types kept; a mapping change re-sends every row', async () => {
  const id = uniqueName('remote');
  await warehouse.query(`CREATE TYPE tier AS ENUM ('gold', 'silver');
    CREATE TABLE customers AS SELECT g AS id, 'Name ' || g AS name, (g * 1.5)::numeric(10,2) AS score, timestamptz '2026-03-29 01:30:00+01' + g * interval '1 hour' AS seen_at,
      (CASE WHEN g % 2 = 0 THEN 'gold' ELSE 'silver' END)::tier AS tier, E'tab\\there, "quote", comma, é 🎉' AS tricky FROM generate_series(1, 2500) g`);
  const base = {
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { connection: 'warehouse', sql: 'SELECT * FROM customers', key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 1000 } },
    mappings: [
      { from: 'name', to: 'Name' },
      { from: 'score', to: 'Score' },
      { from: 'seen_at', to: 'SeenAt' },
      { from: 'tier', to: 'Tier' },
      { from: 'tricky', to: 'Tricky' },
    ],
  };
  await start(base);
  const first = await sync(id);
  expect(first.ops.upsert).toMatchObject({ planned: 2500, succeeded: 2500 });
  const dest = await destination(id);
  expect(dest.size).toBe(2500);
  expect(dest.get('2')).toEqual({
    ext_id: 2,
    Name: 'Name 2',
    Score: '3.00',
    SeenAt: '2026-03-29T02:30:00.000Z',
    Tier: 'gold',
    Tricky: 'tab\there, "quote", comma, é 🎉',
  });

  await warehouse.query(`UPDATE customers SET name = 'Changed' WHERE id <= 7`);
  expect((await sync(id)).ops.upsert).toMatchObject({ planned: 7, succeeded: 7 });
  expect((await sync(id)).ops.upsert?.planned ?? 0).toBe(0);

  // Same rows, one more mapped field: every row's hash changes, every row is sent again.
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('new mapping');
  await start({ ...base, mappings: [...base.mappings, { from: 'id', to: 'LegacyId' }] });
  const remapped = await sync(id);
  expect(remapped.ops.upsert).toMatchObject({ planned: 2500, succeeded: 2500 });
  expect((await destination(id)).get('9')).toMatchObject({ LegacyId: 9 });
});

test('the source database drops the extract mid-COPY: that attempt fails as retryable and the retry completes the run', async () => {
  const id = uniqueName('dropped');
  await warehouse.query(`CREATE TABLE leads AS SELECT g AS id, 'Lead ' || g AS name FROM generate_series(1, 1200) g`);
  await start({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    // pg_sleep keeps each extract's COPY running long enough to be killed from here.
    source: { connection: 'warehouse', sql: 'SELECT l.id, l.name FROM leads l CROSS JOIN pg_sleep(1.5)', key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  const run = sync(id);
  const pid = await waitFor('the extract COPY on the warehouse', async () => {
    const r = await warehouse.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'syncline-model' AND state = 'active' AND query LIKE 'COPY%leads%'`,
    );
    return r.rows[0]?.pid;
  });
  const killed = await warehouse.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
  expect(killed.rows[0]?.ok).toBe(true);
  const summary = await run;
  expect(summary.status).toBe('success');
  expect(summary.ops.upsert).toMatchObject({ planned: 1200, succeeded: 1200 });
  const dest = await destination(id);
  expect(dest.size).toBe(1200);
  expect(dest.get('1200')).toEqual({ ext_id: 1200, Name: 'Lead 1200' });
});

test('a model SQL error fails the run with the database message and the activation id; the activation keeps running', async () => {
  const id = uniqueName('badsql');
  await start({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { sql: 'SELECT id, nme FROM no_such_table', key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'nme', to: 'Name' }],
  });
  const s = await sync(id);
  expect(s.status).toBe('failed');
  expect(s.error?.type).toBe('MODEL_SQL_ERROR');
  expect(s.error?.message).toContain(`activation "${id}"`);
  expect(s.error?.message).toContain('relation "no_such_table" does not exist');
  const status = await client.workflow.getHandle(activationWorkflowId(id)).query(statusQuery);
  expect(status.state).not.toBe('paused');
});
