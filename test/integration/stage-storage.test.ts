/**
 * How a run's stage is stored: written once, read, dropped, so autovacuum is kept away from it (a vacuum
 * of a fresh 10,000,000-row stage ran beside the delta in `npm run bench -- delta 10000000`). Both ways
 * of reading the model into a temporary table (in the state database, and COPY from another database),
 * then the stage made from it: only the rows a run may act on. A stage an earlier release made (every
 * model row) turned into this release's before the delta. And the delta's: half-empty pages, no parallel
 * workers (db/delta.ts).
 */
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { computeDelta } from '../../activities/delta';
import { commitStatements } from '../../db/commit';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, startRun, type DirectDeps } from '../support/runs';
import { buildStage, CARRY_STAGE_ROWS, chunkPage, SMALL_STAGE_ROWS, stageSelect, type KeyMatch } from '../../db/delta';
import { tempRows, tempRowsName } from '../../db/stage';
import { stageSpec } from '../../activities/extract';
import { loadRun, sentFields } from '../../activities/run-context';
import { dropWorkTables } from '../../activities/work';

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

async function stageRows(runId: string): Promise<Array<{ key: string; change: string }>> {
  return (await db.query(`SELECT __row_key AS key, __change AS change FROM syncline_work.s_${runId} ORDER BY 2, 1`)).rows;
}

async function columnsOf(table: string): Promise<string[]> {
  const r = await db.query(
    `SELECT attname::text AS a FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [table],
  );
  return r.rows.map((x) => x.a as string);
}

test('the stage keeps only the rows a run may act on: the model rows unchanged since the snapshot are not written to a logged table', async () => {
  for (const [connection, sqlOf] of [
    ['default', (t: string) => `SELECT id, name FROM public.${t}`],
    [
      'warehouse',
      (_t: string) => `SELECT id, CASE WHEN id IN (3, 4) THEN 'New ' || id ELSE name END AS name FROM customers WHERE id <= 28`,
    ],
  ] as const) {
    const id = uniqueName('stage_rows');
    await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 30) g`);
    const first = config(id, connection, connection === 'default' ? sqlOf(id) : 'SELECT id, name FROM customers');
    const { summary } = await fullRun(d.deps, first, 1);
    expect(summary.ops.upsert).toMatchObject({ planned: 30, succeeded: 30 });
    // Two rows changed, two gone (29 and 30), the other 26 as synced.
    if (connection === 'default') {
      await db.query(`UPDATE public.${id} SET name = 'New ' || id WHERE id IN (3, 4)`);
      await db.query(`DELETE FROM public.${id} WHERE id > 28`);
    }
    const runId = await startRun(d.deps, config(id, connection, sqlOf(id)), 2);
    expect(await stageRows(runId)).toEqual([
      { key: '3', change: 'changed' },
      { key: '4', change: 'changed' },
      { key: '29', change: 'removed' },
      { key: '30', change: 'removed' },
    ]);
    expect((await computeDelta(d.deps, { runId })).planned).toEqual({ upsert: 2 });
    const range = (await db.query(`SELECT op, min(seq) AS "from", max(seq) AS "to" FROM syncline_work.d_${runId} GROUP BY op`)).rows[0];
    const q = chunkPage({ runId, activationId: id, range, columns: ['name'], after: null, limit: 10 }).compile(d.deps.db);
    expect((await db.query(q.sql, q.parameters as unknown[])).rows.map((r) => [r.__key, r.name])).toEqual([
      ['3', 'New 3'],
      ['4', 'New 4'],
    ]);
    // A worker of the release before, given this stage, fails on its first statement (a unique index on
    // "__key") instead of taking the 26 keys missing from it as removed.
    expect(await columnsOf(`syncline_work.s_${runId}`)).not.toContain('__key');
    await expect(db.query(`CREATE UNIQUE INDEX ON syncline_work.s_${runId} (__key COLLATE "C")`)).rejects.toMatchObject({ code: '42703' });
  }
});

