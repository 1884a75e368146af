/**
 * What a small run costs the state database, in statements: a fleet of activations is made of such runs,
 * and each statement is a round trip from the worker and work in Postgres (issue 13, "a cheap run for a
 * small delta"). A second run of a 100-row Upsert model with 5 rows changed, its activities run directly
 * on the real Postgres and the test destination, every statement the worker's pg clients send counted
 * (the test destination's own SQL left out). A count, not a timing: it is the same on any machine. 74
 * before the prepare's, delta's and commit's statements were cut (an unchanged configuration compared in
 * one statement, the run opened in one, no clean-up of a run that is new, no commit statement without
 * rows to act on), one more to hold the delta still during the commit. The delta keeps its indexes and
 * ANALYZE however small (test/integration/stage-storage.test.ts).
 */
import pg from 'pg';
import { uniqueName } from '../support/harness';
import { fullRun, parsed, useDirectDeps } from '../support/runs';

const t = useDirectDeps();

/** Every statement sent by pg clients while `fn` runs, the test destination's left out. */
async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : ((q as { text?: string } | undefined)?.text ?? '(a stream)');
    if (!text.includes('test_dest')) seen.push(text.replace(/\s+/g, ' ').trim());
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return seen;
}

test('a small run (100 rows, 5 changed) takes at most 59 statements (74 before)', async () => {
  const id = uniqueName('small_run_stmts');
  const table = `public.${id}`;
  await t.db.query(`CREATE TABLE ${table} (id text, name text)`);
  await t.db.query(`INSERT INTO ${table} SELECT g::text, 'Name ' || g FROM generate_series(1, 100) g`);
  const cfg = parsed({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM ${table}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  expect((await fullRun(t.d.deps, cfg, 1)).summary.ops.upsert).toMatchObject({ planned: 100, succeeded: 100 });
  await t.db.query(`UPDATE ${table} SET name = name || '+' WHERE id::int % 20 = 0`);

  let summary: Awaited<ReturnType<typeof fullRun>>['summary'] | undefined;
  const statements = await statementsOf(async () => {
    summary = (await fullRun(t.d.deps, cfg, 2)).summary;
  });
  expect(summary?.status).toBe('success');
  expect(summary?.ops.upsert).toMatchObject({ planned: 5, succeeded: 5, failed: 0 });
  const changed = await t.db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1 AND "values"->>'Name' LIKE '%+'`, [
    id,
  ]);
  expect(changed.rows[0].n).toBe(5);

  expect(statements.length).toBeLessThanOrEqual(59);
});
