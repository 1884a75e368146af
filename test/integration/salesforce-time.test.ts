/**
 * Salesforce time fields through the real stack (Temporal dev server, Postgres, the connector talking HTTP
 * to the Salesforce emulator, whose time fields take `HH:mm:ss.SSSZ` only, the format Salesforce documents):
 * a `time` arrives as its time of day + `Z`, a `timetz` as its time in UTC, a text as what it spells.
 * A value that is no time of day Salesforce can hold fails its row before anything is sent.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-time
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import type { RunSummary } from '../../common/run';
import { sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_sftime');
let sf: SalesforceEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  sf = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  const conn = { auth: 'client_credentials', loginUrl: sf.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, connections: { sf: conn } }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await sf?.close();
});

/** Per column type: [model value, what Salesforce must hold (null: the row fails)]. */
const CASES: Record<string, Array<[string, string | null]>> = {
  time: [
    ['13:45:00', '13:45:00.000Z'],
    ['00:00:00', '00:00:00.000Z'],
    ['23:59:59.999999', '23:59:59.999Z'], // Salesforce keeps milliseconds: cut, never rounded up to 24:00
    ['08:05:03.5', '08:05:03.500Z'],
    ['24:00:00', null], // Postgres's end of day: no time Salesforce holds
  ],
  timetz: [
    ['13:45:00+02', '11:45:00.000Z'],
    ['01:30:00-05:30', '07:00:00.000Z'],
    ['00:30:00.25+01', '23:30:00.250Z'], // the day wraps: a time of day has no date
    ['12:00:00+00', '12:00:00.000Z'],
  ],
  text: [
    ['13:45', '13:45:00.000Z'],
    ['13:45:00.000Z', '13:45:00.000Z'],
    ['13:45:00.5+01:00', '12:45:00.500Z'],
    ['noon', null],
  ],
};

async function start(cfg: { id: string } & Record<string, unknown>): Promise<void> {
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(cfg.id),
    args: [{ config: cfg }],
  });
}
const sync = (id: string): Promise<RunSummary> =>
  client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });

describe.each(['collections', 'bulk'] as const)('Salesforce time field (%s)', (path) => {
  test.each(Object.keys(CASES))('from a %s column', async (pgType) => {
    const cases = CASES[pgType]!;
    const id = uniqueName(`sftime_${path.slice(0, 4)}_${pgType}`);
    await db.query(`CREATE TABLE public.${id} (id text, last_name text, t ${pgType})`);
    for (const [i, [v]] of cases.entries()) await db.query(`INSERT INTO public.${id} VALUES ($1, $2, $3)`, [`${id}-${i}`, `Last ${i}`, v]);
    await start({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: {
        kind: 'salesforce',
        connection: 'sf',
        object: 'Contact',
        key: 'External_Id__c',
        options: { bulkThreshold: path === 'bulk' ? 1 : 100_000, bulkPollMs: 0 },
      },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
        { from: 't', to: 'Preferred_Call_Time__c' },
      ],
    });
    const s = await sync(id);
    const failing = cases.filter(([, want]) => want === null).length;
    expect(s.ops.upsert).toMatchObject({ succeeded: cases.length - failing, failed: failing });
    const all = await emulatorAdmin<Array<Record<string, unknown>>>(sf.url, '/records/Contact');
    const got = cases.map(([v], i) => {
      const c = all.find((x) => x.External_Id__c === `${id}-${i}`);
      return { v, held: c === undefined ? null : c.Preferred_Call_Time__c };
    });
    expect(got).toEqual(cases.map(([v, want]) => ({ v, held: want })));
    const errors = (
      await db.query<{ key: string; code: string }>(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key`, [id])
    ).rows;
    expect(errors).toEqual(
      cases.flatMap(([, want], i) => (want === null ? [{ key: `${id}-${i}`, code: 'INVALID_TYPE_ON_FIELD_IN_RECORD' }] : [])),
    );
  });
});