test('a stage made by the release before (every model row, "__key" and "__hash") is made into this release\'s before the delta, which comes out the same', async () => {
  const id = uniqueName('stage_earlier');
  // 12 rows, a key repeated twice (7) and a row without a key: rejections, and the dups path of the stage.
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 12) g`);
  const model = `SELECT id, name FROM public.${id} UNION ALL SELECT 7, 'Other 7' UNION ALL SELECT NULL, 'No key'`;
  const cfg = config(id, 'default', model);
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = 'New ' || id WHERE id IN (2, 9)`);
  await db.query(`DELETE FROM public.${id} WHERE id = 12`);
  const deltaOf = async (runId: string) => {
    await computeDelta(d.deps, { runId });
    const rows = await db.query(
      `SELECT key, change, op, n, hash::text, destination_id, status, seq FROM syncline_work.d_${runId} ORDER BY key, seq`,
    );
    const pages = [];
    for (const range of (
      await db.query(
        `SELECT op, min(seq) AS "from", max(seq) AS "to" FROM syncline_work.d_${runId} WHERE op IS NOT NULL GROUP BY op ORDER BY op`,
      )
    ).rows) {
      const q = chunkPage({ runId, activationId: id, range, columns: ['id', 'name'], after: null, limit: 100 }).compile(d.deps.db);
      pages.push(...(await db.query(q.sql, q.parameters as unknown[])).rows.map((r) => [r.__op, r.__seq, r.__key, r.id, r.name]));
    }
    return { rows: rows.rows, pages };
  };
  const runId = await startRun(d.deps, cfg, 2);
  const now = await deltaOf(runId);
  expect(now.pages).toEqual([
    ['upsert', 1, '2', 2, 'New 2'],
    ['upsert', 2, '9', 9, 'New 9'],
  ]);
  // Upsert: the two changed rows are sent; the repeated key and the keyless row stay rejected, as reported
  // by run 1 with the same content; the removed key 12 is no operation of this mode.
  expect(now.rows.map((r) => [r.key, r.change, r.op, r.n, r.status])).toEqual([
    ['2', 'changed', 'upsert', 1, 'pending'],
    ['7', 'duplicate_key', null, 2, 'rejected_unchanged'],
    ['9', 'changed', 'upsert', 1, 'pending'],
    [null, 'null_key', null, 1, 'rejected_unchanged'],
  ]);
  // The same run as the release before extracted it: its stage was the model's rows, as read.
  const run = await loadRun(d.deps, runId);
  await dropWorkTables(d.deps, runId);
  const select = stageSelect(stageSpec(run, sentFields(run))).compile(d.deps.db);
  await db.query(`CREATE TABLE syncline_work.s_${runId} AS ${select.sql}`);
  expect((await columnsOf(`syncline_work.s_${runId}`)).sort()).toEqual(['__hash', '__key', 'id', 'name']);
  const before = await deltaOf(runId);
  expect(before).toEqual(now);
  expect(await columnsOf(`syncline_work.s_${runId}`)).toContain('__row_key');
  expect((await db.query(`SELECT to_regclass('syncline_work.s_${runId}_next') AS t`)).rows[0].t).toBeNull();
});

/** Each way the stage is made: one statement; a unique index, then the join; larger than CARRY_STAGE_ROWS. */
const WAYS = [
  ['small', 14],
  ['large', SMALL_STAGE_ROWS + 1],
  ['larger', CARRY_STAGE_ROWS + 1],
] as const;

/** Makes the run's stage again from its model, each way (`WAYS`); `after` sees it, and the temporary table's index count. */
async function stageEachWay(
  runId: string,
  full: boolean,
  after: (label: string, indexes: number) => Promise<void>,
  keyMatch?: KeyMatch,
): Promise<void> {
  const run = await loadRun(d.deps, runId);
  const spec = stageSpec(run, sentFields(run));
  const select = stageSelect(spec).compile(d.deps.db);
  for (const [label, modelRows] of WAYS) {
    await db.query(`DROP TABLE IF EXISTS syncline_work.s_${runId}`);
    const session = await db.connect();
    let indexes: number;
    try {
      const temp = tempRowsName(runId);
      await session.query(`CREATE TEMP TABLE ${temp} AS ${select.sql}`);
      await buildStage(session, d.deps.db, {
        runId,
        activationId: run.activationId,
        rows: tempRows(runId),
        columns: spec.columns,
        full,
        modelRows,
        keyMatch,
      });
      indexes = (await session.query(`SELECT count(*)::int AS n FROM pg_index WHERE indrelid = 'pg_temp.${temp}'::regclass`)).rows[0].n;
      await session.query(`DROP TABLE pg_temp.${temp}`);
    } finally {
      session.release();
    }
    await after(label, indexes);
  }
}

