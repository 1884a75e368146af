/**
 * Edges of a run's prepare and commit, from an independent review of the statement cuts of a small run
 * (dd1dbc7, a40e156, 4f53ac3): a reopened run number still starts clean, concurrent opens create one row,
 * the one-statement claim of approvals does what the two statements did, a commit holds its delta still
 * against a write of the run still recording answers, and a Mirror activation over seven runs ends where
 * the mode says. Runs the activities directly (test/support/runs.ts) on the real Postgres and the test destination.
 */
import { uniqueName, waitFor } from '../support/harness';
import { fullRun, markWritesBegun, parsed, useDirectDeps, startRun, writeAll } from '../support/runs';
import { computeDelta } from '../../activities/delta';
import { writeChunk } from '../../activities/write';
import { commitRun, settleUnfinishedRuns } from '../../activities/commit';
import { prepareRun } from '../../activities/prepare';
import { loadPlan, recordPlan } from '../../activities/plan';
import { savePlan } from '../../db/plans';
import { forgetTargetState, lockRun, openRun } from '../../db/runs';
import { applyConfigUpdate } from '../../activities/config';
import { latestConfigVersion } from '../../db/config-versions';
import { approveHeld, claimApprovals } from '../../db/held-deletes';
import { deltaName, hasDeltaTable } from '../../db/work-tables';
import { countChunk } from '../../db/delta';
import { claimChunk, setChunkStatus } from '../../db/chunks';

const t = useDirectDeps();

function config(id: string, mode = 'upsert') {
  return parsed({
    id,
    mode,
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 5 } },
    mappings: [{ from: 'name', to: 'Name' }],
  });
}
async function model(id: string, rows: number): Promise<void> {
  await t.db.query(`CREATE TABLE public.${id} AS SELECT g::text AS id, 'Name ' || g AS name FROM generate_series(1, $1::int) g`, [rows]);
}
/**
 * Run `n` planned and ended before any answer came (its write timed out): its planned rows are listed
 * NOT_ACKNOWLEDGED. `landed`: what the lost writes did at the destination, done before the commit.
 */
async function unanswered(cfg: ReturnType<typeof config>, n: number, landed?: () => Promise<unknown>): Promise<void> {
  const runId = await startRun(t.d.deps, cfg, n);
  await computeDelta(t.d.deps, { runId });
  // Every write began (marked as writeChunk marks it, before the destination is called) and went unanswered.
  await markWritesBegun(t.d.deps, runId);
  await landed?.();
  await commitRun(t.d.deps, { runId, error: { type: 'TIMEOUT', message: 'the write timed out' } });
}
const chunkRows = async (runId: string): Promise<number> =>
  Number((await t.db.query(`SELECT count(*) AS n FROM syncline.chunks WHERE run_id = $1`, [runId])).rows[0].n);

describe('openRun and a reopened run number (dd1dbc7)', () => {
  test('created on the first open only; the number prepared again after its delta is settled and reopened under a new id, clean', async () => {
    const id = uniqueName('rev5_reopen');
    await model(id, 12);
    const cfg = config(id);
    const runId = await startRun(t.d.deps, cfg, 1);
    const delta = await computeDelta(t.d.deps, { runId });
    expect(delta.chunks.length).toBe(3);
    expect(await chunkRows(runId)).toBe(3);
    // The same run number prepared again after its delta (a reset): the earlier attempt is settled, and the
    // row, under a new id, starts clean; nothing of the old id is left.
    const again = await prepareRun(t.d.deps, { activationId: id, runNumber: 1, trigger: 'manual', full: false, config: cfg });
    expect(again.runId).not.toBe(runId);
    expect(await chunkRows(runId)).toBe(0);
    expect(await hasDeltaTable(t.d.deps.db, runId)).toBe(false);
    expect(await chunkRows(again.runId)).toBe(0);
    expect(await hasDeltaTable(t.d.deps.db, again.runId)).toBe(false);
    const reopened = await openRun(t.d.deps.db, {
      activationId: id,
      runNumber: 1,
      trigger: 'manual',
      full: false,
      retryFailed: false,
      config: cfg,
    });
    expect(reopened).toEqual({ runId: again.runId, created: false, reopenedClosed: false });
    const fresh = await openRun(t.d.deps.db, {
      activationId: id,
      runNumber: 2,
      trigger: 'manual',
      full: false,
      retryFailed: false,
      config: cfg,
    });
    expect(fresh.created).toBe(true);
  });

  test('a retried prepare (no delta yet) reopens the same id and settles nothing', async () => {
    const id = uniqueName('rev5_retry');
    await model(id, 3);
    const cfg = config(id);
    const input = { activationId: id, runNumber: 1, trigger: 'manual' as const, full: false, config: cfg };
    const first = await prepareRun(t.d.deps, input);
    const again = await prepareRun(t.d.deps, input);
    expect(again.runId).toBe(first.runId);
    const rec = (await t.db.query(`SELECT status, error FROM syncline.runs WHERE activation_id = $1`, [id])).rows;
    expect(rec).toEqual([{ status: 'running', error: null }]);
  });

  test('two concurrent opens of one run number: one row, exactly one of them created it', async () => {
    const id = uniqueName('rev5_race');
    const cfg = config(id);
    const open = () =>
      openRun(t.d.deps.db, { activationId: id, runNumber: 1, trigger: 'manual', full: false, retryFailed: false, config: cfg });
    const results = await Promise.all([open(), open(), open(), open()]);
    expect(new Set(results.map((r) => r.runId)).size).toBe(1);
    expect(results.filter((r) => r.created).length).toBe(1);
  });
});

describe('claimApprovals in one statement (dd1dbc7)', () => {
  test('claims the unclaimed and those of a failed run, lapses those of another run number, leaves its own and the unapproved alone', async () => {
    const id = uniqueName('rev5_claim');
    await t.db.query(
      `INSERT INTO syncline.held_deletes (activation_id, run_number, key, approved, approved_for) VALUES
       ($1, 3, 'unclaimed', true, NULL), ($1, 3, 'other', true, 4), ($1, 3, 'own', true, 5), ($1, 3, 'held', false, NULL), ($1, 3, 'odd', false, 4),
       ($1, 3, 'failed', true, 2), ($1, 3, 'done', true, 1)`,
      [id],
    );
    // Run 2 failed (its approval stands for the next run); run 1 completed (its approval lapses).
    await t.db.query(
      `INSERT INTO syncline.runs (activation_id, run_number, trigger, status, config) VALUES ($1, 1, 'approval', 'success', '{}'), ($1, 2, 'approval', 'failed', '{}')`,
      [id],
    );
    await claimApprovals(t.d.deps.db, id, 5);
    const rows = (
      await t.db.query(`SELECT key, approved, approved_for FROM syncline.held_deletes WHERE activation_id = $1 ORDER BY key`, [id])
    ).rows;
    expect(rows).toEqual([
      { key: 'done', approved: false, approved_for: null },
      { key: 'failed', approved: true, approved_for: 5 },
      { key: 'held', approved: false, approved_for: null },
      { key: 'odd', approved: false, approved_for: 4 },
      { key: 'other', approved: false, approved_for: null },
      { key: 'own', approved: true, approved_for: 5 },
      { key: 'unclaimed', approved: true, approved_for: 5 },
    ]);
    // Idempotent for a retried run.
    await claimApprovals(t.d.deps.db, id, 5);
    expect(
      (await t.db.query(`SELECT key, approved, approved_for FROM syncline.held_deletes WHERE activation_id = $1 ORDER BY key`, [id])).rows,
    ).toEqual(rows);
  });
});

