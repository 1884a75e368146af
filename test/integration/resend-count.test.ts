/**
 * The run summary's count of rows re-sent within the run stays exact when the write activity is retried
 * (a worker lost in the middle of a re-send): the count lives in the chunk's state in Postgres, written
 * with the rows it counts, never once per attempt. Driven activity by activity on the real Postgres,
 * against the test destination.
 */
import type pg from 'pg';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, parsed, startRun, type DirectDeps } from '../support/runs';
import { testdbConnector } from '../support/testdb-connector';
import { computeDelta } from '../../activities/delta';
import { commitRun } from '../../activities/commit';
import { writeChunk } from '../../activities/write';
import { SyncError } from '../../common/errors';
import type { SynclineDeps } from '../../activities/deps';

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

test('a write activity retried during a re-send counts each re-sent row once', async () => {
  const id = uniqueName('resend');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 30) g`);
  // Rows 1-6 refused once for a passing reason: the first send leaves them failed, the re-send takes them.
  await db.query(
    `INSERT INTO test_dest.faults (object, key, code, retryable, times) SELECT $1, g::text, 'UNABLE_TO_LOCK_ROW', true, 1 FROM generate_series(1, 6) g`,
    [id],
  );
  // The re-send (the connector's second call) dies after writing its first rows, as a lost worker would.
  let calls = 0;
  const flaky: typeof testdbConnector = {
    ...testdbConnector,
    async writeChunk(ctx, chunk, plan) {
      if (++calls !== 2) return testdbConnector.writeChunk(ctx, chunk, plan);
      const lost: typeof chunk = {
        ...chunk,
        async *rows() {
          for await (const page of chunk.rows(2)) {
            yield page;
            break;
          }
          throw new SyncError('DESTINATION_UNAVAILABLE', 'connection lost in the middle of the re-send (injected)');
        },
      };
      return testdbConnector.writeChunk(ctx, lost, plan);
    },
  };
  const deps: SynclineDeps = { ...d.deps, connectors: new Map([[flaky.kind, flaky]]) };
  const config = parsed({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 100 } },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  const runId = await startRun(deps, config, 1);
  const delta = await computeDelta(deps, { runId });
  expect(delta.chunks).toEqual([0]);

  await expect(writeChunk(deps, { runId, chunk: 0 })).rejects.toThrow('injected');
  // Temporal's retry of the activity: the rows already made pending again are sent, not counted again.
  const retried = await writeChunk(deps, { runId, chunk: 0 });
  expect(retried).toMatchObject({ status: 'done', succeeded: 30, failed: 0 });
  expect(calls).toBe(3);
  const summary = await commitRun(deps, { runId });
  expect(summary).toMatchObject({ status: 'success', ops: { upsert: { planned: 30, succeeded: 30, failed: 0 } } });
  expect(summary.resent).toEqual({ UNABLE_TO_LOCK_ROW: 6 });
  const dest = await db.query(`SELECT key, count(*)::int AS n FROM test_dest.records WHERE object = $1 GROUP BY key`, [id]);
  expect(dest.rows).toHaveLength(30);
  expect(dest.rows.every((r) => r.n === 1)).toBe(true);
});
