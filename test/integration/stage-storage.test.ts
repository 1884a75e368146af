/**
 * How a run's stage is stored: written once, read, dropped, so autovacuum is kept away from it (a vacuum
 * of a fresh 10,000,000-row stage ran beside the delta in `npm run bench -- delta 10000000`). Both ways
 * of filling it: a model in the state database (temporary table, then the stage) and one in another
 * database (COPY into an empty stage). And the delta's: half-empty pages, no parallel workers (db/delta.ts).
 */
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { computeDelta } from '../../activities/delta';
import { chunkPage } from '../../db/delta';
import { commitStatements } from '../../db/commit';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, parsed, startRun, type DirectDeps } from '../support/runs';

const WAREHOUSE = uniqueName('stage_wh');
let db: pg.Pool;
let d: DirectDeps;

beforeAll(async () => {
  db = sqlClient();
  await db.query(`CREATE DATABASE ${WAREHOUSE}`);
  const u = new URL(env().databaseUrl);
  u.pathname = `/${WAREHOUSE}`;
  d = await directDeps(env().databaseUrl, { connections: { warehouse: { url: u.toString() } } });
  const wh = createPool(u.toString(), 1);
  try {
    await wh.query(`CREATE TABLE customers AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 30) g`);
  } finally {
    await wh.end();
  }
});
afterAll(async () => {
  await d?.close();
  await db?.query(`DROP DATABASE IF EXISTS ${WAREHOUSE} WITH (FORCE)`).catch(() => {});
  await db?.end();
});

async function stageOf(runId: string): Promise<{ options: string[]; rows: number }> {
  const r = await db.query(`SELECT coalesce(reloptions, '{}') AS options, relpersistence FROM pg_class WHERE oid = $1::regclass`, [
    `syncline_work.s_${runId}`,
  ]);
  expect(r.rows[0].relpersistence).toBe('p');
  const n = await db.query(`SELECT count(*)::int AS n FROM syncline_work.s_${runId}`);
  return { options: r.rows[0].options as string[], rows: n.rows[0].n as number };
}