describe('a commit while a write of the run still records its answers', () => {
  // The commit runs whatever failed before it (workflows/sync-run.ts), so a write activity that timed out may
  // still be recording the destination's answers in the delta while the commit reads it. Each commit
  // statement read it afresh (READ COMMITTED): an answer committed after the snapshot write and before the
  // row_errors insert was in neither, and the next run sent the row again as new (an Insert: a second
  // record). Seen failing (review wt-rev5, on the code before a40e156 too): key 11 in neither the snapshot
  // nor row_errors. The commit now holds the delta (SHARE) from its start: it waits for the write's
  // transaction, and a later answer waits for the commit, then finds the delta gone.
  test('an answer recorded during the commit is committed or listed, never dropped', async () => {
    const id = uniqueName('rev5_zombie');
    await model(id, 10);
    const cfg = config(id);
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`UPDATE public.${id} SET name = name || ' v2' WHERE id = '1'`);
    await t.db.query(`INSERT INTO public.${id} VALUES ('11', 'Name 11')`);
    const runId = await startRun(t.d.deps, cfg, 2);
    const delta = await computeDelta(t.d.deps, { runId });
    expect(delta.planned).toEqual({ upsert: 2 });

    // The write activity, timed out for the workflow but still running: its transaction recording key 11
    // accepted is open, and (by chance, or here on purpose) holds snapshot row 1 the commit's unconfirmed
    // UPDATE must wait for.
    const zombie = await t.db.connect();
    try {
      await zombie.query('BEGIN');
      await zombie.query(`SELECT 1 FROM syncline.snapshot WHERE activation_id = $1 AND key = '1' FOR UPDATE`, [id]);
      await zombie.query(`UPDATE syncline_work.${deltaName(runId)} SET status = 'ok' WHERE key = '11'`);
      const committing = commitRun(t.d.deps, { runId, error: { type: 'TIMEOUT', message: 'write timed out' } });
      await waitFor(
        'the commit waiting on the write (its hold on the delta, or snapshot row 1)',
        async () => {
          const r = await t.db.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'
               AND (query LIKE 'UPDATE syncline.snapshot s SET unconfirmed%' OR query LIKE 'LOCK TABLE%')`,
          );
          return r.rows[0].n > 0;
        },
        30_000,
        50,
      );
      await zombie.query('COMMIT');
      await committing;
    } finally {
      await zombie.query('ROLLBACK').catch(() => undefined);
      zombie.release();
    }
    const inSnapshot = (await t.db.query(`SELECT 1 FROM syncline.snapshot WHERE activation_id = $1 AND key = '11'`, [id])).rowCount;
    const listed = (await t.db.query(`SELECT 1 FROM syncline.row_errors WHERE activation_id = $1 AND key = '11'`, [id])).rowCount;
    expect({ inSnapshot, listed }).not.toEqual({ inSnapshot: 0, listed: 0 });
  });
});

describe('a commit sends only the statements with rows to act on (a40e156)', () => {
  test('Mirror over seven runs: failed, fixed, deleted, rejected and cleared rows end exactly where the mode says', async () => {
    const id = uniqueName('rev5_gates');
    const table = `public.${id}`;
    await t.db.query(`CREATE TABLE ${table} (id text, name text)`);
    await t.db.query(`INSERT INTO ${table} SELECT g::text, 'Name ' || g FROM generate_series(1, 10) g`);
    const cfg = parsed({
      id,
      mode: 'mirror',
      schedule: { manual: true },
      source: { sql: `SELECT id, name FROM ${table}`, key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 5 } },
      mappings: [{ from: 'name', to: 'Name' }],
      deletionGuard: { maxDeletePercent: 50 },
    });
    const dest = async () =>
      (await t.db.query(`SELECT key, "values"->>'Name' AS name FROM test_dest.records WHERE object = $1 ORDER BY key`, [id])).rows
        .map((r) => `${r.key}=${r.name}`)
        .sort();
    const snap = async () =>
      (await t.db.query(`SELECT key FROM syncline.snapshot WHERE activation_id = $1 ORDER BY key`, [id])).rows
        .map((r) => r.key as string)
        .sort();
    const errors = async () =>
      (await t.db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key`, [id])).rows.map(
        (r) => `${r.key}:${r.code}`,
      );
    const names = (keys: number[], suffix: Record<number, string> = {}) => keys.map((k) => `${k}=Name ${k}${suffix[k] ?? ''}`).sort();
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

    // 1: key 3 refused for good.
    await t.db.query(`INSERT INTO test_dest.faults (object, key, code, retryable, times) VALUES ($1, '3', 'STRING_TOO_LONG', false, 1)`, [
      id,
    ]);
    const r1 = (await fullRun(t.d.deps, cfg, 1)).summary;
    expect(r1.status).toBe('partial');
    expect(await snap()).toEqual(
      upTo(10)
        .filter((k) => k !== 3)
        .map(String)
        .sort(),
    );
    expect(await errors()).toEqual(['3:STRING_TOO_LONG']);

    // 2: key 3 fixed (sent, accepted: its error goes), key 10 removed, a NULL key and key 5 repeated (rejected). A model
    // row without a key holds every deletion of the run (the removed key may be its key): key 10 is held, not deleted.
    await t.db.query(`UPDATE ${table} SET name = name || ' fixed' WHERE id = '3'`);
    await t.db.query(`DELETE FROM ${table} WHERE id = '10'`);
    await t.db.query(`INSERT INTO ${table} VALUES (NULL, 'no key'), ('5', 'Name 5 again')`);
    const r2 = (await fullRun(t.d.deps, cfg, 2)).summary;
    expect(r2.ops.delete).toMatchObject({ planned: 1, succeeded: 0, held: 1 });
    expect(await dest()).toEqual(names(upTo(10), { 3: ' fixed' }));
    expect(await snap()).toEqual(upTo(10).map(String).sort());
    const e2 = await errors();
    expect(e2.some((e) => e.startsWith('3:'))).toBe(false);
    expect(e2.filter((e) => e.startsWith('5:'))).toHaveLength(1);
    expect(e2).toHaveLength(2);

    // 3: the model fixed: the rejections it no longer has are cleared, key 10 (still gone) is deleted, nothing else is sent.
    await t.db.query(`DELETE FROM ${table} WHERE id IS NULL OR name = 'Name 5 again'`);
    const r3 = (await fullRun(t.d.deps, cfg, 3)).summary;
    expect(r3.status).toBe('success');
    expect(r3.ops.delete).toMatchObject({ planned: 1, succeeded: 1 });
    expect(await errors()).toEqual([]);
    expect(await dest()).toEqual(names(upTo(9), { 3: ' fixed' }));
    expect(await snap()).toEqual(upTo(9).map(String).sort());

    // 4: nothing changed, no row error anywhere: every gate closed, nothing moves.
    const r4 = (await fullRun(t.d.deps, cfg, 4)).summary;
    expect(r4.status).toBe('success');
    expect(await dest()).toEqual(names(upTo(9), { 3: ' fixed' }));

    // 5: a deletion in an activation without any row error: the snapshot and the destination both lose key 9.
    await t.db.query(`DELETE FROM ${table} WHERE id = '9'`);
    const r5 = (await fullRun(t.d.deps, cfg, 5)).summary;
    expect(r5.ops.delete).toMatchObject({ planned: 1, succeeded: 1 });
    expect(await dest()).toEqual(names(upTo(8), { 3: ' fixed' }));
    expect(await snap()).toEqual(upTo(8).map(String).sort());
    expect(await errors()).toEqual([]);

    // 6: a run whose write began and never got an answer (its chunk marked begun, nothing answered), settled
    // by run 7: the pending row is listed unacknowledged and marked unconfirmed, then sent by run 7.
    await t.db.query(`UPDATE ${table} SET name = name || ' v6' WHERE id = '1'`);
    const run6 = await startRun(t.d.deps, cfg, 6);
    expect((await computeDelta(t.d.deps, { runId: run6 })).chunks.length).toBe(1);
    await markWritesBegun(t.d.deps, run6);
    await prepareRun(t.d.deps, { activationId: id, runNumber: 7, trigger: 'manual', full: false, config: cfg });
    expect(await errors()).toEqual(['1:NOT_ACKNOWLEDGED']);
    expect(
      (await t.db.query(`SELECT unconfirmed FROM syncline.snapshot WHERE activation_id = $1 AND key = '1'`, [id])).rows[0].unconfirmed,
    ).toBe(true);
    const r7 = (await fullRun(t.d.deps, cfg, 7)).summary;
    expect(r7.status).toBe('success');
    expect(await errors()).toEqual([]);
    expect(await dest()).toEqual(names(upTo(8), { 1: ' v6', 3: ' fixed' }));
  });
});

