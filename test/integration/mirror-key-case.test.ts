/**
 * Mirror must not delete the record of a model row that is still there. A Salesforce External ID text field
 * matches case-insensitively (unless it is case sensitive): a model key whose case changed ('K-1' → 'k-1')
 * is, for syncline, one key removed and one added, and for Salesforce one record. The delete of the old key
 * must not take the record the new key's upsert writes.
 *
 *   npx jest --selectProjects integration --testPathPatterns mirror-key-case
 */
import { describeRun, type RunSummary } from '../../common/run';
import { env, uniqueName } from '../support/harness';
import { directDeps, markWritesBegun, parsed, startRun, type DirectDeps } from '../support/runs';
import { computeDelta } from '../../activities/delta';
import { commitRun } from '../../activities/commit';
import { pollChunk, writeChunk } from '../../activities/write';
import { salesforceConnector } from '../../connectors/salesforce';
import { emulatorAdmin } from '../support/emulator-admin';
import { salesforceStage } from '../support/salesforce-stage';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { deltaName } from '../../db/work-tables';

const stage = salesforceStage('tq_sfcase');
const { contacts: live, sync } = stage;

test.each([
  ['its delete answered after the upsert', true],
  ['its delete answered first', false],
])(
  'a key whose case changed (%s): the record stays, carrying the new key, and is not deleted',
  async (_order, slowDelete) => {
    const rows = 40;
    const id = uniqueName('sf_case');
    const prefix = id.toUpperCase();
    const table = `public.${id}`;
    await stage.db.query(`CREATE TABLE ${table} (id text, last_name text)`);
    await stage.db.query(`INSERT INTO ${table} SELECT '${prefix}-' || g, 'Last ' || g FROM generate_series(1, ${rows}) g`);
    const config = {
      id,
      mode: 'mirror',
      schedule: { manual: true },
      source: { table, key: 'id' },
      destination: {
        kind: 'salesforce',
        connection: 'sf',
        object: 'Contact',
        key: 'External_Id__c',
        options: { bulkPollMs: 0 },
      },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
      ],
    };
    await stage.client.workflow.start(WORKFLOW_TYPES.activation, {
      taskQueue: stage.taskQueue,
      workflowId: activationWorkflowId(id),
      args: [{ config }],
    });
    expect((await sync(id)).status).toBe('success');
    expect(await live(prefix)).toHaveLength(rows);

    // Three keys change case only (within the guard: 3 of the synced rows); their rows stay in the model.
    const changed = [1, 2, 3].map((g) => `${prefix}-${g}`);
    await stage.db.query(`UPDATE ${table} SET id = lower(id), last_name = last_name || ' v2' WHERE id = ANY($1)`, [changed]);
    const before = new Map((await live(prefix)).map((r) => [String(r.External_Id__c).toLowerCase(), r.Id]));
    // The Collections delete (DELETE …/composite/sobjects?ids=) answered after the upserts (…/composite/sobjects/Contact/…).
    if (slowDelete)
      await emulatorAdmin(stage.emu.url, '/faults', {
        method: 'POST',
        body: JSON.stringify({ slow: { ms: 1500, count: 1, paths: 'composite .*/composite/sobjects$' } }),
      });
    const r2 = await sync(id);
    await emulatorAdmin(stage.emu.url, '/faults', { method: 'DELETE' });
    expect(r2.status).toBe('success');
    // Settled without a call: counted kept (not done: nothing was deleted), and the row log says why.
    expect(r2.ops.delete).toEqual({ planned: 3, succeeded: 0, failed: 0, skipped: 0, held: 0, kept: 3 });
    expect(describeRun(r2)).toContain('delete 3 (0 ok, 3 kept)');
    const logged = (
      await stage.db.query<{ key: string; outcome: string; message: string }>(
        `SELECT key, outcome, message FROM syncline.row_changes WHERE activation_id = $1 AND run_number = $2 AND op = 'delete' ORDER BY key`,
        [id, r2.runNumber],
      )
    ).rows;
    expect(logged).toEqual(
      changed.map((c) => ({
        key: c,
        outcome: 'kept',
        message: `not deleted: the model still has key "${c.toLowerCase()}", which differs from it only in case, and the destination takes both for one record`,
      })),
    );

    const model = (await stage.db.query<{ id: string; last_name: string }>(`SELECT id, last_name FROM ${table} ORDER BY id`)).rows;
    // The External ID keeps the case it was written with (the emulator's upsert does not rewrite it): compared without case.
    const got = (await live(prefix)).map((r) => ({ id: String(r.External_Id__c).toLowerCase(), last_name: r.LastName }));
    const byKey = (xs: Array<{ id: unknown }>) => [...xs].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    // Every model row has its record: none of the three was deleted.
    expect({
      count: got.length,
      missing: model.filter((m) => !got.some((g) => String(g.id).toLowerCase() === m.id.toLowerCase())).map((m) => m.id),
    }).toEqual({
      count: rows,
      missing: [],
    });
    expect(byKey(got).filter((g) => changed.some((c) => c.toLowerCase() === String(g.id).toLowerCase()))).toEqual(
      byKey(model.filter((m) => changed.some((c) => c.toLowerCase() === m.id))),
    );
    // The same records (not deleted and created again), and the snapshot names them.
    const after = await live(prefix);
    expect(changed.map((c) => after.find((r) => String(r.External_Id__c).toLowerCase() === c.toLowerCase())?.Id)).toEqual(
      changed.map((c) => before.get(c.toLowerCase())),
    );
    const snap = (
      await stage.db.query<{ key: string; destination_id: string }>(
        `SELECT key, destination_id FROM syncline.snapshot WHERE activation_id = $1 AND lower(key) = ANY($2) ORDER BY key`,
        [id, changed.map((c) => c.toLowerCase())],
      )
    ).rows;
    expect(snap).toEqual(changed.map((c) => ({ key: c.toLowerCase(), destination_id: before.get(c.toLowerCase()) })));
    // And the next run, with nothing changed, sends nothing and still finds them there.
    const r3 = await sync(id);
    expect(Object.values(r3.ops).reduce((n, o) => n + o.planned, 0)).toBe(0);
    expect(await live(prefix)).toHaveLength(rows);
    // Removed for good (no variant left in the model): deleted.
    await stage.db.query(`DELETE FROM ${table} WHERE id = ANY($1)`, [changed.map((c) => c.toLowerCase())]);
    const r4 = await sync(id);
    expect(r4.ops.delete).toMatchObject({ planned: 3, succeeded: 3, failed: 0 });
    expect(await live(prefix)).toHaveLength(rows - 3);
  },
  120_000,
);

