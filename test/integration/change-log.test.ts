/**
 * What syncline keeps of what happened, on the real Postgres: every accepted activation document as a
 * version (runs name theirs), a per-row change log (a key's life across runs, pruned past retention),
 * and the reporting views SQL users read.
 */
import type pg from 'pg';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, startRun, writeAll, type DirectDeps } from '../support/runs';
import { computeDelta } from '../../activities/delta';
import { commitRun } from '../../activities/commit';
import { recordPlan } from '../../activities/plan';
import { listConfigVersions } from '../../db/config-versions';
import { approveHeld } from '../../db/held-deletes';
import { rowHistory, runRowChanges } from '../../db/row-changes';
import { NULL_KEY } from '../../db/delta';

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

function config(id: string, mappings = [{ from: 'name', to: 'Name' }]) {
  return parsed({
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT id, name, city FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings,
    deletionGuard: { maxDeletePercent: 50 },
  });
}

test('each document is a version with its diff; each run names the version it ran', async () => {
  const id = uniqueName('versions');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City' AS city FROM generate_series(1, 5) g`);
  await fullRun(d.deps, config(id), 1);
  await fullRun(d.deps, config(id), 2);
  await fullRun(
    d.deps,
    config(id, [
      { from: 'name', to: 'Name' },
      { from: 'city', to: 'City' },
    ]),
    3,
  );
  const versions = await listConfigVersions(d.deps.db, id);
  expect(versions.map((v) => v.version)).toEqual([1, 2]);
  expect(versions[0]!.reason).toBe('first version');
  expect(versions[1]!.diff).toEqual([{ path: 'mappings[to=City]', after: { from: 'city', to: 'City' } }]);
  const runs = (await db.query(`SELECT run_number, config_version FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`, [id]))
    .rows;
  expect(runs).toEqual([
    { run_number: 1, config_version: 1 },
    { run_number: 2, config_version: 1 },
    { run_number: 3, config_version: 2 },
  ]);
});

test("a key's life across insert, change and delete runs; a run's deletions; pruned past retention", async () => {
  const id = uniqueName('rowlog');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City' AS city FROM generate_series(1, 10) g`);
  const cfg = config(id);
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = 'Renamed' WHERE id = 7`);
  await fullRun(d.deps, cfg, 2);
  await db.query(`DELETE FROM public.${id} WHERE id = 7`);
  await fullRun(d.deps, cfg, 3);
  const life = await rowHistory(d.deps.db, id, '7');
  expect(life.map((c) => [c.runNumber, c.op, c.outcome])).toEqual([
    [1, 'upsert', 'ok'],
    [2, 'upsert', 'ok'],
    [3, 'delete', 'ok'],
  ]);
  expect(life[0]!.destinationId).not.toBeNull();
  expect(life[0]!.hash).not.toBe(life[1]!.hash);
  expect((await runRowChanges(d.deps.db, id, 3, { op: 'delete' })).map((c) => c.key)).toEqual(['7']);
  expect(await runRowChanges(d.deps.db, id, 2)).toHaveLength(1); // only what changed

  // Runs 1 and 2 started 20 days ago: the next commit prunes them (default retention 14 days).
  await db.query(`UPDATE syncline.runs SET started_at = now() - interval '20 days' WHERE activation_id = $1 AND run_number <= 2`, [id]);
  await db.query(`UPDATE public.${id} SET name = 'Again' WHERE id = 1`);
  await fullRun(d.deps, cfg, 4);
  const kept = (await db.query(`SELECT DISTINCT run_number FROM syncline.row_changes WHERE activation_id = $1 ORDER BY 1`, [id])).rows.map(
    (r) => r.run_number,
  );
  expect(kept).toEqual([3, 4]);
});

test('the reporting views answer with their documented columns', async () => {
  const id = uniqueName('views');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City' AS city FROM generate_series(1, 4) g`);
  await db.query(`INSERT INTO public.${id} VALUES (NULL, 'no key', 'x')`);
  await fullRun(d.deps, config(id), 1);
  const act = (
    await db.query(
      `SELECT activation_id, destination_kind, mode, config_version, last_run_number, last_run_status FROM syncline_reporting.activations WHERE activation_id = $1`,
      [id],
    )
  ).rows;
  expect(act).toEqual([
    { activation_id: id, destination_kind: 'testdb', mode: 'mirror', config_version: 1, last_run_number: 1, last_run_status: 'partial' },
  ]);
  const run = (
    await db.query(
      `SELECT run_number, status, config_version, rows_planned, rows_succeeded, rows_failed, rows_rejected, deletions_held FROM syncline_reporting.runs WHERE activation_id = $1`,
      [id],
    )
  ).rows;
  expect(run).toEqual([
    {
      run_number: 1,
      status: 'partial',
      config_version: 1,
      rows_planned: '4',
      rows_succeeded: '4',
      rows_failed: '0',
      rows_rejected: '1',
      deletions_held: '0',
    },
  ]);
  expect(
    Number(
      (await db.query(`SELECT count(*) AS n FROM syncline_reporting.row_changes WHERE activation_id = $1 AND outcome = 'ok'`, [id])).rows[0]
        .n,
    ),
  ).toBe(4);
  expect((await db.query(`SELECT key, code FROM syncline_reporting.row_errors WHERE activation_id = $1`, [id])).rows).toEqual([
    { key: NULL_KEY, code: 'MODEL_NULL_KEY' },
  ]);
  expect(
    Number((await db.query(`SELECT count(*) AS n FROM syncline_reporting.config_versions WHERE activation_id = $1`, [id])).rows[0].n),
  ).toBe(1);
});

