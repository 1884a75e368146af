/**
 * Exactness between two steps of a run, driven activity by activity on the real Postgres: a Postgres
 * crash between extract and delta, during the writes, or between plan and apply; a retried delta on
 * another plan; a run that never commits. After each, the destination and the snapshot must say exactly
 * what the mode implies.
 */
import type pg from 'pg';
import { env, sqlClient, uniqueName, waitFor } from '../support/harness';
import { crashPostgres, directDeps, fullRun, markWritesBegun, parsed, startRun, writeAll, type DirectDeps } from '../support/runs';
import { computeDelta } from '../../activities/delta';
import { commitRun } from '../../activities/commit';
import { FIRST_INSERT_MIN_ROWS } from '../../db/commit';
import { recordPlan } from '../../activities/plan';
import { writeChunk } from '../../activities/write';
import { checkDestination, prepareRun } from '../../activities/prepare';
import { extractModel } from '../../activities/extract';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { RunSummary } from '../../common/run';
import { createActivities } from '../../activities';
import { livenessTimer } from '../../activities/liveness';

let db: pg.Pool;
let d: DirectDeps;

beforeAll(async () => {
  db = sqlClient();
  d = await directDeps(env().databaseUrl);
});
afterAll(async () => {
  await d?.close();
  await db?.end();
});

function config(id: string, mode: string, extra: Record<string, unknown> = {}) {
  return parsed({
    id,
    mode,
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 20 } },
    mappings: [{ from: 'name', to: 'Name' }],
    deletionGuard: { maxDeletePercent: 50 },
    ...extra,
  });
}
async function model(id: string, rows: number): Promise<void> {
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, $1::int) g`, [rows]);
}
async function destination(object: string): Promise<Map<string, string>> {
  const r = await db.query(`SELECT key, "values"->>'Name' AS name FROM test_dest.records WHERE object = $1`, [object]);
  return new Map(r.rows.map((x) => [x.key as string, x.name as string]));
}
async function snapshot(id: string): Promise<number> {
  return Number((await db.query(`SELECT count(*) AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n);
}
async function expectInStep(id: string, rows: number, nameOf: (k: number) => string): Promise<void> {
  const dest = await destination(id);
  expect(dest.size).toBe(rows);
  for (let k = 1; k <= rows; k++) expect(dest.get(String(k))).toBe(nameOf(k));
  expect(await snapshot(id)).toBe(rows);
}

describe('a Postgres crash', () => {
  test('between extract and delta: the delta still sees the model (nothing looks removed)', async () => {
    const id = uniqueName('crash_ed');
    await model(id, 50);
    const cfg = config(id, 'upsert');
    await fullRun(d.deps, cfg, 1);
    await db.query(`UPDATE public.${id} SET name = name || ' v2' WHERE id <= 5`);
    const runId = await startRun(d.deps, cfg, 2);
    await crashPostgres(env().databaseUrl);
    const delta = await computeDelta(d.deps, { runId });
    expect(delta.planned).toEqual({ upsert: 5 });
    await writeAll(d.deps, runId, delta.chunks);
    const s = await commitRun(d.deps, { runId });
    expect(s.ops.upsert).toMatchObject({ planned: 5, succeeded: 5 });
    await expectInStep(id, 50, (k) => (k <= 5 ? `Name ${k} v2` : `Name ${k}`));
  });

  test('in Mirror between extract and delta: nothing is deleted and no deletion is held', async () => {
    const id = uniqueName('crash_em');
    await model(id, 40);
    const cfg = config(id, 'mirror');
    await fullRun(d.deps, cfg, 1);
    const runId = await startRun(d.deps, cfg, 2);
    await crashPostgres(env().databaseUrl);
    const delta = await computeDelta(d.deps, { runId });
    expect(delta.planned).toEqual({});
    expect(delta.heldDeletes).toBe(0);
    await commitRun(d.deps, { runId });
    await expectInStep(id, 40, (k) => `Name ${k}`);
  });

  test('during the writes: rows acknowledged before the crash are committed, the rest still written', async () => {
    const id = uniqueName('crash_w');
    await model(id, 60);
    const cfg = config(id, 'upsert');
    const runId = await startRun(d.deps, cfg, 1);
    const delta = await computeDelta(d.deps, { runId });
    expect(delta.chunks).toEqual([0, 1, 2]);
    await writeChunk(d.deps, { runId, chunk: 0 });
    await crashPostgres(env().databaseUrl);
    await writeChunk(d.deps, { runId, chunk: 1 });
    await writeChunk(d.deps, { runId, chunk: 2 });
    const s = await commitRun(d.deps, { runId });
    expect(s.ops.upsert).toMatchObject({ planned: 60, succeeded: 60, failed: 0 });
    await expectInStep(id, 60, (k) => `Name ${k}`);
  });

  test('between plan and apply: the apply writes the plan', async () => {
    const id = uniqueName('crash_pa');
    await model(id, 30);
    const cfg = config(id, 'upsert');
    const runId = await startRun(d.deps, cfg, 1);
    const delta = await computeDelta(d.deps, { runId });
    await recordPlan(d.deps, { runId, planned: delta.planned, rejected: delta.rejected, heldDeletes: delta.heldDeletes });
    await crashPostgres(env().databaseUrl);
    await writeAll(d.deps, runId, delta.chunks);
    const s = await commitRun(d.deps, { runId });
    expect(s.ops.upsert).toMatchObject({ planned: 30, succeeded: 30 });
    await expectInStep(id, 30, (k) => `Name ${k}`);
  });
});