describe('a run number prepared again after it wrote (a workflow reset)', () => {
  // `temporal workflow reset` of a run (or of its activation, to before the run started) runs the prepare
  // of the same run number again. The earlier attempt may have written chunks and recorded the answers in
  // its delta; the prepare dropped that delta with the answers, so the rows the destination had accepted
  // were neither committed nor listed, and the run sent them again (an Insert without an idempotent
  // create: a second record). Seen failing before the fix: every record written twice. The earlier attempt
  // is now settled (committed as cancelled) and the run number reopened under a new id.
  const writes = async (id: string): Promise<number[]> =>
    (await t.db.query(`SELECT writes FROM test_dest.records WHERE object = $1 ORDER BY key::int`, [id])).rows.map((r) => r.writes);

  test.each([
    ['every chunk written', 3],
    ['one chunk of three written', 1],
  ])('%s, then the run number prepared again: each row written once, the run ends as its mode says', async (_label, written) => {
    const id = uniqueName('reset_rerun');
    await model(id, 12);
    const cfg = config(id, 'insert');
    const first = await startRun(t.d.deps, cfg, 1);
    const delta = await computeDelta(t.d.deps, { runId: first });
    expect(delta.chunks.length).toBe(3);
    await writeAll(t.d.deps, first, delta.chunks.slice(0, written));

    const startedAt = async () =>
      (await t.db.query(`SELECT started_at FROM syncline.runs WHERE activation_id = $1`, [id])).rows[0].started_at as Date;
    const firstStart = await startedAt();
    // The reset: the same run number, prepared again, and run to its commit. The run's row has a new id.
    const again = await startRun(t.d.deps, cfg, 1);
    // Its window still covers the earlier attempt's writes (a Mirror delete of that attempt happened in the run).
    expect(await startedAt()).toEqual(firstStart);
    expect(again).not.toBe(first);
    expect((await t.db.query(`SELECT id::text FROM syncline.runs WHERE activation_id = $1`, [id])).rows).toEqual([{ id: again }]);
    const redo = await computeDelta(t.d.deps, { runId: again });
    // A write of the earlier attempt still under way (the reset does not stop activities) reaches nothing of the new one.
    await expect(writeChunk(t.d.deps, { runId: first, chunk: 2 })).rejects.toThrow(`run ${first} does not exist`);
    await writeAll(t.d.deps, again, redo.chunks);
    const summary = await commitRun(t.d.deps, { runId: again });

    expect(await writes(id)).toEqual(Array(12).fill(1));
    expect(summary.status).toBe('success');
    expect((await t.db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(12);
    expect((await t.db.query(`SELECT count(*)::int AS n FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows[0].n).toBe(0);
    // The earlier attempt's accepted rows were committed when it was settled, so the run sent only the rest.
    expect(redo.planned).toEqual(written === 3 ? {} : { create: 7 }); // chunks of 5, 5 and 2 rows
    // A run after it finds nothing to do.
    expect((await fullRun(t.d.deps, cfg, 2)).delta.planned).toEqual({});
  });
});

describe('a plan run prepared again after its delta (a workflow reset), review rev6', () => {
  // recordPlan saves the plan (syncline.plans, naming the run id), then marks the run planned: two statements.
  // A worker that dies between them leaves the run running with its delta and an open plan naming its id; a
  // reset of the plan run then settles that attempt and renumbers the run. The plan must follow the run's id:
  // a plan naming an id no run has can be neither applied nor superseded, and every later prepare fails on it.
  test('the open plan follows the run to its new id: the plan recorded again loads that id and its chunks', async () => {
    const id = uniqueName('rev6_plan_reset');
    await model(id, 12);
    const cfg = config(id);
    const first = await startRun(t.d.deps, cfg, 1);
    const delta = await computeDelta(t.d.deps, { runId: first });
    // recordPlan's first statement, then the worker dies.
    await savePlan(t.d.deps.db, { activationId: id, runNumber: 1, runId: first, counts: delta.planned, samples: {} });
    // The reset: the plan run's prepare again, then its delta, and this time its plan recorded.
    const again = await startRun(t.d.deps, cfg, 1);
    expect(again).not.toBe(first);
    const redo = await computeDelta(t.d.deps, { runId: again });
    await recordPlan(t.d.deps, { runId: again, planned: redo.planned, rejected: redo.rejected, heldDeletes: redo.heldDeletes });
    const plan = await loadPlan(t.d.deps, { activationId: id, plan: 1 });
    expect(plan.runId).toBe(again);
    expect(plan.chunks.length).toBe(3);
  });

  test('the new attempt never gets to its plan: the next run still prepares and runs', async () => {
    const id = uniqueName('rev6_plan_reset2');
    await model(id, 12);
    const cfg = config(id);
    const first = await startRun(t.d.deps, cfg, 1);
    const delta = await computeDelta(t.d.deps, { runId: first });
    await savePlan(t.d.deps.db, { activationId: id, runNumber: 1, runId: first, counts: delta.planned, samples: {} });
    await prepareRun(t.d.deps, { activationId: id, runNumber: 1, trigger: 'manual', full: false, config: cfg });
    // The new attempt stops (its check fails, say): the plan run failed, and the activation goes on with run 2.
    const run2 = await fullRun(t.d.deps, cfg, 2);
    expect(run2.summary.status).toBe('success');
    const dest = await t.db.query(`SELECT writes FROM test_dest.records WHERE object = $1`, [id]);
    expect(dest.rows.map((r) => r.writes)).toEqual(Array(12).fill(1));
  });
});

describe('a plan whose apply wrote, prepared again (its activation reset to before the plan), review rev6', () => {
  // The apply writes into the plan run's own delta, under the plan's run number, and the run stays 'planned'.
  // An activation reset to before the plan terminates the apply and runs the plan's number again: its prepare
  // dropped the apply's delta with the destination's answers, and the rows the apply wrote were sent again.
  test('what the apply wrote is committed, and not sent a second time', async () => {
    const id = uniqueName('rev6_apply_reset');
    await model(id, 12);
    const cfg = config(id);
    const planRun = await startRun(t.d.deps, cfg, 1);
    const delta = await computeDelta(t.d.deps, { runId: planRun });
    await recordPlan(t.d.deps, { runId: planRun, planned: delta.planned, rejected: delta.rejected, heldDeletes: delta.heldDeletes });
    // The apply writes one chunk of three; then the activation is reset to before the plan.
    await writeChunk(t.d.deps, { runId: planRun, chunk: 0 });
    const again = await startRun(t.d.deps, cfg, 1);
    // A write of the terminated apply still under way reaches nothing of the new attempt.
    if (again !== planRun)
      await expect(writeChunk(t.d.deps, { runId: planRun, chunk: 1 })).rejects.toThrow(`run ${planRun} does not exist`);
    const redo = await computeDelta(t.d.deps, { runId: again });
    await recordPlan(t.d.deps, { runId: again, planned: redo.planned, rejected: redo.rejected, heldDeletes: redo.heldDeletes });
    expect(redo.planned).toEqual({ upsert: 7 });
    const plan = await loadPlan(t.d.deps, { activationId: id, plan: 1 });
    expect(plan.runId).toBe(again);
    await writeAll(t.d.deps, again, plan.chunks);
    expect((await commitRun(t.d.deps, { runId: again })).status).toBe('success');
    const dest = await t.db.query(`SELECT writes FROM test_dest.records WHERE object = $1`, [id]);
    expect(dest.rows.map((r) => r.writes)).toEqual(Array(12).fill(1));
  });
});

describe('an apply started again after it began writing (`temporal workflow reset` of `…/run/<n>/apply`)', () => {
  // The apply loaded its plan again and wrote it under the plan run's id while the earlier attempt's writes went
  // on: the rows they had in flight were sent twice (exactness-activation.test.ts resets an apply with the CLI).
  test('its earlier attempt is settled and fenced, the apply refused; the next run sends what is left, each row once', async () => {
    const id = uniqueName('apply_again');
    await model(id, 12);
    const cfg = config(id);
    const planRun = await startRun(t.d.deps, cfg, 1);
    const delta = await computeDelta(t.d.deps, { runId: planRun });
    await recordPlan(t.d.deps, { runId: planRun, planned: delta.planned, rejected: delta.rejected, heldDeletes: delta.heldDeletes });
    const first = await loadPlan(t.d.deps, { activationId: id, plan: 1 });
    expect([first.runId, first.chunks]).toEqual([planRun, [0, 1, 2]]);
    // The earlier attempt wrote chunk 0, and began chunk 1 (no answer yet); then the apply was reset.
    await writeChunk(t.d.deps, { runId: planRun, chunk: 0 });
    expect(await claimChunk(t.d.deps.db, planRun, 1)).toBeDefined();
    await expect(loadPlan(t.d.deps, { activationId: id, plan: 1 })).rejects.toThrow(
      `plan 1 of "${id}" was not applied again: its apply was started again (a workflow reset) after it had begun writing`,
    );
    const run = await t.db.query(`SELECT id::text, status, error FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id]);
    expect(run.rows[0].status).toBe('cancelled');
    expect(run.rows[0].id).not.toBe(planRun);
    const plan = await t.db.query(`SELECT status, run_id::text FROM syncline.plans WHERE activation_id = $1 AND run_number = 1`, [id]);
    expect(plan.rows[0]).toEqual({ status: 'superseded', run_id: run.rows[0].id });
    // Chunk 0 committed; chunk 1's rows (sent, no answer) listed; chunk 2's never sent, neither committed nor listed.
    const snap = await t.db.query(`SELECT key FROM syncline.snapshot WHERE activation_id = $1 ORDER BY key::int`, [id]);
    expect(snap.rows.map((r) => r.key)).toEqual(['1', '2', '3', '4', '5']);
    const listed = await t.db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key::int`, [id]);
    expect(listed.rows.map((r) => `${r.key}:${r.code}`)).toEqual(['6', '7', '8', '9', '10'].map((k) => `${k}:NOT_ACKNOWLEDGED`));
    // A write of the earlier attempt still under way finds nothing to write: no chunk, no run, no delta.
    expect(await claimChunk(t.d.deps.db, planRun, 2)).toBeUndefined();
    await expect(writeChunk(t.d.deps, { runId: planRun, chunk: 2 })).rejects.toThrow(`run ${planRun} does not exist`);
    expect(await hasDeltaTable(t.d.deps.db, planRun)).toBe(false);
    // The apply's activity retried after the settle: the plan is closed.
    await expect(loadPlan(t.d.deps, { activationId: id, plan: 1 })).rejects.toThrow(`plan 1 of "${id}" is closed (superseded)`);
    // The next run sends the rest: every row of the model in the destination, written once.
    expect((await fullRun(t.d.deps, cfg, 2)).summary.status).toBe('success');
    const dest = await t.db.query(`SELECT key, writes FROM test_dest.records WHERE object = $1 ORDER BY key::int`, [id]);
    expect(dest.rows.map((r) => `${r.key}:${r.writes}`)).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}:1`));
  });
});

describe('a run number prepared again after its delta but before any write, review rev6', () => {
  // The earlier attempt planned its chunks (a plan run always stops there) and sent nothing. Its settle found
  // chunk rows, took them for writes begun, and listed every planned row NOT_ACKNOWLEDGED ("the destination
  // did not acknowledge this row in run 1"), marked their snapshot rows unconfirmed, and counted them failed.
  // Seen failing before chunks.write_began: `Expected: 0, Received: 12` row errors. A write marks its chunk
  // begun before the destination is called (claimChunk); the settle takes a chunk never begun for never sent.
  const errors = async (id: string) =>
    (await t.db.query(`SELECT key, code, run_number FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key::int`, [id])).rows.map(
      (r) => `${r.key}:${r.code}:${r.run_number}`,
    );
  /** The keys of a chunk of the run, as its delta planned them. */
  const chunkKeys = async (runId: string, chunk: number): Promise<string[]> =>
    (
      await t.db.query(
        `SELECT d.key FROM syncline.chunks c JOIN syncline_work.${deltaName(runId)} d ON d.op = c.op AND d.seq BETWEEN abs(c.seq_from) AND abs(c.seq_to)
         WHERE c.run_id = $1 AND c.chunk = $2 ORDER BY d.key::int`,
        [runId, chunk],
      )
    ).rows.map((r) => r.key);
  const settledCounts = async (runId: string) =>
    (await t.db.query(`SELECT status, counts FROM syncline.runs WHERE id = $1`, [runId])).rows[0] as {
      status: string;
      counts: { ops: Record<string, { planned: number; succeeded: number; failed: number; unsent?: number }> };
    };

  test('nothing was sent: no row is listed NOT_ACKNOWLEDGED', async () => {
    const id = uniqueName('rev6_unsent');
    await model(id, 12);
    const cfg = config(id);
    const first = await startRun(t.d.deps, cfg, 1);
    expect((await computeDelta(t.d.deps, { runId: first })).chunks.length).toBe(3);
    // The settle the prepare of run 1 runs first; its record counts the rows planned and not sent, none failed.
    expect(await settleUnfinishedRuns(t.d.deps, id, 'run 1', 1)).toEqual([1]);
    const settled = await t.db.query(`SELECT status, counts FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id]);
    expect(settled.rows).toHaveLength(1);
    expect(settled.rows[0].status).toBe('cancelled');
    expect(settled.rows[0].counts.ops.upsert).toMatchObject({ planned: 12, succeeded: 0, failed: 0, unsent: 12 });
    await startRun(t.d.deps, cfg, 1);
    const listed = await t.db.query(`SELECT count(*)::int AS n FROM syncline.row_errors WHERE activation_id = $1`, [id]);
    expect(listed.rows[0].n).toBe(0);
  });

  test('a later run that wrote one chunk, one more begun unanswered, one never begun: only the begun one is listed and unconfirmed', async () => {
    const id = uniqueName('rev6_partly');
    await model(id, 12);
    const cfg = config(id);
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`UPDATE public.${id} SET name = name || ' v2'`);
    const run2 = await startRun(t.d.deps, cfg, 2);
    expect((await computeDelta(t.d.deps, { runId: run2 })).chunks.length).toBe(3);
    await writeChunk(t.d.deps, { runId: run2, chunk: 0 });
    // Chunk 1: its write began (marked as writeChunk marks it) and the worker died before any answer.
    await markWritesBegun(t.d.deps, run2, [1]);
    const begun = await chunkKeys(run2, 1);
    expect(begun).toHaveLength(5);
    // The workflow ended; the next run settles run 2.
    const run3 = await startRun(t.d.deps, cfg, 3);
    expect(await errors(id)).toEqual(begun.map((k) => `${k}:NOT_ACKNOWLEDGED:2`));
    const unconfirmed = await t.db.query(`SELECT key FROM syncline.snapshot WHERE activation_id = $1 AND unconfirmed ORDER BY key::int`, [
      id,
    ]);
    expect(unconfirmed.rows.map((r) => r.key)).toEqual(begun);
    const rec = await settledCounts(run2);
    expect(rec.status).toBe('cancelled');
    expect(rec.counts.ops.upsert).toMatchObject({ planned: 12, succeeded: 5, failed: 5, unsent: 2 });
    // Run 3 sends what run 2 did not write, the unanswered rows and the unsent ones.
    const delta3 = await computeDelta(t.d.deps, { runId: run3 });
    expect(delta3.planned).toEqual({ upsert: 7 });
    await writeAll(t.d.deps, run3, delta3.chunks);
    expect((await commitRun(t.d.deps, { runId: run3 })).status).toBe('success');
    expect(await errors(id)).toEqual([]);
    const dest = await t.db.query(`SELECT "values"->>'Name' AS name FROM test_dest.records WHERE object = $1 ORDER BY key::int`, [id]);
    expect(dest.rows.map((r) => r.name)).toEqual(Array.from({ length: 12 }, (_, i) => `Name ${i + 1} v2`));
  });

  test('a write that marks its chunk while the commit reads the marks: its rows are listed; one that marks it after finds no chunk', async () => {
    const id = uniqueName('rev6_markrace');
    await model(id, 12);
    const cfg = config(id);
    const runId = await startRun(t.d.deps, cfg, 1);
    expect((await computeDelta(t.d.deps, { runId })).chunks.length).toBe(3);
    const begun = await chunkKeys(runId, 1);
    // A write of chunk 1 (its activity timed out for the workflow, still running): the statement marking the
    // chunk begun has run, its transaction not yet committed, when the commit reads the marks.
    const writer = await t.db.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `UPDATE syncline.chunks SET write_began = true, seq_from = abs(seq_from), seq_to = abs(seq_to) WHERE run_id = $1 AND chunk = 1`,
        [runId],
      );
      const writerPid = (await writer.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const committing = commitRun(t.d.deps, { runId, error: { type: 'TIMEOUT', message: 'write timed out' } });
      await waitFor(
        'the commit waiting on the chunk the write marks',
        async () => {
          const r = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, [writerPid]);
          return r.rows[0].n > 0;
        },
        30_000,
        50,
      );
      await writer.query('COMMIT');
      const summary = await committing;
      expect(summary.ops.upsert).toMatchObject({ planned: 12, failed: 5, unsent: 7 });
    } finally {
      await writer.query('ROLLBACK').catch(() => undefined);
      writer.release();
    }
    expect(await errors(id)).toEqual(begun.map((k) => `${k}:NOT_ACKNOWLEDGED:1`));
    // A write that comes after the commit finds its chunk gone, and sends nothing.
    await expect(writeChunk(t.d.deps, { runId, chunk: 2 })).rejects.toThrow('chunk 2 of run 1');
    expect((await t.db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n).toBe(0);
  });

  test('a chunk of a release before the mark (write_began NULL) is still taken for a write possibly begun', async () => {
    const id = uniqueName('rev6_oldchunk');
    await model(id, 12);
    const cfg = config(id);
    const first = await startRun(t.d.deps, cfg, 1);
    await computeDelta(t.d.deps, { runId: first });
    // As a release before the mark plans it: no mark, its seq range as it is.
    await t.db.query(
      `UPDATE syncline.chunks SET write_began = NULL, seq_from = abs(seq_from), seq_to = abs(seq_to) WHERE run_id = $1 AND chunk = 2`,
      [first],
    );
    const old = await chunkKeys(first, 2);
    expect(old).toHaveLength(2);
    expect(await settleUnfinishedRuns(t.d.deps, id, 'run 1', 1)).toEqual([1]);
    expect(await errors(id)).toEqual(old.map((k) => `${k}:NOT_ACKNOWLEDGED:1`));
    const settled = await t.db.query(`SELECT counts FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id]);
    expect(settled.rows[0].counts.ops.upsert).toMatchObject({ planned: 12, failed: 2, unsent: 10 });
  });

  test("a plan's apply that began a chunk without an answer, superseded by a newer plan: the begun rows are listed, the others not", async () => {
    const id = uniqueName('rev6_planbegun');
    await model(id, 12);
    const cfg = config(id);
    const planRun = await startRun(t.d.deps, cfg, 1);
    const delta = await computeDelta(t.d.deps, { runId: planRun });
    await recordPlan(t.d.deps, { runId: planRun, planned: delta.planned, rejected: delta.rejected, heldDeletes: delta.heldDeletes });
    // The apply began chunk 0 and its worker died before any answer; a new plan (run 2) supersedes plan 1.
    await markWritesBegun(t.d.deps, planRun, [0]);
    const begun = await chunkKeys(planRun, 0);
    expect(begun).toHaveLength(5);
    const run2 = await startRun(t.d.deps, cfg, 2);
    const delta2 = await computeDelta(t.d.deps, { runId: run2 });
    await recordPlan(t.d.deps, { runId: run2, planned: delta2.planned, rejected: delta2.rejected, heldDeletes: delta2.heldDeletes });
    expect(await errors(id)).toEqual(begun.map((k) => `${k}:NOT_ACKNOWLEDGED:1`));
    expect((await settledCounts(planRun)).counts.ops.upsert).toMatchObject({ planned: 12, failed: 5, unsent: 7 });
  });
});

