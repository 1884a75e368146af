/**
 * Change a running activation without stopping it (the updateConfig update), through the real stack:
 * a new mapped column reaches every row on the next run and both versions are on record; a new target
 * is refused without the explicit flag and, with it, starts from an empty snapshot while the old target
 * keeps everything; bad documents are refused before anything changes, every problem listed; Insert
 * mode asks before it re-creates every record; stop ends the workflow and a later start carries on.
 */
import type { Client } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { stopSignal, triggerSyncUpdate, updateConfigUpdate, type UpdateConfigRequest } from '../../workflows/messages';
import type { RunSummary } from '../../common/run';

const TQ = uniqueName('tq_update');
let emu: SalesforceEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, connections: { sf } }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await emu?.close();
});

const handle = (id: string) => client.workflow.getHandle(activationWorkflowId(id));
const sync = (id: string) => handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });
const update = (id: string, req: UpdateConfigRequest) => handle(id).executeUpdate(updateConfigUpdate, { args: [req] });
async function refusal(p: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause as { type?: string; message: string };
  return { type: cause.type, message: cause.message };
}
async function records(object: string): Promise<Map<string, Record<string, unknown>>> {
  const r = await db.query(`SELECT key, "values" FROM test_dest.records WHERE object = $1`, [object]);
  return new Map(r.rows.map((x) => [x.key as string, x.values as Record<string, unknown>]));
}
function doc(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT id, name, city FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: `${id}_a`, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
    deletionGuard: { maxDeletePercent: 50 },
    ...extra,
  };
}

test('a new mapped column, a new target, bad documents, and stop', async () => {
  const id = uniqueName('live');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City ' || g AS city FROM generate_series(1, 30) g`);
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: doc(id) }],
  });
  expect((await sync(id)).ops.upsert).toMatchObject({ succeeded: 30 });

  // A new mapped column: answered with what it means, applied between runs; the next run sends every row once with it.
  const added = await update(id, {
    config: doc(id, {
      mappings: [
        { from: 'name', to: 'Name' },
        { from: 'city', to: 'City' },
      ],
    }),
    reason: 'CRM wants the city',
  });
  expect(added.applied).toBe(true);
  expect(added.version).toBe(2);
  expect(added.changes).toEqual([{ path: 'mappings[to=City]', after: { from: 'city', to: 'City' } }]);
  expect(added.consequences.join('\n')).toContain('the next run sends all 30 synced rows again with the new mapping');
  const second = await sync(id);
  expect(second.ops.upsert).toMatchObject({ planned: 30, succeeded: 30 });
  expect((await records(`${id}_a`)).get('7')).toMatchObject({ Name: 'Name 7', City: 'City 7' });
  expect((await sync(id)).ops).toEqual({}); // once
  const versions = (await db.query(`SELECT version, reason FROM syncline.config_versions WHERE activation_id = $1 ORDER BY version`, [id]))
    .rows;
  expect(versions).toEqual([
    { version: 1, reason: 'first version' },
    { version: 2, reason: 'CRM wants the city' },
  ]);
  expect(
    (await db.query(`SELECT run_number, config_version FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`, [id])).rows.map(
      (r) => r.config_version,
    ),
  ).toEqual([1, 2, 2]);

  // Bad documents: refused before anything changes, every problem listed.
  const invalid = await refusal(update(id, { config: { ...doc(id), mode: 'merge', schedule: { every: 'often' } } }));
  expect(invalid.message).toMatch(/2 problem\(s\)[\s\S]*mode:[\s\S]*schedule/);
  const unknown = await refusal(update(id, { config: doc(id, { mappings: [{ from: 'nickname', to: 'Nick' }] }) }));
  expect(unknown).toMatchObject({ type: 'CONFIG_INVALID' });
  expect(unknown.message).toContain('the model has no column "nickname"');

  // A new target: refused without the flag, saying why and what to do.
  const other = doc(id, {
    destination: { kind: 'testdb', connection: 'testdb', object: `${id}_b`, key: 'ext_id' },
    mappings: [
      { from: 'name', to: 'Name' },
      { from: 'city', to: 'City' },
    ],
  });
  const refused = await refusal(update(id, { config: other }));
  expect(refused.type).toBe('RETARGET_REFUSED');
  expect(refused.message).toContain('destination.object');
  expect(refused.message).toContain('"retarget": true');
  // With it: the new target receives every row; in Mirror, nothing is deleted in the old one, even for rows removed later.
  expect((await update(id, { config: other, retarget: true })).applied).toBe(true);
  await db.query(`DELETE FROM public.${id} WHERE id > 25`);
  const moved = await sync(id);
  expect(moved.ops.upsert).toMatchObject({ planned: 25, succeeded: 25 });
  expect(moved.ops.delete).toBeUndefined();
  expect((await records(`${id}_b`)).size).toBe(25);
  expect((await records(`${id}_a`)).size).toBe(30);

  // Stop: the workflow ends; its state stays, and a later start carries on.
  await handle(id).signal(stopSignal, { reason: 'test' });
  await handle(id).result();
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: other }],
  });
  const after = await sync(id);
  expect(after.runNumber).toBe(5);
  expect(after.ops).toEqual({});
});

test('Insert mode: a mapping change that would re-create every record is asked for, with the number', async () => {
  const id = uniqueName('live_ins');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City ' || g AS city FROM generate_series(1, 12) g`);
  const base = { ...doc(id), mode: 'insert' };
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config: base }] });
  await sync(id);
  const next = {
    ...base,
    mappings: [
      { from: 'name', to: 'Name' },
      { from: 'city', to: 'City' },
    ],
  };
  const asked = await refusal(update(id, { config: next }));
  expect(asked.type).toBe('CONFIRMATION_NEEDED');
  expect(asked.message).toContain('each of the 12 synced rows becomes a new record (12 more records in the destination)');
  const dry = await update(id, { config: next, confirm: true, dryRun: true });
  expect(dry.applied).toBe(false);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.config_versions WHERE activation_id = $1`, [id])).rows[0].n).toBe(1);
  expect((await update(id, { config: next, confirm: true })).applied).toBe(true);
});

test('an unknown field at the destination (Salesforce) is refused before anything changes', async () => {
  const id = uniqueName('live_sf');
  await db.query(`CREATE TABLE public.${id} AS SELECT 'K' || g AS id, 'Name ' || g AS name FROM generate_series(1, 3) g`);
  const sfDoc = (mappings: unknown[]) => ({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
    mappings,
  });
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: sfDoc([{ from: 'name', to: 'LastName' }]) }],
  });
  await sync(id);
  const refused = await refusal(update(id, { config: sfDoc([{ from: 'name', to: 'LastNam' }]) }));
  expect(refused.type).toBe('CONFIG_INVALID');
  expect(refused.message).toMatch(/FIELD_UNKNOWN.*LastNam/);
  await waitFor('the activation still runs on its first document', async () => ((await sync(id)) as RunSummary).status === 'success');
});
