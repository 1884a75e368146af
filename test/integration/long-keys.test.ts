/**
 * Long keys: one model row whose key is too long for a Postgres btree index entry (about 2,704 bytes;
 * the snapshot's and row_errors' primary keys, the delta's key index and a large model's unique index on
 * the extract's temporary table all index the key) is rejected alone (db/delta.ts MAX_KEY_BYTES), listed
 * in row_errors under a listing that begins like the key and says its length and md5 (padded to more
 * characters than any key listed by itself has, so no model key can be it), while the model's other rows sync. The key is 3,000 hex characters made of md5s, which Postgres cannot compress below the limit.
 * Before the limit, a small model's delta failed building its key index before any row was written, and
 * the commit after it, and every later run's, failed on row_errors_pk: the activation stayed stuck after
 * the row was gone; a large model's extract failed on the unique index of its temporary table, every run.
 * A long key the state already holds (it compressed into the indexes) keeps syncing, and is never taken
 * for removed. Runs the activities directly (test/support/runs.ts) on the real Postgres and the test destination.
 */
import { uniqueName } from '../support/harness';
import { fullRun, parsed, startRun, useDirectDeps, writeAll } from '../support/runs';
import { prepareRun, checkDestination } from '../../activities/prepare';
import { extractModel } from '../../activities/extract';
import { computeDelta } from '../../activities/delta';
import { commitRun } from '../../activities/commit';
import type { ActivationConfig } from '../../common/config';
import type { RunSummary } from '../../common/run';
import { LEGACY_NULL_KEY, MAX_KEY_BYTES, NULL_KEY, SMALL_STAGE_ROWS } from '../../db/delta';
import { stageTableName } from '../../db/work-tables';
import { stageSelect } from '../../db/delta';
import { stageSpec } from '../../activities/extract';
import { loadRun, sentFields } from '../../activities/run-context';
import { dropWorkTables } from '../../activities/work';
import { rowHistory } from '../../db/row-changes';
import { listRowErrors } from '../../client/runs';

const KEY_CHARS = 3000;
const t = useDirectDeps();

/** A model of `rows` short keys ('1'..'rows') and one key of KEY_CHARS incompressible characters; returns the long key. */
async function makeModel(table: string, rows: number): Promise<string> {
  await t.db.query(`CREATE TABLE ${table} (id text, name text)`);
  await t.db.query(`INSERT INTO ${table} SELECT g::text, 'Name ' || g FROM generate_series(1, $1) g`, [rows]);
  const r = await t.db.query<{ key: string; bytes: number }>(
    `INSERT INTO ${table}
       SELECT left(string_agg(md5(i::text || 'long'), '' ORDER BY i), ${KEY_CHARS}), 'Long key' FROM generate_series(1, ${Math.ceil(KEY_CHARS / 32)}) i
     RETURNING id AS key, pg_column_size(id) AS bytes`,
  );
  // Stored uncompressed: above the btree limit whatever the index does with it.
  const row = r.rows[0]!;
  expect(row.bytes).toBeGreaterThan(2704);
  return row.key;
}

/**
 * A model of 20 short keys and one key of 3,000 `char`s: compressible, it fits every index, as such a key
 * did when a release without the limit synced it (the state may hold it). Returns that key.
 */
async function modelWithCompressibleKey(table: string, char: string): Promise<string> {
  await makeModel(table, 20);
  await t.db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
  const key = char.repeat(3000);
  await t.db.query(`INSERT INTO ${table} VALUES ($1, 'Held')`, [key]);
  return key;
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
  const { runId } = await prepareRun(t.d.deps, { activationId: cfg.id, runNumber, trigger: 'manual', full: false, config: cfg });
  let error: { type: string; message: string } | undefined;
  try {
    await checkDestination(t.d.deps, { runId });
    await extractModel(t.d.deps, { runId });
    const delta = await computeDelta(t.d.deps, { runId });
    await writeAll(t.d.deps, runId, delta.chunks);
  } catch (err) {
    error = { type: 'INTERNAL', message: (err as Error).message };
  }
  return commitRun(t.d.deps, { runId, error });
}

async function destinationKeys(object: string): Promise<string[]> {
  const r = await t.db.query(`SELECT key FROM test_dest.records WHERE object = $1`, [object]);
  return r.rows.map((x) => x.key as string);
}

