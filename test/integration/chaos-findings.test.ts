/**
 * Findings of the chaos campaign (docs/chaos.md), reduced to their smallest path and driven activity
 * by activity on the real Postgres with the test destination, so they replay exactly.
 *
 *   npx jest --selectProjects integration --testPathPatterns chaos-findings
 */
import type pg from 'pg';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, startRun, type DirectDeps } from '../support/runs';
import { computeDelta } from '../../activities/delta';

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

function config(id: string, mode: string) {
  return parsed({
    id, mode, schedule: { manual: true }, source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 20 } },
    mappings: [{ from: 'name', to: 'Name' }],
  });
}
async function destination(object: string): Promise<Map<string, string>> {
  const r = await db.query(`SELECT key, "values"->>'Name' AS name FROM test_dest.records WHERE object = $1`, [object]);
  return new Map(r.rows.map((x) => [x.key as string, x.name as string]));
}

/**
 * Campaign seed 2026, schedule 21 (Salesforce, Insert, every 15 s): a scheduled run under mapping B was
 * terminated mid-write by a mapping change back to A; the next run settled it and listed its unanswered
 * rows NOT_ACKNOWLEDGED ("sent again next run"). Under A their content matched the snapshot again, so
 * no run ever sent them: 82 retryable row errors stayed through four more runs. In Insert the record
 * of the A content was still there; in Upsert (this test) the destination keeps what the lost write put
 * there, and the snapshot says otherwise.
 */
test('a write the destination applied but never acknowledged, then the row back to its synced content: the destination ends equal to the model', async () => {
  const id = uniqueName('unack_back');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const cfg = config(id, 'upsert');
  await fullRun(d.deps, cfg, 1);

  await db.query(`UPDATE public.${id} SET name = 'Changed' WHERE id = 3`);
  const runId = await startRun(d.deps, cfg, 2);
  expect((await computeDelta(d.deps, { runId })).planned).toEqual({ upsert: 1 });
  // Run 2's upsert of row 3 reached the destination, its answer never came back, and run 2 never
  // committed (its workflow was terminated for a new mapping, or its write ran out of attempts).
  await db.query(`UPDATE test_dest.records SET "values" = jsonb_set("values", '{Name}', '"Changed"') WHERE object = $1 AND key = '3'`, [id]);

  await db.query(`UPDATE public.${id} SET name = 'Name 3' WHERE id = 3`);
  const run3 = await fullRun(d.deps, cfg, 3); // settles run 2 first
  const errors = (await db.query(`SELECT key, code, retryable FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows;
  expect({ destination: (await destination(id)).get('3'), sentByRun3: run3.summary.ops.upsert?.succeeded ?? 0, errors }).toEqual({ destination: 'Name 3', sentByRun3: 1, errors: [] });
});