test('a retried delta numbers the rows and cuts the chunks exactly as the first attempt did, whatever plan Postgres picks', async () => {
  const id = uniqueName('seq');
  await model(id, 200);
  const cfg = config(id, 'upsert');
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = name || ' v2' WHERE id % 3 = 0`);
  await db.query(`INSERT INTO public.${id} SELECT g, 'New ' || g FROM generate_series(201, 260) g`);
  const runId = await startRun(d.deps, cfg, 2);
  const seqs = async () =>
    (await db.query(`SELECT key, seq FROM syncline_work.d_${runId} ORDER BY key`)).rows.map((r) => `${r.key}:${r.seq}`);
  const chunks = async () =>
    (await db.query(`SELECT chunk, seq_from, seq_to, row_count FROM syncline.chunks WHERE run_id = $1 ORDER BY chunk`, [runId])).rows;
  await computeDelta(d.deps, { runId });
  const first = { seqs: await seqs(), chunks: await chunks() };
  // The retry runs on another connection whose planner cannot hash-join: the join's output order changes.
  const other = await directDeps(env().databaseUrl, { pgOptions: '-c enable_hashjoin=off -c enable_mergejoin=on' });
  try {
    await computeDelta(other.deps, { runId });
  } finally {
    await other.close();
  }
  expect(await seqs()).toEqual(first.seqs);
  expect(await chunks()).toEqual(first.chunks);
});

test('skipped rows among the pending ones take no room in a chunk: ceil(pending / size) chunks, the same on a retried delta', async () => {
  // The connector sizes chunks for the pending rows it is told of (Actito fits them to the imports left
  // today): a chunk that also counted skipped rows would leave one more chunk than it planned for.
  const id = uniqueName('skipcut');
  await model(id, 100);
  const cfg = config(id, 'upsert');
  // Run 1: 30 even keys fail for good, so run 2 skips them while they stay unchanged.
  await db.query(
    `INSERT INTO test_dest.faults (object, key, code, retryable, times) SELECT $1, g::text, 'STRING_TOO_LONG', false, 1 FROM generate_series(2, 60, 2) g`,
    [id],
  );
  const first = await fullRun(d.deps, cfg, 1);
  expect(first.summary.ops.upsert).toMatchObject({ planned: 100, succeeded: 70, failed: 30 });
  // Run 2: the 50 odd keys change. The model is written again in key order (an UPDATE would move the
  // changed rows to the end of the table), so the skipped even keys sit between them in delta order.
  await db.query(`TRUNCATE public.${id}`);
  await db.query(
    `INSERT INTO public.${id} SELECT g, 'Name ' || g || CASE WHEN g % 2 = 1 THEN ' v2' ELSE '' END FROM generate_series(1, 100) g ORDER BY g`,
  );
  const runId = await startRun(d.deps, cfg, 2);
  const chunks = async () =>
    (await db.query(`SELECT chunk, seq_from, seq_to, row_count FROM syncline.chunks WHERE run_id = $1 ORDER BY chunk`, [runId])).rows;
  const delta = await computeDelta(d.deps, { runId });
  expect(delta.planned).toEqual({ upsert: 50 });
  expect(delta.skipped).toBe(30);
  expect(delta.chunks).toEqual([0, 1, 2]);
  const cut = await chunks();
  expect(cut.map((c) => c.row_count)).toEqual([20, 20, 10]);
  await computeDelta(d.deps, { runId });
  expect(await chunks()).toEqual(cut);
  // Each chunk reads its pending rows only: the skipped keys inside its range are not sent.
  await writeAll(d.deps, runId, delta.chunks);
  const s = await commitRun(d.deps, { runId });
  expect(s.ops.upsert).toMatchObject({ planned: 80, skipped: 30, succeeded: 50, failed: 0 });
  const dest = await destination(id);
  expect(dest.size).toBe(70);
  for (let k = 1; k <= 100; k++) expect(dest.get(String(k))).toBe(k % 2 === 1 ? `Name ${k} v2` : k <= 60 ? undefined : `Name ${k}`);
});

test('a model column whose name holds a dot or a quote is hashed and sent like any other', async () => {
  const id = uniqueName('dots');
  await db.query(
    `CREATE TABLE public.${id} AS SELECT g AS id, 'user' || g || '@x.com' AS "customer.email", 'It''s ' || g AS "odd""name" FROM generate_series(1, 10) g`,
  );
  const cfg = parsed({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [
      { from: 'customer.email', to: 'Email' },
      { from: 'odd"name', to: 'Name' },
    ],
  });
  const first = await fullRun(d.deps, cfg, 1);
  expect(first.summary.ops.upsert).toMatchObject({ planned: 10, succeeded: 10 });
  await db.query(`UPDATE public.${id} SET "customer.email" = 'changed@x.com' WHERE id = 3`);
  const second = await fullRun(d.deps, cfg, 2);
  expect(second.delta.planned).toEqual({ upsert: 1 });
  const r = await db.query(`SELECT "values" FROM test_dest.records WHERE object = $1 AND key = '3'`, [id]);
  expect(r.rows[0].values).toMatchObject({ Email: 'changed@x.com', Name: "It's 3" });
});

describe('a run that never commits', () => {
  test('the next run first settles what it wrote: acknowledged rows are not sent again, its work tables go, its record is closed', async () => {
    const id = uniqueName('nocommit');
    await model(id, 60);
    const cfg = config(id, 'insert');
    const runId = await startRun(d.deps, cfg, 1);
    const delta = await computeDelta(d.deps, { runId });
    await writeChunk(d.deps, { runId, chunk: 0 });
    await writeChunk(d.deps, { runId, chunk: 1 });
    // Chunk 2's write began (marked, as writeChunk marks it) and its worker died before any answer.
    await markWritesBegun(d.deps, runId, [2]);
    // Run 1 never commits (commit out of attempts, child terminated): run 2 starts.
    expect(delta.chunks).toEqual([0, 1, 2]);
    const { runId: run2 } = await prepareRun(d.deps, { activationId: id, runNumber: 2, trigger: 'manual', full: false, config: cfg });
    const closed = (await db.query(`SELECT status, error FROM syncline.runs WHERE id = $1`, [runId])).rows[0];
    expect(closed.status).toBe('cancelled');
    expect(closed.error).toMatch(/never committed.*settled by run 2/);
    expect(
      Number(
        (await db.query(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'syncline_work' AND tablename LIKE $1`, [`%\\_${runId}`]))
          .rows[0].n,
      ),
    ).toBe(0);
    expect(await snapshot(id)).toBe(40);
    const errors = (
      await db.query(`SELECT count(*) AS n FROM syncline.row_errors WHERE activation_id = $1 AND code = 'NOT_ACKNOWLEDGED'`, [id])
    ).rows[0];
    expect(Number(errors.n)).toBe(20);
    await checkDestination(d.deps, { runId: run2 });
    await extractModel(d.deps, { runId: run2 });
    const delta2 = await computeDelta(d.deps, { runId: run2 });
    expect(delta2.planned).toEqual({ create: 20 });
    await writeAll(d.deps, run2, delta2.chunks);
    await commitRun(d.deps, { runId: run2 });
    const dest = await db.query(`SELECT key, count(*)::int AS n FROM test_dest.records WHERE object = $1 GROUP BY key`, [id]);
    expect(dest.rows.length).toBe(60);
    expect(dest.rows.every((r) => r.n === 1)).toBe(true);
    const writes = await db.query(`SELECT max(writes) AS w FROM test_dest.records WHERE object = $1`, [id]);
    expect(writes.rows[0].w).toBe(1); // no row was sent twice
  });

  test('a first commit that finds the snapshot empty, then a key there after all, writes every row over it', async () => {
    const id = uniqueName('firstcommit');
    // More rows than FIRST_INSERT_MIN_ROWS: fewer take the upsert at once.
    const rows = FIRST_INSERT_MIN_ROWS + 1;
    await model(id, rows);
    const cfg = config(id, 'upsert');
    const runId = await startRun(d.deps, cfg, 1);
    const delta = await computeDelta(d.deps, { runId });
    await writeAll(d.deps, runId, delta.chunks);
    // Another session puts key 7 in the snapshot, uncommitted: the commit finds the activation without
    // snapshot rows (its plain insert), which then waits on key 7 and fails once the other session commits.
    const other = await db.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at) VALUES ($1, '7', '00000000-0000-0000-0000-000000000000', 'stale', now())`,
        [id],
      );
      const committing = commitRun(d.deps, { runId });
      await waitFor(
        'the commit waiting on key 7 in its plain insert (no ON CONFLICT)',
        async () =>
          (
            await db.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO syncline.snapshot%' AND query NOT ILIKE '%ON CONFLICT%'`,
            )
          ).rows[0].n > 0,
        30_000,
        20,
      );
      await other.query('COMMIT');
      const s = await committing;
      expect({ status: s.status, upsert: s.ops.upsert }).toMatchObject({ status: 'success', upsert: { planned: rows, succeeded: rows } });
    } finally {
      // Should the wait above fail, the commit must not stay blocked on key 7 (a no-op after the COMMIT).
      await other.query('ROLLBACK').catch(() => undefined);
      other.release();
    }
    await expectInStep(id, rows, (k) => `Name ${k}`);
    const seven = (await db.query(`SELECT hash::text, destination_id FROM syncline.snapshot WHERE activation_id = $1 AND key = '7'`, [id]))
      .rows[0];
    expect(seven.hash).not.toBe('00000000-0000-0000-0000-000000000000');
    expect(seven.destination_id).not.toBe('stale');
  });

  test('a commit marks the snapshot rows of keys sent without an answer unconfirmed, and no other', async () => {
    const id = uniqueName('unconfirmed');
    await model(id, 40);
    const cfg = config(id, 'upsert');
    await fullRun(d.deps, cfg, 1);
    await db.query(`UPDATE public.${id} SET name = name || ' v2' WHERE id <= 30`);
    const runId = await startRun(d.deps, cfg, 2);
    const delta = await computeDelta(d.deps, { runId });
    expect(delta.chunks).toEqual([0, 1]);
    // Chunk 1 is sent and gets no answer (its 10 rows stay pending).
    await writeChunk(d.deps, { runId, chunk: 0 });
    await markWritesBegun(d.deps, runId, [1]);
    await commitRun(d.deps, { runId });
    const marked = await db.query(
      `SELECT count(*) FILTER (WHERE unconfirmed)::int AS yes, count(*) FILTER (WHERE NOT unconfirmed)::int AS no FROM syncline.snapshot WHERE activation_id = $1`,
      [id],
    );
    expect(marked.rows[0]).toEqual({ yes: 10, no: 30 });
  });

  test('a commit retried after it committed returns the same counts and changes nothing', async () => {
    const id = uniqueName('recommit');
    await model(id, 25);
    const cfg = config(id, 'upsert');
    const { summary } = await fullRun(d.deps, cfg, 1);
    const runId = String((await db.query(`SELECT id FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id])).rows[0].id);
    const again = await commitRun(d.deps, { runId });
    expect(again.status).toBe(summary.status);
    expect(again.ops).toEqual(summary.ops);
    const stored = (await db.query(`SELECT counts, status FROM syncline.runs WHERE id = $1`, [runId])).rows[0];
    expect(stored.status).toBe('success');
    expect(stored.counts.ops.upsert).toMatchObject({ planned: 25, succeeded: 25 });
  });
});

test('a write the destination applied but never acknowledged, then the row back to its synced content: the destination ends equal to the model', async () => {
  // Found by the fault campaign (seed 2026, schedule 21): the unanswered rows of a run that never
  // committed were listed NOT_ACKNOWLEDGED, but with the model back to the snapshot's content no run sent them.
  const id = uniqueName('unack_back');
  await model(id, 10);
  const cfg = config(id, 'upsert');
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = 'Changed' WHERE id = 3`);
  const runId = await startRun(d.deps, cfg, 2);
  expect((await computeDelta(d.deps, { runId })).planned).toEqual({ upsert: 1 });
  // Run 2's write reached the destination, its answer never came back, and run 2 never committed.
  await markWritesBegun(d.deps, runId);
  await db.query(`UPDATE test_dest.records SET "values" = jsonb_set("values", '{Name}', '"Changed"') WHERE object = $1 AND key = '3'`, [
    id,
  ]);
  await db.query(`UPDATE public.${id} SET name = 'Name 3' WHERE id = 3`);
  const run3 = await fullRun(d.deps, cfg, 3); // settles run 2 first
  const errors = (await db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows;
  expect({ destination: (await destination(id)).get('3'), sent: run3.summary.ops.upsert?.succeeded ?? 0, errors }).toEqual({
    destination: 'Name 3',
    sent: 1,
    errors: [],
  });
});

test('a deletion the destination applied but never acknowledged, then the key back in the model: the record is written again', async () => {
  const id = uniqueName('unack_del');
  await model(id, 10);
  const cfg = config(id, 'mirror');
  await fullRun(d.deps, cfg, 1);
  await db.query(`DELETE FROM public.${id} WHERE id = 4`);
  const runId = await startRun(d.deps, cfg, 2);
  expect((await computeDelta(d.deps, { runId })).planned).toEqual({ delete: 1 });
  // Run 2's deletion reached the destination, its answer never came back, and run 2 never committed.
  await markWritesBegun(d.deps, runId);
  await db.query(`DELETE FROM test_dest.records WHERE object = $1 AND key = '4'`, [id]);
  await db.query(`INSERT INTO public.${id} VALUES (4, 'Name 4')`);
  await fullRun(d.deps, cfg, 3);
  expect((await destination(id)).get('4')).toBe('Name 4');
  await expectInStep(id, 10, (k) => `Name ${k}`);
});

test('an apply that never commits is settled by the next run: what it wrote is committed, the plan is closed', async () => {
  const id = uniqueName('apply_lost');
  await model(id, 60);
  const cfg = config(id, 'upsert');
  const planRun = await startRun(d.deps, cfg, 1);
  const delta = await computeDelta(d.deps, { runId: planRun });
  await recordPlan(d.deps, { runId: planRun, planned: delta.planned, rejected: delta.rejected, heldDeletes: delta.heldDeletes });
  // The apply writes one chunk of three, then its workflow ends (terminated, out of attempts): no commit.
  await writeChunk(d.deps, { runId: planRun, chunk: 0 });
  await fullRun(d.deps, cfg, 2);
  const plan = (
    await db.query(
      `SELECT p.status, r.status AS run FROM syncline.plans p JOIN syncline.runs r ON r.id = p.run_id WHERE p.activation_id = $1`,
      [id],
    )
  ).rows[0];
  expect(plan).toEqual({ status: 'superseded', run: 'superseded' });
  expect(
    Number(
      (await db.query(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'syncline_work' AND tablename LIKE $1`, [`%\\_${planRun}`]))
        .rows[0].n,
    ),
  ).toBe(0);
  const writes = await db.query(`SELECT max(writes) AS w, count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id]);
  expect(writes.rows[0]).toEqual({ w: 1, n: 60 }); // the 20 rows the apply wrote were not sent again
  await expectInStep(id, 60, (k) => `Name ${k}`);
});

describe('a worker that dies during a short step', () => {
  test('commitRun heartbeats while it waits on Postgres, so a dead worker is noticed at the heartbeat timeout', async () => {
    const id = uniqueName('alive_commit');
    await model(id, 30);
    const cfg = config(id, 'upsert');
    const runId = await startRun(d.deps, cfg, 1);
    const delta = await computeDelta(d.deps, { runId });
    await writeAll(d.deps, runId, delta.chunks);
    // Another session holds the snapshot table: the commit waits on its lock.
    const blocker = await db.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE syncline.snapshot IN ACCESS EXCLUSIVE MODE');
    livenessTimer.everyMs = 20;
    try {
      const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
      let beats = 0;
      env.on('heartbeat', () => {
        beats++;
      });
      const committing = env.run(createActivities(d.deps).commitRun, { runId }) as Promise<RunSummary>;
      await waitFor('a heartbeat while the commit waits', async () => beats > 0, 30_000, 20);
      const waiting = (
        await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%snapshot%'`)
      ).rows[0].n as number;
      await blocker.query('ROLLBACK');
      const s = await committing;
      expect({ waiting: waiting > 0, status: s.status, upsert: s.ops.upsert?.succeeded }).toEqual({
        waiting: true,
        status: 'success',
        upsert: 30,
      });
    } finally {
      livenessTimer.everyMs = 10_000;
      blocker.release();
    }
  });
});
