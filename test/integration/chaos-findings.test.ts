/**
 * Findings of the chaos campaign (docs/chaos.md), reduced to their smallest path and driven activity
 * by activity on the real Postgres with the test destination, so they replay exactly.
 *
 *   npx jest --selectProjects integration --testPathPatterns chaos-findings
 */
import type pg from 'pg';
import { env, sqlClient, startWorker, testClient, uniqueName, waitFor } from '../support/harness';
import { directDeps, fullRun, markWritesBegun, parsed, startRun, type DirectDeps } from '../support/runs';
import { emulatorAdmin } from '../support/emulator-admin';
import { computeDelta } from '../../activities/delta';
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { SynclineClient } from '../../client';
import type { RunSummary } from '../../common/run';
import { applyPlanUpdate, approveDeletesUpdate, planUpdate } from '../../workflows/messages';

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
    id,
    mode,
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
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
  await markWritesBegun(d.deps, runId);
  await db.query(`UPDATE test_dest.records SET "values" = jsonb_set("values", '{Name}', '"Changed"') WHERE object = $1 AND key = '3'`, [
    id,
  ]);

  await db.query(`UPDATE public.${id} SET name = 'Name 3' WHERE id = 3`);
  const run3 = await fullRun(d.deps, cfg, 3); // settles run 2 first
  const errors = (await db.query(`SELECT key, code, retryable FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows;
  expect({ destination: (await destination(id)).get('3'), sentByRun3: run3.summary.ops.upsert?.succeeded ?? 0, errors }).toEqual({
    destination: 'Name 3',
    sentByRun3: 1,
    errors: [],
  });
});

/**
 * Campaign seed 20261204, schedules 16 and 21 (Actito, Insert): a key was repeated in the model, then
 * unique again with the content it had been synced with. No run has anything to send for it, so the
 * row error "key … appears 2 times in the model" stays in `syncline errors` for good.
 */
test('a key repeated in the model, then unique again and unchanged: no row error says it is repeated', async () => {
  const id = uniqueName('dup_back');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 5) g`);
  const cfg = config(id, 'upsert');
  await fullRun(d.deps, cfg, 1);
  await db.query(`INSERT INTO public.${id} VALUES (3, 'Other')`);
  expect((await fullRun(d.deps, cfg, 2)).summary.rejected).toBe(2);
  await db.query(`DELETE FROM public.${id} WHERE name = 'Other'`);
  await fullRun(d.deps, cfg, 3);
  const errors = (await db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows;
  expect({ destination: (await destination(id)).get('3'), errors }).toEqual({ destination: 'Name 3', errors: [] });
});

/**
 * Campaign seed 11, schedule 25 (Salesforce, Upsert): one Collections request of run 3 took 67 s
 * (`slow` fault). The write activity heartbeats only between requests, so after its one-minute
 * heartbeat timeout Temporal started a second attempt, which wrote the chunk and let run 3 commit; run 4
 * then wrote newer values. The first attempt's request was still in flight in the worker: Salesforce
 * applied it afterwards and put run 3's values back over run 4's. Three records kept values the model
 * no longer had while the snapshot said otherwise; no later run sent them again. (Observed in the
 * worker log: attempt 1 of run 3's writeChunk failed at the end with `relation "syncline_work.d_274"
 * does not exist`, the run having committed long before.)
 */
test('Salesforce Collections: a request slower than the heartbeat timeout does not put old values back over a later run', async () => {
  const emu = await startSalesforceEmulator({ port: 0 });
  const taskQueue = uniqueName('tq_slow');
  const worker = await startWorker({
    taskQueue,
    connections: {
      sf: { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' },
    },
  });
  const client = await testClient();
  const syncline = new SynclineClient({ client, taskQueue });
  try {
    const id = uniqueName('slow_write');
    await db.query(`CREATE TABLE public.${id} AS SELECT 'S' || g AS id, 'Name ' || g AS name FROM generate_series(1, 5) g`);
    await syncline.start({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkThreshold: 1000 } },
      mappings: [{ from: 'name', to: 'LastName' }],
    });
    expect((await syncline.triggerSync(id)).status).toBe('success');

    // Run 2: its one Collections request is held 80 s, past the write activity's one-minute heartbeat timeout.
    await db.query(`UPDATE public.${id} SET name = 'Run 2' WHERE id = 'S1'`);
    await emulatorAdmin(emu.url, '/faults', {
      method: 'POST',
      body: JSON.stringify({ slow: { ms: 80_000, count: 1, paths: 'composite' } }),
    });
    expect((await syncline.triggerSync(id)).status).toBe('success');
    // Run 3 writes a newer value while run 2's first request is still held.
    await db.query(`UPDATE public.${id} SET name = 'Run 3' WHERE id = 'S1'`);
    expect((await syncline.triggerSync(id)).status).toBe('success');

    // Once the held request has been answered, Salesforce must still hold what the model says.
    await waitFor(
      'the held request to be answered',
      async () =>
        (await emulatorAdmin<{ requests: Array<{ durationMs: number }> }>(emu.url, '/requests')).requests.some(
          (r) => r.durationMs >= 80_000,
        ),
      120_000,
      1000,
    );
    const records = await emulatorAdmin<Array<Record<string, unknown>>>(emu.url, '/records/Contact');
    expect(records.find((r) => r.External_Id__c === 'S1')?.LastName).toBe('Run 3');
  } finally {
    await worker.stop();
    await client.connection.close();
    await emu.close();
  }
}, 300_000);