test("a small model's stage is made by one statement, without an index of its own; a large one's after a unique index; every way keeps the same rows", async () => {
  // Runs of small models are what a fleet of activations is made of: each statement and each DDL counts.
  // The index proves a large model's keys unique more cheaply than grouping them; a small model's
  // repeated keys are found by the stage statement itself, which gives the same stage when none repeats.
  const id = uniqueName('stage_small');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 12) g`);
  const withDups = `SELECT id, name FROM public.${id} UNION ALL SELECT 7, 'Other 7' UNION ALL SELECT NULL, 'No key'`;
  const unique = `SELECT id, name FROM public.${id}`;
  for (const model of [withDups, unique]) {
    const cfg = config(`${id}_${model === unique ? 'u' : 'd'}`, 'default', model);
    await fullRun(d.deps, cfg, 1);
    await db.query(`UPDATE public.${id} SET name = name || '+' WHERE id IN (2, 9)`);
    const runId = await startRun(d.deps, cfg, 2);
    const made: Record<string, { indexes: number; rows: unknown[] }> = {};
    // Large: a unique index, then the join (a second run, not a full one: the kept rows' values read after it by
    // tuple id; the test below carries them, on a full re-sync); larger still: read by tuple id always.
    await stageEachWay(runId, false, async (label, indexes) => {
      const rows = await db.query(
        `SELECT __row_key, __change, __n, __row_hash::text, __destination_id, id, name FROM syncline_work.s_${runId} ORDER BY __row_key NULLS FIRST, name`,
      );
      made[label] = { indexes, rows: rows.rows };
    });
    expect(made.small!.indexes).toBe(0);
    // A repeated key fails the unique index, which is then not there either.
    expect(made.large!.indexes).toBe(model === unique ? 1 : 0);
    expect(made.larger!.indexes).toBe(model === unique ? 1 : 0);
    expect(made.small!.rows).toEqual(made.large!.rows);
    expect(made.small!.rows).toEqual(made.larger!.rows);
    expect(made.small!.rows.map((r) => (r as { __change: string }).__change).sort()).toEqual(
      model === unique ? ['changed', 'changed'] : ['changed', 'changed', 'duplicate_key', 'null_key'],
    );
  }
});

test('where the key ignores case, keys differing only in case are repeats, each spelling rejected with the hash of the whole group, every way', async () => {
  // 'k-3' / 'K-3' and 'k-5' / 'K-5' / 'K-5' are one record each where the destination ignores case: neither is sent.
  // Without 'K-5' twice, only the index on the keys in lower case finds a repeat.
  const id = uniqueName('stage_case');
  await db.query(`CREATE TABLE public.${id} AS SELECT 'k-' || g AS id, 'Name ' || g AS name FROM generate_series(1, 12) g`);
  await db.query(`CREATE TABLE public.${id}_more AS SELECT 'K-5' AS id, 'Upper 5 again' AS name`);
  const cfg = config(
    id,
    'default',
    `SELECT id, name FROM public.${id} UNION ALL SELECT 'K-3', 'Upper 3' UNION ALL SELECT 'K-5', 'Upper 5' UNION ALL SELECT id, name FROM public.${id}_more`,
  );
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = name || '+' WHERE id IN ('k-2', 'k-9')`);
  const runId = await startRun(d.deps, cfg, 2);
  for (const [ignoresCase, exactRepeat] of [
    [true, true],
    [false, true],
    [true, false],
    [false, false],
  ]) {
    if (!exactRepeat) await db.query(`DELETE FROM public.${id}_more`);
    const made: Record<string, { indexes: number; rows: Array<Record<string, unknown>> }> = {};
    await stageEachWay(
      runId,
      false,
      async (label, indexes) => {
        const rows = await db.query(
          `SELECT __row_key, __change, __n, __row_hash::text, name FROM syncline_work.s_${runId} ORDER BY __row_key COLLATE "C", name`,
        );
        made[label] = { indexes, rows: rows.rows };
      },
      ignoresCase ? { kind: 'case' } : undefined,
    );
    expect(made.small!.indexes).toBe(0);
    // A repeat ('K-5' twice, or keys equal ignoring case where the key ignores case): the unique index failed.
    expect(made.large!.indexes).toBe(ignoresCase || exactRepeat ? 0 : 1);
    expect(made.small!.rows).toEqual(made.large!.rows);
    expect(made.small!.rows).toEqual(made.larger!.rows);
    const rows = made.small!.rows.map((r) => [r.__row_key, r.__change, r.__n]);
    const hash = (k: string) => made.small!.rows.find((r) => r.__row_key === k)?.__row_hash;
    if (ignoresCase) {
      expect(rows).toEqual([
        ['K-3', 'duplicate_key', 1],
        ['K-5', 'duplicate_key', exactRepeat ? 2 : 1],
        ['k-2', 'changed', 1],
        ['k-3', 'duplicate_key', 1],
        ['k-5', 'duplicate_key', 1],
        ['k-9', 'changed', 1],
      ]);
      expect(hash('K-3')).toBe(hash('k-3'));
      expect(hash('K-5')).toBe(hash('k-5'));
      expect(hash('K-3')).not.toBe(hash('K-5'));
    } else {
      // Run 1 sent 'K-3' and 'k-3' apart (an exact key match), and rejected 'K-5' (twice): only those changed.
      expect(rows).toEqual([
        ...(exactRepeat ? [['K-5', 'duplicate_key', 2]] : [['K-5', 'added', 1]]),
        ['k-2', 'changed', 1],
        ['k-9', 'changed', 1],
      ]);
    }
  }
});