describe('a rolling deploy: a chunk this release planned, taken by a worker of the release before (no mark), review rev17', () => {
  // A worker of the release before (0.2.0 up to fccdcd8, without chunks.write_began) reads its chunk without
  // marking it begun. Before the fix it wrote the chunk's rows and, should it die before any answer was
  // recorded, the settle took the chunk for never sent (`unsent`: neither listed nor marked unconfirmed): an
  // Upsert row changed back before the next run was never sent again, a Mirror new key removed was never
  // deleted, an Insert record was made a second time. A chunk this release plans keeps its seq range hidden
  // (negated) until a write of this release claims it (db/chunks.ts): the release before's reads find no
  // row in it, and it ends the chunk without calling the destination. The run counts those rows not sent;
  // the next run, on this release, sends them.
  const errors = async (id: string) =>
    (await t.db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key::int`, [id])).rows.map(
      (r) => `${r.key}:${r.code}`,
    );
  const dest = async (id: string) =>
    (
      await t.db.query(`SELECT key, "values"->>'Name' AS name, writes FROM test_dest.records WHERE object = $1 ORDER BY key::int, id`, [id])
    ).rows.map((r) => `${r.key}=${r.name}:${r.writes}`);

  /**
   * A worker of the release before taking the write of `chunk`: what its activities/write.ts (`drive`) does,
   * statement by statement, on this schema. It reads the chunk without marking it (getChunk, a SELECT) and
   * counts the pending rows of its seq range (countChunk over `op = .. AND seq BETWEEN seq_from AND seq_to`);
   * with none it sets the chunk 'done' and answers 0 sent, 0 failed, without calling the destination. With
   * some it sends them, and the worker dies before any answer reaches the state: this release's write does
   * the sending here, and what it recorded is then undone (the release before marks nothing).
   */
  async function releaseBeforeWrite(runId: string, chunk: number): Promise<{ sent: number }> {
    const c = (await t.db.query(`SELECT * FROM syncline.chunks WHERE run_id = $1 AND chunk = $2`, [runId, chunk])).rows[0];
    const range = { op: c.op, from: c.seq_from, to: c.seq_to };
    const { pending } = await countChunk(t.d.deps.db, runId, range);
    if (pending === 0) {
      await setChunkStatus(t.d.deps.db, runId, chunk, 'done');
      return { sent: 0 };
    }
    await writeChunk(t.d.deps, { runId, chunk });
    await t.db.query(`UPDATE syncline.chunks SET write_began = $3, state = NULL, status = 'pending' WHERE run_id = $1 AND chunk = $2`, [
      runId,
      chunk,
      c.write_began,
    ]);
    await t.db.query(
      `UPDATE syncline_work.${deltaName(runId)} SET status = 'pending', code = NULL, message = NULL, retryable = NULL, result_id = NULL
       WHERE op = $1 AND seq BETWEEN $2 AND $3`,
      [c.op, c.seq_from, c.seq_to],
    );
    return { sent: pending };
  }

  test('Upsert: the old worker sends nothing of its chunk; its rows are counted not sent, and a row changed back is left as the model', async () => {
    const id = uniqueName('rev17_oldwriter');
    await model(id, 12);
    const cfg = config(id);
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`UPDATE public.${id} SET name = name || ' v2'`);
    const run2 = await startRun(t.d.deps, cfg, 2);
    expect((await computeDelta(t.d.deps, { runId: run2 })).chunks).toEqual([0, 1, 2]);
    // The old worker takes chunk 0 (keys 1-5); workers of this release write chunks 1 and 2.
    expect(await releaseBeforeWrite(run2, 0)).toEqual({ sent: 0 });
    expect((await dest(id)).slice(0, 5)).toEqual(Array.from({ length: 5 }, (_, i) => `${i + 1}=Name ${i + 1}:1`));
    await writeAll(t.d.deps, run2, [1, 2]);
    const s2 = await commitRun(t.d.deps, { runId: run2 });
    expect(s2.status).toBe('partial');
    expect(s2.ops.upsert).toMatchObject({ planned: 12, succeeded: 7, failed: 0, unsent: 5 });
    expect(await errors(id)).toEqual([]);
    // The model goes back before run 3: it sends keys 6-12 back; keys 1-5 were never sent and need nothing.
    await t.db.query(`UPDATE public.${id} SET name = replace(name, ' v2', '')`);
    const r3 = await fullRun(t.d.deps, cfg, 3);
    expect(r3.delta.planned).toEqual({ upsert: 7 });
    expect(r3.summary.status).toBe('success');
    expect(await dest(id)).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}=Name ${i + 1}:${i < 5 ? 1 : 3}`));
  });

  test('Upsert: the rows the old worker left are sent once by the next run', async () => {
    const id = uniqueName('rev17_oldnext');
    await model(id, 12);
    const cfg = config(id);
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`UPDATE public.${id} SET name = name || ' v2'`);
    const run2 = await startRun(t.d.deps, cfg, 2);
    expect((await computeDelta(t.d.deps, { runId: run2 })).chunks).toEqual([0, 1, 2]);
    expect(await releaseBeforeWrite(run2, 1)).toEqual({ sent: 0 });
    await writeAll(t.d.deps, run2, [0, 2]);
    expect((await commitRun(t.d.deps, { runId: run2 })).ops.upsert).toMatchObject({ planned: 12, succeeded: 7, unsent: 5 });
    const r3 = await fullRun(t.d.deps, cfg, 3);
    expect(r3.delta.planned).toEqual({ upsert: 5 });
    expect(r3.summary.status).toBe('success');
    expect(await dest(id)).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}=Name ${i + 1} v2:2`));
    expect(await errors(id)).toEqual([]);
  });

  test('Mirror: new keys the old worker took are not created; removed from the model, nothing is left to delete', async () => {
    const id = uniqueName('rev17_oldmirror');
    await model(id, 12);
    const cfg = config(id, 'mirror');
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`INSERT INTO public.${id} SELECT g::text, 'Name ' || g FROM generate_series(13, 15) g`);
    const run2 = await startRun(t.d.deps, cfg, 2);
    expect((await computeDelta(t.d.deps, { runId: run2 })).chunks).toEqual([0]);
    expect(await releaseBeforeWrite(run2, 0)).toEqual({ sent: 0 });
    expect(await dest(id)).toHaveLength(12);
    const s2 = await commitRun(t.d.deps, { runId: run2 });
    expect(Object.values(s2.ops).reduce((a, o) => a + (o.unsent ?? 0), 0)).toBe(3);
    expect(await errors(id)).toEqual([]);
    await t.db.query(`DELETE FROM public.${id} WHERE id::int > 12`);
    const r3 = await fullRun(t.d.deps, cfg, 3);
    expect(r3.delta.planned).toEqual({});
    expect(await dest(id)).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}=Name ${i + 1}:1`));
  });

  test('Insert: new rows the old worker took are created once, by the next run', async () => {
    const id = uniqueName('rev17_oldinsert');
    await model(id, 12);
    const cfg = config(id, 'insert');
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`INSERT INTO public.${id} SELECT g::text, 'Name ' || g FROM generate_series(13, 15) g`);
    const run2 = await startRun(t.d.deps, cfg, 2);
    expect((await computeDelta(t.d.deps, { runId: run2 })).chunks).toEqual([0]);
    expect(await releaseBeforeWrite(run2, 0)).toEqual({ sent: 0 });
    expect(await dest(id)).toHaveLength(12);
    expect((await commitRun(t.d.deps, { runId: run2 })).ops.create).toMatchObject({ planned: 3, succeeded: 0, unsent: 3 });
    const r3 = await fullRun(t.d.deps, cfg, 3);
    expect(r3.delta.planned).toEqual({ create: 3 });
    expect(await dest(id)).toEqual(Array.from({ length: 15 }, (_, i) => `${i + 1}=Name ${i + 1}:1`));
  });

  // A release since the mark but before the negated range (fccdcd8..392331d) claims the chunk (write_began
  // true) without restoring its range: it finds no pending row and sends nothing. Its rows were never sent.
  async function markedReleaseWrite(runId: string, chunk: number): Promise<{ sent: number }> {
    const c = (
      await t.db.query(`UPDATE syncline.chunks SET write_began = true WHERE run_id = $1 AND chunk = $2 RETURNING *`, [runId, chunk])
    ).rows[0];
    const { pending } = await countChunk(t.d.deps.db, runId, { op: c.op, from: c.seq_from, to: c.seq_to });
    expect(pending).toBe(0);
    await setChunkStatus(t.d.deps.db, runId, chunk, 'done');
    return { sent: 0 };
  }

  test('a worker of a release with the mark but not the hidden range claims the chunk and sends nothing: its rows are counted not sent, not listed', async () => {
    const id = uniqueName('rev18_midrelease');
    await model(id, 12);
    const cfg = config(id, 'insert');
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`INSERT INTO public.${id} SELECT g::text, 'Name ' || g FROM generate_series(13, 15) g`);
    const run2 = await startRun(t.d.deps, cfg, 2);
    expect((await computeDelta(t.d.deps, { runId: run2 })).chunks).toEqual([0]);
    expect(await markedReleaseWrite(run2, 0)).toEqual({ sent: 0 });
    expect(await dest(id)).toHaveLength(12);
    expect((await commitRun(t.d.deps, { runId: run2 })).ops.create).toMatchObject({ planned: 3, succeeded: 0, failed: 0, unsent: 3 });
    expect(await errors(id)).toEqual([]);
    const r3 = await fullRun(t.d.deps, cfg, 3);
    expect(r3.delta.planned).toEqual({ create: 3 });
    expect(await dest(id)).toEqual(Array.from({ length: 15 }, (_, i) => `${i + 1}=Name ${i + 1}:1`));
  });

  test('a chunk this release planned reads as no row to the release before, and as its rows once this release claims it', async () => {
    const id = uniqueName('rev17_hidden');
    await model(id, 12);
    const cfg = config(id);
    const runId = await startRun(t.d.deps, cfg, 1);
    await computeDelta(t.d.deps, { runId });
    const read = async () => (await t.db.query(`SELECT * FROM syncline.chunks WHERE run_id = $1 AND chunk = 2`, [runId])).rows[0];
    const before = await read();
    expect(before.write_began).toBe(false);
    expect(await countChunk(t.d.deps.db, runId, { op: before.op, from: before.seq_from, to: before.seq_to })).toMatchObject({ pending: 0 });
    const claimed = await claimChunk(t.d.deps.db, runId, 2);
    expect(claimed).toMatchObject({ write_began: true, row_count: 2 });
    expect(
      await countChunk(t.d.deps.db, runId, { op: claimed!.op as 'upsert', from: claimed!.seq_from, to: claimed!.seq_to }),
    ).toMatchObject({ pending: 2 });
    // The release before reads the claimed chunk as it is: a retry of this release's write that it takes
    // sends the rows of a chunk marked begun, which a settle lists (as for any write begun).
    expect(await read()).toMatchObject({ write_began: true, seq_from: claimed!.seq_from, seq_to: claimed!.seq_to });
  });
});

