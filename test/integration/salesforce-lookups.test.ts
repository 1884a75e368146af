/**
 * Parent lookups by External ID through Temporal (issue 14): Contacts linked to Accounts by the
 * Account's own key (`{"from": "account_key", "to": "Account.External_Id__c"}`), on both write paths
 * (sObject Collections, Bulk API 2.0), against the in-process Salesforce emulator. A Contact whose
 * Account does not exist is a row error naming the parent key (as `syncline errors` lists it); once the
 * Account exists, `retry-failed` sends the row again and links it. No row value enters workflow history.
 * Then Update by the record Id the model carries: valid 15/18-character Ids are updated, a malformed Id
 * and an Account Id in a Contact activation are row errors, never sent.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-lookups
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { SalesforceEmulator } from '../../emulators/salesforce/server';
import { salesforceStage } from '../support/salesforce-stage';
import { uniqueName, waitFor } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import type { SynclineClient } from '../../client';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { statusQuery, triggerSyncUpdate } from '../../workflows/messages';

const stage = salesforceStage('tq_sflk');
const TQ = stage.taskQueue;
/** Row values that must stay in Postgres and Salesforce, never in workflow history. */
const SENTINEL = 'LKSENTINEL';
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

/** External_Id__c of each of the activation's Contacts → the External_Id__c of the Account it points to (or null). */
async function links(prefix: string): Promise<Record<string, string | null>> {
  const accountKey = new Map((await records('Account')).map((a) => [a.Id, a.External_Id__c as string]));
  const mine = (await records('Contact')).filter((c) => String(c.External_Id__c).startsWith(prefix));
  return Object.fromEntries(
    mine.map((c) => [c.External_Id__c as string, c.AccountId ? (accountKey.get(c.AccountId) ?? `unknown ${String(c.AccountId)}`) : null]),
  );
}

async function lastRun(id: string) {
  const runs = (await client.workflow.getHandle(activationWorkflowId(id)).query(statusQuery)).lastRuns;
  return runs[runs.length - 1];
}