test('where the key ignores case, keys over 2,000 bytes differing only in case give the same stage every way', async () => {
  // Two long keys ('L' + 2,100 'a', and 'l' + the same): each rejected as a key too long (long_key), listed by
  // its own md5. The large model's unique index keys them by that listing, so they never collide; the small
  // model's grouping in lower case must not make them one group either (a group hash, then a different one
  // once the model grows past SMALL_STAGE_ROWS: the rejection reported anew).
  const id = uniqueName('stage_case_long');
  await db.query(`CREATE TABLE public.${id} AS SELECT 'k-' || g AS id, 'Name ' || g AS name FROM generate_series(1, 12) g`);
  const cfg = config(
    id,
    'default',
    `SELECT id, name FROM public.${id} UNION ALL SELECT 'L' || repeat('a', 2100), 'Long upper' UNION ALL SELECT 'l' || repeat('a', 2100), 'Long lower'`,
  );
  await fullRun(d.deps, cfg, 1);
  const runId = await startRun(d.deps, cfg, 2);
  const made: Record<string, Array<Record<string, unknown>>> = {};
  await stageEachWay(
    runId,
    false,
    async (label) => {
      made[label] = (
        await db.query(`SELECT left(__row_key, 3) AS k, __change, __n, __row_hash::text, name FROM syncline_work.s_${runId} ORDER BY name`)
      ).rows;
    },
    { kind: 'case' },
  );
  expect(made.small!.map((r) => [r.k, r.__change, r.__n])).toEqual([
    ['laa', 'long_key', 1],
    ['Laa', 'long_key', 1],
  ]);
  expect(made.small).toEqual(made.large);
  expect(made.small).toEqual(made.larger);
});

