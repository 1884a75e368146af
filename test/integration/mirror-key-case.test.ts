/**
 * Mirror must not delete the record of a model row that is still there. A Salesforce External ID text field
 * matches case-insensitively (unless it is case sensitive): a model key whose case changed ('K-1' → 'k-1')
 * is, for syncline, one key removed and one added, and for Salesforce one record. The delete of the old key
 * must not take the record the new key's upsert writes.
 *
 *   npx jest --selectProjects integration --testPathPatterns mirror-key-case
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import type { RunSummary } from '../../common/run';
import { sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_sfcase');
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

type Rec = Record<string, unknown>;

async function live(prefix: string): Promise<Rec[]> {
  const all = await emulatorAdmin<Rec[]>(emu.url, '/records/Contact');
  return all.filter((r) => typeof r.External_Id__c === 'string' && (r.External_Id__c as string).toUpperCase().startsWith(prefix));
}

async function sync(id: string): Promise<RunSummary> {
  return client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
}

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
    await db.query(`CREATE TABLE ${table} (id text, last_name text)`);
    await db.query(`INSERT INTO ${table} SELECT '${prefix}-' || g, 'Last ' || g FROM generate_series(1, ${rows}) g`);
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
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    expect((await sync(id)).status).toBe('success');
    expect(await live(prefix)).toHaveLength(rows);

    // Three keys change case only (within the guard: 3 of the synced rows); their rows stay in the model.
    const changed = [1, 2, 3].map((g) => `${prefix}-${g}`);
    await db.query(`UPDATE ${table} SET id = lower(id), last_name = last_name || ' v2' WHERE id = ANY($1)`, [changed]);
    const before = new Map((await live(prefix)).map((r) => [String(r.External_Id__c).toLowerCase(), r.Id]));
    // The Collections delete (DELETE …/composite/sobjects?ids=) answered after the upserts (…/composite/sobjects/Contact/…).
    if (slowDelete)
      await emulatorAdmin(emu.url, '/faults', {
        method: 'POST',
        body: JSON.stringify({ slow: { ms: 1500, count: 1, paths: 'composite .*/composite/sobjects$' } }),
      });
    const r2 = await sync(id);
    await emulatorAdmin(emu.url, '/faults', { method: 'DELETE' });
    expect(r2.status).toBe('success');
    // Settled without a call: counted done, and the row log says why.
    expect(r2.ops.delete).toMatchObject({ planned: 3, succeeded: 3, failed: 0, held: 0 });
    const logged = (
      await db.query<{ key: string; outcome: string; message: string }>(
        `SELECT key, outcome, message FROM syncline.row_changes WHERE activation_id = $1 AND run_number = $2 AND op = 'delete' ORDER BY key`,
        [id, r2.runNumber],
      )
    ).rows;
    expect(logged).toEqual(
      changed.map((c) => ({
        key: c,
        outcome: 'ok',
        message: `not deleted: the model still has key "${c.toLowerCase()}", which differs from it only in case, and the destination takes both for one record`,
      })),
    );

    const model = (await db.query<{ id: string; last_name: string }>(`SELECT id, last_name FROM ${table} ORDER BY id`)).rows;
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
      await db.query<{ key: string; destination_id: string }>(
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
    await db.query(`DELETE FROM ${table} WHERE id = ANY($1)`, [changed.map((c) => c.toLowerCase())]);
    const r4 = await sync(id);
    expect(r4.ops.delete).toMatchObject({ planned: 3, succeeded: 3, failed: 0 });
    expect(await live(prefix)).toHaveLength(rows - 3);
  },
  120_000,
);
