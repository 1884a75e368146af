/**
 * `DestinationContext.sampleRows` while the runtime plans (activities/delta.ts): the rows an operation
 * is about to write, read from the run's delta in Postgres in runs spread over the operation, as chunk
 * rows are read (the same reader, the same row shape), and nothing changed by the read.
 *
 *   npx jest --selectProjects integration --testPathPatterns plan-sample
 */
import type pg from 'pg';
import { sqlClient, env, uniqueName } from '../support/harness';
import { directDeps, parsed, startRun, writeAll, type DirectDeps } from '../support/runs';
import { testdbConnector } from '../support/testdb-connector';
import { computeDelta } from '../../activities/delta';
import { commitRun } from '../../activities/commit';
import type { DestinationConnector, OutRow, RowOp } from '../../connectors/types';
import { SAMPLE_RUNS } from '../../connectors/kit/sample';

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

/** The test destination, sampling `limit` rows of each op while planning and keeping what it wrote. */
function sampling(limit: number) {
  const samples = new Map<RowOp, OutRow[]>();
  const written: OutRow[] = [];
  const connector: DestinationConnector<any, any> = {
    ...testdbConnector,
    async planWrites(ctx, op, rows) {
      samples.set(op, await ctx.sampleRows!(op, limit));
      return testdbConnector.planWrites(ctx, op, rows);
    },
    async writeChunk(ctx, chunk, plan) {
      for await (const rows of chunk.rows()) written.push(...rows);
      // The test destination reads the chunk again: nothing was acknowledged by the read above.
      return testdbConnector.writeChunk(ctx, chunk, plan);
    },
  };
  return { samples, written, deps: { ...d.deps, connectors: new Map([[connector.kind, connector]]) } };
}

function config(id: string) {
  return parsed({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 300 } },
    mappings: [{ from: 'name', to: 'Name' }],
  });
}

test("a sample of the op's pending rows: spread over the op, shaped as chunk rows, read without a trace", async () => {
  const id = uniqueName('plan_sample');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 1000) g`);
  const s = sampling(40);
  const runId = await startRun(s.deps, config(id), 1);
  const delta = await computeDelta(s.deps, { runId });
  expect(delta.planned).toEqual({ upsert: 1000 });
  const sample = s.samples.get('upsert')!;
  expect(sample).toHaveLength(40);
  // SAMPLE_RUNS runs of 10 rows, one from the start of each quarter of the op's rows (delta order).
  await writeAll(s.deps, runId, delta.chunks);
  const order = new Map(s.written.map((r, i) => [r.key, i]));
  const positions = sample.map((r) => order.get(r.key)!);
  const quarter = 1000 / SAMPLE_RUNS;
  expect(positions).toEqual(
    Array.from({ length: SAMPLE_RUNS }, (_, run) => Array.from({ length: 10 }, (_, i) => run * quarter + i)).flat(),
  );
  // The same rows as the chunks read, in the same shape (values, token, op, destination id).
  const byKey = new Map(s.written.map((r) => [r.key, r]));
  for (const r of sample) expect(r).toEqual(byKey.get(r.key));
  expect(sample[0]).toMatchObject({ op: 'upsert', destinationId: null, values: { ext_id: expect.any(Number), Name: expect.any(String) } });
  // Every row written once, none left pending by the sample.
  const summary = await commitRun(s.deps, { runId });
  expect(summary.ops.upsert).toMatchObject({ planned: 1000, succeeded: 1000, failed: 0 });
  const dest = await db.query(`SELECT count(*)::int AS n, max(writes) AS w FROM test_dest.records WHERE object = $1`, [id]);
  expect(dest.rows[0]).toEqual({ n: 1000, w: 1 });
});

test('a limit over the pending count reads each pending row once, in delta order', async () => {
  const id = uniqueName('plan_sample_all');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 50) g`);
  const s = sampling(500);
  const runId = await startRun(s.deps, config(id), 1);
  const delta = await computeDelta(s.deps, { runId });
  await writeAll(s.deps, runId, delta.chunks);
  expect(s.samples.get('upsert')!.map((r) => r.key)).toEqual(s.written.map((r) => r.key));
  expect(new Set(s.written.map((r) => r.key)).size).toBe(50);
});
