/**
 * A failure message goes into Temporal history (in clear, even with a codec), the pending activity's last
 * failure, the run's record in the state database and the worker's log. A connector's or a library's
 * error that names a URL with credentials (`https://user:pass@host`), with a query string
 * (`?access_token=…`, `?q=SELECT … WHERE key='…'`) or an Authorization header's value must reach none of
 * them: the activity boundary (activities/failure.ts `toFailure`, common/redact.ts) leaves them out,
 * whatever the connector. Real Temporal dev server, Postgres, the Actito connector talking HTTP to its
 * emulator, and a connector of the test's own. (The Salesforce connector's path: test/unit/row-values.test.ts.)
 *
 *   npx jest --selectProjects integration --testPathPatterns failure-secrets
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import { env, sqlClient, startWorker, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { runCli } from '../support/cli';
import { testdbConnector } from '../support/testdb-connector';
import { SyncError } from '../../common/errors';
import type { DestinationConnector } from '../../connectors/types';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_secrets');
let ax: ActitoEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

/** Every secret the failures below carry; none may be found anywhere. */
const SECRETS = [
  's3cret-ax-pass',
  's3cret-ax-token',
  's3cret-gen-pass',
  's3cret-gen-token',
  's3cret-gen-bearer',
  'ann@example.com',
  's3cret-row-pass',
  's3cret-row-token',
  's3cret-row-bearer',
  's3cret-row-xtoken',
  's3cret-warn-token',
];

/** A destination whose check fails as a connector wrapping a library's error would. */
const leaky: DestinationConnector<any, any> = {
  ...testdbConnector,
  kind: 'leaky',
  async check() {
    throw new SyncError(
      'AUTH_FAILED',
      'the API refused: GET https://svc:s3cret-gen-pass@api.example.com/v1/records?access_token=s3cret-gen-token&q=SELECT+Id+WHERE+Email%3D%27ann@example.com%27 ' +
        'answered 401 (request headers: {"Authorization":"Bearer s3cret-gen-bearer","Accept":"application/json"})',
      { retryable: false },
    );
  },
};

/**
 * A destination whose answers per row quote the request they refused (as an API's error body may), and
 * whose check warns quoting a URL with a token: row k1's answer recorded by batch (`chunk.record`), the
 * others' as a stream (`chunk.recordStream`, as a bulk job's result files are).
 */
const rowAnswer = (key: string) =>
  `the API refused "${key}": POST https://svc:s3cret-row-pass@api.example.com/v1/records?access_token=s3cret-row-token&q=ann@example.com&limit=100 answered 400 (sent Authorization: Bearer s3cret-row-bearer; X-Auth-Token: s3cret-row-xtoken; not retried)`;
const leakyRows: DestinationConnector<any, any> = {
  ...testdbConnector,
  kind: 'leaky-rows',
  async check() {
    return {
      skippedFields: [],
      missingAttributes: [],
      warnings: [
        { code: 'LEAKY_NOTE', level: 'info', message: 'quota read from https://api.example.com/limits?access_token=s3cret-warn-token' },
      ],
    };
  },
  async planWrites() {
    return { method: 'rows', chunkSize: 100 };
  },
  async writeChunk(_ctx, chunk) {
    const refused = (key: string) => ({ key, ok: false as const, code: 'API_REFUSED', message: rowAnswer(key), retryable: false });
    for await (const rows of chunk.rows(100)) {
      await chunk.record(rows.filter((r) => r.key === 'k1').map((r) => refused(r.key)));
      const rest = rows.filter((r) => r.key !== 'k1').map((r) => refused(r.key));
      await chunk.recordStream!(
        (async function* () {
          yield rest;
        })(),
      );
    }
    return { status: 'done' };
  },
};

