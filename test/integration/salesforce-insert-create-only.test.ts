/**
 * Insert mode with a create-only field (describe: createable true, updateable false; in an org a master-detail
 * field without reparenting, OpportunityLineItem.PricebookEntryId…; the emulator's Contact First_Touch__c).
 * Insert sends each create as an upsert on the row's token, so a create sent again finds the record the
 * first one made and becomes an update of it; Salesforce refuses an update that sets a create-only field
 * (INVALID_FIELD_FOR_INSERT_UPDATE "Unable to create/update fields: …"), whatever its value. Such a row
 * arrived all the same: it must be reported ok, on the record it made, nothing duplicated.
 *
 * - Collections: the first write's answer is lost (the emulator applies it, then drops the connection);
 *   the connector sends the upsert again. And the same write never arriving (the connection reset before
 *   it is read): the upsert sent again creates the records, with their create-only values.
 * - Both paths: a key whose content goes A → B → A (README "Insert idempotency"): the third run's token is
 *   the first run's, so it finds that record and updates it with A again.
 *
 * Real Temporal, Postgres, the connector (jsforce) over HTTP to the in-process emulator.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-insert-create-only
 */
import { uniqueName } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { salesforceStage } from '../support/salesforce-stage';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import type { RunSummary } from '../../common/run';

const stage = salesforceStage('tq_sfcreateonly');
type Rec = Record<string, unknown>;
interface Logged {
  method: string;
  path: string;
  status: number;
  dropped?: boolean;
}

const admin = <T>(path: string, init?: RequestInit) => emulatorAdmin<T>(stage.emu.url, path, init);
const failed = (s: RunSummary) => Object.values(s.ops).reduce((n, o) => n + o.failed, 0);
const succeeded = (s: RunSummary) => Object.values(s.ops).reduce((n, o) => n + o.succeeded, 0);

async function activation(tag: string, rows: number, bulkThreshold: number) {
  const id = uniqueName(`sf_co_${tag}`);
  const prefix = id.toUpperCase();
  const table = `public.${id}`;
  await stage.db.query(`CREATE TABLE ${table} (id text, last_name text, channel text)`);
  await stage.db.query(
    `INSERT INTO ${table} SELECT '${prefix}-' || g, 'Last ' || g, (ARRAY['web', 'shop', 'mail'])[1 + g % 3] FROM generate_series(1, ${rows}) g`,
  );
  const config = {
    id,
    mode: 'insert',
    schedule: { manual: true },
    source: { table, key: 'id' },
    destination: {
      kind: 'salesforce',
      connection: 'sf',
      object: 'Contact',
      // Not External_Id__c: it is unique in the emulator, and Insert sends a changed row as a new record.
      key: 'Department',
      options: { bulkThreshold, bulkPollMs: 0 },
    },
    mappings: [
      { from: 'id', to: 'Department' },
      { from: 'last_name', to: 'LastName' },
      { from: 'channel', to: 'First_Touch__c' },
    ],
  };
  await stage.client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: stage.taskQueue,
    workflowId: activationWorkflowId(id),
    args: [{ config }],
  });
  return { id, prefix, table };
}

