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
import { sqlClient, startWorker, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
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
const SECRETS = ['s3cret-ax-pass', 's3cret-ax-token', 's3cret-gen-pass', 's3cret-gen-token', 's3cret-gen-bearer', 'ann@example.com'];

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

beforeAll(async () => {
  ax = await startActitoEmulator({ port: 0 });
  const withUser = (url: string, user: string, pass: string) => url.replace('://', `://${user}:${pass}@`);
  [worker, client] = await Promise.all([
    startWorker({
      taskQueue: TQ,
      connectors: [leaky],
      connections: {
        // A URL with credentials: fetch refuses it, and its TypeError names the whole URL.
        actito: {
          apiKey: ax.apiKey,
          baseUrl: `${withUser(ax.url, 'syncline', 's3cret-ax-pass')}/?access_token=s3cret-ax-token`,
          entity: ax.entity,
        },
        leaky: { url: 'unused' },
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
    texts.push(JSON.stringify([history, raw], (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v)));
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