/** Finished runs `from`..`to` of `id`, started `daysAgo` days ago, as the commits of a release long gone left them. */
async function oldRuns(id: string, from: number, to: number, daysAgo: number): Promise<void> {
  await db.query(
    `INSERT INTO syncline.runs (activation_id, run_number, trigger, config, status, started_at, finished_at)
     SELECT $1, g, 'schedule', $4::jsonb, 'success', now() - make_interval(days => $5), now() - make_interval(days => $5)
     FROM generate_series($2::int, $3::int) g`,
    [id, from, to, JSON.stringify(config(id)), daysAgo],
  );
}

async function runNumbers(id: string): Promise<number[]> {
  return (await db.query(`SELECT run_number FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`, [id])).rows.map(
    (r) => r.run_number as number,
  );
}

test("a run's record is kept SYNCLINE_RUN_HISTORY_DAYS days (30), and always the activation's last 100 runs and those still needed", async () => {
  const id = uniqueName('runlog');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City' AS city FROM generate_series(1, 3) g`);
  const cfg = config(id);
  // 150 finished runs of 40 days ago; run 8 the open plan's, run 9 superseded (its plan was); then a real run, 151.
  await oldRuns(id, 1, 150, 40);
  await db.query(`UPDATE syncline.runs SET status = 'planned' WHERE activation_id = $1 AND run_number = 8`, [id]);
  await db.query(
    `INSERT INTO syncline.plans (activation_id, run_number, run_id) SELECT activation_id, run_number, id FROM syncline.runs WHERE activation_id = $1 AND run_number = 8`,
    [id],
  );
  await db.query(`UPDATE syncline.runs SET status = 'superseded' WHERE activation_id = $1 AND run_number = 9`, [id]);
  // Its chunk rows (where a retried write finds its saved job) go with its commit; 151's pruning takes
  // those a release before this one left with a finished run.
  const left = await db.query(
    `INSERT INTO syncline.chunks (run_id, chunk, op, method, row_count, seq_from, seq_to, status)
     SELECT id, 0, 'upsert', 'batch', 1, 1, 1, 'done' FROM syncline.runs WHERE activation_id = $1 AND run_number IN (1, 60) RETURNING run_id`,
    [id],
  );
  // Attributes an Actito run created are recorded by run number: those of a pruned run go with its record.
  await db.query(
    `INSERT INTO syncline.attribute_creations (activation_id, run_number, field, type, created) VALUES ($1, 2, 'a', 'STRING', true), ($1, 60, 'b', 'STRING', true)`,
    [id],
  );
  const { delta } = await fullRun(d.deps, cfg, 151);
  expect(delta.chunks.length).toBeGreaterThan(0);
  const creations = await db.query(`SELECT run_number FROM syncline.attribute_creations WHERE activation_id = $1 ORDER BY run_number`, [
    id,
  ]);
  expect(creations.rows.map((r) => r.run_number as number)).toEqual([60]);
  const run151 = (await db.query(`SELECT id FROM syncline.runs WHERE activation_id = $1 AND run_number = 151`, [id])).rows[0].id as string;
  const chunksOf = async (runIds: string[]) =>
    Number((await db.query(`SELECT count(*) AS n FROM syncline.chunks WHERE run_id = ANY($1::bigint[])`, [runIds])).rows[0].n);
  // The commit of run 151 pruned what passed the retention among the activation's oldest 100 runs, except
  // the last 100 (52-151) and the open plan's, which is not finished (nor is a run under way).
  expect(await runNumbers(id)).toEqual([8, ...Array.from({ length: 100 }, (_, i) => 52 + i)]);
  expect(await chunksOf([run151])).toBe(0);
  expect(await chunksOf(left.rows.map((r) => r.run_id as string))).toBe(1); // run 60's: run 1's went with it

  // Runs within the retention stay, however many there are.
  const young = uniqueName('runlog');
  await db.query(`CREATE TABLE public.${young} AS SELECT * FROM public.${id}`);
  await oldRuns(young, 1, 120, 29);
  await fullRun(d.deps, config(young), 121);
  expect(await runNumbers(young)).toHaveLength(121);

  // Held deletions do not keep their run's record: approving them (`syncline approve-deletes --run`)
  // reads syncline.held_deletes, which names the run itself.
  const held = uniqueName('runlog');
  await db.query(`CREATE TABLE public.${held} AS SELECT * FROM public.${id}`);
  await oldRuns(held, 1, 110, 40);
  await db.query(`INSERT INTO syncline.held_deletes (activation_id, run_number, key) VALUES ($1, 3, 'gone')`, [held]);
  await fullRun(d.deps, config(held), 111);
  expect(await runNumbers(held)).toEqual(Array.from({ length: 100 }, (_, i) => 12 + i));
  expect(await approveHeld(d.deps.db, held, 3)).toBe(1);
});