function config(id: string, connection: string, sqlText: string) {
  return parsed({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { connection, sql: sqlText, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
}

test('a model in the state database: the stage is logged, holds every row, and autovacuum leaves it alone', async () => {
  const id = uniqueName('stage_here');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 40) g`);
  const runId = await startRun(d.deps, config(id, 'default', `SELECT id, name FROM public.${id}`), 1);
  expect(await stageOf(runId)).toEqual({ options: ['autovacuum_enabled=false'], rows: 40 });
});

test('a model in another database, copied in: the stage is logged, holds every row, and autovacuum leaves it alone', async () => {
  const id = uniqueName('stage_there');
  const runId = await startRun(d.deps, config(id, 'warehouse', 'SELECT id, name FROM customers'), 1);
  expect(await stageOf(runId)).toEqual({ options: ['autovacuum_enabled=false'], rows: 30 });
});

test('the delta: half-empty pages, and never a parallel plan for a page of a chunk', async () => {
  const id = uniqueName('delta_storage');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 40) g`);
  const runId = await startRun(d.deps, config(id, 'default', `SELECT id, name FROM public.${id}`), 1);
  await computeDelta(d.deps, { runId });
  const r = await db.query(`SELECT reloptions FROM pg_class WHERE oid = $1::regclass`, [`syncline_work.d_${runId}`]);
  const range = (await db.query(`SELECT op, min(seq) AS "from", max(seq) AS "to" FROM syncline_work.d_${runId} GROUP BY op`)).rows[0];
  const q = chunkPage({ runId, activationId: id, range, columns: ['name'], after: null, limit: 10 }).compile(d.deps.db);
  // Parallel plans made free: without the delta's parallel_workers = 0 the planner scans it in parallel even at 40 rows.
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    for (const s of ['parallel_setup_cost', 'parallel_tuple_cost', 'min_parallel_table_scan_size', 'min_parallel_index_scan_size'])
      await client.query(`SET LOCAL ${s} = 0`);
    const plan = (await client.query(`EXPLAIN ${q.sql}`, q.parameters as unknown[])).rows.map((p) => p['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Scan[^\n]* on d_/);
    // The delta is never scanned in parallel. (With parallel plans free, the stage, 40 rows here, may be:
    // at real costs a page reads it by tuple id, one row per delta row.)
    expect(plan).not.toMatch(/Parallel[^\n]* on d_/);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
  expect(r.rows[0].reloptions).toEqual(['fillfactor=50', 'parallel_workers=0']);
});

test('the delta: indexed for reads and analyzed, however small (the commit joins it with the snapshot), and read by seq', async () => {
  const id = uniqueName('delta_index');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 40) g`);
  const runId = await startRun(d.deps, config(id, 'default', `SELECT id, name FROM public.${id}`), 1);
  expect((await computeDelta(d.deps, { runId })).planned).toEqual({ upsert: 40 });
  const range = (await db.query(`SELECT op, min(seq) AS "from", max(seq) AS "to" FROM syncline_work.d_${runId} GROUP BY op`)).rows[0];
  const q = chunkPage({ runId, activationId: id, range, columns: ['name'], after: 30, limit: 5 }).compile(d.deps.db);
  expect((await db.query(q.sql, q.parameters as unknown[])).rows.map((r) => r.name)).toEqual([
    'Name 31',
    'Name 32',
    'Name 33',
    'Name 34',
    'Name 35',
  ]);
  const r = await db.query<{ n: number; analyzed: boolean }>(
    `SELECT (SELECT count(*)::int FROM pg_index WHERE indrelid = c.oid) AS n, c.reltuples >= 0 AS analyzed FROM pg_class c WHERE c.oid = $1::regclass`,
    [`syncline_work.d_${runId}`],
  );
  expect(r.rows[0]).toEqual({ n: 2, analyzed: true });
});

test('the commit of a small delta never scans the delta once per snapshot row, even when the statistics do not know the activation yet', async () => {
  // Right after a first load (or beside far bigger activations) the snapshot's statistics may not know this
  // activation's rows: Postgres then takes them for one row and probes the delta once per snapshot row.
  // Each probe must be an index look-up, not a scan of the whole delta (300,000 scans of an unindexed
  // 999-row delta: 30 s for the commit's DELETE of deleted keys, 0.3 s with the delta's indexes).
  const id = uniqueName('stale_stats');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 999) g`);
  const runId = await startRun(d.deps, config(id, 'default', `SELECT id, name FROM public.${id}`), 1);
  await computeDelta(d.deps, { runId });
  await db.query(`UPDATE syncline_work.d_${runId} SET status = 'ok'`); // the writes answered
  // The snapshot's copy (the statements read it by name), analyzed before this activation's rows arrived.
  const snap = `public.${id}_snap`;
  await db.query(`CREATE TABLE ${snap} (LIKE syncline.snapshot INCLUDING ALL) WITH (autovacuum_enabled = false)`);
  await db.query(
    `INSERT INTO ${snap} (activation_id, key, hash, synced_at) SELECT 'other', 'o' || g, md5(g::text)::uuid, now() FROM generate_series(1, 50) g`,
  );
  await db.query(`ANALYZE ${snap}`);
  await db.query(
    `INSERT INTO ${snap} (activation_id, key, hash, synced_at) SELECT $1, 'k' || g, md5(g::text)::uuid, now() FROM generate_series(1, 20000) g`,
    [id],
  );
  const client = await db.connect();
  const perRow: string[] = [];
  try {
    for (const stmt of commitStatements(runId, id, 1, 'id')) {
      const q = stmt.compile(d.deps.db);
      await client.query('BEGIN');
      try {
        const plan = (
          await client.query(
            `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${q.sql.replace(/syncline\.snapshot/g, snap)}`,
            q.parameters as unknown[],
          )
        ).rows.map((p) => p['QUERY PLAN'] as string);
        for (const line of plan) {
          const loops = /Seq Scan on d_\S+ .*loops=(\d+)/.exec(line);
          if (loops && Number(loops[1]) > 1) perRow.push(line.trim());
        }
      } finally {
        await client.query('ROLLBACK');
      }
    }
  } finally {
    client.release();
    await db.query(`DROP TABLE IF EXISTS ${snap}`);
  }
  expect(perRow).toEqual([]);
});
