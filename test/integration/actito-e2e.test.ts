/**
 * Actito end to end (issue 4): Temporal dev server + Postgres + the activation and run workflows +
 * the Actito connector talking HTTP to the in-process Actito emulator. For each mode, a scripted
 * sequence of model changes runs through `triggerSync`, and after every run the emulator's custom
 * table and profiles are compared with what the mode promises:
 *
 *   Insert: only added rows are created, changed rows stay as first written
 *   Update: never creates (records or profiles)
 *   Upsert: creates and updates, never deletes
 *   Mirror: Upsert + deletes removed rows; a mass deletion waits for `approveDeletes`
 *
 * Each activation uses `bulkThreshold: 50`, so 60-row runs go through bulk imports (ETL executions)
 * and 10-row runs go one by one. A newly mapped column must create its attribute exactly once.
 * The last block switches each emulator fault on for one run and checks nothing was lost,
 * duplicated or wrongly deleted.
 *
 *   npx jest --selectProjects integration --testPathPatterns actito-e2e
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import type { RunSummary } from '../../common/run';
import type { SyncMode } from '../../common/sync-modes';
import { sqlClient, startWorker, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { approveDeletesUpdate, triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_actito');
const BULK_THRESHOLD = 50;
let emu: ActitoEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  // A high import quota: every activation here shares the profile table `main`, and both the emulator and
  // the connector (bulkImportsPerDay below, counted per table across activations) count imports per
  // table; the quota logic is not under test here.
  emu = await startActitoEmulator({ port: 0, dailyBulkImportQuota: 1000, bulkProcessingDelayMs: 10 });
  const base = { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity };
  [worker, client] = await Promise.all([
    // `actito-short`: a 2 s request timeout so the `slow` fault makes calls time out (answer lost, write applied).
    startWorker({ taskQueue: TQ, connections: { actito: base, 'actito-short': { ...base, requestTimeoutMs: 2000 } } }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await emu?.close();
});

// ---------------------------------------------------------------------------------------------
// Emulator inspection (admin API over HTTP)

const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);

type Rec = Record<string, unknown>;

async function tableRecords(table: string): Promise<Map<string, Rec>> {
  const r = await admin<{ count: number; records: Rec[] }>(`/tables/${table}/records?limit=100000`);
  const out = new Map<string, Rec>();
  for (const x of r.records) {
    if (out.has(String(x.orderId))) throw new Error(`duplicate record ${String(x.orderId)} in ${table}`);
    out.set(String(x.orderId), x);
  }
  expect(out.size).toBe(r.count);
  return out;
}

async function profilesWith(prefix: string): Promise<Map<string, Rec>> {
  const r = await admin<{ records: Rec[] }>('/profiles?limit=100000');
  return new Map(r.records.filter((p) => String(p.customerId ?? '').startsWith(`${prefix}-`)).map((p) => [String(p.customerId), p]));
}

interface LoggedRequest {
  method: string;
  path: string;
  route: string;
  status: number;
}
async function requests(): Promise<LoggedRequest[]> {
  return (await admin<{ requests: LoggedRequest[] }>('/requests')).requests;
}
const clearRequests = () => admin('/requests', { method: 'DELETE' });
const isImport = (r: LoggedRequest) => r.method === 'POST' && r.route.includes('etl-executions') && !r.route.includes(':id');
const isRecordWrite = (r: LoggedRequest) => ['POST', 'PUT', 'DELETE'].includes(r.method) && r.route.includes('/record');

async function createTable(name: string): Promise<{ id: string }> {
  return admin('/tables', {
    method: 'POST',
    body: JSON.stringify({
      name,
      primaryKeyAttribute: 'orderId',
      attributes: [
        { name: 'orderId', valueType: 'STRING' },
        { name: 'customerId', valueType: 'STRING', mandatory: true },
        { name: 'amount', valueType: 'NUMBER' },
        { name: 'status', valueType: 'STRING' },
      ],
      foreignKeys: [{ attribute: 'customerId', profileAttribute: 'customerId' }],
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// The model (Postgres) and a reference simulation of what each mode must leave in Actito

interface ModelRow {
  order_id: string;
  customer_id: string;
  amount: string;
  status: string;
  channel: string;
  email: string;
  first_name: string;
}
const rowSql = (p: string) =>
  `'${p}-o' || g, '${p}-c' || g, (g * 1.5)::numeric(10,2), 'NEW', CASE WHEN g % 2 = 0 THEN 'web' ELSE 'shop' END, '${p}.' || g || '@example.com', 'First ' || g`;

async function createModel(table: string, prefix: string, from: number, to: number): Promise<void> {
  await db.query(
    `CREATE TABLE ${table} (order_id text, customer_id text, amount numeric(10,2), status text, channel text, email text, first_name text)`,
  );
  await addRows(table, prefix, from, to);
}
async function addRows(table: string, prefix: string, from: number, to: number): Promise<void> {
  await db.query(`INSERT INTO ${table} SELECT ${rowSql(prefix)} FROM generate_series(${from}, ${to}) g`);
}
async function readModel(table: string): Promise<ModelRow[]> {
  return (await db.query<ModelRow>(`SELECT * FROM ${table} ORDER BY order_id`)).rows;
}

/** What Actito should hold: records by orderId, profiles by customerId. */
interface Expected {
  records: Map<string, Rec>;
  profiles: Map<string, Rec>;
}

