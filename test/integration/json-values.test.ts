/**
 * json and jsonb model columns through the real stack (Temporal dev server, Postgres, the Salesforce and
 * Actito connectors talking HTTP to their emulators): the text that reaches a text field keeps every digit
 * Postgres holds. A number past 2^53 or with more digits than a double keeps (`12345678901234567890`,
 * `0.1000000000000000055511151231257827`) arrives as written; every other value arrives in the form
 * syncline has always sent (`JSON.stringify` of the parsed value: compact, a string scalar bare), so values
 * already synced look the same.
 *
 *   npx jest --selectProjects integration --testPathPatterns json-values
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import type { RunSummary } from '../../common/run';
import { env, sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { SynclineClient } from '../../client';
import { formatPlan } from '../../client/cli-run';
import { runCli } from '../support/cli';
import { emulatorAdmin } from '../support/emulator-admin';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_json');
let sf: SalesforceEmulator;
let ax: ActitoEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  [sf, ax] = await Promise.all([
    startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 }),
    startActitoEmulator({ port: 0, dailyBulkImportQuota: 1000, bulkProcessingDelayMs: 10 }),
  ]);
  const sfConn = { auth: 'client_credentials', loginUrl: sf.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, connections: { sf: sfConn, actito: { apiKey: ax.apiKey, baseUrl: ax.url, entity: ax.entity } } }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await sf?.close();
  await ax?.close();
});

type Rec = Record<string, unknown>;

/** Model rows: key -> [jsonb, json] as SQL literals, and the text each must arrive as. */
const ROWS: Array<{ key: string; doc: string; raw: string; docText: string | null; rawText: string | null }> = [
  // Past 2^53: a double would write 12345678901234567000.
  {
    key: 'big',
    doc: `'{"id": 12345678901234567890}'`,
    raw: `'{"id":12345678901234567890, "n": -98765432109876543210}'`,
    docText: '{"id":12345678901234567890}',
    rawText: '{"id":12345678901234567890,"n":-98765432109876543210}',
  },
  // More decimals than a double keeps (0.1 as a double is 0.1000000000000000055511151231257827…).
  {
    key: 'decimals',
    doc: `'{"x": 0.1000000000000000055511151231257827, "y": [1.5, 123456789.123456789123]}'`,
    raw: `'[0.1000000000000000055511151231257827]'`,
    docText: '{"x":0.1000000000000000055511151231257827,"y":[1.5,123456789.123456789123]}',
    rawText: '[0.1000000000000000055511151231257827]',
  },
  // A scalar number past 2^53.
  {
    key: 'scalar',
    doc: `'12345678901234567890'`,
    raw: `'-12345678901234567891'`,
    docText: '12345678901234567890',
    rawText: '-12345678901234567891',
  },
  // Exact values keep the form they were always sent in: compact, `1.50` as 1.5, `1e2` as 100, a string bare.
  {
    key: 'plain',
    doc: `'{"a": 1, "b": [1, 2, {"c": "x y"}], "d": 1.50, "e": null, "f": true}'`,
    raw: `'{ "a" : 1e2 ,  "s": "caf\\u00e9 \\"q\\"" }'`,
    docText: '{"a":1,"b":[1,2,{"c":"x y"}],"d":1.5,"e":null,"f":true}',
    rawText: '{"a":100,"s":"café \\"q\\""}',
  },
  { key: 'string', doc: `'"hello"'`, raw: `'"12345678901234567890"'`, docText: 'hello', rawText: '12345678901234567890' },
  // JSON null clears the field, as SQL NULL does.
  { key: 'nulls', doc: `'null'`, raw: `NULL`, docText: null, rawText: null },
];

/**
 * jsonb[] and json[] columns (`docs`, `raws`) on some rows, and the text each must arrive as where arrays
 * are sent as text (an Actito STRING attribute): the JSON array of the elements, as syncline has always
 * sent it (a NULL element and JSON null as null), with every digit of every element.
 */