// The record of a removed key is the variant's only while the variant's write is acknowledged: refused (a
// validation rule), the record still exists with the old key's values, and no snapshot row but the old key's
// stands for it. The old key stays in the snapshot until the variant is written: removed from the model later,
// the record is deleted; written later, the variant takes it over.
test('a key whose case changed, its new variant refused by the destination: the old key stays synced until the variant is written, so removing the row later deletes its record', async () => {
  const rows = 40;
  const id = uniqueName('sf_case_ref');
  const prefix = id.toUpperCase();
  const table = `public.${id}`;
  await stage.db.query(`CREATE TABLE ${table} (id text, last_name text)`);
  await stage.db.query(`INSERT INTO ${table} SELECT '${prefix}-' || g, 'Last ' || g FROM generate_series(1, ${rows}) g`);
  const config = {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { table, key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'last_name', to: 'LastName' },
    ],
  };
  await stage.client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: stage.taskQueue,
    workflowId: activationWorkflowId(id),
    args: [{ config }],
  });
  expect((await sync(id)).status).toBe('success');
  const ids = new Map((await live(prefix)).map((r) => [String(r.External_Id__c), String(r.Id)]));
  const [k1, k2, k3] = [1, 2, 3].map((g) => `${prefix}-${g}`) as [string, string, string];
  const snapshot = async () =>
    (
      await stage.db.query<{ key: string; destination_id: string }>(
        `SELECT key, destination_id FROM syncline.snapshot WHERE activation_id = $1 AND lower(key) = ANY($2) ORDER BY key COLLATE "C"`,
        [id, [k1, k2, k3].map((k) => k.toLowerCase())],
      )
    ).rows;
  const record = async (key: string) => (await live(prefix)).find((r) => String(r.External_Id__c).toLowerCase() === key.toLowerCase());

  // Three keys change case; the destination refuses the new values of two of them (k-1, k-2).
  await stage.db.query(`UPDATE ${table} SET id = lower(id), last_name = last_name || ' v2' WHERE id = ANY($1)`, [[k1, k2, k3]]);
  await emulatorAdmin(stage.emu.url, '/faults', {
    method: 'POST',
    body: JSON.stringify({ validationRule: { object: 'Contact', field: 'LastName', values: ['Last 1 v2', 'Last 2 v2'] } }),
  });
  const r2 = await sync(id);
  expect(r2.status).toBe('partial');
  expect(r2.ops.upsert).toMatchObject({ planned: 3, succeeded: 1, failed: 2 });
  expect(r2.ops.delete).toMatchObject({ planned: 3, succeeded: 0, failed: 0, kept: 3 });
  // The row log says which kept keys still stand for their record, and until when.
  const kept = (
    await stage.db.query<{ key: string; outcome: string; message: string }>(
      `SELECT key, outcome, message FROM syncline.row_changes WHERE activation_id = $1 AND run_number = $2 AND op = 'delete' ORDER BY key COLLATE "C"`,
      [id, r2.runNumber],
    )
  ).rows;
  const why = (k: string) =>
    `not deleted: the model still has key "${k.toLowerCase()}", which differs from it only in case, and the destination takes both for one record`;
  const until = (k: string) =>
    `; "${k.toLowerCase()}" is not written yet: the record stays synced under this key until it is, and is deleted if no such key is left in the model`;
  expect(kept).toEqual([
    { key: k1, outcome: 'kept', message: why(k1) + until(k1) },
    { key: k2, outcome: 'kept', message: why(k2) + until(k2) },
    { key: k3, outcome: 'kept', message: why(k3) },
  ]);
  // The records of K-1 and K-2 still exist, with their old values; the snapshot still names them under K-1 and K-2.
  expect(await live(prefix)).toHaveLength(rows);
  expect((await record(k1))?.LastName).toBe('Last 1');
  expect(await snapshot()).toEqual([
    { key: k1, destination_id: ids.get(k1) },
    { key: k2, destination_id: ids.get(k2) },
    { key: k3.toLowerCase(), destination_id: ids.get(k3) },
  ]);

  // Next run, nothing changed: the refused rows are skipped, the old keys still kept, nothing deleted.
  const r3 = await sync(id);
  expect(r3.ops.upsert).toMatchObject({ planned: 2, skipped: 2 });
  expect(r3.ops.delete).toMatchObject({ planned: 2, succeeded: 0, failed: 0, held: 0, kept: 2 });
  expect(await live(prefix)).toHaveLength(rows);
  expect((await snapshot()).map((s) => s.key)).toEqual([k1, k2, k3.toLowerCase()]);

  // The user removes k-1 from the model and fixes k-2 (the rule gone): K-1's record is deleted, k-2 takes over K-2's.
  await emulatorAdmin(stage.emu.url, '/faults', { method: 'DELETE' });
  await stage.db.query(`DELETE FROM ${table} WHERE id = $1`, [k1.toLowerCase()]);
  await stage.db.query(`UPDATE ${table} SET last_name = 'Last 2 v3' WHERE id = $1`, [k2.toLowerCase()]);
  const r4 = await sync(id);
  expect(r4.status).toBe('success');
  expect(r4.ops.upsert).toMatchObject({ planned: 1, succeeded: 1, failed: 0 });
  // K-1 deleted; K-2 kept, and this time its variant is written: it leaves the snapshot.
  expect(r4.ops.delete).toMatchObject({ planned: 2, succeeded: 1, failed: 0, held: 0, kept: 1 });
  expect(await record(k1)).toBeUndefined();
  expect(await live(prefix)).toHaveLength(rows - 1);
  expect(await record(k2)).toMatchObject({ Id: ids.get(k2), LastName: 'Last 2 v3' });
  expect(await snapshot()).toEqual([
    { key: k2.toLowerCase(), destination_id: ids.get(k2) },
    { key: k3.toLowerCase(), destination_id: ids.get(k3) },
  ]);

  // And k-2 removed for good: its record (K-2's) is deleted too.
  await stage.db.query(`DELETE FROM ${table} WHERE id = $1`, [k2.toLowerCase()]);
  const r5 = await sync(id);
  expect(r5.ops.delete).toMatchObject({ planned: 1, succeeded: 1, failed: 0 });
  expect(await record(k2)).toBeUndefined();
  expect(await live(prefix)).toHaveLength(rows - 2);
}, 120_000);