/**
 * Campaign seed 20261204, schedule 10 (Salesforce, Mirror; Temporal restarted five times): the caller's
 * approveDeletes for run 5 came back "refused: … has no deletions waiting for approval", yet the
 * activation's history shows the update accepted and completed, and run 6 (trigger `approval`) deleted
 * the 37 held records. A client retries an update with the same id when its answer is lost; the first
 * one had been served and the activation had continued as new, so the retry met the new execution, whose
 * state has no held deletions any more. The same request, sent twice with one update id:
 */
test('approveDeletes sent again with the same update id after it was served: the caller is not told it was refused', async () => {
  const taskQueue = uniqueName('tq_appr');
  const worker = await startWorker({ taskQueue });
  const client = await testClient();
  try {
    const id = uniqueName('appr_twice');
    await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
    await client.workflow.start('activationWorkflow', {
      taskQueue,
      workflowId: `activation/${id}`,
      args: [{ config: config(id, 'mirror') }],
    });
    const h = client.workflow.getHandle(`activation/${id}`);
    expect((await h.executeUpdate<RunSummary, [object]>('triggerSync', { args: [{}] })).status).toBe('success');
    await db.query(`DELETE FROM public.${id} WHERE id > 10`);
    const held = await h.executeUpdate<RunSummary, [object]>('triggerSync', { args: [{}] });
    expect(held.heldDeletes).toBe(10);
    const first = await h.executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }], updateId: `approve-${held.runNumber}` });
    expect(first.approved).toBe(10);
    expect((await destination(id)).size).toBe(10);
    const again = await h
      .executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }], updateId: `approve-${held.runNumber}` })
      .then(
        (r) => ({ approved: r.approved }),
        (e: Error) => ({ error: (e.cause as Error | undefined)?.message ?? e.message }),
      );
    expect(again).toEqual({ approved: 10 });
  } finally {
    await worker.stop();
    await client.connection.close();
  }
}, 120_000);

/** The same for apply: a retry of an apply already served (and continued past) gets the run it started. */
test('apply sent again with the same update id after it was served: the caller gets the run, not "already applied"', async () => {
  const taskQueue = uniqueName('tq_apply');
  const worker = await startWorker({ taskQueue });
  const client = await testClient();
  try {
    const id = uniqueName('apply_twice');
    await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
    await client.workflow.start('activationWorkflow', {
      taskQueue,
      workflowId: `activation/${id}`,
      args: [{ config: config(id, 'upsert') }],
    });
    const h = client.workflow.getHandle(`activation/${id}`);
    const { plan } = await h.executeUpdate(planUpdate, { args: [] });
    const first = await h.executeUpdate(applyPlanUpdate, { args: [{ plan }], updateId: `apply-${plan}` });
    expect({ status: first.status, run: first.runNumber }).toEqual({ status: 'success', run: plan });
    expect((await destination(id)).size).toBe(20);
    const again = await h.executeUpdate(applyPlanUpdate, { args: [{ plan }], updateId: `apply-${plan}` }).then(
      (r) => ({ status: r.status, run: r.runNumber }),
      (e: Error) => ({ error: (e.cause as Error | undefined)?.message ?? e.message }),
    );
    expect(again).toEqual({ status: 'success', run: plan });
    // Another apply (a new update id) of the same plan is still refused.
    await expect(h.executeUpdate(applyPlanUpdate, { args: [{ plan }] })).rejects.toThrow();
  } finally {
    await worker.stop();
    await client.connection.close();
  }
}, 120_000);

/**
 * Campaign seed 20261205, schedule 76 (Salesforce, Mirror): run 4 was cut short after sending new keys
 * (NOT_ACKNOWLEDGED, "sent again next run"); the keys then left the model. Nothing sent them again and
 * nothing cleared their errors, and in Mirror a record the lost write may have created stayed behind:
 * in neither the model nor the snapshot, no run would ever delete it.
 */