function project(r: ModelRow, withChannel: boolean): Rec {
  const rec: Rec = { orderId: r.order_id, customerId: r.customer_id, amount: Number(r.amount), status: r.status };
  if (withChannel) rec.channel = r.channel;
  return rec;
}

/**
 * Applies one run to the expectation. A row whose mapped values did not change may be sent again or
 * not: either way the result is the same, so every model row counts as "sent" for Update/Upsert/Mirror.
 */
function applyRun(mode: SyncMode, exp: Expected, model: ModelRow[], withChannel: boolean): void {
  const keys = new Set(model.map((r) => r.order_id));
  for (const r of model) {
    const exists = exp.records.has(r.order_id);
    const write = mode === 'insert' ? !exists : mode === 'update' ? exists : true;
    if (!write) continue;
    // A channel written earlier stays when a later write does not carry it (nulls: skip).
    exp.records.set(r.order_id, { ...exp.records.get(r.order_id), ...project(r, withChannel) });
    exp.profiles.set(r.customer_id, { customerId: r.customer_id, emailAddress: r.email, firstName: r.first_name });
  }
  if (mode === 'mirror') for (const k of [...exp.records.keys()]) if (!keys.has(k)) exp.records.delete(k);
}

async function expectActito(table: string, prefix: string, exp: Expected, step: string): Promise<void> {
  const records = await tableRecords(table);
  const got = [...records.values()].map(({ id: _id, ...rest }) => rest).sort((a, b) => String(a.orderId).localeCompare(String(b.orderId)));
  const want = [...exp.records.values()].sort((a, b) => String(a.orderId).localeCompare(String(b.orderId)));
  expect({ step, records: got }).toEqual({ step, records: want });
  const profiles = await profilesWith(prefix);
  const gotP = [...exp.profiles.keys()].map((k) => {
    const p = profiles.get(k);
    return p && { customerId: p.customerId, emailAddress: p.emailAddress, firstName: p.firstName };
  });
  expect({ step, profiles: gotP }).toEqual({ step, profiles: [...exp.profiles.values()] });
}

// ---------------------------------------------------------------------------------------------
// Activations

interface Activation {
  id: string;
  model: string;
  prefix: string;
  table: string;
  tableId: string;
}

function config(a: Activation, mode: SyncMode, opts: { channel?: boolean; connection?: string; options?: Record<string, unknown> } = {}) {
  return {
    id: a.id,
    mode,
    schedule: { manual: true },
    source: { table: a.model, key: 'order_id' },
    destination: {
      kind: 'actito',
      connection: opts.connection ?? 'actito',
      table: a.table,
      key: 'orderId',
      options: {
        bulkThreshold: BULK_THRESHOLD,
        pollAfterMs: 0,
        bulkImportsPerDay: 1000,
        profiles: { table: 'main', matchAttribute: 'customerId', mode: 'upsert' },
        ...opts.options,
      },
    },
    mappings: [
      { from: 'customer_id', to: 'customerId' },
      { from: 'amount', to: 'amount' },
      { from: 'status', to: 'status' },
      { from: 'email', to: 'profile.emailAddress' },
      { from: 'first_name', to: 'profile.firstName' },
      ...(opts.channel ? [{ from: 'channel', to: 'channel', type: 'STRING' }] : []),
    ],
  };
}

