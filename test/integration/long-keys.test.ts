/**
 * Long keys: one model row whose key is too long for a Postgres btree index entry (about 2,704 bytes;
 * the snapshot's and row_errors' primary keys, the delta's key index and a large model's unique index on
 * the extract's temporary table all index the key) is rejected alone (db/delta.ts MAX_KEY_BYTES), listed
 * in row_errors under a short form that begins like the key and says its length, while the model's other
 * rows sync. The key is 3,000 hex characters made of md5s, which Postgres cannot compress below the limit.
 * Before the limit, a small model's delta failed building its key index before any row was written, and
 * the commit after it, and every later run's, failed on row_errors_pk: the activation stayed stuck after
 * the row was gone; a large model's extract failed on the unique index of its temporary table, every run.
 * A long key the state already holds (it compressed into the indexes) keeps syncing, and is never taken
 * for removed. Runs the activities directly (test/support/runs.ts) on the real Postgres and the test destination.
 */
import type pg from 'pg';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, writeAll, type DirectDeps } from '../support/runs';
import { prepareRun, checkDestination } from '../../activities/prepare';
import { extractModel } from '../../activities/extract';
import { computeDelta } from '../../activities/delta';
import { commitRun } from '../../activities/commit';
import type { ActivationConfig } from '../../common/config';
import type { RunSummary } from '../../common/run';
import { SMALL_STAGE_ROWS } from '../../db/delta';

const KEY_CHARS = 3000;
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

/** A model of `rows` short keys ('1'..'rows') and one key of KEY_CHARS incompressible characters; returns the long key. */
async function makeModel(table: string, rows: number): Promise<string> {
  await db.query(`CREATE TABLE ${table} (id text, name text)`);
  await db.query(`INSERT INTO ${table} SELECT g::text, 'Name ' || g FROM generate_series(1, $1) g`, [rows]);
  const r = await db.query<{ key: string; bytes: number }>(
    `INSERT INTO ${table}
       SELECT left(string_agg(md5(i::text || 'long'), '' ORDER BY i), ${KEY_CHARS}), 'Long key' FROM generate_series(1, ${Math.ceil(KEY_CHARS / 32)}) i
     RETURNING id AS key, pg_column_size(id) AS bytes`,
  );
  // Stored uncompressed: above the btree limit whatever the index does with it.
  const row = r.rows[0]!;
  expect(row.bytes).toBeGreaterThan(2704);
  return row.key;
}