describe('driven activity by activity: the variant written without an answer', () => {
  let d: DirectDeps;
  beforeAll(async () => {
    const sf = {
      auth: 'client_credentials',
      loginUrl: stage.emu.url,
      clientId: 'syncline-demo-client',
      clientSecret: 'syncline-demo-secret',
    };
    d = await directDeps(env().databaseUrl, { connections: { sf } });
    d.deps.connectors.set(salesforceConnector.kind, salesforceConnector);
  });
  afterAll(async () => {
    await d?.close();
  });

  async function writeAndPoll(runId: string, chunks: number[]): Promise<void> {
    for (const chunk of chunks) {
      let r = await writeChunk(d.deps, { runId, chunk });
      while (r.status === 'pending') r = await pollChunk(d.deps, { runId, chunk, handle: r.handle! });
    }
  }
  async function run(cfg: ReturnType<typeof parsed>, n: number): Promise<RunSummary> {
    const runId = await startRun(d.deps, cfg, n);
    await writeAndPoll(runId, (await computeDelta(d.deps, { runId })).chunks);
    return commitRun(d.deps, { runId });
  }

  // Run 2 sends the upsert of k-1 and gets no answer (a worker lost, a timeout) and commits: k-1 is listed
  // NOT_ACKNOWLEDGED, without a snapshot row. K-1 must stay synced. Then either k-1 is written (run 3: it takes the
  // record over) or removed from the model (run 3: the record is deleted, by K-1's Id and k-1's key).
  test.each([
    ['written by the next run: it takes the record over', false],
    ['removed from the model before the next run: the record is deleted', true],
  ])(
    'k-1 %s',
    async (_what, removed) => {
      const rows = 10;
      const id = uniqueName('sf_case_unack');
      const prefix = id.toUpperCase();
      await stage.db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
      await stage.db.query(`INSERT INTO public.${id} SELECT $1 || '-' || g, 'Last ' || g FROM generate_series(1, $2::int) g`, [
        prefix,
        rows,
      ]);
      const cfg = parsed({
        id,
        mode: 'mirror',
        schedule: { manual: true },
        source: { table: `public.${id}`, key: 'id' },
        destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
        mappings: [
          { from: 'id', to: 'External_Id__c' },
          { from: 'last_name', to: 'LastName' },
        ],
        // Removed, k-1 makes two deletions of one record (K-1's by its Id, the lost write's by key): 2 of 10 synced rows.
        deletionGuard: { maxDeletePercent: 20 },
      });
      expect((await run(cfg, 1)).status).toBe('success');
      const k1 = `${prefix}-1`;
      const recordId = (await live(prefix)).find((r) => r.External_Id__c === k1)?.Id;
      expect(recordId).toBeDefined();

      await stage.db.query(`UPDATE public.${id} SET id = lower(id), last_name = 'Last 1 v2' WHERE id = $1`, [k1]);
      const runId = await startRun(d.deps, cfg, 2);
      const delta = await computeDelta(d.deps, { runId });
      expect(delta.planned).toEqual({ upsert: 1 });
      await markWritesBegun(d.deps, runId); // sent, no answer
      const r2 = await commitRun(d.deps, { runId });
      expect(r2.ops).toMatchObject({ upsert: { planned: 1, failed: 1 }, delete: { planned: 1, succeeded: 0, kept: 1 } });
      const state = async () => ({
        snapshot: (
          await stage.db.query(`SELECT key, destination_id FROM syncline.snapshot WHERE activation_id = $1 AND lower(key) = lower($2)`, [
            id,
            k1,
          ])
        ).rows,
        errors: (await stage.db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key COLLATE "C"`, [id]))
          .rows,
      });
      expect(await state()).toEqual({
        snapshot: [{ key: k1, destination_id: recordId }],
        errors: [{ key: k1.toLowerCase(), code: 'NOT_ACKNOWLEDGED' }],
      });
      expect(await live(prefix)).toHaveLength(rows);

      if (removed) await stage.db.query(`DELETE FROM public.${id} WHERE id = $1`, [k1.toLowerCase()]);
      const r3 = await run(cfg, 3);
      expect(r3.status).toBe('success');
      if (removed) {
        // Both keys removed, neither the other's variant: K-1 deleted by its Id, k-1 (a lost write) by key.
        expect(r3.ops.delete).toMatchObject({ planned: 2, succeeded: 2, failed: 0 });
        expect(await live(prefix)).toHaveLength(rows - 1);
        expect(await state()).toEqual({ snapshot: [], errors: [] });
      } else {
        expect(r3.ops).toMatchObject({ upsert: { planned: 1, succeeded: 1 }, delete: { planned: 1, succeeded: 0, kept: 1 } });
        const after = await live(prefix);
        expect(after).toHaveLength(rows);
        expect(after.find((r) => String(r.External_Id__c).toLowerCase() === k1.toLowerCase())).toMatchObject({
          Id: recordId,
          LastName: 'Last 1 v2',
        });
        expect(await state()).toEqual({ snapshot: [{ key: k1.toLowerCase(), destination_id: recordId }], errors: [] });
      }
      // Nothing left to do either way.
      const r4 = await run(cfg, 4);
      expect(Object.values(r4.ops).reduce((n, o) => n + o.planned, 0)).toBe(0);
    },
    60_000,
  );

  // Run 2's upsert of k-1 reaches Salesforce (the record now holds k-1's values) but its answer is lost: k-1 is
  // NOT_ACKNOWLEDGED, K-1 kept. Then the user puts K-1 back as it was (run 3): the record must get K-1's values
  // again. K-1's snapshot row, kept as it was, said the record still held them: run 3 sent nothing (rev23).
  test('k-1 written without an answer, then K-1 put back as it was: the next run writes K-1 again', async () => {
    const rows = 10;
    const id = uniqueName('sf_case_back');
    const prefix = id.toUpperCase();
    await stage.db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
    await stage.db.query(`INSERT INTO public.${id} SELECT $1 || '-' || g, 'Last ' || g FROM generate_series(1, $2::int) g`, [prefix, rows]);
    const cfg = parsed({
      id,
      mode: 'mirror',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
      ],
      deletionGuard: { maxDeletePercent: 20 },
    });
    expect((await run(cfg, 1)).status).toBe('success');
    const k1 = `${prefix}-1`;
    const recordId = (await live(prefix)).find((r) => r.External_Id__c === k1)?.Id;
    expect(recordId).toBeDefined();

    await stage.db.query(`UPDATE public.${id} SET id = lower(id), last_name = 'Last 1 v2' WHERE id = $1`, [k1]);
    const runId = await startRun(d.deps, cfg, 2);
    const delta = await computeDelta(d.deps, { runId });
    expect(delta.planned).toEqual({ upsert: 1 });
    // Sent for real, Salesforce writes k-1 into K-1's record; its answer is lost (the worker died before it
    // recorded it): the row is pending again, as if never answered.
    await writeAndPoll(runId, delta.chunks);
    const record = async () => (await live(prefix)).find((r) => r.Id === recordId);
    expect(await record()).toMatchObject({ LastName: 'Last 1 v2' });
    await stage.db.query(`UPDATE syncline_work.${deltaName(runId)} SET status = 'pending', result_id = NULL WHERE key = $1`, [
      k1.toLowerCase(),
    ]);
    const r2 = await commitRun(d.deps, { runId });
    expect(r2.ops).toMatchObject({ upsert: { planned: 1, succeeded: 0 }, delete: { planned: 1, kept: 1 } });
    expect((await stage.db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows).toEqual([
      { key: k1.toLowerCase(), code: 'NOT_ACKNOWLEDGED' },
    ]);

    // The user puts K-1 back as it was.
    await stage.db.query(`UPDATE public.${id} SET id = upper(id), last_name = 'Last 1' WHERE id = $1`, [k1.toLowerCase()]);
    const r3 = await run(cfg, 3);
    expect(r3.status).toBe('success');
    expect(await live(prefix)).toHaveLength(rows);
    expect(await record()).toMatchObject({ External_Id__c: k1, LastName: 'Last 1' });
    const snapshot = await stage.db.query(
      `SELECT key, destination_id FROM syncline.snapshot WHERE activation_id = $1 AND lower(key) = lower($2)`,
      [id, k1],
    );
    expect(snapshot.rows).toEqual([{ key: k1, destination_id: recordId }]);
    const r4 = await run(cfg, 4);
    expect(Object.values(r4.ops).reduce((n, o) => n + o.planned, 0)).toBe(0);
  }, 60_000);
});