async function newActivation(tag: string, from: number, to: number): Promise<Activation> {
  const id = uniqueName(`ax_${tag}`);
  const a: Activation = { id, model: `public.${id}`, prefix: id, table: `t_${id}`.slice(0, 50), tableId: '' };
  a.tableId = (await createTable(a.table)).id;
  await createModel(a.model, a.prefix, from, to);
  return a;
}

async function start(cfg: ReturnType<typeof config>): Promise<void> {
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(cfg.id),
    args: [{ config: cfg }],
  });
}

/** A mapping change is a new configuration: the activation is restarted with it (state stays in Postgres). */
async function restart(cfg: ReturnType<typeof config>): Promise<void> {
  await client.workflow.getHandle(activationWorkflowId(cfg.id)).terminate('new mapping');
  await start(cfg);
}

async function sync(id: string): Promise<RunSummary> {
  return client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });
}

async function attributeCreations(id: string): Promise<Array<{ run_number: number; field: string; created: boolean }>> {
  return (
    await db.query(`SELECT run_number, field, created FROM syncline.attribute_creations WHERE activation_id = $1 ORDER BY run_number`, [id])
  ).rows;
}

function attributeAdds(log: LoggedRequest[], tableId: string): LoggedRequest[] {
  return log.filter(
    (r) => (r.method === 'PATCH' || r.method === 'PUT') && r.route.includes('custom-tables') && r.path.endsWith(`/${tableId}`),
  );
}

const ok = (s: RunSummary) => `${s.status}${s.error ? ` ${s.error.type}: ${s.error.message}` : ''}`;

/** Expected `{planned?, succeeded, failed?}` per op and run for the scripted sequence below. */
const OPS: Record<SyncMode, Array<Record<string, Record<string, number>>>> = {
  insert: [{ create: { succeeded: 60, failed: 0 } }, { create: { succeeded: 5, failed: 0 } }, { create: { succeeded: 2, failed: 0 } }],
  // Seeded Actito holds orders 1..50: 51..60 and the added 61..67 are NOT_FOUND (Update never creates);
  // run 3 re-sends every row (new mapping): 1..40 and 46..50 succeed, 51..67 fail again.
  update: [{ update: { succeeded: 50, failed: 10 } }, { update: { succeeded: 5, failed: 5 } }, { update: { succeeded: 45, failed: 17 } }],
  upsert: [{ upsert: { succeeded: 60, failed: 0 } }, { upsert: { succeeded: 10, failed: 0 } }, { upsert: { succeeded: 62, failed: 0 } }],
  mirror: [
    { upsert: { succeeded: 60, failed: 0 } },
    { upsert: { succeeded: 10, failed: 0 }, delete: { succeeded: 5, failed: 0 } },
    { upsert: { succeeded: 62, failed: 0 } },
  ],
};

/**
 * The scripted sequence, same for every mode:
 *   run 1: 60 rows (bulk: 60 >= bulkThreshold 50)
 *   run 2: 5 changed (amount, first name), 5 added, 5 removed (one by one: 10 rows)
 *   run 3: `channel` newly mapped (attribute created; every row's hash changes) + 2 added (bulk for Upsert/Mirror/Update)
 *   run 4: nothing changed: nothing sent, no attribute created again
 */
