/**
 * An Actito import file over the size limit, through the runtime (Temporal dev server + Postgres + the
 * Actito emulator): with rows per import sized by the connector (bulkChunkSize unset), the file is
 * refused before upload and its size kept in the activation's connector state; the run fails without
 * pausing the activation and lists every row as not acknowledged; the next run sends them in imports
 * sized from that file, each row exactly once. The limit is lowered (connectors/actito/chunk-size.ts
 * `importFileLimit`) so that a few thousand rows reach it.
 *
 *   npx jest --selectProjects integration --testPathPatterns actito-import-size
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import { importFileLimit } from '../../connectors/actito/chunk-size';
import { sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { statusQuery, triggerSyncUpdate } from '../../workflows/messages';
import type { RunSummary } from '../../common/run';

const TQ = uniqueName('tq_actito_size');
const ROWS = 6_000;
const LIMIT = 16 * 1024;
let emu: ActitoEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
const limitBefore = importFileLimit.bytes;

beforeAll(async () => {
  importFileLimit.bytes = LIMIT;
  emu = await startActitoEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  const actito = { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity };
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, connections: { actito } }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  importFileLimit.bytes = limitBefore;
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await emu?.close();
});

const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);
const imports = async () =>
  (await admin<{ imports: Array<{ table: string; status: string; counts: { read: number } }> }>('/imports')).imports;

test('a file over the limit: refused and measured, rows listed; the next run imports them in smaller files, each once', async () => {
  const id = uniqueName('ax_size');
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
  await db.query(
    `CREATE TABLE public.${id} AS SELECT 'o' || g AS order_id, (g * 1.5)::numeric(10,2) AS amount FROM generate_series(1, ${ROWS}) g`,
  );
  const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'order_id' },
          destination: { kind: 'actito', connection: 'actito', table, key: 'orderId', options: { bulkThreshold: 50, pollAfterMs: 0 } },
          mappings: [{ from: 'amount', to: 'amount' }],
        },
      },
    ],
  });
  const sync = (): Promise<RunSummary> => handle.executeUpdate(triggerSyncUpdate, { args: [{}] });

  const first = await sync();
  expect(first.status).toBe('failed');
  expect(first.error?.type).toBe('INTERNAL');
  expect(first.error?.message).toMatch(/over Actito's 16 KB limit, so it was not uploaded .*The next run sends these rows again/);
  expect(first.ops.upsert).toMatchObject({ planned: ROWS, succeeded: 0, failed: ROWS });
  expect(await imports()).toEqual([]);
  const listed = await db.query(`SELECT code, count(*)::int AS n FROM syncline.row_errors WHERE activation_id = $1 GROUP BY code`, [id]);
  expect(listed.rows).toEqual([{ code: 'NOT_ACKNOWLEDGED', n: ROWS }]);
  const seen = (
    await db.query(`SELECT value FROM syncline.connector_state WHERE activation_id = $1 AND key = $2`, [
      id,
      `actito.bulkFile.records.${table}`,
    ])
  ).rows[0]?.value as { bytes: number; rows: number } | undefined;
  expect(seen?.rows).toBe(ROWS);
  expect(seen!.bytes).toBeGreaterThan(LIMIT);
  // Not a configuration error: the activation is not paused.
  expect((await handle.query(statusQuery)).state).not.toBe('paused');

  const second = await sync();
  expect(second.status).toBe('success');
  expect(second.ops.upsert).toMatchObject({ succeeded: ROWS, failed: 0 });
  const chunkSize = Math.floor((LIMIT * 0.8) / (seen!.bytes / seen!.rows));
  const done = await imports();
  expect(done).toHaveLength(Math.ceil(ROWS / chunkSize));
  expect(done.every((i) => i.status === 'SUCCESS')).toBe(true);
  expect(done.reduce((n, i) => n + i.counts.read, 0)).toBe(ROWS);
  const stored = await admin<{ count: number; records: Array<{ orderId: string; amount: number }> }>(
    `/tables/${table}/records?limit=100000`,
  );
  expect(stored.count).toBe(ROWS);
  expect(new Set(stored.records.map((r) => r.orderId)).size).toBe(ROWS);
  expect(stored.records.find((r) => r.orderId === 'o4000')?.amount).toBe(6000);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows[0].n).toBe(0);
});
