/**
 * `missingParent: "writeWithoutLink"` through Temporal (issue 14): a Contact whose Account (by the
 * Account's External ID) does not exist is written without AccountId, listed with the reason, and not
 * taken as in sync: every run sends it again, to the same record, until the Account exists and the link is
 * made. Both write paths (sObject Collections, Bulk API 2.0) against the in-process Salesforce emulator;
 * Insert mode too, where a second send must not create a second record. No row value enters workflow history.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-missing-parent
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { SalesforceEmulator } from '../../emulators/salesforce/server';
import { salesforceStage } from '../support/salesforce-stage';
import { uniqueName } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import type { SynclineClient } from '../../client';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const stage = salesforceStage('tq_sfmp');
const TQ = stage.taskQueue;
/** Row values that must stay in Postgres and Salesforce, never in workflow history. */
const SENTINEL = 'MPSENTINEL';
let emu: SalesforceEmulator;
let client: Client;
let syncline: SynclineClient;
let db: pg.Pool;
beforeAll(() => ({ emu, client, syncline, db } = stage));

type Rec = Record<string, unknown>;
const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);
const seedAccounts = (keys: string[]) =>
  admin('/records/Account', { method: 'POST', body: JSON.stringify(keys.map((k) => ({ Name: `Account ${k}`, External_Id__c: k }))) });
const records = (object: string) => admin<Rec[]>(`/records/${object}`);