async function scriptedSequence(mode: SyncMode, a: Activation, exp: Expected): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  await start(config(a, mode));
  await clearRequests();
  const r1 = await sync(a.id);
  runs.push(r1);
  expect(ok(r1)).toBe(mode === 'update' ? 'partial' : 'success');
  expect(r1.ops).toMatchObject(OPS[mode][0]!);
  applyRun(mode, exp, await readModel(a.model), false);
  await expectActito(a.table, a.prefix, exp, 'run 1');
  const log1 = await requests();
  expect(log1.filter(isImport).length).toBeGreaterThanOrEqual(2); // bulk: profiles import + records import
  expect(log1.filter(isRecordWrite)).toEqual([]);

  await db.query(
    `UPDATE ${a.model} SET amount = amount + 1000, first_name = first_name || ' v2' WHERE order_id IN (SELECT '${a.prefix}-o' || g FROM generate_series(1, 5) g)`,
  );
  await addRows(a.model, a.prefix, 61, 65);
  await db.query(`DELETE FROM ${a.model} WHERE order_id IN (SELECT '${a.prefix}-o' || g FROM generate_series(41, 45) g)`);
  await clearRequests();
  const r2 = await sync(a.id);
  runs.push(r2);
  expect(ok(r2)).toBe(mode === 'update' ? 'partial' : 'success');
  expect(r2.ops).toMatchObject(OPS[mode][1]!);
  if (mode !== 'mirror') expect(r2.ops.delete).toBeUndefined();
  applyRun(mode, exp, await readModel(a.model), false);
  await expectActito(a.table, a.prefix, exp, 'run 2');
  const log2 = await requests();
  expect(log2.filter(isImport)).toEqual([]); // one by one
  expect(log2.filter(isRecordWrite).length).toBeGreaterThan(0);

  await addRows(a.model, a.prefix, 66, 67);
  await restart(config(a, mode, { channel: true }));
  await clearRequests();
  const r3 = await sync(a.id);
  runs.push(r3);
  expect(ok(r3)).toBe(mode === 'update' ? 'partial' : 'success');
  expect(r3.ops).toMatchObject(OPS[mode][2]!);
  expect(r3.attributesCreated).toEqual(['channel']);
  applyRun(mode, exp, await readModel(a.model), true);
  await expectActito(a.table, a.prefix, exp, 'run 3');
  const structure = await admin<{ attributes: Array<{ name: string; valueType: string; mandatory?: boolean; unique?: boolean }> }>(
    `/tables/${a.table}/structure`,
  );
  expect(structure.attributes.filter((x) => x.name === 'channel')).toEqual([
    expect.objectContaining({ name: 'channel', valueType: 'STRING' }),
  ]);
  expect(attributeAdds(await requests(), a.tableId)).toHaveLength(1);

  await clearRequests();
  const r4 = await sync(a.id);
  runs.push(r4);
  expect(r4.attributesCreated).toEqual([]);
  const sent = Object.values(r4.ops).reduce((n, o) => n + o.succeeded, 0);
  expect(sent).toBe(0);
  const log4 = await requests();
  expect(attributeAdds(log4, a.tableId)).toEqual([]);
  expect(log4.filter((r) => isImport(r) || isRecordWrite(r))).toEqual([]);
  await expectActito(a.table, a.prefix, exp, 'run 4');
  expect(await attributeCreations(a.id)).toEqual([{ run_number: r3.runNumber, field: 'channel', created: true }]);
  return runs;
}

const empty = (): Expected => ({ records: new Map(), profiles: new Map() });