describe('a new key sent without an answer, then gone from the model', () => {
  async function lostWrite(mode: string, landed: boolean) {
    const id = uniqueName(`unack_gone_${mode}`);
    await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
    const cfg = config(id, mode);
    await fullRun(d.deps, cfg, 1);
    await db.query(`INSERT INTO public.${id} VALUES (11, 'Name 11')`);
    const runId = await startRun(d.deps, cfg, 2);
    await computeDelta(d.deps, { runId });
    // Run 2's write of key 11 reached the destination (or not), its answer never came, run 2 never committed.
    await markWritesBegun(d.deps, runId);
    if (landed) await db.query(`INSERT INTO test_dest.records (object, key, "values") VALUES ($1, '11', '{"Name": "Name 11"}')`, [id]);
    await db.query(`DELETE FROM public.${id} WHERE id = 11`);
    await fullRun(d.deps, cfg, 3); // settles run 2: key 11 NOT_ACKNOWLEDGED
    await fullRun(d.deps, cfg, 4);
    const errors = (await db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows;
    return { records: [...(await destination(id)).keys()].sort((a, b) => Number(a) - Number(b)), errors };
  }
  const ten = Array.from({ length: 10 }, (_, i) => String(i + 1));

  test('Mirror: the record the lost write created is deleted, and no error waits for a retry', async () => {
    expect(await lostWrite('mirror', true)).toEqual({ records: ten, errors: [] });
    expect(await lostWrite('mirror', false)).toEqual({ records: ten, errors: [] });
  });

  test('Upsert: nothing is deleted (not Mirror), and no error waits for a retry that will never come', async () => {
    expect(await lostWrite('upsert', true)).toEqual({ records: [...ten, '11'], errors: [] });
  });
});

/**
 * Campaign seed 20261205, schedule 109 (Salesforce, Upsert): run 2's write of K00068 landed without an
 * answer (the run was cut short by a mapping change), then the key was repeated in the model. The
 * rejection (MODEL_DUPLICATE_KEY) took the key's one row error, so the mark "not acknowledged, send
 * again" was gone: once the key is unique again with its synced content, nothing sends it, and the
 * destination keeps the lost write.
 */
test('a write never acknowledged, then the key repeated and unique again with its synced content: it is sent again', async () => {
  const id = uniqueName('unack_dup');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const cfg = config(id, 'upsert');
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = 'Changed' WHERE id = 3`);
  const runId = await startRun(d.deps, cfg, 2);
  await computeDelta(d.deps, { runId });
  // Run 2's write reached the destination, its answer never came back, run 2 never committed.
  await markWritesBegun(d.deps, runId);
  await db.query(`UPDATE test_dest.records SET "values" = jsonb_set("values", '{Name}', '"Changed"') WHERE object = $1 AND key = '3'`, [
    id,
  ]);
  await db.query(`UPDATE public.${id} SET name = 'Name 3' WHERE id = 3`);
  await db.query(`INSERT INTO public.${id} VALUES (3, 'Other')`);
  expect((await fullRun(d.deps, cfg, 3)).summary.rejected).toBe(2); // settles run 2; key 3 repeated
  await db.query(`DELETE FROM public.${id} WHERE name = 'Other'`);
  await fullRun(d.deps, cfg, 4);
  const errors = (await db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows;
  expect({ destination: (await destination(id)).get('3'), errors }).toEqual({ destination: 'Name 3', errors: [] });
});

/**
 * Campaign seed 20261205, schedule 176 (Actito, Upsert): run 2's write of K00068 failed for good (a name
 * over the attribute's length); the row then went back to the content run 1 had synced. Nothing needs
 * sending and the destination holds what the model says, but the error stayed in `syncline errors`.
 */
test('a permanent failure, then the row back to its synced content: no error stays', async () => {
  const id = uniqueName('fail_back');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const cfg = config(id, 'upsert');
  await fullRun(d.deps, cfg, 1);
  await db.query(`UPDATE public.${id} SET name = 'Too long' WHERE id = 3`);
  await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable, times) VALUES ($1, '3', 'VALUE_TOO_LONG', false, 1)`, [id]);
  expect((await fullRun(d.deps, cfg, 2)).summary.ops.upsert).toMatchObject({ failed: 1 });
  await db.query(`UPDATE public.${id} SET name = 'Name 3' WHERE id = 3`);
  await fullRun(d.deps, cfg, 3);
  const errors = (await db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows;
  expect({ destination: (await destination(id)).get('3'), errors }).toEqual({ destination: 'Name 3', errors: [] });
});