function config(id: string, table: string, mode: 'upsert' | 'mirror' = 'upsert') {
  return parsed({
    id,
    mode,
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM ${table}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
}

/**
 * One run as workflows/sync-run.ts makes it: a failed step (after its retries) is not the end, the commit
 * runs with the failure, so the rows the destination accepted advance the snapshot and the rest are listed.
 */
async function workflowLikeRun(cfg: ActivationConfig, runNumber: number): Promise<RunSummary> {
  const { runId } = await prepareRun(d.deps, { activationId: cfg.id, runNumber, trigger: 'manual', full: false, config: cfg });
  let error: { type: string; message: string } | undefined;
  try {
    await checkDestination(d.deps, { runId });
    await extractModel(d.deps, { runId });
    const delta = await computeDelta(d.deps, { runId });
    await writeAll(d.deps, runId, delta.chunks);
  } catch (err) {
    error = { type: 'INTERNAL', message: (err as Error).message };
  }
  return commitRun(d.deps, { runId, error });
}

async function destinationKeys(object: string): Promise<string[]> {
  const r = await db.query(`SELECT key FROM test_dest.records WHERE object = $1`, [object]);
  return r.rows.map((x) => x.key as string);
}

async function rowErrors(activationId: string): Promise<Array<{ key: string; code: string; message: string }>> {
  return (await db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1`, [activationId])).rows;
}

/** The long key is listed once, by a key that fits an index and begins like it, with its length and what to do. */
function expectListed(errors: Array<{ key: string; code: string; message: string }>, longKey: string): void {
  expect(errors).toHaveLength(1);
  const e = errors[0]!;
  expect(e.key.length).toBeLessThan(1000);
  expect(longKey.startsWith(e.key.slice(0, 32))).toBe(true);
  expect(e.code).toMatch(/KEY/);
  expect(e.message).toMatch(/3,?000/);
  expect(e.message).toMatch(/shorter|hash|limit/i);
}

describe('long keys', () => {
  test('a small model: the one 3,000-character key is rejected and listed with its length, the other 20 rows sync, and so does the next run', async () => {
    const id = uniqueName('long_key_small');
    const table = `public.${id}`;
    const longKey = await makeModel(table, 20);
    const cfg = config(id, table);

    const first = (await fullRun(d.deps, cfg, 1)).summary;
    expect(first.status).toBe('partial');
    expect(first.rejected).toBe(1);
    expect(first.ops.upsert).toMatchObject({ planned: 20, succeeded: 20, failed: 0 });
    expect((await destinationKeys(id)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)).sort());
    expectListed(await rowErrors(id), longKey);

    // Another row changed, the long key not: still listed, already reported (no failure of this run), not stuck.
    await db.query(`UPDATE ${table} SET name = name || '+' WHERE id = '3'`);
    const second = (await fullRun(d.deps, cfg, 2)).summary;
    expect(second.status).toBe('success');
    expect(second.rejectedUnchanged).toBe(1);
    expect(second.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    expectListed(await rowErrors(id), longKey);

    // The row fixed (gone from the model): the run is a success and the error is cleared.
    await db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
    const third = (await fullRun(d.deps, cfg, 3)).summary;
    expect(third.status).toBe('success');
    expect(await rowErrors(id)).toEqual([]);
  });

  test(`a large model (over SMALL_STAGE_ROWS, the stage proven unique by an index): the long key is rejected alone`, async () => {
    const id = uniqueName('long_key_large');
    const table = `public.${id}`;
    const rows = SMALL_STAGE_ROWS + 20;
    const longKey = await makeModel(table, rows);
    const { summary } = await fullRun(d.deps, config(id, table), 1);
    expect(summary.status).toBe('partial');
    expect(summary.rejected).toBe(1);
    expect(summary.ops.upsert).toMatchObject({ planned: rows, succeeded: rows, failed: 0 });
    expect((await destinationKeys(id)).length).toBe(rows);
    expectListed(await rowErrors(id), longKey);
  });

  test.each([
    ['small', 20],
    ['large', SMALL_STAGE_ROWS + 20],
  ])(
    'a %s model, run as the run workflow does (commit after a failed step): the run is partial, the next one not stuck',
    async (label, rows) => {
      const id = uniqueName(`long_key_${label}_wf`);
      const table = `public.${id}`;
      await makeModel(table, rows);
      const cfg = config(id, table);
      const outcome = (n: number) =>
        workflowLikeRun(cfg, n).then(
          (s) => `${s.status}${s.error ? `: ${s.error.message}` : ''}`,
          (err: Error) => `threw: ${err.message}`,
        );
      const first = await outcome(1);
      const unchanged = await outcome(2);
      await db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
      const fixed = await outcome(3);
      expect({ first, unchanged, fixed }).toEqual({ first: 'partial', unchanged: 'success', fixed: 'success' });
      expect((await destinationKeys(id)).length).toBe(rows);
    },
  );

  test.each([
    ['small', 20],
    ['large', SMALL_STAGE_ROWS + 20],
  ])('a %s model repeating the long key: listed once, with both rows counted, and the rest synced', async (label, rows) => {
    const id = uniqueName(`long_key_${label}_dup`);
    const table = `public.${id}`;
    const longKey = await makeModel(table, rows);
    await db.query(`INSERT INTO ${table} VALUES ($1, 'Long key again')`, [longKey]);
    const { summary } = await fullRun(d.deps, config(id, table), 1);
    expect(summary.status).toBe('partial');
    expect(summary.rejected).toBe(2);
    expect(summary.ops.upsert).toMatchObject({ planned: rows, succeeded: rows, failed: 0 });
    expect((await destinationKeys(id)).length).toBe(rows);
    const errors = await rowErrors(id);
    expectListed(errors, longKey);
    expect(errors[0]!.message).toMatch(/appears 2 times/);
  });

  test('Mirror: a long key the snapshot already holds (synced before the limit) keeps syncing and is never taken for removed', async () => {
    const id = uniqueName('long_key_held');
    const table = `public.${id}`;
    await makeModel(table, 20);
    await db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
    // Compressible: it fits every index, as it did when a release without the limit synced it.
    const heldKey = 'k'.repeat(3000);
    await db.query(`INSERT INTO ${table} VALUES ($1, 'Held')`, [heldKey]);
    const cfg = config(id, table, 'mirror');

    // New to the state: rejected like any key over the limit.
    const first = (await fullRun(d.deps, cfg, 1)).summary;
    expect(first.rejected).toBe(1);
    expect(await destinationKeys(id)).toHaveLength(20);

    // As a release without the limit left it: the record at the destination, the key in the snapshot.
    const rec = await db.query<{ id: string }>(
      `INSERT INTO test_dest.records (object, key, "values") VALUES ($1, $2, '{"Name":"Old"}') RETURNING id::text`,
      [id, heldKey],
    );
    await db.query(
      `INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at) VALUES ($1, $2, md5('old')::uuid, $3, now())`,
      [id, heldKey, rec.rows[0]!.id],
    );
    const second = (await fullRun(d.deps, cfg, 2)).summary;
    expect(second.status).toBe('success');
    expect(second.rejected).toBe(0);
    expect(second.ops.delete?.planned ?? 0).toBe(0);
    expect(second.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    const held = await db.query(`SELECT "values"->>'Name' AS name FROM test_dest.records WHERE object = $1 AND key = $2`, [id, heldKey]);
    expect(held.rows).toEqual([{ name: 'Held' }]);
    expect(await rowErrors(id)).toEqual([]);

    // Removed from the model by the user: Mirror deletes it by its whole key.
    await db.query(`DELETE FROM ${table} WHERE id = $1`, [heldKey]);
    const third = (await fullRun(d.deps, cfg, 3)).summary;
    expect(third.ops.delete).toMatchObject({ planned: 1, succeeded: 1 });
    expect((await destinationKeys(id)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)).sort());
  });
});
