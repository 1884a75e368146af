/**
 * What syncline keeps of what happened, on the real Postgres: every accepted activation document as a
 * version (runs name theirs), a per-row change log (a key's life across runs, pruned past retention),
 * and the reporting views SQL users read.
 */
import type pg from 'pg';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, type DirectDeps } from '../support/runs';
import { listConfigVersions } from '../../db/config-versions';
import { rowHistory, runRowChanges } from '../../db/row-changes';

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
    { key: '(null)', code: 'MODEL_NULL_KEY' },
  ]);
  expect(
    Number((await db.query(`SELECT count(*) AS n FROM syncline_reporting.config_versions WHERE activation_id = $1`, [id])).rows[0].n),
  ).toBe(1);
});
