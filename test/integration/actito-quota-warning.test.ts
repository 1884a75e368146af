/**
 * The Actito daily import count after a run (QUOTA_LOW), on a real Temporal dev server, real Postgres and
 * the Actito emulator over HTTP: the activation reads the connector's quota in a local activity
 * (checkQuota, inside its workflow task), which must be short (connectors/actito/README.md "Daily quota").
 *
 * Here it is read on a worker whose table-structure cache is cold (as on another worker than the one that
 * ran the run, or a minute later) while Actito takes 10 s to answer a structure read: it answers from
 * Postgres at once, and the activation still warns that the table's imports are nearly used up.
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns actito-quota-warning
 */
import type { Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type pg from 'pg';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { connectionSchema } from '../../connectors/actito/config';
import { forgetTables } from '../../connectors/actito/context';
import { makeContext } from '../../connectors/actito/test-harness';
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import { statusQuery, triggerSyncUpdate } from '../../workflows/messages';
import { emulatorAdmin } from '../support/emulator-admin';
import { sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';

const TQ = uniqueName('tq_actito_quota');
let emu: ActitoEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
/** Run before each quota read: what the test sets up for it. */
let beforeQuota: (() => Promise<void>) | null = null;
/** Requests Actito received during each quota read (the emulator's log: answered, and still in flight after it). */
const quotaCalls: number[] = [];
const requestsSoFar = (): number => Object.values(emu.state.requests.counts).reduce((a, b) => a + b, 0) + emu.state.requests.inFlight.size;

const around: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      if (ctx.info.activityType !== 'checkQuota') return next(input);
      await beforeQuota?.();
      const before = requestsSoFar();
      try {
        return await next(input);
      } finally {
        quotaCalls.push(requestsSoFar() - before);
      }
    },
  },
});

beforeAll(async () => {
  emu = await startActitoEmulator({ port: 0, callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10, entity: uniqueName('ent') });
  [worker, client] = await Promise.all([
    startWorker({
      taskQueue: TQ,
      connections: { actito: { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity } },
      activityInterceptors: [around],
    }),
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

const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);

test('after a run of 3 imports out of 4 allowed, QUOTA_LOW is raised from Postgres alone, with Actito slow and no structure cached', async () => {
  const id = uniqueName('aq');
  const table = `t_${id}`.slice(0, 50);
  await admin('/tables', {
    method: 'POST',
    body: JSON.stringify({
      name: table,
      primaryKeyAttribute: 'orderId',
      attributes: [
        { name: 'orderId', valueType: 'STRING' },
        { name: 'status', valueType: 'STRING' },
      ],
    }),
  });
  await db.query(`CREATE TABLE public.${id} AS SELECT 'o' || g AS order_id, 'NEW' AS status FROM generate_series(1, 30) g`);
  const options = { bulkThreshold: 10, bulkChunkSize: 10, pollAfterMs: 0, bulkImportsPerDay: 4, bulkImportsReserve: 0 };
  const config = {
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'order_id' },
    destination: { kind: 'actito', connection: 'actito', table, key: 'orderId', options },
    mappings: [{ from: 'status', to: 'status' }],
    thresholds: { quotaLowPercent: 50 },
  };
  // The quota read finds no table structure cached in this process, and Actito answers a structure read in 10 s.
  beforeQuota = async () => {
    const conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
    forgetTables(makeContext({ connection: conn, table, key: 'orderId', mode: 'upsert', fields: [], options }));
    await admin('/faults', { method: 'POST', body: JSON.stringify({ slow: { ms: 10_000, count: 100, path: '/custom-tables' } }) });
  };
  const handle = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
  try {
    const run = await handle.executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });
    expect(run).toMatchObject({ status: 'success', ops: { upsert: { succeeded: 30, failed: 0 } } });
    // Three imports of 10 rows: one left of the 4 allowed today.
    expect((await admin<{ used: Record<string, number> }>('/bulk-quota')).used[table]).toBe(3);

    const status = await handle.query(statusQuery);
    expect(status.warnings?.find((w) => w.code === 'QUOTA_LOW')?.message).toMatch(/25\.0% of the destination's API quota is left \(1 of 4/);
    // Read once, from Postgres: no request reached Actito (a structure read would have taken 10 s of the workflow task).
    expect(quotaCalls).toEqual([0]);
  } finally {
    beforeQuota = null;
    await admin('/faults', { method: 'DELETE' });
    await handle.terminate('test done');
  }
});

test('QUOTA_LOW counts the profile table too: an activation writing profiles where 3 of 4 imports are used is warned, its own custom table untouched', async () => {
  // Two activations write their profiles to the entity's one profile table, `main`: every bulk chunk of either
  // spends an import there as well as on its custom table, and planWrites plans on whichever has fewer left.
  const ids = [uniqueName('aqa'), uniqueName('aqb')];
  const tables = ids.map((id) => `t_${id}`.slice(0, 50));
  for (const table of tables)
    await admin('/tables', {
      method: 'POST',
      body: JSON.stringify({
        name: table,
        primaryKeyAttribute: 'orderId',
        attributes: [
          { name: 'orderId', valueType: 'STRING' },
          { name: 'status', valueType: 'STRING' },
        ],
      }),
    });
  const [a, b] = ids as [string, string];
  await db.query(
    `CREATE TABLE public.${a} AS SELECT 'o' || g AS order_id, 'NEW' AS status, '${a}-c' || g AS customer_id FROM generate_series(1, 30) g`,
  );
  await db.query(
    `CREATE TABLE public.${b} AS SELECT 'o' || g AS order_id, 'NEW' AS status, '${b}-c' || g AS customer_id FROM generate_series(1, 2) g`,
  );
  const options = {
    bulkThreshold: 10,
    bulkChunkSize: 10,
    pollAfterMs: 0,
    bulkImportsPerDay: 4,
    bulkImportsReserve: 0,
    profiles: { table: 'main', matchAttribute: 'customerId', mode: 'upsert' },
  };
  const config = (id: string, table: string) => ({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'order_id' },
    destination: { kind: 'actito', connection: 'actito', table, key: 'orderId', options },
    mappings: [
      { from: 'status', to: 'status' },
      { from: 'customer_id', to: 'profile.customerId' },
    ],
    thresholds: { quotaLowPercent: 50 },
  });
  const handles = ids.map((id) => client.workflow.getHandle(activationWorkflowId(id)));
  try {
    for (const [i, id] of ids.entries()) {
      await client.workflow.start(WORKFLOW_TYPES.activation, {
        taskQueue: TQ,
        workflowId: activationWorkflowId(id),
        args: [{ config: config(id, tables[i]!) }],
      });
      const run = await handles[i]!.executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });
      expect(run).toMatchObject({ status: 'success' });
    }
    // A: 30 rows in three bulk chunks, each a profile import and a records import. B: 2 rows, one by one.
    expect((await admin<{ used: Record<string, number> }>('/bulk-quota')).used).toMatchObject({ main: 3, [tables[0]!]: 3 });
    expect((await admin<{ used: Record<string, number> }>('/bulk-quota')).used[tables[1]!]).toBeUndefined();
    // B's next bulk run has one import left on the profile table: it is warned, as A is.
    for (const handle of handles) {
      const status = await handle.query(statusQuery);
      expect({ id: handle.workflowId, warning: status.warnings?.find((w) => w.code === 'QUOTA_LOW')?.message }).toEqual({
        id: handle.workflowId,
        warning: expect.stringMatching(/25\.0% of the destination's API quota is left \(1 of 4/),
      });
    }
  } finally {
    for (const handle of handles) await handle.terminate('test done').catch(() => undefined);
  }
});