test('an applied plan whose markPlanApplied never ran (Postgres down past its attempts) keeps its run record, and the runs that follow start (found by review)', async () => {
  const id = uniqueName('runlog_plan');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City' AS city FROM generate_series(1, 3) g`);
  const cfg = config(id);
  // Plan 1, applied: its writes and its commit succeed; then markPlanApplied runs out of attempts (or the
  // workflow ends), so syncline.plans still says open while the run is finished. Harmless before the retention.
  const planRun = await startRun(d.deps, cfg, 1);
  const delta = await computeDelta(d.deps, { runId: planRun });
  await recordPlan(d.deps, { runId: planRun, planned: delta.planned, rejected: delta.rejected, heldDeletes: delta.heldDeletes });
  await writeAll(d.deps, planRun, delta.chunks);
  expect((await commitRun(d.deps, { runId: planRun })).status).toBe('success');
  // It was 40 days ago, and 100 runs followed.
  await db.query(`UPDATE syncline.runs SET started_at = now() - interval '40 days' WHERE id = $1`, [planRun]);
  await oldRuns(id, 2, 101, 40);
  // Run 102's commit prunes run 2 (finished, past the retention, not among the last 100), not run 1: its
  // plan is still open. (Pruned, every later prepare failed on it: supersedePlans -> settleSupersededPlan -> lockRun.)
  await fullRun(d.deps, cfg, 102);
  expect((await runNumbers(id)).slice(0, 2)).toEqual([1, 3]);
  const { summary } = await fullRun(d.deps, cfg, 103);
  expect(summary.status).toBe('success');
});