beforeAll(async () => {
  ax = await startActitoEmulator({ port: 0 });
  const withUser = (url: string, user: string, pass: string) => url.replace('://', `://${user}:${pass}@`);
  [worker, client] = await Promise.all([
    startWorker({
      taskQueue: TQ,
      connectors: [leaky, leakyRows],
      connections: {
        // A URL with credentials: fetch refuses it, and its TypeError names the whole URL.
        actito: {
          apiKey: ax.apiKey,
          baseUrl: `${withUser(ax.url, 'syncline', 's3cret-ax-pass')}/?access_token=s3cret-ax-token`,
          entity: ax.entity,
        },
        leaky: { url: 'unused' },
        'leaky-rows': { url: 'unused' },
      },
    }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await ax?.close();
});

/** All Temporal holds of the activation: its history, its run's history and pending activities' last failures. */
async function temporalText(id: string): Promise<string> {
  const texts: string[] = [];
  for (const wid of [activationWorkflowId(id), runWorkflowId(id, 1)]) {
    const h = client.workflow.getHandle(wid);
    const history = await h.fetchHistory().catch(() => null);
    const raw = (await h.describe().catch(() => null))?.raw ?? null;
    // Payloads as text, however the history spells them: bytes, or base64 in a `data` field (the history's
    // JSON form); the replacer reads the holder's own value, as a Buffer's toJSON has already run on `v`.
    texts.push(
      JSON.stringify([history, raw], function (this: Record<string, unknown>, k: string, v: unknown) {
        const own = this[k];
        if (own instanceof Uint8Array) return Buffer.from(own).toString('utf8');
        return k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v;
      }),
    );
  }
  return texts.join('\n');
}

/** The first failure of the run's activities: the pending activity's last one, else the run's recorded error. */
async function firstFailure(id: string): Promise<string> {
  return waitFor(`a failure of ${id}`, async () => {
    for (const wid of [runWorkflowId(id, 1), activationWorkflowId(id)]) {
      const raw = (
        await client.workflow
          .getHandle(wid)
          .describe()
          .catch(() => null)
      )?.raw;
      const pending = raw?.pendingActivities?.find((p) => p.lastFailure)?.lastFailure;
      if (pending) return `${pending.message} ${pending.stackTrace ?? ''}`;
    }
    const r = await db.query(`SELECT error FROM syncline.runs WHERE activation_id = $1 AND error IS NOT NULL`, [id]);
    return r.rows[0]?.error as string | undefined;
  });
}

const found = (text: string) => SECRETS.filter((s) => text.includes(s));

test.each([
  // Retried (a TypeError): the pending activity's last failure holds it.
  ['actito', { kind: 'actito', connection: 'actito', table: 'orders', key: 'orderId' }, 'doc', 'syncline:…@', false],
  // Not retried (AUTH_FAILED): the run fails, its error recorded in the state database.
  ['a connector of its own', { kind: 'leaky', connection: 'leaky', object: 'x', key: 'ext_id' }, 'Name', 'svc:…@', true],
] as const)(
  '%s: a failure naming a URL with credentials or a query string, or an Authorization header, holds none of them',
  async (_name, destination, to, shown, recorded) => {
    const id = uniqueName('secrets');
    await db.query(`CREATE TABLE public.${id} AS SELECT 'k1'::text AS id, 'ann@example.com'::text AS name`);
    await client.workflow.start(WORKFLOW_TYPES.activation, {
      taskQueue: TQ,
      workflowId: activationWorkflowId(id),
      args: [
        {
          config: {
            id,
            mode: 'upsert',
            schedule: { manual: true },
            source: { table: `public.${id}`, key: 'id' },
            destination,
            mappings: [{ from: 'name', to }],
          },
        },
      ],
    });
    const handle = client.workflow.getHandle(activationWorkflowId(id));
    void handle.executeUpdate(triggerSyncUpdate, { args: [{}] }).catch(() => undefined);
    const failure = await firstFailure(id);
    // The failure still says what failed and where (the URL's host), without what it carried.
    expect({ failure: failure.includes(shown), secrets: found(failure) }).toEqual({ failure: true, secrets: [] });
    const stored = async () =>
      (await db.query(`SELECT coalesce(string_agg(error, ' '), '') AS e FROM syncline.runs WHERE activation_id = $1`, [id])).rows[0]
        .e as string;
    if (recorded) await waitFor(`the run's error of ${id}`, async () => (await stored()).includes(shown));
    expect(found(await stored())).toEqual([]);
    expect(found(await temporalText(id))).toEqual([]);
    await handle.terminate('test over').catch(() => undefined);
    await client.workflow
      .getHandle(runWorkflowId(id, 1))
      .terminate('test over')
      .catch(() => undefined);
  },
  90_000,
);

test("a destination answer per row, or a check warning, quoting a URL with credentials, a query string or a bearer token: syncline.row_errors, `syncline errors`, the run's warnings and Temporal hold none of them", async () => {
  const id = uniqueName('secrets_rows');
  await db.query(`CREATE TABLE public.${id} AS SELECT 'k' || i AS id, 'v' || i AS name FROM generate_series(1, 3) i`);
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'leaky-rows', connection: 'leaky-rows', object: 'x', key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  const handle = client.workflow.getHandle(activationWorkflowId(id));
  void handle.executeUpdate(triggerSyncUpdate, { args: [{}] }).catch(() => undefined);
  const run = await waitFor(`run 1 of ${id} finished`, async () => {
    const r = await db.query(`SELECT status, warnings FROM syncline.runs WHERE activation_id = $1 AND finished_at IS NOT NULL`, [id]);
    return r.rows[0] as { status: string; warnings: unknown } | undefined;
  });
  const rowErrors = (await db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key`, [id])).rows;
  // Each answer still says what was refused and where (the URL's user and host, the path, its parameters'
  // names and a paging parameter's value), without what it carried.
  const shown = (key: string) =>
    `the API refused "${key}": POST https://svc:…@api.example.com/v1/records?access_token=…&q=…&limit=100 answered 400 (sent Authorization: …; X-Auth-Token: …; not retried)`;
  expect({ status: run.status, rowErrors }).toEqual({
    status: 'partial',
    rowErrors: ['k1', 'k2', 'k3'].map((key) => ({ key, code: 'API_REFUSED', message: shown(key) })),
  });
  const { address, databaseUrl } = env();
  const cli = await runCli(['errors', id], { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: TQ });
  expect({ code: cli.code, shown: cli.stdout.includes('svc:…@api.example.com'), secrets: found(cli.stdout + cli.stderr) }).toEqual({
    code: 0,
    shown: true,
    secrets: [],
  });
  expect(JSON.stringify(run.warnings)).toContain('https://api.example.com/limits?access_token=…');
  expect(found(JSON.stringify(run.warnings))).toEqual([]);
  expect(found(await temporalText(id))).toEqual([]);
  await handle.terminate('test over').catch(() => undefined);
}, 90_000);