async function rowErrors(activationId: string): Promise<Array<{ key: string; code: string; message: string }>> {
  return (await t.db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1`, [activationId])).rows;
}

/**
 * The long key is listed once, by a key no model key listed by itself can be (over MAX_KEY_BYTES
 * characters: the legacy short form padded with spaces) that fits an index, begins like the key, and
 * whose message gives the key's beginning, its length and what to do.
 */
function expectListed(errors: Array<{ key: string; code: string; message: string }>, longKey: string): void {
  expect(errors).toHaveLength(1);
  const e = errors[0]!;
  expect(e.key).toHaveLength(MAX_KEY_BYTES + 1);
  expect(Buffer.byteLength(e.key)).toBeLessThan(2500);
  expect(e.key.trimEnd()).toMatch(/^[0-9a-f]{40}\.\.\.\(3000 bytes, md5 [0-9a-f]{32}\)$/);
  expect(longKey.startsWith(e.key.slice(0, 32))).toBe(true);
  expect(e.code).toMatch(/KEY/);
  expect(e.message).toContain(`key "${e.key.trimEnd()}"`);
  expect(e.message).toMatch(/3,?000/);
  expect(e.message).toMatch(/shorter|hash|limit/i);
}

describe('long keys', () => {
  test('a small model: the one 3,000-character key is rejected and listed with its length, the other 20 rows sync, and so does the next run', async () => {
    const id = uniqueName('long_key_small');
    const table = `public.${id}`;
    const longKey = await makeModel(table, 20);
    const cfg = config(id, table);

    const first = (await fullRun(t.d.deps, cfg, 1)).summary;
    expect(first.status).toBe('partial');
    expect(first.rejected).toBe(1);
    expect(first.ops.upsert).toMatchObject({ planned: 20, succeeded: 20, failed: 0 });
    expect((await destinationKeys(id)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)).sort());
    expectListed(await rowErrors(id), longKey);

    // Another row changed, the long key not: still listed, already reported (no failure of this run), not stuck.
    await t.db.query(`UPDATE ${table} SET name = name || '+' WHERE id = '3'`);
    const second = (await fullRun(t.d.deps, cfg, 2)).summary;
    expect(second.status).toBe('success');
    expect(second.rejectedUnchanged).toBe(1);
    expect(second.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    expectListed(await rowErrors(id), longKey);

    // The row fixed (gone from the model): the run is a success and the error is cleared.
    await t.db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
    const third = (await fullRun(t.d.deps, cfg, 3)).summary;
    expect(third.status).toBe('success');
    expect(await rowErrors(id)).toEqual([]);
  });

  test(`a large model (over SMALL_STAGE_ROWS, the stage proven unique by an index): the long key is rejected alone`, async () => {
    const id = uniqueName('long_key_large');
    const table = `public.${id}`;
    const rows = SMALL_STAGE_ROWS + 20;
    const longKey = await makeModel(table, rows);
    const { summary } = await fullRun(t.d.deps, config(id, table), 1);
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
      await t.db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
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
    await t.db.query(`INSERT INTO ${table} VALUES ($1, 'Long key again')`, [longKey]);
    const { summary } = await fullRun(t.d.deps, config(id, table), 1);
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
    const heldKey = await modelWithCompressibleKey(table, 'k');
    const cfg = config(id, table, 'mirror');

    // New to the state: rejected like any key over the limit.
    const first = (await fullRun(t.d.deps, cfg, 1)).summary;
    expect(first.rejected).toBe(1);
    expect(await destinationKeys(id)).toHaveLength(20);

    // As a release without the limit left it: the record at the destination, the key in the snapshot.
    const rec = await t.db.query<{ id: string }>(
      `INSERT INTO test_dest.records (object, key, "values") VALUES ($1, $2, '{"Name":"Old"}') RETURNING id::text`,
      [id, heldKey],
    );
    await t.db.query(
      `INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at) VALUES ($1, $2, md5('old')::uuid, $3, now())`,
      [id, heldKey, rec.rows[0]!.id],
    );
    const second = (await fullRun(t.d.deps, cfg, 2)).summary;
    expect(second.status).toBe('success');
    expect(second.rejected).toBe(0);
    expect(second.ops.delete?.planned ?? 0).toBe(0);
    expect(second.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    const held = await t.db.query(`SELECT "values"->>'Name' AS name FROM test_dest.records WHERE object = $1 AND key = $2`, [id, heldKey]);
    expect(held.rows).toEqual([{ name: 'Held' }]);
    expect(await rowErrors(id)).toEqual([]);

    // Removed from the model by the user: Mirror deletes it by its whole key.
    await t.db.query(`DELETE FROM ${table} WHERE id = $1`, [heldKey]);
    const third = (await fullRun(t.d.deps, cfg, 3)).summary;
    expect(third.ops.delete).toMatchObject({ planned: 1, succeeded: 1 });
    expect((await destinationKeys(id)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)).sort());
  });
});

describe('long keys: found by review', () => {
  test('a retry-failed run and a full re-sync after a long key was rejected: still listed, unchanged, never sent, nothing else stirred', async () => {
    const id = uniqueName('long_key_retry');
    const table = `public.${id}`;
    const longKey = await makeModel(table, 20);
    const cfg = config(id, table, 'mirror');
    expect((await fullRun(t.d.deps, cfg, 1)).summary.status).toBe('partial');

    const retry = (await fullRun(t.d.deps, cfg, 2, 'retry_failed')).summary;
    expect({ status: retry.status, rejected: retry.rejected, unchanged: retry.rejectedUnchanged, ops: retry.ops }).toEqual({
      status: 'success',
      rejected: 1,
      unchanged: 1,
      ops: {},
    });
    expectListed(await rowErrors(id), longKey);

    const runId = await startRun(t.d.deps, cfg, 3, 'full_resync', true);
    const delta = await computeDelta(t.d.deps, { runId });
    expect({ rejected: delta.rejected, planned: delta.planned }).toEqual({ rejected: 1, planned: { upsert: 20 } });
    await writeAll(t.d.deps, runId, delta.chunks);
    const full = await commitRun(t.d.deps, { runId });
    expect({ status: full.status, unchanged: full.rejectedUnchanged }).toEqual({ status: 'success', unchanged: 1 });
    expectListed(await rowErrors(id), longKey);
    expect((await destinationKeys(id)).length).toBe(20);
  });

  test('a stage an earlier release made (every model row, the long key among them) is remade: the long key is rejected alone', async () => {
    const id = uniqueName('long_key_earlier');
    const table = `public.${id}`;
    await makeModel(table, 20);
    const cfg = config(id, table);
    const runId = await startRun(t.d.deps, cfg, 1);
    const run = await loadRun(t.d.deps, runId);
    await dropWorkTables(t.d.deps, runId);
    const select = stageSelect(stageSpec(run, sentFields(run))).compile(t.d.deps.db);
    await t.db.query(`CREATE TABLE ${stageTableName(runId)} AS ${select.sql}`);
    const delta = await computeDelta(t.d.deps, { runId });
    expect({ rejected: delta.rejected, planned: delta.planned }).toEqual({ rejected: 1, planned: { upsert: 20 } });
    await writeAll(t.d.deps, runId, delta.chunks);
    expect((await commitRun(t.d.deps, { runId })).status).toBe('partial');
    expect((await destinationKeys(id)).length).toBe(20);
  });

  // The delta of a run the release before the limit left uncommitted still holds the long key as a pending
  // row. Settling it, which every next run does first, listed that key in row_errors as sent without an
  // answer: "index row size 3048 exceeds btree version 4 maximum 2704 for index "row_errors_pk"", and the
  // activation stayed wedged after the upgrade (review wt-rev4). A run that recorded no chunk sent nothing:
  // its pending rows are not listed.
  test.each([
    ['settled by the next run', false],
    ['committed by its own retried commit', true],
  ])(
    'an activation the release before the limit left wedged (a small run uncommitted, its delta holding the long key): %s, then not stuck',
    async (_label, ownCommit) => {
      const id = uniqueName('long_key_upgrade');
      const table = `public.${id}`;
      const longKey = await makeModel(table, 20);
      const cfg = config(id, table);

      // Run 1 as the release before the limit made it: its stage took the long key for an added row.
      const { runId } = await prepareRun(t.d.deps, { activationId: id, runNumber: 1, trigger: 'manual', full: false, config: cfg });
      await checkDestination(t.d.deps, { runId });
      await extractModel(t.d.deps, { runId });
      const stage = stageTableName(runId);
      const made = await t.db.query(`UPDATE ${stage} SET __row_key = $1, __change = 'added' WHERE __change = 'long_key'`, [longKey]);
      expect(made.rowCount).toBe(1);
      // Its delta then failed building the key index, before any row was written (no chunk recorded); its
      // commit, listing the pending long key as unacknowledged, failed on row_errors_pk, every attempt.
      await expect(computeDelta(t.d.deps, { runId })).rejects.toThrow(/index row size/);

      // This release deployed. A commit of run 1 lists none of its rows (none was sent) and finishes it.
      if (ownCommit) {
        const first = await commitRun(t.d.deps, { runId, error: { type: 'INTERNAL', message: 'delta failed' } });
        expect(first.status).toBe('failed');
      }
      const second = await fullRun(t.d.deps, cfg, 2).then(
        (r) => r.summary.status,
        (err: Error) => `threw: ${err.message}`,
      );
      expect(second).toBe('partial');
      expect((await destinationKeys(id)).length).toBe(20);
      const run1 = await t.db.query(`SELECT status FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id]);
      expect(run1.rows[0].status).toBe(ownCommit ? 'failed' : 'cancelled');
      // Listed once, as a key too long (not as a row sent without an answer).
      expectListed(await rowErrors(id), longKey);
    },
  );

  // A model key that was, character for character, another model key's short form (the listing of a key
  // over the limit) put two rows of one key in the commit's row_errors insert: "ON CONFLICT DO UPDATE command
  // cannot affect row a second time", every run while the look-alike failed (review wt-rev4). A long key is
  // now listed under text longer than any key listed by itself (db/delta.ts longKeyListing).
  test('a model key equal to the short form of another, long, key, refused by the destination: the run commits and both rows are listed', async () => {
    const id = uniqueName('long_key_collide');
    const table = `public.${id}`;
    const longKey = await makeModel(table, 20);
    const r = await t.db.query<{ k: string }>(
      `INSERT INTO ${table} SELECT left($1, 40) || '...(' || octet_length($1) || ' bytes, md5 ' || md5($1) || ')', 'Look-alike' RETURNING id AS k`,
      [longKey],
    );
    const lookAlike = r.rows[0]!.k;
    await t.db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, $2, 'REFUSED', false)`, [id, lookAlike]);
    const cfg = config(id, table);
    const outcome = await fullRun(t.d.deps, cfg, 1).then(
      (x) => ({ status: x.summary.status, rejected: x.summary.rejected, failed: x.summary.ops.upsert?.failed }),
      (err: Error) => `threw: ${err.message}`,
    );
    expect(outcome).toEqual({ status: 'partial', rejected: 1, failed: 1 });
    const listed = async () => {
      const errors = await rowErrors(id);
      const long = errors.filter((e) => e.code === 'MODEL_KEY_TOO_LONG');
      expectListed(long, longKey);
      return {
        long: long[0]!.key,
        others: errors.filter((e) => e.code !== 'MODEL_KEY_TOO_LONG').map((e) => ({ key: e.key, code: e.code })),
      };
    };
    const first = await listed();
    expect(first.long.trimEnd()).toBe(lookAlike);
    expect(first.others).toEqual([{ key: lookAlike, code: 'REFUSED' }]);
    // The row log keeps them apart too; the text as shown finds both.
    const logged = await rowHistory(t.d.deps.db, id, lookAlike);
    // Shown (`syncline rows --key`, `errors --json`) as the listing's text, without the padding that keeps it apart.
    expect(logged.map((c) => [c.key, c.op, c.outcome])).toEqual(
      expect.arrayContaining([
        [lookAlike, 'upsert', 'failed'],
        [lookAlike, 'long_key', 'rejected'],
      ]),
    );
    expect(logged).toHaveLength(2);
    const shown = await listRowErrors(t.d.deps.db, id);
    expect(shown.map((e) => [e.key, e.code]).sort()).toEqual([
      [lookAlike, 'MODEL_KEY_TOO_LONG'],
      [lookAlike, 'REFUSED'],
    ]);

    // Nothing changed: both already reported, the run is no new failure, and both stay listed as they were.
    const second = (await fullRun(t.d.deps, cfg, 2)).summary;
    expect({ status: second.status, rejectedUnchanged: second.rejectedUnchanged, ops: second.ops }).toEqual({
      status: 'success',
      rejectedUnchanged: 1,
      ops: { upsert: expect.objectContaining({ planned: 1, skipped: 1 }) },
    });
    expect(await listed()).toEqual(first);

    // The destination takes the look-alike once its data changes: its error is cleared, the long key's stays.
    await t.db.query(`DELETE FROM test_dest.faults WHERE object = $1`, [id]);
    await t.db.query(`UPDATE ${table} SET name = 'Look-alike fixed' WHERE id = $1`, [lookAlike]);
    const third = (await fullRun(t.d.deps, cfg, 3)).summary;
    expect({ status: third.status, upsert: third.ops.upsert?.succeeded }).toEqual({ status: 'success', upsert: 1 });
    expect(await listed()).toEqual({ long: first.long, others: [] });
    expect(await destinationKeys(id)).toContain(lookAlike);
    expect(await destinationKeys(id)).toHaveLength(21);
  });

  test("a model key equal to another long key's listing is long itself: listed under its own, never taken for a key the state holds", async () => {
    const id = uniqueName('long_key_listing_twin');
    const table = `public.${id}`;
    const longKey = await makeModel(table, 20);
    const cfg = config(id, table);
    expect((await fullRun(t.d.deps, cfg, 1)).summary.rejected).toBe(1);
    const listing = (await rowErrors(id))[0]!.key;
    // The listing itself as a model key: over the limit, and a row error is stored under it.
    await t.db.query(`INSERT INTO ${table} VALUES ($1, 'Twin')`, [listing]);
    const second = (await fullRun(t.d.deps, cfg, 2)).summary;
    expect({ status: second.status, rejected: second.rejected, unchanged: second.rejectedUnchanged, ops: second.ops }).toEqual({
      status: 'partial',
      rejected: 2,
      unchanged: 1,
      ops: {},
    });
    const errors = await rowErrors(id);
    expect(errors.map((e) => e.code)).toEqual(['MODEL_KEY_TOO_LONG', 'MODEL_KEY_TOO_LONG']);
    expect(errors.map((e) => e.key)).toContain(listing);
    expect(errors.find((e) => e.key !== listing)!.message).toContain(`key "${listing.slice(0, 40)}...(${MAX_KEY_BYTES + 1} bytes, md5 `);
    expect(longKey.startsWith(listing.slice(0, 40))).toBe(true);
    expect(await destinationKeys(id)).toHaveLength(20);
  });

  // A release before longKeyListing stored a long key's error under its legacy short form (rtrim of the
  // listing). The next run finds it (an unchanged rejection, no new failure) and lists it anew, once; a
  // look-alike of that legacy text in the model does not make the commit meet one key twice.
  test.each([
    ['alone', false],
    ['with a refused look-alike of the legacy text in the model', true],
  ])('a long key listed by a release before the listing: found, listed anew once (%s)', async (_label, lookAlike) => {
    const id = uniqueName('long_key_legacy');
    const table = `public.${id}`;
    const longKey = await makeModel(table, 20);
    const cfg = config(id, table);
    expect((await fullRun(t.d.deps, cfg, 1)).summary.status).toBe('partial');
    const moved = await t.db.query(
      `UPDATE syncline.row_errors SET key = rtrim(key, ' '), first_seen = now() - interval '1 day' WHERE activation_id = $1 RETURNING key`,
      [id],
    );
    const legacy = moved.rows[0].key as string;
    expect(legacy.length).toBeLessThan(200);
    if (lookAlike) {
      await t.db.query(`INSERT INTO ${table} VALUES ($1, 'Look-alike')`, [legacy]);
      await t.db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, $2, 'REFUSED', false)`, [id, legacy]);
    }
    // A retry-failed run does not meet the key: the legacy entry stays as it is.
    const retry = await fullRun(t.d.deps, cfg, 2, 'retry_failed').then(
      (x) => ({ status: x.summary.status, rejected: x.summary.rejected }),
      (err: Error) => `threw: ${err.message}`,
    );
    expect(retry).toEqual({ status: 'success', rejected: 0 });
    expect((await rowErrors(id)).map((e) => e.key)).toEqual([legacy]);

    const next = await fullRun(t.d.deps, cfg, 3).then(
      (x) => ({ status: x.summary.status, unchanged: x.summary.rejectedUnchanged, failed: x.summary.ops.upsert?.failed ?? 0 }),
      (err: Error) => `threw: ${err.message}`,
    );
    expect(next).toEqual({ status: lookAlike ? 'partial' : 'success', unchanged: 1, failed: lookAlike ? 1 : 0 });
    const errors = await rowErrors(id);
    const long = errors.filter((e) => e.code === 'MODEL_KEY_TOO_LONG');
    expectListed(long, longKey);
    expect(long[0]!.key.trimEnd()).toBe(legacy);
    expect(errors.filter((e) => e.code !== 'MODEL_KEY_TOO_LONG').map((e) => ({ key: e.key, code: e.code }))).toEqual(
      lookAlike ? [{ key: legacy, code: 'REFUSED' }] : [],
    );
    expect(await destinationKeys(id)).toHaveLength(20);

    // Gone from the model: cleared.
    await t.db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
    await t.db.query(`DELETE FROM test_dest.faults WHERE object = $1`, [id]);
    await t.db.query(`UPDATE ${table} SET name = 'Fixed' WHERE id = $1`, [legacy]);
    expect((await fullRun(t.d.deps, cfg, 4)).summary.status).toBe('success');
    expect(await rowErrors(id)).toEqual([]);
  });

  test('Mirror: a long key whose lost write (NOT_ACKNOWLEDGED) then failed for a passing reason is sent again, and deleted once the user removes it', async () => {
    const id = uniqueName('long_key_lost');
    const table = `public.${id}`;
    const heldKey = await modelWithCompressibleKey(table, 'q');
    const cfg = config(id, table, 'mirror');
    // Run 0 (a release without the limit) sent it and never had the answer; the write did create the record.
    await t.db.query(`INSERT INTO test_dest.records (object, key, "values") VALUES ($1, $2, '{"Name":"Held"}')`, [id, heldKey]);
    await t.db.query(
      `INSERT INTO syncline.row_errors (activation_id, key, op, code, message, retryable, run_number) VALUES ($1, $2, 'upsert', 'NOT_ACKNOWLEDGED', 'lost', true, 0)`,
      [id, heldKey],
    );
    // Run 1 sends it again (the state holds it); the destination is busy for every attempt of the run.
    await t.db.query(`INSERT INTO test_dest.faults (object, key, code, retryable, times) VALUES ($1, $2, 'BUSY', true, 5)`, [id, heldKey]);
    const first = (await fullRun(t.d.deps, cfg, 1)).summary;
    expect(first.rejected).toBe(0);
    expect(first.ops.upsert).toMatchObject({ planned: 21, succeeded: 20, failed: 1 });

    // Run 2: a passing failure is sent again, as any key's.
    const second = (await fullRun(t.d.deps, cfg, 2)).summary;
    expect({ rejected: second.rejected, upsert: second.ops.upsert?.succeeded }).toEqual({ rejected: 0, upsert: 1 });

    // The user removes it: Mirror deletes the record.
    await t.db.query(`DELETE FROM ${table} WHERE id = $1`, [heldKey]);
    await fullRun(t.d.deps, cfg, 3);
    expect((await destinationKeys(id)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)).sort());
  });
});

// The one entry that lists every model row without a key was kept under '(null)', which a model key can be:
// such a key failing beside rows without a key put two rows of one key in the commit's row_errors insert,
// "ON CONFLICT DO UPDATE command cannot affect row a second time", every run. It is now NULL_KEY, '(null)'
// padded like a long key's listing (db/delta.ts).
describe('the listing of rows without a key', () => {
  async function modelWithoutKeys(table: string, extra: string[]): Promise<void> {
    await t.db.query(`CREATE TABLE ${table} (id text, name text)`);
    await t.db.query(`INSERT INTO ${table} SELECT g::text, 'Name ' || g FROM generate_series(1, 20) g`);
    await t.db.query(`INSERT INTO ${table} VALUES (NULL, 'No key')`);
    for (const k of extra) await t.db.query(`INSERT INTO ${table} VALUES ($1, 'Look-alike')`, [k]);
  }
  const listed = async (id: string) =>
    (await rowErrors(id)).map((e) => ({ key: e.key, code: e.code })).sort((a, b) => (a.code < b.code ? -1 : 1));

  test('a retry-failed run counts the rows without a key as still rejected, as it counts a long key, and their entry stays listed', async () => {
    const id = uniqueName('null_key_retry');
    const table = `public.${id}`;
    await modelWithoutKeys(table, []);
    await t.db.query(`INSERT INTO ${table} VALUES (NULL, 'No key either')`);
    const cfg = config(id, table);
    const first = (await fullRun(t.d.deps, cfg, 1)).summary;
    expect({ status: first.status, rejected: first.rejected }).toEqual({ status: 'partial', rejected: 2 });
    const retry = (await fullRun(t.d.deps, cfg, 2, 'retry_failed')).summary;
    // Seen before: rejected 0, the two rows without a key left out of the run that retries the failed rows.
    expect({ status: retry.status, rejected: retry.rejected, unchanged: retry.rejectedUnchanged, ops: retry.ops }).toEqual({
      status: 'success',
      rejected: 2,
      unchanged: 2,
      ops: {},
    });
    const errors = await t.db.query(`SELECT code, run_number FROM syncline.row_errors WHERE activation_id = $1`, [id]);
    expect(errors.rows).toEqual([{ code: 'MODEL_NULL_KEY', run_number: 2 }]);
    expect(await destinationKeys(id)).toHaveLength(20);
  });

  test('a model key "(null)", refused by the destination, beside rows without a key: the run commits and both are listed', async () => {
    const id = uniqueName('null_key_lookalike');
    const table = `public.${id}`;
    await modelWithoutKeys(table, [LEGACY_NULL_KEY]);
    await t.db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, '(null)', 'REFUSED', false)`, [id]);
    const cfg = config(id, table);
    const outcome = await fullRun(t.d.deps, cfg, 1).then(
      (x) => ({ status: x.summary.status, rejected: x.summary.rejected, failed: x.summary.ops.upsert?.failed }),
      (err: Error) => `threw: ${err.message}`,
    );
    expect(outcome).toEqual({ status: 'partial', rejected: 1, failed: 1 });
    const both = [
      { key: NULL_KEY, code: 'MODEL_NULL_KEY' },
      { key: '(null)', code: 'REFUSED' },
    ];
    expect(await listed(id)).toEqual(both);
    expect(NULL_KEY.trimEnd()).toBe('(null)');

    const second = (await fullRun(t.d.deps, cfg, 2)).summary;
    expect({ status: second.status, unchanged: second.rejectedUnchanged, skipped: second.ops.upsert?.skipped }).toEqual({
      status: 'success',
      unchanged: 1,
      skipped: 1,
    });
    expect(await listed(id)).toEqual(both);

    // A retry-failed run sends the refused key again, and only it.
    const retry = (await fullRun(t.d.deps, cfg, 3, 'retry_failed')).summary;
    expect(retry.ops.upsert).toMatchObject({ planned: 1, failed: 1 });

    await t.db.query(`DELETE FROM test_dest.faults WHERE object = $1`, [id]);
    const fixed = (await fullRun(t.d.deps, cfg, 4, 'retry_failed')).summary;
    expect(fixed.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    expect(await listed(id)).toEqual([{ key: NULL_KEY, code: 'MODEL_NULL_KEY' }]);
    expect(await destinationKeys(id)).toHaveLength(21);
  });

  test('a model key equal to NULL_KEY is long itself: listed under its own listing, never taken for a key the state holds', async () => {
    const id = uniqueName('null_key_twin');
    const table = `public.${id}`;
    await modelWithoutKeys(table, [NULL_KEY]);
    const { summary } = await fullRun(t.d.deps, config(id, table), 1);
    expect({ status: summary.status, rejected: summary.rejected }).toEqual({ status: 'partial', rejected: 2 });
    const second = (await fullRun(t.d.deps, config(id, table), 2)).summary;
    expect({ status: second.status, rejected: second.rejected, unchanged: second.rejectedUnchanged, ops: second.ops }).toEqual({
      status: 'success',
      rejected: 2,
      unchanged: 2,
      ops: {},
    });
    const errors = await listed(id);
    expect(errors.map((e) => e.code)).toEqual(['MODEL_KEY_TOO_LONG', 'MODEL_NULL_KEY']);
    expect(errors[0]!.key.trimEnd()).toMatch(/^\(null\) {34}\.\.\.\(2001 bytes, md5 [0-9a-f]{32}\)$/);
    expect(await destinationKeys(id)).toHaveLength(20);
  });

  test.each([
    ['alone', []],
    ['with a refused model key "(null)"', [LEGACY_NULL_KEY]],
  ])('rows without a key listed by a release before NULL_KEY: found, listed anew once (%s)', async (_label, extra) => {
    const id = uniqueName('null_key_legacy');
    const table = `public.${id}`;
    await modelWithoutKeys(table, []);
    const cfg = config(id, table);
    expect((await fullRun(t.d.deps, cfg, 1)).summary.status).toBe('partial');
    const moved = await t.db.query(`UPDATE syncline.row_errors SET key = '(null)' WHERE activation_id = $1 RETURNING code`, [id]);
    expect(moved.rows).toEqual([{ code: 'MODEL_NULL_KEY' }]);
    for (const k of extra) {
      await t.db.query(`INSERT INTO ${table} VALUES ($1, 'Look-alike')`, [k]);
      await t.db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, $2, 'REFUSED', false)`, [id, k]);
    }
    // A retry-failed run takes the legacy entry for no model key's own failure.
    const retry = await fullRun(t.d.deps, cfg, 2, 'retry_failed').then(
      (x) => ({ status: x.summary.status, ops: x.summary.ops }),
      (err: Error) => `threw: ${err.message}`,
    );
    expect(retry).toEqual({ status: 'success', ops: {} });

    const next = await fullRun(t.d.deps, cfg, 3).then(
      (x) => ({ status: x.summary.status, unchanged: x.summary.rejectedUnchanged, failed: x.summary.ops.upsert?.failed ?? 0 }),
      (err: Error) => `threw: ${err.message}`,
    );
    expect(next).toEqual({ status: extra.length ? 'partial' : 'success', unchanged: 1, failed: extra.length });
    expect(await listed(id)).toEqual([{ key: NULL_KEY, code: 'MODEL_NULL_KEY' }, ...extra.map((k) => ({ key: k, code: 'REFUSED' }))]);

    // The row without a key fixed: its entry is cleared, whichever form it had.
    await t.db.query(`UPDATE ${table} SET id = 'fixed' WHERE id IS NULL`);
    await fullRun(t.d.deps, cfg, 4);
    expect((await listed(id)).map((e) => e.code)).toEqual(extra.map(() => 'REFUSED'));
  });
});

describe("a long key's listing in the row log", () => {
  // Seen failing before rowHistory padded in characters as Postgres does: `Received length: 0` (JavaScript's
  // padEnd counts UTF-16 units, a character past U+FFFF is two: the padded text fell 40 characters short).
  test('syncline rows --key with the listing of a long key of characters past U+FFFF, as errors shows it, finds it', async () => {
    const id = uniqueName('long_key_astral');
    const table = `public.${id}`;
    await makeModel(table, 5);
    await t.db.query(`DELETE FROM ${table} WHERE length(id) > 100`);
    await t.db.query(`INSERT INTO ${table} VALUES (repeat(chr(128512), 600), 'Emoji')`);
    await fullRun(t.d.deps, config(id, table), 1);
    const shown = (await listRowErrors(t.d.deps.db, id)).filter((e) => e.code === 'MODEL_KEY_TOO_LONG');
    expect(shown).toHaveLength(1);
    expect(shown[0]!.key.startsWith('\u{1F600}'.repeat(40) + '...(2400 bytes')).toBe(true);
    const logged = await rowHistory(t.d.deps.db, id, shown[0]!.key);
    expect(logged.map((c) => [c.key, c.op, c.outcome])).toEqual([[shown[0]!.key, 'long_key', 'rejected']]);
  });
});
