/**
 * Actito Mirror deletes a removed row's record by the key the record was written with, also when
 * that key is not the delta's key text (`key::text`): a char(n) key (node-postgres keeps the padding,
 * its text drops it). Temporal dev server + Postgres + the connector over HTTP to the emulator.
 *
 *   npx jest --selectProjects integration --testPathPatterns actito-mirror-keys
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import type { RunSummary } from '../../common/run';
import { sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_actito_keys');
let emu: ActitoEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  emu = await startActitoEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, connections: { actito: { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity } } }),
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
const orderIds = async (table: string): Promise<string[]> =>
  (await admin<{ records: Array<{ orderId: string }> }>(`/tables/${table}/records?limit=1000`)).records.map((r) => r.orderId).sort();
const sync = (id: string): Promise<RunSummary> =>
  client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });

it('Mirror deletes the record of a removed row whose char(n) key was written padded', async () => {
  const id = uniqueName('ax_keys');
  const table = `t_${id}`.slice(0, 50);
  await admin('/tables', {
    method: 'POST',
    body: JSON.stringify({
      name: table,
      primaryKeyAttribute: 'orderId',
      attributes: [
        { name: 'orderId', valueType: 'STRING' },
        { name: 'amount', valueType: 'NUMBER' },
      ],
    }),
  });
  await db.query(`CREATE TABLE public.${id} (order_id char(6), amount numeric)`);
  // 20 rows: removing one stays under the deletion guard's 10%.
  await db.query(`INSERT INTO public.${id} SELECT 'A' || g, g FROM generate_series(1, 20) g`);
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'mirror',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'order_id' },
          destination: { kind: 'actito', connection: 'actito', table, key: 'orderId' },
          mappings: [{ from: 'amount', to: 'amount' }],
        },
      },
    ],
  });
  const first = await sync(id);
  expect({ status: first.status, ops: first.ops }).toMatchObject({ status: 'success', ops: { upsert: { succeeded: 20 } } });
  const written = await orderIds(table);
  expect(written).toHaveLength(20);

  await db.query(`DELETE FROM public.${id} WHERE order_id = 'A2'`);
  const second = await sync(id);
  expect({ status: second.status, ops: second.ops }).toMatchObject({ status: 'success', ops: { delete: { succeeded: 1 } } });
  // Whatever spelling the key was written with, the removed row's record is gone and the others stay.
  expect(await orderIds(table)).toEqual(written.filter((k) => k.trim() !== 'A2'));
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});
