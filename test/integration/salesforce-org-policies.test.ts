/**
 * Salesforce org policies through Temporal (issue 14), against the in-process Salesforce emulator:
 * record types by developer name (set on every created record; an unknown name pauses the activation with
 * a configuration warning naming the valid ones); Mirror with hardDelete (records gone from the recycle bin
 * too; without the "Bulk API Hard Delete" permission the run stops at check, before anything is deleted);
 * duplicate rules (a refused row listed with the rule and what to do; allowSave saves it). No row value
 * enters workflow history.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-org-policies
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { SalesforceEmulator } from '../../emulators/salesforce/server';
import { salesforceStage } from '../support/salesforce-stage';
import { uniqueName, waitFor } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import type { SynclineClient } from '../../client';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { statusQuery, triggerSyncUpdate, updateConfigUpdate } from '../../workflows/messages';

const stage = salesforceStage('tq_sfpol');
const TQ = stage.taskQueue;
/** Row values that must stay in Postgres and Salesforce, never in workflow history. */
const SENTINEL = 'POLSENTINEL';
let emu: SalesforceEmulator;
let client: Client;
let syncline: SynclineClient;
let db: pg.Pool;
beforeAll(() => ({ emu, client, syncline, db } = stage));

type Rec = Record<string, unknown>;
const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);
const records = (object: string, deleted = false) => admin<Rec[]>(`/records/${object}${deleted ? '?includeDeleted=true' : ''}`);
const handle = (id: string) => client.workflow.getHandle(activationWorkflowId(id));
const sync = (id: string) => handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });

/** `rows` Contacts keyed `<ID>-1…`, named `<name> 1…` (the sentinel by default). */
async function contactsTable(id: string, rows: number, name = SENTINEL): Promise<string> {
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || g, $2 || ' ' || g FROM generate_series(1, ${rows}) g`, [p, name]);
  return p;
}

const doc = (id: string, mode: string, options: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id,
  mode,
  schedule: { manual: true },
  source: { table: `public.${id}`, key: 'id' },
  ...extra,
  destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0, ...options } },
  mappings: [
    { from: 'id', to: 'External_Id__c' },
    { from: 'last_name', to: 'LastName' },
  ],
});

async function start(id: string, mode: string, options: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: doc(id, mode, options, extra) }],
  });
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
    const made = await admin<Array<{ id: string; developerName: string }>>('/recordTypes/Contact', {
      method: 'POST',
      body: JSON.stringify([{ developerName: 'Partner' }, { developerName: 'Customer' }]),
    });
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
    expect(run.error).toMatchObject({
      type: 'CONFIG_INVALID',
      message: expect.stringMatching(
        /option "recordType": "Partnr": Contact has no record type "Partnr"; valid developer names: "Partner", "Customer"/,
      ),
    });
    const st = await handle(id).query(statusQuery);
    expect(st.state).toBe('paused');
    expect(st.pausedReason).toMatch(/configuration error.*valid developer names: "Partner", "Customer"/);
    expect(st.health).toBe('critical');
    expect((await records('Contact')).filter((c) => String(c.External_Id__c).startsWith(`${p}-`))).toEqual([]);
    expect(await syncline.errors(id)).toEqual([]);
  });
});

describe('Mirror deletes: recycle bin by default, hardDelete on request', () => {
  const grant = (on: boolean) => admin('/userPermissions', { method: 'POST', body: JSON.stringify({ PermissionsBulkApiHardDelete: on }) });
  afterEach(() => grant(false));
  /** External_Id__c → IsDeleted of every stored Contact of the activation, live or in the recycle bin. */
  const stored = async (p: string) =>
    Object.fromEntries(
      (await records('Contact', true))
        .filter((c) => String(c.External_Id__c).startsWith(`${p}-`))
        .map((c) => [c.External_Id__c, c.IsDeleted]),
    );
  const GUARD_OFF = { deletionGuard: { maxDeletePercent: 100 } };

  test('hardDelete: rows removed from the model are gone from the recycle bin too; without the option they wait in it', async () => {
    await grant(true);
    const [hard, soft] = [uniqueName('sfhd_hard'), uniqueName('sfhd_soft')];
    const [ph, ps] = [await contactsTable(hard, 4), await contactsTable(soft, 4)];
    await start(hard, 'mirror', { hardDelete: true }, GUARD_OFF);
    await start(soft, 'mirror', {}, GUARD_OFF);
    for (const id of [hard, soft])
      expect(await sync(id)).toMatchObject({ status: 'success', ops: { upsert: { planned: 4, succeeded: 4 } } });
    for (const id of [hard, soft])
      await db.query(`DELETE FROM public.${id} WHERE id IN ($1, $2)`, [`${id.toUpperCase()}-1`, `${id.toUpperCase()}-2`]);
    await admin('/requests', { method: 'DELETE' });
    for (const id of [hard, soft])
      expect(await sync(id)).toMatchObject({ status: 'success', ops: { delete: { planned: 2, succeeded: 2, failed: 0 } } });
    expect(await stored(ph)).toEqual({ [`${ph}-3`]: false, [`${ph}-4`]: false });
    expect(await stored(ps)).toEqual({ [`${ps}-1`]: true, [`${ps}-2`]: true, [`${ps}-3`]: false, [`${ps}-4`]: false });
    const jobs = await admin<Array<{ operation: string; object: string }>>('/jobs');
    expect(jobs.filter((j) => j.operation === 'hardDelete')).toHaveLength(1);
    await expectNoRowValuesInHistory(hard, [SENTINEL, `${ph}-1`]);
  });

  test('hardDelete without the permission: the run stops at check with a clear configuration error, nothing deleted', async () => {
    await grant(true);
    const id = uniqueName('sfhd_noperm');
    const p = await contactsTable(id, 3);
    await start(id, 'mirror', { hardDelete: true }, GUARD_OFF);
    expect(await sync(id)).toMatchObject({ status: 'success', ops: { upsert: { succeeded: 3 } } });
    await grant(false);
    await db.query(`DELETE FROM public.${id} WHERE id = $1`, [`${p}-1`]);
    const run = await sync(id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({
      type: 'CONFIG_INVALID',
      message: expect.stringMatching(
        new RegExp(
          `activation "${id}".*option "hardDelete" needs the "Bulk API Hard Delete" system permission, which the integration user does not have; nothing was deleted`,
        ),
      ),
    });
    const st = await handle(id).query(statusQuery);
    expect(st.state).toBe('paused');
    expect(st.pausedReason).toMatch(/configuration error.*Bulk API Hard Delete/);
    expect(await stored(p)).toEqual({ [`${p}-1`]: false, [`${p}-2`]: false, [`${p}-3`]: false });
  });
});

describe('duplicate rules', () => {
  test('a row refused by a duplicate rule is listed with the rule and what to do; with allowSave it is saved', async () => {
    const id = uniqueName('sfdup');
    const name = `${SENTINEL} ${id}`;
    const p = await contactsTable(id, 3, name);
    // The rule matches on LastName: the model's second row duplicates a record made by someone else.
    await admin('/faults', {
      method: 'POST',
      body: JSON.stringify({ duplicateRule: { object: 'Contact', field: 'LastName', name: 'Contact_Name_Rule' } }),
    });
    const {
      ids: [theirs],
    } = await admin<{ ids: string[] }>('/records/Contact', { method: 'POST', body: JSON.stringify([{ LastName: `${name} 2` }]) });
    try {
      await start(id, 'upsert', {});
      expect(await sync(id)).toMatchObject({ status: 'partial', ops: { upsert: { planned: 3, succeeded: 2, failed: 1 } } });
      const errors = await syncline.errors(id);
      expect(errors.map((e) => [e.key, e.code, e.retryable])).toEqual([[`${p}-2`, 'DUPLICATES_DETECTED', false]]);
      expect(errors[0]!.message).toMatch(
        new RegExp(
          `^duplicate rule "Contact_Name_Rule" \\(Contact\\) refused this row as a duplicate matching ${theirs}.*"duplicateRuleHeader": \\{"allowSave": true\\}.*syncline retry-failed ${id}`,
        ),
      );
      const changed = await handle(id).executeUpdate(updateConfigUpdate, {
        args: [{ config: doc(id, 'upsert', { duplicateRuleHeader: { allowSave: true } }), confirm: true }],
      });
      expect(changed.applied).toBe(true);
      await syncline.retryFailed(id);
      await waitFor(
        'the retry run',
        async () => {
          const runs = (await handle(id).query(statusQuery)).lastRuns;
          const r = runs[runs.length - 1];
          return r && r.trigger === 'retry_failed' && r.status !== 'running' ? r : undefined;
        },
        120_000,
      );
      expect(await syncline.errors(id)).toEqual([]);
      expect(
        (await records('Contact'))
          .filter((c) => String(c.External_Id__c).startsWith(`${p}-`))
          .map((c) => c.External_Id__c)
          .sort(),
      ).toEqual([`${p}-1`, `${p}-2`, `${p}-3`]);
    } finally {
      await admin('/faults', { method: 'DELETE' });
    }
  });
});