describe('an activation reset to before a run it had committed, while a later run was writing, review rev6', () => {
  // `temporal workflow reset --type FirstWorkflowTask` of an activation that continued-as-new goes back to the
  // run numbers of its current execution: run 1 (committed) is prepared again while run 2's earlier attempt,
  // cut off mid-write, still holds the destination's answers in its delta. Run 1's new attempt saw a snapshot
  // without them and sent those rows again (Insert: a second record), before run 2 was settled.
  test('the later run is settled first: the rows it wrote are not sent again, by run 1 nor by run 2', async () => {
    const id = uniqueName('rev6_rewind');
    await model(id, 12);
    const cfg = config(id, 'insert');
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`INSERT INTO public.${id} SELECT g::text, 'Name ' || g FROM generate_series(13, 24) g`);
    const run2 = await startRun(t.d.deps, cfg, 2);
    const delta2 = await computeDelta(t.d.deps, { runId: run2 });
    expect(delta2.chunks.length).toBe(3);
    await writeAll(t.d.deps, run2, delta2.chunks.slice(0, 1));
    // The reset: run 1, then run 2, run again.
    const again1 = await fullRun(t.d.deps, cfg, 1);
    expect(again1.delta.planned).toEqual({ create: 7 });
    const again2 = await fullRun(t.d.deps, cfg, 2);
    expect(again2.delta.planned).toEqual({});
    const dest = await t.db.query(
      `SELECT key, count(*)::int AS n, max(writes) AS w FROM test_dest.records WHERE object = $1 GROUP BY key`,
      [id],
    );
    expect(dest.rows).toHaveLength(24);
    expect(dest.rows.filter((r) => r.n !== 1 || r.w !== 1)).toEqual([]);
  });
});