test('where the key is a number (4 decimals), keys equal as numbers are one key, the same every way: 1.50 and 1.5, 2 and 2.00001, -0 and 0', async () => {
  const id = uniqueName('stage_number');
  await db.query(`CREATE TABLE public.${id} AS SELECT g + 10 AS id, 'Name ' || g AS name FROM generate_series(1, 12) g`);
  const cfg = config(
    id,
    'default',
    `SELECT id::text AS id, name FROM public.${id} UNION ALL VALUES ('1.50', 'a'), ('1.5', 'b'), ('2', 'c'), ('2.00001', 'd'), ('-0', 'e'), ('0', 'f'), ('3', 'g')`,
  );
  await fullRun(d.deps, cfg, 1);
  const runId = await startRun(d.deps, cfg, 2);
  const made: Record<string, Array<Record<string, unknown>>> = {};
  await stageEachWay(
    runId,
    true,
    async (label) => {
      made[label] = (
        await db.query(
          `SELECT __row_key AS k, __change, __n, __row_hash::text, name FROM syncline_work.s_${runId} WHERE name NOT LIKE 'Name %' ORDER BY name`,
        )
      ).rows;
    },
    { kind: 'number', scale: 4 },
  );
  expect(made.small!.map((r) => [r.k, r.__change, r.__n])).toEqual([
    ['1.50', 'duplicate_key', 1],
    ['1.5', 'duplicate_key', 1],
    ['2', 'duplicate_key', 1],
    ['2.00001', 'duplicate_key', 1],
    ['-0', 'duplicate_key', 1],
    ['0', 'duplicate_key', 1],
    ['3', 'changed', 1],
  ]);
  expect(made.small).toEqual(made.large);
  expect(made.small).toEqual(made.larger);
});

test('every way of making the stage gives the same columns (types and modifiers included) and rows: removed and lost keys, full re-sync', async () => {
  // The carried columns and the ones read by tuple id line up by position with the UNION ALL branch of lost keys.
  const id = uniqueName('stage_types');
  await db.query(
    `CREATE TABLE public.${id} AS SELECT g AS id, ('Name ' || g)::varchar(10) AS name, (g * 1.5)::numeric(10,2) AS amount,
       jsonb_build_object('g', g) AS doc, ARRAY[g, g + 1] AS tags, timestamptz '2026-01-01' + g * interval '1 day' AS at
     FROM generate_series(1, 12) g`,
  );
  const model = `SELECT id, name, amount, doc, tags, at FROM public.${id} UNION ALL SELECT 7, 'Other 7', 1, '{}', '{}', NULL UNION ALL SELECT NULL, 'No key', 2, NULL, NULL, NULL`;
  const cfg = parsed({
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { connection: 'default', sql: model, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [
      { from: 'name', to: 'Name' },
      { from: 'amount', to: 'Amount' },
      { from: 'doc', to: 'Doc' },
      { from: 'tags', to: 'Tags' },
      { from: 'at', to: 'At' },
    ],
  });
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = name || '+' WHERE id IN (2, 9)`);
  await db.query(`DELETE FROM public.${id} WHERE id IN (11, 12)`);
  // A key sent without an answer that has since left the model (the lost branch of the stage).
  await db.query(
    `INSERT INTO syncline.row_errors (activation_id, key, op, code, message, retryable, run_number) VALUES ($1, '999', 'create', 'NOT_ACKNOWLEDGED', 'lost', true, 1)`,
    [id],
  );
  const runId = await startRun(d.deps, cfg, 2);
  for (const full of [false, true]) {
    const made: Record<string, { types: unknown[]; rows: unknown[] }> = {};
    await stageEachWay(runId, full, async (label) => {
      const types = await db.query(
        `SELECT attname::text AS a, format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [`syncline_work.s_${runId}`],
      );
      const rows = await db.query(
        `SELECT __row_key, __change, __n, __row_hash::text, __destination_id, id, name, amount::text, doc::text, tags::text, at::text FROM syncline_work.s_${runId} ORDER BY __row_key NULLS FIRST, name`,
      );
      made[label] = { types: types.rows, rows: rows.rows };
    });
    expect(made.small).toEqual(made.large);
    expect(made.small).toEqual(made.larger);
    expect(made.small!.rows.map((r) => (r as { __change: string }).__change).sort()).toEqual(
      full
        ? [...Array(9).fill('changed'), 'duplicate_key', 'null_key', 'removed', 'removed', 'removed']
        : ['changed', 'changed', 'duplicate_key', 'null_key', 'removed', 'removed', 'removed'],
    );
  }
});