const ARRAYS: Record<string, { docs: string; raws: string; docsText: string; rawsText: string }> = {
  big: {
    docs: `ARRAY['{"id": 12345678901234567890}', 'null', NULL, '"s"', '[0.1000000000000000055511151231257827, 1.50]']::jsonb[]`,
    // Two dimensions; a scalar element, 1e2 written as always (100).
    raws: `'{{"1e2","-98765432109876543210"},{"{\\"a\\": 0.1000000000000000055511151231257827}","true"}}'::json[]`,
    docsText: '[{"id":12345678901234567890},null,null,"s",[0.1000000000000000055511151231257827,1.5]]',
    rawsText: '[[100,-98765432109876543210],[{"a":0.1000000000000000055511151231257827},true]]',
  },
  plain: { docs: `ARRAY['{"a": [1, 2]}', '"x y"']::jsonb[]`, raws: `'{}'::json[]`, docsText: '[{"a":[1,2]},"x y"]', rawsText: '[]' },
};

async function createModel(table: string): Promise<void> {
  await db.query(`CREATE TABLE ${table} (id text, last_name text, doc jsonb, raw json, docs jsonb[], raws json[])`);
  for (const r of ROWS)
    await db.query(
      `INSERT INTO ${table} VALUES ('${r.key}', 'Last ${r.key}', ${r.doc}::jsonb, ${r.raw}::json, ${ARRAYS[r.key]?.docs ?? 'NULL'}, ${ARRAYS[r.key]?.raws ?? 'NULL'})`,
    );
}

async function start(cfg: { id: string } & Record<string, unknown>): Promise<void> {
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(cfg.id),
    args: [{ config: cfg }],
  });
}
const sync = (id: string): Promise<RunSummary> =>
  client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
const ok = (s: RunSummary) => `${s.status}${s.error ? ` ${s.error.type}: ${s.error.message}` : ''}`;

describe.each(['collections', 'bulk'] as const)('Salesforce text fields (%s)', (path) => {
  test('a json(b) value arrives with every digit Postgres holds, other values as always sent', async () => {
    const id = uniqueName(`sfjson_${path.slice(0, 4)}`);
    await createModel(`public.${id}`);
    await start({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { sql: `SELECT id, last_name, doc, raw FROM public.${id}`, key: 'id' },
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
        { from: 'doc', to: 'Description' },
        { from: 'raw', to: 'MailingStreet' },
      ],
    });
    await emulatorAdmin(sf.url, '/requests', { method: 'DELETE' });
    const s = await sync(id);
    expect(ok(s)).toBe('success');
    const log = (await emulatorAdmin<{ requests: Array<{ path: string }> }>(sf.url, '/requests')).requests;
    expect(log.some((r) => r.path.includes('/jobs/ingest'))).toBe(path === 'bulk');
    const all = await emulatorAdmin<Rec[]>(sf.url, '/records/Contact');
    const got = ROWS.map((r) => {
      const c = all.find((x) => x.External_Id__c === r.key && x.LastName === `Last ${r.key}`);
      return { key: r.key, Description: c?.Description ?? null, MailingStreet: c?.MailingStreet ?? null };
    });
    expect(got).toEqual(ROWS.map((r) => ({ key: r.key, Description: r.docText, MailingStreet: r.rawText })));
    // A row's hash is Postgres's text of its values, whatever is sent: nothing looks changed to the next run.
    const again = await sync(id);
    expect({ status: ok(again), sent: again.ops.upsert?.succeeded ?? 0 }).toEqual({ status: 'success', sent: 0 });
  });
});