describe('modes on a custom table linked to profiles', () => {
  let updateActivation: Activation | undefined;
  test('Insert: only added rows are created; changed rows and their profiles stay as first written', async () => {
    const a = await newActivation('ins', 1, 60);
    await scriptedSequence('insert', a, empty());
  });

  test('Update: never creates; existing records (and their profiles) are updated, removed rows stay', async () => {
    const a = await newActivation('upd', 1, 60);
    // Actito already holds orders 1..50 (and their profiles) with other values.
    const exp = empty();
    const table = emu.state.tables.customTable(a.table)!;
    for (let g = 1; g <= 50; g++) {
      const customerId = `${a.prefix}-c${g}`;
      emu.state.profiles.insert({ customerId, emailAddress: `old.${a.prefix}.${g}@example.com`, firstName: 'Old' });
      table.insert({ orderId: `${a.prefix}-o${g}`, customerId, amount: '0', status: 'OLD' });
      exp.records.set(`${a.prefix}-o${g}`, { orderId: `${a.prefix}-o${g}`, customerId, amount: 0, status: 'OLD' });
      exp.profiles.set(customerId, { customerId, emailAddress: `old.${a.prefix}.${g}@example.com`, firstName: 'Old' });
    }
    updateActivation = a;
    await scriptedSequence('update', a, exp);
    expect((await tableRecords(a.table)).size).toBe(50);
    const codes = await db.query(`SELECT DISTINCT code FROM syncline.row_errors WHERE activation_id = $1`, [a.id]);
    expect(codes.rows).toEqual([{ code: 'ACTITO_NOT_FOUND' }]);
  });

  // Update mode writes each row's profile (profiles.mode "upsert") before its record, also for rows
  // whose record does not exist and then fails ACTITO_NOT_FOUND: those profiles are created although
  // the activation's mode promises never to create anything.
  test('Update: creates no profile for a row whose record does not exist [product bug]', async () => {
    expect(updateActivation).toBeDefined();
    const profiles = await profilesWith(updateActivation!.prefix);
    expect([...profiles.keys()].sort()).toEqual(Array.from({ length: 50 }, (_, i) => `${updateActivation!.prefix}-c${i + 1}`).sort());
  });

  test('Upsert: creates and updates, never deletes', async () => {
    const a = await newActivation('ups', 1, 60);
    const runs = await scriptedSequence('upsert', a, empty());
    expect(runs.every((r) => r.ops.delete === undefined)).toBe(true);
    expect((await tableRecords(a.table)).size).toBe(67); // 41..45 removed from the model, kept in Actito
  });

  test('Mirror: also deletes removed rows; the deletion guard holds an empty model until approved', async () => {
    const a = await newActivation('mir', 1, 60);
    const exp = empty();
    await scriptedSequence('mirror', a, exp);
    expect((await tableRecords(a.table)).size).toBe(62);

    await db.query(`DELETE FROM ${a.model}`);
    await clearRequests();
    const held = await sync(a.id);
    expect(held.heldDeletes).toBe(62);
    expect(held.ops.delete).toMatchObject({ held: 62, succeeded: 0 });
    expect(held.warnings.map((w) => w.code)).toContain('DELETES_HELD');
    expect((await requests()).filter(isRecordWrite)).toEqual([]);
    await expectActito(a.table, a.prefix, exp, 'held');
    const again = await sync(a.id); // still held without approval
    expect(again.ops.delete?.succeeded ?? 0).toBe(0);
    expect(again.heldDeletes).toBe(62);
    await expectActito(a.table, a.prefix, exp, 'held again');

    const handle = client.workflow.getHandle(activationWorkflowId(a.id));
    const wrong = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }] }).catch((e: Error) => e);
    expect(wrong).toBeInstanceOf(Error);
    expect(String((wrong as Error & { cause?: Error }).cause?.message ?? (wrong as Error).message)).toMatch(/held by run/);
    expect((await tableRecords(a.table)).size).toBe(62);

    const approved = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: again.runNumber }] });
    expect(approved.approved).toBe(62);
    expect(approved.run.ops.delete).toMatchObject({ succeeded: 62, failed: 0 });
    applyRun('mirror', exp, [], true);
    await expectActito(a.table, a.prefix, exp, 'approved'); // records gone; profiles stay (Mirror deletes records only)
    expect((await tableRecords(a.table)).size).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Faults: each switch on for one run, on the one-by-one path and on the bulk path

const FAULTS: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
  // [name, fault for a one-by-one run, fault for a bulk run]
  ['expireTokens', { expireTokens: true }, { expireTokens: true }],
  [
    'serverError',
    { serverError: { count: 4, status: 503, path: '/record' } },
    { serverError: { count: 3, status: 503, path: '/etl-executions' } },
  ],
  ['tooManyRequests', { tooManyRequests: { count: 4, path: '/record' } }, { tooManyRequests: { count: 3, path: '/etl-executions' } }],
  // 3 s against the connection's 2 s timeout: the write is applied after the client gave up.
  ['slow', { slow: { ms: 3000, count: 3, path: '/record' } }, { slow: { ms: 3000, count: 2, path: '/etl-executions' } }],
  ['dropResponse', { dropResponse: { count: 3, path: '/record' } }, { dropResponse: { count: 2, path: '/etl-executions' } }],
  ['bulkImportFails', {}, { bulkImportFails: { count: 1 } }],
];

