/**
 * Salesforce org policies through Temporal (issue 14), against the in-process Salesforce emulator:
 * record types by developer name (set on every created record; an unknown name pauses the activation with
 * a configuration warning naming the valid ones). No row value enters workflow history.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-org-policies
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { env, sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { SynclineClient } from '../../client';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { statusQuery, triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_sfpol');
/** Row values that must stay in Postgres and Salesforce, never in workflow history. */
const SENTINEL = 'POLSENTINEL';
let emu: SalesforceEmulator;
let worker: RunningWorker;
let client: Client;
let syncline: SynclineClient;
let db: pg.Pool;

beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, connections: { sf } }), testClient()]);
  syncline = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await emu?.close();
});

type Rec = Record<string, unknown>;
const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);
const records = (object: string, deleted = false) => admin<Rec[]>(`/records/${object}${deleted ? '?includeDeleted=true' : ''}`);
const handle = (id: string) => client.workflow.getHandle(activationWorkflowId(id));
const sync = (id: string) => handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });

async function contactsTable(id: string, rows: number): Promise<string> {
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || g, $2 || ' ' || g FROM generate_series(1, ${rows}) g`, [p, SENTINEL]);
  return p;
}

async function start(id: string, mode: string, options: Record<string, unknown>): Promise<void> {
  const config = {
    id, mode, schedule: { manual: true }, source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0, ...options } },
    mappings: [{ from: 'id', to: 'External_Id__c' }, { from: 'last_name', to: 'LastName' }],
  };
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
}

async function expectNoRowValuesInHistory(id: string, values: string[]): Promise<void> {
  let scanned = 0;
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "activation/${id}"` })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const text = JSON.stringify(history, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
    for (const v of values) expect(text).not.toContain(v);
    scanned++;
  }
  expect(scanned).toBeGreaterThan(0);
}

describe('record types by developer name', () => {
  let partner: string;
  beforeAll(async () => {
    const made = await admin<Array<{ id: string; developerName: string }>>('/recordTypes/Contact', { method: 'POST', body: JSON.stringify([{ developerName: 'Partner' }, { developerName: 'Customer' }]) });
    partner = made.find((r) => r.developerName === 'Partner')!.id;
  });

  for (const path of ['collections', 'bulk'] as const) {
    test(`${path}: option recordType sets the record type on every created record`, async () => {
      const id = uniqueName(`sfrt_${path}`);
      const p = await contactsTable(id, 5);
      await start(id, 'upsert', { recordType: 'Partner', ...(path === 'bulk' ? { bulkThreshold: 1 } : {}) });
      await admin('/requests', { method: 'DELETE' });
      const run = await sync(id);
      expect(run).toMatchObject({ status: 'success', ops: { upsert: { planned: 5, succeeded: 5, failed: 0 } } });
      const log = (await admin<{ requests: Array<{ path: string }> }>('/requests')).requests;
      expect(log.some((r) => r.path.includes(path === 'bulk' ? '/jobs/ingest' : '/composite/sobjects'))).toBe(true);
      const mine = (await records('Contact')).filter((c) => String(c.External_Id__c).startsWith(`${p}-`));
      expect(mine).toHaveLength(5);
      expect(mine.map((c) => c.RecordTypeId)).toEqual(Array(5).fill(partner));
      await expectNoRowValuesInHistory(id, [SENTINEL]);
    });
  }

  test('an unknown developer name pauses the activation with a configuration warning naming the valid ones; nothing is written', async () => {
    const id = uniqueName('sfrt_unknown');
    const p = await contactsTable(id, 3);
    await start(id, 'upsert', { recordType: 'Partnr' });
    const run = await sync(id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ type: 'CONFIG_INVALID', message: expect.stringMatching(/option "recordType": "Partnr": Contact has no record type "Partnr"; valid developer names: "Partner", "Customer"/) });
    const st = await handle(id).query(statusQuery);
    expect(st.state).toBe('paused');
    expect(st.pausedReason).toMatch(/configuration error.*valid developer names: "Partner", "Customer"/);
    expect(st.health).toBe('critical');
    expect((await records('Contact')).filter((c) => String(c.External_Id__c).startsWith(`${p}-`))).toEqual([]);
    expect(await syncline.errors(id)).toEqual([]);
  });
});