describe('a row error of a key whose deletion the guard holds', () => {
  // Found by the chaos campaign (seed 20261207, schedule 6): rows left unacknowledged by a failed run, then
  // removed from the model with enough others that the guard held their deletions. Their errors said
  // "sent again next run" for good, yet no run sends a key that left the model: what stands is the held
  // deletion (held_deletes). Seen failing before the fix: three NOT_ACKNOWLEDGED errors after run 3.
  test('is cleared when the deletion is held; the key back in the model is sent again, as unconfirmed', async () => {
    const id = uniqueName('held_err');
    const table = `public.${id}`;
    await model(id, 20);
    const cfg = config(id, 'mirror');
    const errors = async () =>
      (await t.db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key::int`, [id])).rows.map(
        (r) => `${r.key}:${r.code}`,
      );
    await fullRun(t.d.deps, cfg, 1);
    // 2: keys 1-3 changed, planned, and the run ends before any answer: listed NOT_ACKNOWLEDGED.
    await t.db.query(`UPDATE ${table} SET name = name || ' v2' WHERE id IN ('1', '2', '3')`);
    await unanswered(cfg, 2);
    expect(await errors()).toEqual(['1:NOT_ACKNOWLEDGED', '2:NOT_ACKNOWLEDGED', '3:NOT_ACKNOWLEDGED']);
    // 3: keys 1-5 leave the model: 25 % of 20, over the guard's 10 %, so every deletion is held.
    await t.db.query(`DELETE FROM ${table} WHERE id::int <= 5`);
    const r3 = (await fullRun(t.d.deps, cfg, 3)).summary;
    expect(r3.ops.delete).toMatchObject({ planned: 5, held: 5 });
    expect(await errors()).toEqual([]);
    expect(
      (await t.db.query(`SELECT key FROM syncline.held_deletes WHERE activation_id = $1 ORDER BY key::int`, [id])).rows.map((r) => r.key),
    ).toEqual(['1', '2', '3', '4', '5']);
    // 4: the keys back as they were in run 2: 1-3 are sent again (their last write went unanswered), 4-5 are not.
    await t.db.query(
      `INSERT INTO ${table} SELECT g::text, 'Name ' || g || CASE WHEN g <= 3 THEN ' v2' ELSE '' END FROM generate_series(1, 5) g`,
    );
    const r4 = await fullRun(t.d.deps, cfg, 4);
    expect(r4.delta.planned).toEqual({ upsert: 3 });
    expect(r4.summary.status).toBe('success');
    expect(await errors()).toEqual([]);
    const dest = await t.db.query(
      `SELECT key, "values"->>'Name' AS name FROM test_dest.records WHERE object = $1 AND key::int <= 5 ORDER BY key::int`,
      [id],
    );
    expect(dest.rows.map((r) => `${r.key}=${r.name}`)).toEqual(['1=Name 1 v2', '2=Name 2 v2', '3=Name 3 v2', '4=Name 4', '5=Name 5']);
  });
});

describe('a held deletion of a new key sent without an answer, review rev7', () => {
  // b0d6d92 clears the row error of a key whose deletion the guard holds. A new key whose write went
  // unanswered has no snapshot row: its NOT_ACKNOWLEDGED error is the only mark of the record the lost write
  // may have made, and what makes the key count as removed (db/delta.ts, lost). Cleared, the next run no
  // longer sees the key, forgets its held deletion, and the approved deletion never deletes the record.
  test('approved, the deletion deletes the record the lost write made', async () => {
    const id = uniqueName('rev7_lost_held');
    await model(id, 20);
    const cfg = config(id, 'mirror');
    await fullRun(t.d.deps, cfg, 1);
    await t.db.query(`INSERT INTO public.${id} SELECT g::text, 'Name ' || g FROM generate_series(21, 23) g`);
    // Run 2's writes of keys 21-23 landed, their answers never came.
    await unanswered(cfg, 2, () =>
      t.db.query(
        `INSERT INTO test_dest.records (object, key, "values") SELECT $1, g::text, jsonb_build_object('Name', 'Name ' || g) FROM generate_series(21, 23) g`,
        [id],
      ),
    );
    // 3: the keys leave the model: 3 of 20 synced, over the guard's 10 %: held.
    await t.db.query(`DELETE FROM public.${id} WHERE id::int > 20`);
    const r3 = (await fullRun(t.d.deps, cfg, 3)).summary;
    expect(r3.ops.delete).toMatchObject({ planned: 3, held: 3 });
    expect(await approveHeld(t.d.deps.db, id, 3)).toBe(3);
    const r4 = await fullRun(t.d.deps, cfg, 4);
    expect(r4.delta.planned).toEqual({ delete: 3 });
    const dest = await t.db.query(`SELECT key FROM test_dest.records WHERE object = $1 ORDER BY key::int`, [id]);
    expect(dest.rows.map((r) => r.key)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    expect((await t.db.query(`SELECT key FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows).toEqual([]);
  });
});

