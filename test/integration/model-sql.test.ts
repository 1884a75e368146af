/**
 * A model only reads, in the state database as in any other: several statements, a statement that
 * writes, a function that writes and an injected second statement are refused with the activation
 * named, and nothing they tried reaches syncline's state. Text that looks like a bind parameter
 * ("$100") is data; a source.table is quoted the same way everywhere.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import type { RunSummary } from '../../common/run';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_model');
const WAREHOUSE = uniqueName('wh_model');
const ROLE = uniqueName('model_reader');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
let warehouse: pg.Pool;

beforeAll(async () => {
  db = sqlClient();
  await db.query(`CREATE DATABASE ${WAREHOUSE}`);
  const u = new URL(env().databaseUrl);
  u.pathname = `/${WAREHOUSE}`;
  warehouse = createPool(u.toString(), 2);
  await db.query(`DO $$ BEGIN CREATE ROLE ${ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  [worker, client] = await Promise.all([
    startWorker({
      taskQueue: TQ,
      connections: {
        warehouse: { url: u.toString() },
        reader: { url: env().databaseUrl, role: ROLE },
        whreader: { url: u.toString(), role: ROLE },
      },
    }),
    testClient(),
  ]);
});
afterAll(async () => {
  await worker?.stop();
  await warehouse?.end();
  await db?.query(`DROP DATABASE IF EXISTS ${WAREHOUSE} WITH (FORCE)`).catch(() => {});
  await db?.end();
  await client?.connection.close();
});

async function syncOnce(id: string, source: Record<string, unknown>): Promise<RunSummary> {
  const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { key: 'id', ...source },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  return handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
}
async function destination(object: string): Promise<Record<string, string>> {
  const r = await db.query(`SELECT key, "values"->>'Name' AS name FROM test_dest.records WHERE object = $1`, [object]);
  return Object.fromEntries(r.rows.map((x) => [x.key, x.name]));
}

describe('a model that does more than read is refused, naming the activation', () => {
  test('two statements', async () => {
    const id = uniqueName('two');
    await db.query(`CREATE TABLE public.${id} AS SELECT 1 AS id, 'a' AS name`);
    const s = await syncOnce(id, { sql: `SELECT id, name FROM public.${id}; SELECT 2 AS id, 'b' AS name` });
    expect(s.status).toBe('failed');
    expect(s.error?.type).toBe('MODEL_SQL_ERROR');
    expect(s.error?.message).toContain(`activation "${id}": the model must be one SELECT statement`);
  });

  test('a second statement smuggled past the wrapping parenthesis cannot approve held deletions', async () => {
    const id = uniqueName('inject');
    await db.query(`CREATE TABLE public.${id} AS SELECT 1 AS id, 'a' AS name`);
    await db.query(`INSERT INTO syncline.held_deletes (activation_id, run_number, key) VALUES ($1, 1, 'k')`, [id]);
    const s = await syncOnce(id, {
      sql: `SELECT id, name FROM public.${id}) AS q; UPDATE syncline.held_deletes SET approved = true WHERE activation_id = '${id}'; SELECT * FROM (SELECT 1 AS id, 'x' AS name`,
    });
    expect(s.status).toBe('failed');
    expect(s.error?.type).toBe('MODEL_SQL_ERROR');
    expect(s.error?.message).toContain(`activation "${id}"`);
    const held = await db.query(`SELECT approved FROM syncline.held_deletes WHERE activation_id = $1`, [id]);
    expect(held.rows).toEqual([{ approved: false }]);
  });

  test('a model that writes through a function, in the state database', async () => {
    const id = uniqueName('writes');
    await db.query(`CREATE TABLE public.${id} AS SELECT 1 AS id, 'a' AS name`);
    await db.query(`CREATE TABLE public.${id}_log (n int)`);
    await db.query(
      `CREATE FUNCTION public.${id}_touch() RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO public.${id}_log VALUES (1) RETURNING n'`,
    );
    const s = await syncOnce(id, { sql: `SELECT id, name, public.${id}_touch() AS t FROM public.${id}` });
    expect(s.status).toBe('failed');
    expect(s.error?.type).toBe('MODEL_SQL_ERROR');
    expect(s.error?.message).toContain(`activation "${id}": the model tried to write`);
    expect((await db.query(`SELECT count(*)::int AS n FROM public.${id}_log`)).rows[0].n).toBe(0);
  });

  test('a model that writes, in another database', async () => {
    const id = uniqueName('writes_wh');
    await warehouse.query(`CREATE TABLE ${id} AS SELECT 1 AS id, 'a' AS name; CREATE SEQUENCE ${id}_seq`);
    const s = await syncOnce(id, { connection: 'warehouse', sql: `SELECT id, name, nextval('${id}_seq') AS n FROM ${id}` });
    expect(s.status).toBe('failed');
    expect(s.error?.message).toContain(`activation "${id}": the model tried to write`);
  });
});

test('a model whose value Postgres cannot read fails without the value: not in the run summary, nor in any history', async () => {
  for (const where of ['default', 'warehouse'] as const) {
    const id = uniqueName(`cast_${where}`);
    const run = where === 'default' ? db : warehouse;
    const table = `${where === 'default' ? 'public.' : ''}${id}`;
    await run.query(`CREATE TABLE ${table} AS SELECT 1 AS id, 'row-v4lue "quoted"@example.com' AS name`);
    const s = await syncOnce(id, { connection: where, sql: `SELECT id, name::int::text AS name FROM ${table}` });
    expect(s.status).toBe('failed');
    expect(s.error?.type).toBe('MODEL_SQL_ERROR');
    expect(s.error?.message).toContain(
      `activation "${id}": the model query failed in Postgres: invalid input syntax for type integer: "…"`,
    );
    expect(s.error?.message).not.toContain('row-v4lue');
    // The activation and its run (the run's history holds the extract's failure); the listing lags behind them.
    const query = `WorkflowId STARTS_WITH "${activationWorkflowId(id)}"`;
    await waitFor('the activation and its run listed', async () => (await client.workflow.count(query)).count >= 2);
    for await (const wf of client.workflow.list({ query })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const text = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
      expect(text).not.toContain('row-v4lue');
    }
    const stored = await db.query(`SELECT error::text AS e FROM syncline.runs WHERE activation_id = $1`, [id]);
    expect(stored.rows.map((r) => r.e).join()).not.toContain('row-v4lue');
  }
});

test('"$100" in the model text is data, in the state database and in another one', async () => {
  for (const where of ['default', 'warehouse'] as const) {
    const id = uniqueName(`dollar_${where}`);
    const run = where === 'default' ? db : warehouse;
    await run.query(
      `CREATE TABLE ${where === 'default' ? 'public.' : ''}${id} AS SELECT g AS id, 'item ' || g AS label FROM generate_series(1, 3) g`,
    );
    const s = await syncOnce(id, {
      connection: where,
      sql: `SELECT id, label || ' over $100 and $2' AS name FROM ${where === 'default' ? 'public.' : ''}${id}`,
    });
    expect(s.status).toBe('success');
    expect(await destination(id)).toEqual({ 1: 'item 1 over $100 and $2', 2: 'item 2 over $100 and $2', 3: 'item 3 over $100 and $2' });
  }
});

test('source.table is quoted the same way when the model is described and when it is read', async () => {
  const id = uniqueName('Quoted');
  await db.query(
    `CREATE SCHEMA IF NOT EXISTS marts; CREATE TABLE marts."${id}" AS SELECT g AS id, 'N' || g AS name FROM generate_series(1, 4) g`,
  );
  const s = await syncOnce(id.toLowerCase(), { table: `marts.${id}` });
  expect(s.status).toBe('success');
  expect(Object.keys(await destination(id.toLowerCase()))).toHaveLength(4);
});

test('a connection with a role runs its models as that role, in the state database and in another one', async () => {
  for (const [conn, pool, schema] of [
    ['reader', db, 'public.'],
    ['whreader', warehouse, ''],
  ] as const) {
    const granted = uniqueName(`granted_${conn}`);
    const hidden = uniqueName(`hidden_${conn}`);
    await pool.query(
      `CREATE TABLE ${schema}${granted} AS SELECT g AS id, 'N' || g AS name FROM generate_series(1, 3) g; CREATE TABLE ${schema}${hidden} AS SELECT 1 AS id, 'secret' AS name`,
    );
    await pool.query(`GRANT USAGE ON SCHEMA public TO ${ROLE}; GRANT SELECT ON ${schema}${granted} TO ${ROLE}`);
    const ok = await syncOnce(granted, { connection: conn, sql: `SELECT id, name FROM ${schema}${granted}` });
    expect(ok.status).toBe('success');
    expect(Object.keys(await destination(granted))).toHaveLength(3);
    const refused = await syncOnce(hidden, { connection: conn, sql: `SELECT id, name FROM ${schema}${hidden}` });
    expect(refused.status).toBe('failed');
    expect(refused.error?.message).toMatch(new RegExp(`activation "${hidden}": .*permission denied for table ${hidden}`));
  }
});