describe.each(['mirror', 'insert'] as const)('faults (%s): the run ends with Actito equal to the model', (mode) => {
  let a: Activation;
  const exp = empty();
  let next = 101;

  beforeAll(async () => {
    a = await newActivation(`f${mode.slice(0, 3)}`, 1, 100);
    await start(config(a, mode, { connection: 'actito-short', options: { bulkThreshold: 30 } }));
    const first = await sync(a.id);
    expect(ok(first)).toBe('success');
    applyRun(mode, exp, await readModel(a.model), false);
    await expectActito(a.table, a.prefix, exp, 'initial');
  });
  afterEach(async () => {
    await admin('/faults', { method: 'DELETE' });
  });

  // bulkImportFails only concerns imports: it has no one-by-one case.
  const cases = FAULTS.flatMap(([name, single, bulk]) => [
    ...(name === 'bulkImportFails' ? [] : [[name, 'one by one', single] as const]),
    [name, 'bulk', bulk] as const,
  ]);
  test.each(cases)('%s, %s', async (_name, path, fault) => {
    const bulk = path === 'bulk';
    // Inserts: only added rows travel; Mirror: changes, additions and two removals.
    const added = bulk ? 32 : 4;
    await addRows(a.model, a.prefix, next, next + added - 1);
    next += added;
    if (mode === 'mirror') {
      await db.query(
        `UPDATE ${a.model} SET amount = amount + 1, first_name = first_name || '+' WHERE order_id IN (SELECT order_id FROM ${a.model} ORDER BY random() LIMIT 3)`,
      );
      await db.query(`DELETE FROM ${a.model} WHERE order_id IN (SELECT order_id FROM ${a.model} ORDER BY random() LIMIT 2)`);
    }
    await clearRequests();
    await admin('/faults', { method: 'POST', body: JSON.stringify(fault) });
    const s = await sync(a.id);
    const left = (await admin<{ faults: Record<string, { count: number }> }>('/faults')).faults;
    await admin('/faults', { method: 'DELETE' });
    const log = await requests();
    expect(ok(s)).toBe('success');
    // The fault really struck: every counted occurrence was used up (a token expiry shows as a 401).
    for (const [k, v] of Object.entries(left)) expect({ [k]: v.count }).toEqual({ [k]: 0 });
    if ('expireTokens' in fault) expect(log.some((r) => r.status === 401)).toBe(true);
    // The path under test was really taken.
    if (bulk) expect(log.filter(isImport).length).toBeGreaterThan(0);
    else expect(log.filter(isImport)).toEqual([]);
    applyRun(mode, exp, await readModel(a.model), false);
    await expectActito(a.table, a.prefix, exp, `${_name} ${path}`);
  });
});

test('a record call Actito keeps refusing fails its attempts without the key its route carries: not in history, not in the failure', async () => {
  const a = await newActivation('keyroute', 1, 40);
  await start(config(a, 'mirror'));
  expect(ok(await sync(a.id))).toBe('success');
  // The removed row's key is in the DELETE's route (…/records/<key>): a model value.
  const key = `${a.prefix}-o2`;
  await db.query(`DELETE FROM ${a.model} WHERE order_id = $1`, [key]);
  await admin('/faults', {
    method: 'POST',
    body: JSON.stringify({ serverError: { count: 100_000, status: 503, path: key, method: 'DELETE' } }),
  });
  const run = client.workflow.getHandle(activationWorkflowId(a.id)).executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });
  try {
    // The failed attempt is shown on the pending activity (Web UI, describe) until one succeeds.
    const failure = await waitFor('a failed write attempt', async () => {
      const pending = (await client.workflow.getHandle(runWorkflowId(a.id, 2)).describe()).raw.pendingActivities ?? [];
      return pending.find((p) => p.lastFailure)?.lastFailure;
    });
    expect(failure.message).toContain('/record/{key} answered 503');
    const text = JSON.stringify(failure, (k, v: unknown) =>
      k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v,
    );
    expect(text).toContain('record/{key}\\"}'); // the details (JSON in JSON) were decoded
    expect(text).not.toContain(key);
  } finally {
    await admin('/faults', { method: 'DELETE' });
  }
  expect(ok(await run)).toBe('success');
  expect((await tableRecords(a.table)).has(key)).toBe(false);
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "${activationWorkflowId(a.id)}"` })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const text = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
    expect(text).not.toContain(key);
  }
}, 120_000);