for (const path of ['collections', 'bulk'] as const) {
  test(`${path}: Contacts linked to Accounts by the Account's key; a missing parent is a row error, linked once it exists`, async () => {
    const id = uniqueName(`sflk_${path}`);
    const p = id.toUpperCase();
    const [a1, a2, missing] = [`${p}-A1`, `${p}-A2`, `${p}-A9`];
    await seedAccounts([a1, a2]);
    await db.query(`CREATE TABLE public.${id} (id text, last_name text, account_key text)`);
    await db.query(`INSERT INTO public.${id} VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9), ($10, $11, NULL)`, [
      `${p}-c1`,
      `${SENTINEL} one`,
      a1,
      `${p}-c2`,
      `${SENTINEL} two`,
      a2,
      `${p}-c3`,
      `${SENTINEL} three`,
      missing,
      `${p}-c4`,
      `${SENTINEL} four`,
    ]);
    const config = {
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: {
        kind: 'salesforce',
        connection: 'sf',
        object: 'Contact',
        key: 'External_Id__c',
        // 4 rows: a threshold of 1 sends them through Bulk 2.0, the default through Collections.
        options: { bulkPollMs: 0, ...(path === 'bulk' ? { bulkThreshold: 1 } : {}) },
      },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
        { from: 'account_key', to: 'Account.External_Id__c' },
      ],
    };
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    await admin('/requests', { method: 'DELETE' });

    const first = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(first).toMatchObject({ status: 'partial', ops: { upsert: { planned: 4, succeeded: 3, failed: 1 } } });
    const log = (await admin<{ requests: Array<{ path: string }> }>('/requests')).requests;
    expect(log.some((r) => r.path.includes(path === 'bulk' ? '/jobs/ingest' : '/composite/sobjects'))).toBe(true);
    expect(await links(p)).toEqual({ [`${p}-c1`]: a1, [`${p}-c2`]: a2, [`${p}-c4`]: null });

    const errors = await syncline.errors(id);
    expect(errors.map((e) => [e.key, e.code, e.retryable])).toEqual([[`${p}-c3`, 'INVALID_FIELD', false]]);
    expect(errors[0]!.message).toContain(`Foreign key external ID: ${missing} not found for field External_Id__c in entity Account`);
    expect(errors[0]!.message).toContain(`(mapping "account_key" → "Account.External_Id__c")`);
    expect(errors[0]!.message).toContain(`syncline retry-failed ${id}`);

    // A plain run does not send the unchanged failed row again (a permanent error waits for a change).
    await admin('/requests', { method: 'DELETE' });
    const second = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(second.status).toBe('success');
    expect(Object.values(second.ops).reduce((n, o) => n + o.succeeded + o.failed, 0)).toBe(0);
    const writes = (await admin<{ requests: Array<{ method: string; path: string }> }>('/requests')).requests.filter(
      (r) => r.method !== 'GET' && /composite|jobs\/ingest/.test(r.path),
    );
    expect(writes).toEqual([]);
    expect(await links(p)).toEqual({ [`${p}-c1`]: a1, [`${p}-c2`]: a2, [`${p}-c4`]: null });

    // The Account appears (another activation, a person); retry-failed sends the row and links it.
    await seedAccounts([missing]);
    await syncline.retryFailed(id);
    const retry = await waitFor(
      'the retry run',
      async () => {
        const r = await lastRun(id);
        return r && r.trigger === 'retry_failed' && r.status !== 'running' ? r : undefined;
      },
      120_000,
    );
    expect(retry).toMatchObject({ status: 'success', ops: { upsert: { planned: 1, succeeded: 1, failed: 0 } } });
    expect(await links(p)).toEqual({ [`${p}-c1`]: a1, [`${p}-c2`]: a2, [`${p}-c3`]: missing, [`${p}-c4`]: null });
    expect(await syncline.errors(id)).toEqual([]);
    // Exactly one record per key: the retried row updated nothing twice and created nothing extra.
    expect((await records('Contact')).filter((c) => String(c.External_Id__c).startsWith(p))).toHaveLength(4);

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

for (const path of ['collections', 'bulk'] as const) {
  test(`${path}: Update by the Contact Id the model carries; a malformed Id and an Account Id are row errors, not sent`, async () => {
    const id = uniqueName(`sfid_${path}`);
    const { ids } = await admin<{ ids: string[] }>('/records/Contact', {
      method: 'POST',
      body: JSON.stringify([{ LastName: `${id} one` }, { LastName: `${id} two` }]),
    });
    const {
      ids: [accountId],
    } = await admin<{ ids: string[] }>('/records/Account', { method: 'POST', body: JSON.stringify([{ Name: `${id} account` }]) });
    const [id18, other] = ids as [string, string];
    const id15 = other.slice(0, 15);
    await db.query(`CREATE TABLE public.${id} (sf_id text, last_name text)`);
    await db.query(`INSERT INTO public.${id} VALUES ($1, 'updated one'), ($2, 'updated two'), ('003-not-an-id', 'x'), ($3, 'an account')`, [
      id18,
      id15,
      accountId,
    ]);
    const config = {
      id,
      mode: 'update',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'sf_id' },
      destination: {
        kind: 'salesforce',
        connection: 'sf',
        object: 'Contact',
        key: 'Id',
        options: { bulkPollMs: 0, ...(path === 'bulk' ? { bulkThreshold: 1 } : {}) },
      },
      mappings: [
        { from: 'sf_id', to: 'Id' },
        { from: 'last_name', to: 'LastName' },
      ],
    };
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    const run = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(run).toMatchObject({ status: 'partial', ops: { update: { planned: 4, succeeded: 2, failed: 2 } } });
    const byId = new Map((await records('Contact')).map((c) => [c.Id, c.LastName]));
    expect([byId.get(id18), byId.get(other)]).toEqual(['updated one', 'updated two']);
    expect((await records('Contact')).filter((c) => c.LastName === 'x' || c.LastName === 'an account')).toEqual([]);
    expect((await records('Account')).find((a) => a.Id === accountId)).toMatchObject({ Name: `${id} account` });
    const errors = (await syncline.errors(id)).sort((a, b) => a.key.localeCompare(b.key));
    expect(errors.map((e) => [e.key, e.code, e.retryable])).toEqual(
      [
        ['003-not-an-id', 'MALFORMED_ID', false],
        [accountId, 'MALFORMED_ID', false],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    expect(errors.find((e) => e.key === accountId)!.message).toMatch(/Contact Ids start with "003", this one with "001"/);
  });
}