/** The destination: each Contact of the activation (key, values, Id, token), and the state database's view. */
async function state(id: string, prefix: string) {
  const all = await admin<Rec[]>('/records/Contact');
  const records = all
    .filter((r) => typeof r.Department === 'string' && r.Department.startsWith(prefix))
    .map((r) => ({ key: String(r.Department), last_name: r.LastName, channel: r.First_Touch__c, id: r.Id, token: r.Syncline_Token__c }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : String(a.last_name) < String(b.last_name) ? -1 : 1));
  const snapshot = (
    await stage.db.query<{ key: string; destination_id: string | null }>(
      `SELECT key, destination_id FROM syncline.snapshot WHERE activation_id = $1 ORDER BY key COLLATE "C"`,
      [id],
    )
  ).rows;
  const errors = (
    await stage.db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key COLLATE "C"`, [id])
  ).rows;
  return { records, snapshot, errors };
}

const channel = (g: number) => ['web', 'shop', 'mail'][g % 3];

afterEach(async () => {
  await admin('/faults', { method: 'DELETE' });
});

test.each([
  ['is applied but its answer is lost', 'dropResponseAfterCommit'],
  ['never arrives (the connection is reset before it is read)', 'socketReset'],
])(
  'Collections: the first write of a create-only field %s; the rows are reported ok, each record once with all its values',
  async (_what, fault) => {
    const rows = 5;
    const a = await activation(fault === 'socketReset' ? 'reset' : 'lost', rows, 1000);
    await admin('/requests', { method: 'DELETE' });
    await admin('/faults', { method: 'POST', body: JSON.stringify({ [fault]: { count: 1, paths: 'composite' } }) });
    const run = await stage.sync(a.id);
    const log = (await admin<{ requests: Logged[] }>('/requests')).requests;
    // The fault hit a Collections write.
    expect(log.filter((r) => r.dropped && r.path.includes('/composite/sobjects'))).toHaveLength(1);
    const s = await state(a.id, a.prefix);
    const keys = Array.from({ length: rows }, (_, i) => i + 1);
    expect({ status: run.status, succeeded: succeeded(run), failed: failed(run), errors: s.errors }).toEqual({
      status: 'success',
      succeeded: rows,
      failed: 0,
      errors: [],
    });
    expect(s.records.map(({ key, last_name, channel }) => ({ key, last_name, channel }))).toEqual(
      keys.map((g) => ({ key: `${a.prefix}-${g}`, last_name: `Last ${g}`, channel: channel(g) })),
    );
    expect(new Set(s.records.map((r) => r.token)).size).toBe(rows);
    // The snapshot points at the one record of each key.
    expect(s.snapshot).toEqual(s.records.map((r) => ({ key: r.key, destination_id: r.id })));
  },
);

test.each([
  ['Collections', 1000],
  ['Bulk', 1],
])(
  '%s: a key whose content goes A → B → A is written to the record A made, ok, its create-only value kept; no third record',
  async (_path, bulkThreshold) => {
    const rows = 3;
    const a = await activation(bulkThreshold === 1 ? 'abab' : 'abac', rows, bulkThreshold);
    await admin('/requests', { method: 'DELETE' });
    expect((await stage.sync(a.id)).status).toBe('success');
    const first = await state(a.id, a.prefix);
    await stage.db.query(`UPDATE ${a.table} SET last_name = last_name || ' v2'`);
    expect((await stage.sync(a.id)).status).toBe('success');
    await stage.db.query(`UPDATE ${a.table} SET last_name = replace(last_name, ' v2', '')`);
    const third = await stage.sync(a.id);
    const log = (await admin<{ requests: Logged[] }>('/requests')).requests;
    expect(log.some((r) => r.method === 'POST' && r.path.endsWith('/jobs/ingest'))).toBe(bulkThreshold === 1);
    const s = await state(a.id, a.prefix);
    expect({ status: third.status, succeeded: succeeded(third), failed: failed(third), errors: s.errors }).toEqual({
      status: 'success',
      succeeded: rows,
      failed: 0,
      errors: [],
    });
    const keys = Array.from({ length: rows }, (_, i) => i + 1);
    expect(s.records.map(({ key, last_name, channel }) => ({ key, last_name, channel }))).toEqual(
      keys.flatMap((g) => [
        { key: `${a.prefix}-${g}`, last_name: `Last ${g}`, channel: channel(g) },
        { key: `${a.prefix}-${g}`, last_name: `Last ${g} v2`, channel: channel(g) },
      ]),
    );
    // The third run wrote to the first run's records: the snapshot holds their Ids again.
    expect(s.snapshot).toEqual(first.records.map((r) => ({ key: r.key, destination_id: r.id })));
  },
);