describe.each(['single', 'bulk'] as const)('Actito STRING attributes (%s)', (path) => {
  test('a json(b) value arrives with every digit Postgres holds, other values as always sent', async () => {
    const id = uniqueName(`axjson_${path.slice(0, 4)}`);
    const table = `t_${id}`.slice(0, 50);
    await emulatorAdmin(ax.url, '/tables', {
      method: 'POST',
      body: JSON.stringify({
        name: table,
        primaryKeyAttribute: 'orderId',
        attributes: [
          { name: 'orderId', valueType: 'STRING' },
          { name: 'doc', valueType: 'STRING' },
          { name: 'raw', valueType: 'STRING' },
          { name: 'docs', valueType: 'STRING' },
          { name: 'raws', valueType: 'STRING' },
        ],
      }),
    });
    await createModel(`public.${id}`);
    await start({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: {
        kind: 'actito',
        connection: 'actito',
        table,
        key: 'orderId',
        options: { bulkThreshold: path === 'bulk' ? 1 : 100_000, pollAfterMs: 0, bulkImportsPerDay: 1000 },
      },
      mappings: [
        { from: 'doc', to: 'doc' },
        { from: 'raw', to: 'raw' },
        { from: 'docs', to: 'docs' },
        { from: 'raws', to: 'raws' },
      ],
    });
    await emulatorAdmin(ax.url, '/requests', { method: 'DELETE' });
    const s = await sync(id);
    expect(ok(s)).toBe('success');
    const log = (await emulatorAdmin<{ requests: Array<{ method: string; route: string }> }>(ax.url, '/requests')).requests;
    expect(log.some((r) => r.method === 'POST' && r.route.includes('etl-executions'))).toBe(path === 'bulk');
    const recs = (await emulatorAdmin<{ records: Rec[] }>(ax.url, `/tables/${table}/records?limit=1000`)).records;
    const got = ROWS.map((r) => {
      const x = recs.find((y) => y.orderId === r.key);
      return { key: r.key, doc: x?.doc ?? null, raw: x?.raw ?? null, docs: x?.docs ?? null, raws: x?.raws ?? null };
    });
    expect(got).toEqual(
      ROWS.map((r) => ({
        key: r.key,
        doc: r.docText,
        raw: r.rawText,
        docs: ARRAYS[r.key]?.docsText ?? null,
        raws: ARRAYS[r.key]?.rawsText ?? null,
      })),
    );
  });
});

test('a plan shows json(b) values and their arrays with every digit, stored, read back and printed', async () => {
  const id = uniqueName('planjson');
  await createModel(`public.${id}`);
  await start({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: ['doc', 'raw', 'docs', 'raws'].map((c) => ({ from: c, to: c })),
  });
  const syncline = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
  const p = await syncline.plan(id);
  expect(p.counts).toMatchObject({ upsert: ROWS.length });
  const big = p.samples.upsert!.find((r) => r.key === 'big')!;
  const scalar = p.samples.upsert!.find((r) => r.key === 'scalar')!;
  // The plan as a program reads it: a number a double would change is a JsonNumber of its literal.
  expect(String((big.values.doc as { id: unknown }).id)).toBe('12345678901234567890');
  expect(String(scalar.values.raw)).toBe('-12345678901234567891');
  // As stored in syncline.plans (jsonb keeps any number of digits) and as `syncline plan` prints it.
  const stored = (await db.query(`SELECT samples::text AS t FROM syncline.plans WHERE activation_id = $1`, [id])).rows[0].t as string;
  const printed = formatPlan(p);
  for (const digits of ['12345678901234567890', '-98765432109876543210', '0.1000000000000000055511151231257827', '-12345678901234567891']) {
    expect({ digits, stored: stored.includes(digits) }).toEqual({ digits, stored: true });
    expect({ digits, printed: printed.includes(digits) }).toEqual({ digits, printed: true });
  }
  expect(printed).toContain(ARRAYS.big!.docsText);
  expect(printed).toContain(ARRAYS.big!.rawsText);
  expect(printed).toMatch(/^\s+decimals\s+\{"x":0\.1000000000000000055511151231257827,"y":\[1\.5,123456789\.123456789123\]\}\s/m);

  // `syncline plan --json` (a new plan of the same rows), what a script reads: the same digits (rev19).
  const { address, databaseUrl } = env();
  const cli = await runCli(['plan', id, '--json'], { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: TQ });
  expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
  for (const digits of ['12345678901234567890', '-98765432109876543210', '0.1000000000000000055511151231257827', '-12345678901234567891']) {
    expect({ digits, json: cli.stdout.includes(digits) }).toEqual({ digits, json: true });
  }
  const parsed = JSON.parse(cli.stdout) as { samples: { upsert: Array<{ key: string }> } };
  expect(parsed.samples.upsert.map((r) => r.key).sort()).toEqual(p.samples.upsert!.map((r) => r.key).sort());
});