describe('a run started again by a reset, its prepare retried after the settle, review rev7', () => {
  // The first attempt of the new execution's prepare settled the earlier attempt, then failed (a Postgres
  // restart, a worker killed) before it returned. Its retry finds nothing left to settle: before the fix it
  // answered without startedAgain, and the run's write children took the ids the reset execution's
  // children had, which may still be open (WorkflowExecutionAlreadyStarted failed the run).
  test('the retried prepare still says the run was started again', async () => {
    const id = uniqueName('rev7_prep_retry');
    await model(id, 12);
    const cfg = config(id);
    const first = await startRun(t.d.deps, cfg, 1);
    await computeDelta(t.d.deps, { runId: first });
    // The reset: the new execution's prepare, attempt 1, settles the earlier attempt, then fails.
    expect(await settleUnfinishedRuns(t.d.deps, id, 'run 1', 1)).toEqual([1]);
    const retried = await prepareRun(t.d.deps, { activationId: id, runNumber: 1, trigger: 'manual', full: false, config: cfg });
    expect(retried.startedAgain).toBe(true);
    // A prepare retried with nothing settled before it (no reset) is no run started again.
    const other = uniqueName('rev7_prep_plain');
    await model(other, 12);
    const cfg2 = config(other);
    await prepareRun(t.d.deps, { activationId: other, runNumber: 1, trigger: 'manual', full: false, config: cfg2 });
    const plain = await prepareRun(t.d.deps, { activationId: other, runNumber: 1, trigger: 'manual', full: false, config: cfg2 });
    expect(plain.startedAgain).toBeUndefined();
  });
});

