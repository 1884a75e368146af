/**
 * Two model keys that differ only in case ('K-1' and 'k-1') are one record where the destination's key ignores case
 * (a Salesforce External ID, unless case sensitive): both upserted, the last write won, and which one could change
 * from run to run. They are rejected as a repeated key is: neither sent nor deleted, each listed naming the other.
 *
 *   npx jest --selectProjects integration --testPathPatterns key-case-duplicates
 */
import { env, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, type DirectDeps } from '../support/runs';
import { salesforceConnector } from '../../connectors/salesforce';
import { salesforceStage } from '../support/salesforce-stage';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';

const stage = salesforceStage('tq_sfcasedup');
const { contacts: live, sync } = stage;
type Rec = Record<string, unknown>;

const why = (key: string, others: string[], rows: number) =>
  `key "${key}" differs only in case from ${others.map((o) => `"${o}"`).join(', ')} in the model (column "id"), and the destination's key ignores case: ` +
  `these ${rows} rows would write one record; none of them was sent. Make the key unique ignoring case, or make the destination's key field ` +
  `"External_Id__c" case-sensitive.`;

test('two model keys differing only in case: neither is sent nor deleted, both are listed; the record synced under one keeps its values until the model is fixed', async () => {
  const rows = 10;
  const id = uniqueName('sf_casedup');
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
  expect(ids.size).toBe(rows);
  const k1 = `${prefix}-1`;
  const k1Lower = k1.toLowerCase();
  const [x1, x2] = [`${prefix}-X`, `${prefix.toLowerCase()}-x`];

  // The model gains 'k-1' beside the synced 'K-1', and a new pair 'K-X' / 'k-x'; and 'K-2' is replaced by two
  // spellings of it ('k-2', 'Kk-2'): K-2 is removed, but its record is theirs (not deleted), and they are rejected.
  const k2 = `${prefix}-2`;
  const [v1, v2] = [k2.toLowerCase(), k2[0] + k2.slice(1).toLowerCase()];
  await stage.db.query(`INSERT INTO ${table} VALUES ($1, 'Other 1'), ($2, 'Other X'), ($3, 'Another X'), ($4, 'Last 2 v2')`, [
    k1Lower,
    x1,
    x2,
    v2,
  ]);
  await stage.db.query(`UPDATE ${table} SET id = $2 WHERE id = $1`, [k2, v1]);
  const state = async () => ({
    records: (await live(prefix))
      .map((r) => ({ key: String(r.External_Id__c), id: String(r.Id), last_name: r.LastName }))
      .sort((a, b) => (a.key < b.key ? -1 : 1)),
    snapshot: (
      await stage.db.query<{ key: string }>(`SELECT key FROM syncline.snapshot WHERE activation_id = $1 ORDER BY key COLLATE "C"`, [id])
    ).rows.map((r) => r.key),
    errors: (
      await stage.db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key COLLATE "C"`, [id])
    ).rows,
  });
  const synced = Array.from({ length: rows }, (_, i) => `${prefix}-${i + 1}`).sort();
  const untouched = {
    records: synced.map((k, i) => ({ key: k, id: ids.get(k), last_name: `Last ${synced[i]!.slice(prefix.length + 1)}` })),
    snapshot: synced,
    errors: [
      { key: k1, code: 'MODEL_DUPLICATE_KEY', message: why(k1, [k1Lower], 2) },
      { key: x1, code: 'MODEL_DUPLICATE_KEY', message: why(x1, [x2], 2) },
      { key: v2, code: 'MODEL_DUPLICATE_KEY', message: why(v2, [v1], 2) },
      { key: k1Lower, code: 'MODEL_DUPLICATE_KEY', message: why(k1Lower, [k1], 2) },
      { key: v1, code: 'MODEL_DUPLICATE_KEY', message: why(v1, [v2], 2) },
      { key: x2, code: 'MODEL_DUPLICATE_KEY', message: why(x2, [x1], 2) },
    ],
  };
  const r2 = await sync(id);
  expect({ rejected: r2.rejected, upsert: r2.ops.upsert?.planned ?? 0, delete: r2.ops.delete }).toEqual({
    rejected: 6,
    upsert: 0,
    delete: { planned: 1, succeeded: 0, failed: 0, skipped: 0, held: 0, kept: 1 },
  });
  expect(await state()).toEqual(untouched);
  const logged = await stage.db.query(
    `SELECT key, op, outcome FROM syncline.row_changes WHERE activation_id = $1 AND run_number = $2 ORDER BY key COLLATE "C"`,
    [id, r2.runNumber],
  );
  expect(logged.rows).toEqual([
    { key: k1, op: 'duplicate_key', outcome: 'rejected' },
    { key: k2, op: 'delete', outcome: 'kept' },
    { key: x1, op: 'duplicate_key', outcome: 'rejected' },
    { key: v2, op: 'duplicate_key', outcome: 'rejected' },
    { key: k1Lower, op: 'duplicate_key', outcome: 'rejected' },
    { key: v1, op: 'duplicate_key', outcome: 'rejected' },
    { key: x2, op: 'duplicate_key', outcome: 'rejected' },
  ]);

  // Nothing changed: still rejected, reported already, nothing sent.
  const r3 = await sync(id);
  expect({
    rejected: r3.rejected,
    unchanged: r3.rejectedUnchanged,
    upsert: r3.ops.upsert?.planned ?? 0,
    kept: r3.ops.delete?.kept,
  }).toEqual({
    rejected: 6,
    unchanged: 6,
    upsert: 0,
    kept: 1,
  });
  expect(await state()).toEqual(untouched);

  // K-1 leaves the model (k-1 stays, its variant): the record is k-1's, not deleted; K-X and k-x: only K-X stays;
  // of 'k-2' and 'Kk-2' only 'Kk-2' stays, and takes K-2's record over.
  await stage.db.query(`DELETE FROM ${table} WHERE id = ANY($1)`, [[k1, x2, v1]]);
  const r4 = await sync(id);
  expect(r4.status).toBe('success');
  expect(r4.ops).toMatchObject({ upsert: { planned: 3, succeeded: 3 }, delete: { planned: 2, succeeded: 0, kept: 2 } });
  const after = await state();
  expect(after.errors).toEqual([]);
  expect(after.records).toHaveLength(rows + 1);
  expect(after.records.find((r) => r.id === ids.get(k1))).toMatchObject({ last_name: 'Other 1' });
  expect(after.records.find((r) => r.id === ids.get(k2))).toMatchObject({ last_name: 'Last 2 v2' });
  expect(after.records.find((r) => r.key.toUpperCase() === x1.toUpperCase())).toMatchObject({ last_name: 'Other X' });
  expect(after.snapshot).toEqual([...synced.filter((k) => k !== k1 && k !== k2), x1, v2, k1Lower].sort());
  // Nothing left to do.
  const r5 = await sync(id);
  expect(Object.values(r5.ops).reduce((n, o) => n + o.planned, 0)).toBe(0);
  expect(await state()).toEqual(after);
}, 120_000);

/** A write to the record as another client makes it (REST, PATCH by Id): here, as a release before this one left it. */
async function patchRecord(recordId: string, values: Rec): Promise<void> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: 'syncline-demo-client',
    client_secret: 'syncline-demo-secret',
  });
  const token = (await (await fetch(`${stage.emu.url}/services/oauth2/token`, { method: 'POST', body: form })).json()) as {
    access_token: string;
  };
  const res = await fetch(`${stage.emu.url}/services/data/v60.0/sobjects/Contact/${recordId}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${token.access_token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(values),
  });
  expect(res.status).toBe(204);
}

// A release before this rejection sent both spellings to the one record (the last write winning: here k-1's) and
// kept a snapshot row for each. Rejected now, and then fixed by keeping K-1 only: K-1's values must reach the record,
// though its snapshot row says they are there; k-1, removed, is kept (not deleted: it is K-1's record).
test('both spellings synced by a release before to one record: once the model keeps one, its values are sent again, and the record is not deleted', async () => {
  const rows = 5;
  const id = uniqueName('sf_casedup_old');
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
  const k1 = `${prefix}-1`;
  const k1Lower = k1.toLowerCase();
  const recordId = String((await live(prefix)).find((r) => r.External_Id__c === k1)?.Id);
  // The state a release before left: k-1 in the model, written last to K-1's record, and in the snapshot too.
  await stage.db.query(`INSERT INTO ${table} VALUES ($1, 'Other 1')`, [k1Lower]);
  await patchRecord(recordId, { LastName: 'Other 1' });
  await stage.db.query(
    `INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at)
     SELECT activation_id, $2, md5('other')::uuid, destination_id, now() FROM syncline.snapshot WHERE activation_id = $1 AND key = $3`,
    [id, k1Lower, k1],
  );
  const snapshot = async () =>
    (
      await stage.db.query(
        `SELECT key, destination_id, unconfirmed FROM syncline.snapshot WHERE activation_id = $1 AND lower(key) = $2 ORDER BY key COLLATE "C"`,
        [id, k1Lower],
      )
    ).rows;

  const r2 = await sync(id);
  expect({ rejected: r2.rejected, planned: Object.values(r2.ops).reduce((n, o) => n + o.planned, 0) }).toEqual({ rejected: 2, planned: 0 });
  expect(await live(prefix)).toHaveLength(rows);
  // Neither is taken for the record's content any longer.
  expect(await snapshot()).toEqual([
    { key: k1, destination_id: recordId, unconfirmed: true },
    { key: k1Lower, destination_id: recordId, unconfirmed: true },
  ]);

  // Fixed: K-1 only. Sent again (the record held k-1's values); k-1's removal is kept, not a deletion.
  await stage.db.query(`DELETE FROM ${table} WHERE id = $1`, [k1Lower]);
  const r3 = await sync(id);
  expect(r3.status).toBe('success');
  expect(r3.ops).toMatchObject({ upsert: { planned: 1, succeeded: 1 }, delete: { planned: 1, succeeded: 0, kept: 1 } });
  const after = await live(prefix);
  expect(after).toHaveLength(rows);
  expect(after.find((r) => r.Id === recordId)).toMatchObject({ LastName: 'Last 1' });
  expect(await snapshot()).toEqual([{ key: k1, destination_id: recordId, unconfirmed: false }]);
  expect((await stage.db.query(`SELECT key FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows).toEqual([]);
}, 120_000);

// The same state a release before left (both spellings synced to one record, k-1 written last), but the model drops
// k-1 before any run of this release saw both: k-1's removal is kept (K-1's record), and K-1, whose snapshot row says
// its values are there, must be sent again: the record holds k-1's.
test('both spellings synced by a release before to one record, one of them removed before this release saw both: the one left is sent again', async () => {
  const rows = 3;
  const id = uniqueName('sf_casedup_gone');
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
  const k1 = `${prefix}-1`;
  const k1Lower = k1.toLowerCase();
  const recordId = String((await live(prefix)).find((r) => r.External_Id__c === k1)?.Id);
  // As a release before left it: k-1 written last to K-1's record, a snapshot row for each; k-1 no longer in the model.
  await patchRecord(recordId, { LastName: 'Other 1' });
  await stage.db.query(
    `INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at)
     SELECT activation_id, $2, md5('other')::uuid, destination_id, now() FROM syncline.snapshot WHERE activation_id = $1 AND key = $3`,
    [id, k1Lower, k1],
  );

  const r2 = await sync(id);
  expect(r2.status).toBe('success');
  expect(r2.ops.delete).toMatchObject({ planned: 1, succeeded: 0, kept: 1 });
  const r3 = await sync(id);
  expect(r3.status).toBe('success');
  const after = await live(prefix);
  expect(after).toHaveLength(rows);
  expect(after.find((r) => r.Id === recordId)).toMatchObject({ LastName: 'Last 1' });
  expect(
    (await stage.db.query(`SELECT key, unconfirmed FROM syncline.snapshot WHERE activation_id = $1 AND lower(key) = $2`, [id, k1Lower]))
      .rows,
  ).toEqual([{ key: k1, unconfirmed: false }]);
}, 120_000);

// A retry-failed run sees only keys with row errors: K-1 (its last write failed) renamed k-1 is a removed key there,
// and k-1, without an error, is not in its delta; yet the model has k-1, the same record: not to be deleted.
test("Mirror, a retry-failed run: a key with a row error renamed in case only is not deleted, its record is the new spelling's", async () => {
  const sf = {
    auth: 'client_credentials',
    loginUrl: stage.emu.url,
    clientId: 'syncline-demo-client',
    clientSecret: 'syncline-demo-secret',
  };
  const d: DirectDeps = await directDeps(env().databaseUrl, { connections: { sf } });
  d.deps.connectors.set(salesforceConnector.kind, salesforceConnector);
  try {
    const id = uniqueName('sf_case_retry_rename');
    const prefix = id.toUpperCase();
    const table = `public.${id}`;
    const [k1, k1Lower] = [`${prefix}-1`, `${prefix}-1`.toLowerCase()];
    await stage.db.query(`CREATE TABLE ${table} (id text, last_name text)`);
    // 40 rows: one deletion is under the deletion guard's limit.
    await stage.db.query(`INSERT INTO ${table} SELECT '${prefix}-' || g, 'Last ' || g FROM generate_series(1, 40) g`);
    const cfg = parsed({
      id,
      mode: 'mirror',
      schedule: { manual: true },
      source: { table, key: 'id' },
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
      ],
    });
    expect((await fullRun(d.deps, cfg, 1)).summary.status).toBe('success');
    const recordId = String((await live(prefix)).find((r) => r.External_Id__c === k1)?.Id);
    // K-1's last write failed (a record lock, retryable), as a run 2 left it; then the model renames K-1 to k-1.
    await stage.db.query(
      `INSERT INTO syncline.row_errors (activation_id, key, op, code, message, retryable, hash, run_number)
       VALUES ($1, $2, 'upsert', 'UNABLE_TO_LOCK_ROW', 'unable to obtain exclusive access to this record', true, md5('x')::uuid, 1)`,
      [id, k1],
    );
    await stage.db.query(`UPDATE ${table} SET id = $2, last_name = 'Last 1 v2' WHERE id = $1`, [k1, k1Lower]);
    const r2 = (await fullRun(d.deps, cfg, 2, 'retry_failed')).summary;
    expect(r2.ops.delete).toMatchObject({ planned: 1, succeeded: 0, kept: 1 });
    expect((await live(prefix)).map((r) => r.Id)).toContain(recordId);
    // The next run writes k-1 into that record.
    const r3 = (await fullRun(d.deps, cfg, 3)).summary;
    expect(r3.status).toBe('success');
    const after = await live(prefix);
    expect(after).toHaveLength(40);
    expect(after.find((r) => r.Id === recordId)).toMatchObject({ LastName: 'Last 1 v2' });
  } finally {
    await d.close();
  }
}, 120_000);

// Upsert: K-1 renamed k-1 writes K-1's record (the key ignores case), and K-1 keeps its snapshot row (no deletions in
// this mode). Renamed back, K-1's snapshot row says its values are there, but the record holds k-1's.
test.each(['upsert', 'update'])(
  '%s: a key renamed in case only, then renamed back: its values are sent again',
  async (mode) => {
    const sf = {
      auth: 'client_credentials',
      loginUrl: stage.emu.url,
      clientId: 'syncline-demo-client',
      clientSecret: 'syncline-demo-secret',
    };
    const d: DirectDeps = await directDeps(env().databaseUrl, { connections: { sf } });
    d.deps.connectors.set(salesforceConnector.kind, salesforceConnector);
    try {
      const id = uniqueName(`sf_case_back_${mode}`);
      const prefix = id.toUpperCase();
      const table = `public.${id}`;
      const [k1, k1Lower] = [`${prefix}-1`, `${prefix}-1`.toLowerCase()];
      await stage.db.query(`CREATE TABLE ${table} (id text, last_name text)`);
      await stage.db.query(`INSERT INTO ${table} VALUES ($1, 'Last 1'), ($2, 'Last 2')`, [k1, `${prefix}-2`]);
      const cfg = (m: string) =>
        parsed({
          id,
          mode: m,
          schedule: { manual: true },
          source: { table, key: 'id' },
          destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
          mappings: [
            { from: 'id', to: 'External_Id__c' },
            { from: 'last_name', to: 'LastName' },
          ],
        });
      // The records are made by an upsert run; then the activation runs in its mode.
      expect((await fullRun(d.deps, cfg('upsert'), 1)).summary.status).toBe('success');
      const recordId = String((await live(prefix)).find((r) => r.External_Id__c === k1)?.Id);
      await stage.db.query(`UPDATE ${table} SET id = $2, last_name = 'Other 1' WHERE id = $1`, [k1, k1Lower]);
      expect((await fullRun(d.deps, cfg(mode), 2)).summary.status).toBe('success');
      expect((await live(prefix)).find((r) => r.Id === recordId)).toMatchObject({ LastName: 'Other 1' });
      await stage.db.query(`UPDATE ${table} SET id = $2, last_name = 'Last 1' WHERE id = $1`, [k1Lower, k1]);
      expect((await fullRun(d.deps, cfg(mode), 3)).summary.status).toBe('success');
      const after = await live(prefix);
      expect(after).toHaveLength(2);
      expect(after.find((r) => r.Id === recordId)).toMatchObject({ LastName: 'Last 1' });
    } finally {
      await d.close();
    }
  },
  120_000,
);

// A retry-failed run sees only keys with row errors: a spelling added since (no error yet) is not in its delta, yet
// the model still has it, so the spelling with an error is rejected still (never sent alone), and says why.
test('a retry-failed run: a spelling whose variant has no row error yet is rejected still, and not sent', async () => {
  const sf = {
    auth: 'client_credentials',
    loginUrl: stage.emu.url,
    clientId: 'syncline-demo-client',
    clientSecret: 'syncline-demo-secret',
  };
  const d: DirectDeps = await directDeps(env().databaseUrl, { connections: { sf } });
  d.deps.connectors.set(salesforceConnector.kind, salesforceConnector);
  try {
    const id = uniqueName('sf_casedup_retry');
    const prefix = id.toUpperCase();
    const table = `public.${id}`;
    const [k1, k1Lower, k1Mixed] = [`${prefix}-1`, `${prefix}-1`.toLowerCase(), prefix[0] + `${prefix}-1`.slice(1).toLowerCase()];
    await stage.db.query(`CREATE TABLE ${table} (id text, last_name text)`);
    await stage.db.query(`INSERT INTO ${table} VALUES ($1, 'Last 1'), ($2, 'Other 1'), ($3, 'Last 2')`, [k1, k1Lower, `${prefix}-2`]);
    const cfg = parsed({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table, key: 'id' },
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
      ],
    });
    const r1 = (await fullRun(d.deps, cfg, 1)).summary;
    expect({ rejected: r1.rejected, upsert: r1.ops.upsert?.succeeded }).toEqual({ rejected: 2, upsert: 1 });
    // k-1 becomes 'Kk-1': a new key, without a row error; K-1 keeps its error.
    await stage.db.query(`UPDATE ${table} SET id = $2 WHERE id = $1`, [k1Lower, k1Mixed]);
    const r2 = (await fullRun(d.deps, cfg, 2, 'retry_failed')).summary;
    expect({ rejected: r2.rejected, planned: Object.values(r2.ops).reduce((n, o) => n + o.planned, 0) }).toEqual({
      rejected: 1,
      planned: 0,
    });
    expect((await live(prefix)).map((r) => r.External_Id__c)).toEqual([`${prefix}-2`]);
    const errors = (
      await stage.db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key COLLATE "C"`, [id])
    ).rows;
    expect(errors).toEqual([
      {
        key: k1,
        code: 'MODEL_DUPLICATE_KEY',
        message:
          `key "${k1}" differs only in case from another key in the model (column "id"), and the destination's key ignores case: they would ` +
          `write one record; none of them was sent. Make the key unique ignoring case, or make the destination's key field "External_Id__c" case-sensitive.`,
      },
      { key: k1Lower, code: 'MODEL_DUPLICATE_KEY', message: why(k1Lower, [k1], 2) },
    ]);
    // The next run over the whole model lists both spellings as they are, and clears k-1's.
    const r3 = (await fullRun(d.deps, cfg, 3)).summary;
    expect({ rejected: r3.rejected, planned: Object.values(r3.ops).reduce((n, o) => n + o.planned, 0) }).toEqual({
      rejected: 2,
      planned: 0,
    });
    expect(
      (await stage.db.query(`SELECT key, message FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key COLLATE "C"`, [id])).rows,
    ).toEqual([
      { key: k1, message: why(k1, [k1Mixed], 2) },
      { key: k1Mixed, message: why(k1Mixed, [k1], 2) },
    ]);
    expect((await live(prefix)).map((r) => r.External_Id__c)).toEqual([`${prefix}-2`]);
  } finally {
    await d.close();
  }
}, 120_000);