/** The activation's Contacts (by LastName prefix): key, record Id, and the External_Id__c of the Account it points to. */
async function contacts(prefix: string): Promise<Array<{ key: string; id: string; account: string | null }>> {
  const accountKey = new Map((await records('Account')).map((a) => [a.Id, a.External_Id__c as string]));
  return (await records('Contact'))
    .filter((c) => String(c.Description ?? '').startsWith(prefix))
    .map((c) => ({
      key: String(c.Description),
      id: String(c.Id),
      account: c.AccountId ? (accountKey.get(c.AccountId) ?? `unknown ${String(c.AccountId)}`) : null,
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

const cases = [
  { path: 'collections', mode: 'upsert', op: 'upsert' },
  { path: 'bulk', mode: 'upsert', op: 'upsert' },
  { path: 'collections', mode: 'insert', op: 'create' },
  { path: 'bulk', mode: 'insert', op: 'create' },
] as const;

for (const { path, mode, op } of cases) {
  test(`${path}, ${mode}: a Contact whose Account is missing is written without the link and listed; each run sends it again to the same record; linked once the Account exists`, async () => {
    const id = uniqueName(`sfmp_${path}_${mode}`);
    const p = id.toUpperCase();
    const [a1, missing] = [`${p}-A1`, `${p}-A9`];
    await seedAccounts([a1]);
    await db.query(`CREATE TABLE public.${id} (id text, last_name text, account_key text)`);
    await db.query(`INSERT INTO public.${id} VALUES ($1, $2, $3), ($4, $5, $6)`, [
      `${p}-c1`,
      `${SENTINEL} one`,
      a1,
      `${p}-c3`,
      `${SENTINEL} three`,
      missing,
    ]);
    // Insert keys on no External ID: the model key goes into Description, to tell the records apart.
    const keyField = mode === 'insert' ? 'Description' : 'External_Id__c';
    const config = {
      id,
      mode,
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: {
        kind: 'salesforce',
        connection: 'sf',
        object: 'Contact',
        key: keyField,
        // 2 rows: a threshold of 1 sends them through Bulk 2.0, the default through Collections.
        options: { bulkPollMs: 0, missingParent: 'writeWithoutLink', ...(path === 'bulk' ? { bulkThreshold: 1 } : {}) },
      },
      mappings: [
        { from: 'id', to: keyField },
        ...(mode === 'insert' ? [] : [{ from: 'id', to: 'Description' }]),
        { from: 'last_name', to: 'LastName' },
        { from: 'account_key', to: 'Account.External_Id__c' },
      ],
    };
    const handle = client.workflow.getHandle(activationWorkflowId(id));
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    await admin('/requests', { method: 'DELETE' });

    const first = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(first).toMatchObject({ status: 'partial', ops: { [op]: { planned: 2, succeeded: 2, failed: 0, incomplete: 1 } } });
    const log = (await admin<{ requests: Array<{ path: string }> }>('/requests')).requests;
    expect(log.some((r) => r.path.includes(path === 'bulk' ? '/jobs/ingest' : '/composite/sobjects'))).toBe(true);
    const written = await contacts(p);
    expect(written).toEqual([
      { key: `${p}-c1`, id: expect.any(String), account: a1 },
      { key: `${p}-c3`, id: expect.any(String), account: null },
    ]);
    const c3Id = written[1]!.id;

    const listed = async () => (await syncline.errors(id)).map((e) => [e.key, e.code, e.retryable]);
    expect(await listed()).toEqual([[`${p}-c3`, 'WRITTEN_WITHOUT_LINK', true]]);
    const [error] = await syncline.errors(id);
    expect(error!.message).toContain(
      `written without its link AccountId to Account: no Account has External_Id__c = "${missing}" (mapping "account_key" → "Account.External_Id__c")`,
    );
    expect(error!.message).toContain('sent again every run');

    // The model does not change and the Account is still missing: the row is sent again, to the same record.
    await admin('/requests', { method: 'DELETE' });
    const second = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(second).toMatchObject({ status: 'partial', ops: { [op]: { planned: 1, succeeded: 1, failed: 0, incomplete: 1 } } });
    expect(await contacts(p)).toEqual(written);
    expect(await listed()).toEqual([[`${p}-c3`, 'WRITTEN_WITHOUT_LINK', true]]);

    // The Account appears (another activation, a person); the next run links the same record.
    await seedAccounts([missing]);
    const third = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(third).toMatchObject({ status: 'success', ops: { [op]: { planned: 1, succeeded: 1, failed: 0 } } });
    expect(third.ops[op]!.incomplete ?? 0).toBe(0);
    expect(await contacts(p)).toEqual([
      { key: `${p}-c1`, id: written[0]!.id, account: a1 },
      { key: `${p}-c3`, id: c3Id, account: missing },
    ]);
    expect(await syncline.errors(id)).toEqual([]);

    // In sync now: nothing is sent again.
    await admin('/requests', { method: 'DELETE' });
    const fourth = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(fourth.status).toBe('success');
    expect(Object.values(fourth.ops).reduce((n, o) => n + o.succeeded + o.failed, 0)).toBe(0);
    const writes = (await admin<{ requests: Array<{ method: string; path: string }> }>('/requests')).requests.filter(
      (r) => r.method !== 'GET' && /composite|jobs\/ingest/.test(r.path),
    );
    expect(writes).toEqual([]);
    expect(await contacts(p)).toHaveLength(2);

    let scanned = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "activation/${id}"` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const text = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
      expect(text).not.toContain(SENTINEL);
      expect(text).not.toContain(missing);
      scanned++;
    }
    expect(scanned).toBeGreaterThan(0);
  });
}

/** Starts an activation of Contacts keyed on External_Id__c, the model key also in Description, linked through Account.External_Id__c. */
async function activation(mode: 'update' | 'mirror', rows: Array<[string, string | null]>) {
  const id = uniqueName(`sfmp_${mode}`);
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text, account_key text)`);
  for (const [key, account] of rows)
    await db.query(`INSERT INTO public.${id} VALUES ($1, $2, $3)`, [`${p}-${key}`, `${SENTINEL} ${key}`, account]);
  const config = {
    id,
    mode,
    schedule: { manual: true },
    // The test deletes 1 of 3 synced rows: no approval step.
    deletionGuard: { maxDeletePercent: 100 },
    source: { table: `public.${id}`, key: 'id' },
    destination: {
      kind: 'salesforce',
      connection: 'sf',
      object: 'Contact',
      key: 'External_Id__c',
      options: { bulkPollMs: 0, missingParent: 'writeWithoutLink' },
    },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'id', to: 'Description' },
      { from: 'last_name', to: 'LastName' },
      { from: 'account_key', to: 'Account.External_Id__c' },
    ],
  };
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
  const handle = client.workflow.getHandle(activationWorkflowId(id));
  return { id, p, sync: () => handle.executeUpdate(triggerSyncUpdate, { args: [{}] }) };
}

test('update: a Contact moved to a missing Account is unlinked (not left on the old one), listed, and linked by the run after the Account appears', async () => {
  const { id, p, sync } = await activation('update', []);
  const [a1, a2] = [`${p}-A1`, `${p}-A2`];
  await seedAccounts([a1]);
  const accounts = new Map((await records('Account')).map((a) => [a.External_Id__c, a.Id]));
  // The Contact exists in Salesforce, on A1; the model moves it to A2, which does not exist yet.
  await admin('/records/Contact', {
    method: 'POST',
    body: JSON.stringify([{ LastName: 'before', External_Id__c: `${p}-c1`, Description: `${p}-c1`, AccountId: accounts.get(a1) }]),
  });
  const [before] = await contacts(p);
  await db.query(`INSERT INTO public.${id} VALUES ($1, $2, $3)`, [`${p}-c1`, `${SENTINEL} c1`, a2]);
  const first = await sync();
  expect(first).toMatchObject({ status: 'partial', ops: { update: { planned: 1, succeeded: 1, failed: 0, incomplete: 1 } } });
  expect(await contacts(p)).toEqual([{ key: `${p}-c1`, id: before!.id, account: null }]);
  expect((await syncline.errors(id)).map((e) => [e.key, e.code])).toEqual([[`${p}-c1`, 'WRITTEN_WITHOUT_LINK']]);
  await seedAccounts([a2]);
  const second = await sync();
  expect(second).toMatchObject({ status: 'success', ops: { update: { planned: 1, succeeded: 1, failed: 0 } } });
  expect(await contacts(p)).toEqual([{ key: `${p}-c1`, id: before!.id, account: a2 }]);
  expect(await syncline.errors(id)).toEqual([]);
});

test('mirror: a Contact written without its link that leaves the model is deleted, and its listing goes with it', async () => {
  const { id, p, sync } = await activation('mirror', [
    ['c1', null],
    ['c2', null],
    ['c3', 'NO-SUCH-ACCOUNT'],
  ]);
  const first = await sync();
  expect(first).toMatchObject({ status: 'partial', ops: { upsert: { planned: 3, succeeded: 3, failed: 0, incomplete: 1 } } });
  expect((await contacts(p)).map((c) => [c.key, c.account])).toEqual([
    [`${p}-c1`, null],
    [`${p}-c2`, null],
    [`${p}-c3`, null],
  ]);
  expect((await syncline.errors(id)).map((e) => [e.key, e.code])).toEqual([[`${p}-c3`, 'WRITTEN_WITHOUT_LINK']]);
  await db.query(`DELETE FROM public.${id} WHERE id = $1`, [`${p}-c3`]);
  const second = await sync();
  expect(second).toMatchObject({ status: 'success', ops: { delete: { planned: 1, succeeded: 1, failed: 0 } } });
  expect((await contacts(p)).map((c) => c.key)).toEqual([`${p}-c1`, `${p}-c2`]);
  expect(await syncline.errors(id)).toEqual([]);
});