describe('a new target while a run of the old one never committed (an activation terminated mid-run, started again with --retarget)', () => {
  // The start drops the old target's snapshot (acceptNewTarget, the workflow's first step after `start
  // --retarget`); the next prepare settles the run left running.
  // Settled as any unfinished run, its acknowledged rows entered the new target's empty snapshot: they were
  // written to the old object, and the new one never got them.
  test('what the old run wrote is not taken for written to the new target: the new target gets every row', async () => {
    const id = uniqueName('retarget_unsettled');
    await model(id, 12);
    const old = config(id);
    const runId = await startRun(t.d.deps, old, 1);
    const delta = await computeDelta(t.d.deps, { runId });
    await writeAll(t.d.deps, runId, delta.chunks); // written to the old object; the run never commits
    const moved = parsed({ ...old, destination: { ...old.destination, object: `${id}_new` } });
    await applyConfigUpdate(t.d.deps, { config: moved, retarget: true });
    await fullRun(t.d.deps, moved, 2);
    const count = async (object: string) =>
      (await t.db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [object])).rows[0].n;
    expect({ old: await count(id), new: await count(`${id}_new`) }).toEqual({ old: 12, new: 12 });
    // The run left running is closed, listing nothing against the new target.
    const run1 = await t.db.query(`SELECT status FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id]);
    expect(run1.rows[0].status).toBe('cancelled');
    const errors = await t.db.query(`SELECT count(*)::int AS n FROM syncline.row_errors WHERE activation_id = $1`, [id]);
    expect(errors.rows[0].n).toBe(0);
  });
});

describe('a new target accepted (forgetTargetState), from an independent review (rev16)', () => {
  const synced = async (id: string) =>
    Number((await t.db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n);

  // The old target's state was dropped in one transaction and the new version recorded in another: a failure
  // between the two (Postgres restarting, the activity timing out and failing its retries) left the state
  // dropped while the latest version still named the old target. The activation then carried on, or was
  // started again, with the old document as "the one it ran last" and nothing to refuse, from an empty
  // snapshot: every model row sent again to the old target (Insert: every record created twice). Here the
  // second statement fails on a reason Postgres cannot store (a NUL), standing for any failure after the first.
  test('the state is dropped only with the new version recorded: a failure of either leaves both as they were', async () => {
    const id = uniqueName('rev16_retarget_atomic');
    await model(id, 12);
    const old = config(id);
    await fullRun(t.d.deps, old, 1);
    expect(await synced(id)).toBe(12);
    const before = await latestConfigVersion(t.d.deps.db, id);
    const moved = parsed({ ...old, destination: { ...old.destination, object: `${id}_new` } });
    await expect(applyConfigUpdate(t.d.deps, { config: moved, retarget: true, reason: 'moved\u0000' })).rejects.toThrow();
    expect({ synced: await synced(id), version: (await latestConfigVersion(t.d.deps.db, id))?.version }).toEqual({
      synced: 12,
      version: before?.version,
    });
    // Retried, it does both.
    const r = await applyConfigUpdate(t.d.deps, { config: moved, retarget: true, reason: 'moved' });
    expect({ synced: await synced(id), forgotten: r.forgotten, version: r.version }).toEqual({
      synced: 0,
      forgotten: 12,
      version: before!.version + 1,
    });
  });

  // A commit of the old target's run (an activity of the terminated workflow still going) holding the run's
  // row when the new target is accepted: forgetTargetState read the run as running without a lock, waited for
  // the commit, then recorded the committed run "cancelled: never committed" (or deadlocked with it on the
  // work tables it drops). It now locks the runs first and leaves a run the commit finished alone.
  test('a run that commits while the new target is accepted keeps its committed record', async () => {
    const id = uniqueName('rev16_retarget_commit');
    await model(id, 12);
    const old = config(id);
    const runId = await startRun(t.d.deps, old, 1);
    let forgetting: Promise<number> | undefined;
    await t.d.deps.db.transaction().execute(async (tx) => {
      await lockRun(tx, runId);
      forgetting = forgetTargetState(t.d.deps.db, id);
      await new Promise((r) => setTimeout(r, 500));
      await tx.updateTable('syncline.runs').set({ status: 'success', finished_at: new Date() }).where('id', '=', runId).execute();
    });
    await forgetting;
    const run = await t.db.query(`SELECT status, error FROM syncline.runs WHERE id = $1`, [runId]);
    expect(run.rows[0]).toEqual({ status: 'success', error: null });
  });
});
