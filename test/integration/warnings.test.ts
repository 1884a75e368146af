/**
 * Warnings through the real stack: activations on the Temporal dev server, Postgres, the testdb
 * destination, and a webhook receiver on 127.0.0.1. Each threshold opens one notice when crossed and
 * one recovery notice when it clears; SynclineHealth follows and the real `temporal` CLI finds it; a
 * revoked credential auto-pauses with one CONFIG_BROKEN and nothing is lost after resume or re-check;
 * failed rows land in syncline.row_errors and `retryFailed` sends only them.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { Worker } from '@temporalio/worker';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, env, workflowBundle, type RunningWorker } from '../support/harness';
import { testdbConnector, testdbConnectionSchema, type TestdbConnection } from '../support/testdb-connector';
import type { RunWarning } from '../../common/run';
import { listRuns } from '../../client/runs';
import { createDb } from '../../db/connect';
import { findTemporalCli } from '../../scripts/services/temporal';
import type { DestinationConnector } from '../../connectors/types';
import type { WarningNotice } from '../../common/warnings';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import {
  openWarningsQuery,
  reportWarningsSignal,
  resumeSignal,
  retryFailedSignal,
  statusQuery,
  triggerSyncUpdate,
} from '../../workflows/messages';
import { NULL_KEY } from '../../db/delta';

const run = promisify(execFile);
const TQ = uniqueName('tq_warn');
// This file's own warnings workflow: it runs on the task queue that started it (see activities/notify.ts).
const WARNINGS_ID = uniqueName('syncline-warnings');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
let server: http.Server;
let hookUrl: string;
const received: Array<{ body: Record<string, unknown>; noticeId: string; path: string }> = [];

/** testdb with an API quota read from its connection, to drive QUOTA_LOW (`quotaFails`: the read throws). */
type QuotaConnection = TestdbConnection & { quotaUsed: number; quotaMax: number; quotaFails: boolean };
const quotadb: DestinationConnector<QuotaConnection> = {
  ...(testdbConnector as unknown as DestinationConnector<QuotaConnection>),
  kind: 'quotadb',
  connectionSchema: testdbConnectionSchema.extend({
    quotaUsed: z.number().default(0),
    quotaMax: z.number().default(1000),
    quotaFails: z.boolean().default(false),
  }) as unknown as z.ZodType<QuotaConnection>,
  quota: async (ctx) => {
    if (ctx.connection.quotaFails) throw new Error('quota endpoint unavailable');
    return { used: ctx.connection.quotaUsed, max: ctx.connection.quotaMax };
  },
};

beforeAll(async () => {
  process.env.SYNCLINE_WARNINGS_WORKFLOW_ID = WARNINGS_ID;
  server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      received.push({
        body: JSON.parse(text) as Record<string, unknown>,
        noticeId: String(req.headers['x-syncline-notice']),
        path: req.url ?? '',
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  // Activations without a webhook connection of their own use the worker-level default.
  process.env.SYNCLINE_WARNINGS_WEBHOOK = `${hookUrl}?default`;
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, connectors: [quotadb], connections: { alerts: { url: hookUrl } } }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await client?.workflow
    .getHandle(WARNINGS_ID)
    .terminate('test done')
    .catch(() => undefined);
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await new Promise((r) => server?.close(r));
  delete process.env.SYNCLINE_WARNINGS_WORKFLOW_ID;
  delete process.env.SYNCLINE_WARNINGS_WEBHOOK;
});

async function temporal(...args: string[]): Promise<string> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('the temporal CLI is needed: npm run temporal:install');
  const { stdout } = await run(cli, [...args, '--address', env().address], { timeout: 30_000 });
  return stdout;
}

/** JSON notices of one activation, as "CODE:kind:level". Slack ones are matched on their text. */
function notices(id: string): string[] {
  return received.flatMap(({ body }) => {
    if (typeof body.text === 'string') {
      if (!body.text.includes(`activation "${id}"`)) return [];
      const m = /(recovered|critical|warning)(?: \(was \w+\))? · activation "[^"]+" · ([A-Z_]+):/.exec(body.text);
      return m ? [`${m[2]}:${m[1] === 'recovered' ? 'cleared' : 'opened'}:slack`] : [];
    }
    const n = body as unknown as WarningNotice;
    return n.activationId === id ? [`${n.code}:${n.kind}:${n.level}`] : [];
  });
}

async function makeModel(id: string, rows: number): Promise<void> {
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, ${rows}) g`);
}

function activation(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
    warnings: { connection: 'alerts' },
    ...extra,
  };
}

const started: string[] = [];
async function start(cfg: { id: string }) {
  started.push(cfg.id);
  return client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(cfg.id),
    args: [{ config: cfg }],
  });
}
const sync = (id: string) => client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
const status = (id: string) => client.workflow.getHandle(activationWorkflowId(id)).query(statusQuery);
const health = async (id: string) =>
  (await client.workflow.getHandle(activationWorkflowId(id)).describe()).searchAttributes.SynclineHealth?.[0];
const openWarnings = (id: string) => client.workflow.getHandle(WARNINGS_ID).query(openWarningsQuery, id);

async function destinationMatchesModel(id: string): Promise<void> {
  const model = await db.query(`SELECT id::text AS key, name FROM public.${id} ORDER BY id`);
  const dest = await db.query(`SELECT key, "values"->>'Name' AS name FROM test_dest.records WHERE object = $1 ORDER BY key::int`, [id]);
  expect(dest.rows).toEqual(model.rows);
}

test('failed rows, model drop, large delta and consecutive failures each notify once and recover once; retryFailed sends only failed rows', async () => {
  const id = uniqueName('thr');
  await makeModel(id, 20);
  await db.query(
    `INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, '1', 'UNABLE_TO_LOCK_ROW', true), ($1, '2', 'UNABLE_TO_LOCK_ROW', true),
    ($1, '3', 'UNABLE_TO_LOCK_ROW', true), ($1, '4', 'FIELD_INTEGRITY_EXCEPTION', false), ($1, '5', 'FIELD_INTEGRITY_EXCEPTION', false)`,
    [id],
  );
  await start(activation(id, { thresholds: { failedRowPercent: 10, consecutiveFailedRuns: 2, modelDropPercent: 50, deltaPercent: 60 } }));

  const r1 = await sync(id); // 5 of 20 rows fail: over 10%
  expect(r1).toMatchObject({ status: 'partial', ops: { upsert: { planned: 20, failed: 5 } } });
  await waitFor('FAILED_ROWS opened', async () => notices(id).length === 1);
  expect(await health(id)).toBe('warning');
  const errors = await db.query(`SELECT key, code, retryable FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key`, [id]);
  expect(errors.rows).toEqual([
    { key: '1', code: 'UNABLE_TO_LOCK_ROW', retryable: true },
    { key: '2', code: 'UNABLE_TO_LOCK_ROW', retryable: true },
    { key: '3', code: 'UNABLE_TO_LOCK_ROW', retryable: true },
    { key: '4', code: 'FIELD_INTEGRITY_EXCEPTION', retryable: false },
    { key: '5', code: 'FIELD_INTEGRITY_EXCEPTION', retryable: false },
  ]);

  // Still crossed (the 3 retryable rows fail again, the 2 permanent ones are skipped): no second notice.
  const r2 = await sync(id);
  expect(r2.ops.upsert).toMatchObject({ planned: 5, failed: 3, skipped: 2 });
  expect(await openWarnings(id)).toEqual([expect.objectContaining({ code: 'FAILED_ROWS', level: 'warning' })]);

  // retryFailed: faults fixed, and a changed row that never failed must NOT be sent by this run.
  await db.query(`DELETE FROM test_dest.faults WHERE object = $1`, [id]);
  await db.query(`UPDATE public.${id} SET name = 'changed 20' WHERE id = 20`);
  const callsBefore = Number((await db.query(`SELECT coalesce(sum(rows), 0) AS n FROM test_dest.calls WHERE object = $1`, [id])).rows[0].n);
  await client.workflow.getHandle(activationWorkflowId(id)).signal(retryFailedSignal);
  const r3 = await waitFor('the retry-failed run', async () =>
    (await status(id)).lastRuns.find((r) => r.runNumber === 3 && r.status !== 'running'),
  );
  expect(r3).toMatchObject({ trigger: 'retry_failed', status: 'success', ops: { upsert: { planned: 5, succeeded: 5, failed: 0 } } });
  expect(Number((await db.query(`SELECT sum(rows) AS n FROM test_dest.calls WHERE object = $1`, [id])).rows[0].n) - callsBefore).toBe(5);
  expect(
    (await db.query(`SELECT "values"->>'Name' AS name FROM test_dest.records WHERE object = $1 AND key = '20'`, [id])).rows[0].name,
  ).toBe('Name 20');
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows[0].n).toBe(0);
  await waitFor('FAILED_ROWS cleared', async () => notices(id).length === 2);
  expect(await health(id)).toBe('ok');

  await db.query(`DELETE FROM public.${id} WHERE id <= 15`); // 75% fewer model rows
  await sync(id);
  await sync(id); // same size again: recovered
  await db.query(`UPDATE public.${id} SET name = name || ' v2'`); // 5 of 5 rows: over 60%
  await sync(id);
  await sync(id);

  await db.query(`ALTER TABLE public.${id} RENAME TO ${id}_gone`); // MODEL_SQL_ERROR: a failure, not a config pause
  expect((await sync(id)).status).toBe('failed');
  expect((await sync(id)).status).toBe('failed'); // second in a row: critical
  await waitFor('critical', async () => (await health(id)) === 'critical');
  expect((await status(id)).state).toBe('idle'); // a model error does not pause
  // Closed executions (one per continue-as-new) keep the health they had: filter on the running one.
  const listed = await waitFor(
    'the CLI lists it as critical',
    async () => {
      const out = await temporal(
        'workflow',
        'list',
        '--query',
        `SynclineHealth="critical" AND ExecutionStatus="Running" AND WorkflowId="activation/${id}"`,
        '-o',
        'json',
      );
      return out.includes(activationWorkflowId(id)) && out;
    },
    30_000,
  );
  expect(listed).toContain(activationWorkflowId(id));
  await db.query(`ALTER TABLE public.${id}_gone RENAME TO ${id}`);
  expect((await sync(id)).status).toBe('success');

  const expected = [
    'FAILED_ROWS:opened:warning',
    'FAILED_ROWS:cleared:warning',
    'MODEL_DROP:opened:warning',
    'MODEL_DROP:cleared:warning',
    'DELTA_LARGE:opened:warning',
    'DELTA_LARGE:cleared:warning',
    'RUN_FAILED:opened:warning',
    'RUN_FAILED:changed:critical',
    'RUN_FAILED:cleared:critical',
  ];
  await waitFor('every notice', async () => notices(id).length >= expected.length);
  await new Promise((r) => setTimeout(r, 1000)); // nothing else trails in
  expect(notices(id)).toEqual(expected);
  expect(await health(id)).toBe('ok');
  expect(await openWarnings(id)).toEqual([]);
  await waitFor(
    'the CLI no longer lists it',
    async () =>
      !(
        await temporal(
          'workflow',
          'list',
          '--query',
          `SynclineHealth="critical" AND ExecutionStatus="Running" AND WorkflowId="activation/${id}"`,
          '-o',
          'json',
        )
      ).includes(id),
    30_000,
  );
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('rows already reported and unchanged are no new failure: a run that sends nothing ends success without warning again, and FAILED_ROWS stays open until they are fixed', async () => {
  const id = uniqueName('known');
  await makeModel(id, 20);
  // Key 7 three times and one row without a key: 4 model rows rejected; rows 1 and 2 refused for good.
  await db.query(`INSERT INTO public.${id} VALUES (7, 'Seven bis'), (7, 'Seven ter'), (NULL, 'No key')`);
  await db.query(
    `INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, '1', 'FIELD_INTEGRITY_EXCEPTION', false), ($1, '2', 'FIELD_INTEGRITY_EXCEPTION', false)`,
    [id],
  );
  await start(activation(id, { thresholds: { failedRowPercent: 10 } }));
  const errorKeys = async () =>
    (await db.query(`SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key`, [id])).rows;
  const reported = [
    { key: NULL_KEY, code: 'MODEL_NULL_KEY' },
    { key: '1', code: 'FIELD_INTEGRITY_EXCEPTION' },
    { key: '2', code: 'FIELD_INTEGRITY_EXCEPTION' },
    { key: '7', code: 'MODEL_DUPLICATE_KEY' },
  ];

  const r1 = await sync(id); // 2 failed + 4 rejected of 19 sent + 4 rejected: over 10%
  expect(r1).toMatchObject({ status: 'partial', rejected: 4, ops: { upsert: { planned: 19, succeeded: 17, failed: 2 } } });
  expect(r1.warnings.map((w) => w.code)).toEqual(['FAILED_ROWS']);
  await waitFor('FAILED_ROWS opened', async () => notices(id).length === 1);
  expect(await errorKeys()).toEqual(reported);

  // Nothing changed: the rejected rows are rejected again for the same reason, the refused rows are skipped.
  const callsBefore = Number((await db.query(`SELECT count(*) AS n FROM test_dest.calls WHERE object = $1`, [id])).rows[0].n);
  const r2 = await sync(id);
  expect(Number((await db.query(`SELECT count(*) AS n FROM test_dest.calls WHERE object = $1`, [id])).rows[0].n)).toBe(callsBefore); // nothing sent
  expect(r2).toMatchObject({
    status: 'success',
    rejected: 4,
    rejectedUnchanged: 4,
    ops: { upsert: { planned: 2, skipped: 2, failed: 0, succeeded: 0 } },
  });
  expect(r2.warnings).toEqual([]);
  // Still visible: row errors, the open warning (no second notice, no recovery), the activation's health.
  expect(await errorKeys()).toEqual(reported);
  expect(await openWarnings(id)).toEqual([
    expect.objectContaining({
      code: 'FAILED_ROWS',
      level: 'warning',
      message: expect.stringContaining('run 1: 6 of 23 rows failed or were rejected'),
    }),
  ]);
  expect(notices(id)).toEqual(['FAILED_ROWS:opened:warning']);
  expect(await health(id)).toBe('warning');

  // A repeated key whose rows change is rejected anew: the run says so (the warning is already open: no notice).
  await db.query(`UPDATE public.${id} SET name = 'Seven changed' WHERE id = 7 AND name = 'Seven ter'`);
  const r3 = await sync(id);
  expect(r3).toMatchObject({ status: 'partial', rejected: 4, rejectedUnchanged: 1 });
  expect(r3.warnings.map((w) => w.code)).toEqual(['FAILED_ROWS']);

  // Fixed in the model and in the destination: the rows are sent and the warning recovers.
  await db.query(`DELETE FROM public.${id} WHERE (id = 7 AND name <> 'Name 7') OR id IS NULL`);
  await db.query(`DELETE FROM test_dest.faults WHERE object = $1`, [id]);
  await db.query(`UPDATE public.${id} SET name = name || ' fixed' WHERE id IN (1, 2)`);
  const r4 = await sync(id);
  expect(r4).toMatchObject({ status: 'success', rejected: 0, ops: { upsert: { planned: 3, succeeded: 3 } } });
  await waitFor('FAILED_ROWS cleared', async () => notices(id).length === 2);
  expect(notices(id)).toEqual(['FAILED_ROWS:opened:warning', 'FAILED_ROWS:cleared:warning']);
  expect(await errorKeys()).toEqual([]);
  await destinationMatchesModel(id);
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test("a run's warnings are in its record too: `syncline runs` and the reporting view show what the sync printed", async () => {
  const id = uniqueName('recwarn');
  await makeModel(id, 10);
  await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, '1', 'FIELD_INTEGRITY_EXCEPTION', false)`, [id]);
  await start(activation(id));
  const r1 = await sync(id); // 1 of 10 failed: over 5%
  expect(r1.warnings.map((w) => w.code)).toEqual(['FAILED_ROWS']);
  const [record] = await listRuns(createDb(db), id, 1);
  expect(record!.warnings).toEqual(r1.warnings);
  const view = await db.query(`SELECT warnings FROM syncline_reporting.runs WHERE activation_id = $1 AND run_number = 1`, [id]);
  expect(view.rows[0].warnings).toEqual(r1.warnings);
  // A retried commit answers from the record: the workflow must not add the warnings a second time.
  expect((await status(id)).lastRuns.at(-1)!.warnings).toEqual(r1.warnings);
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('a full re-sync someone asked for sends every row without a DELTA_LARGE warning; a large delta of a scheduled run still warns', async () => {
  const id = uniqueName('fullsync');
  await makeModel(id, 10);
  await start(activation(id));
  expect((await sync(id)).warnings).toEqual([]);
  const full = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{ full: true }] });
  expect(full).toMatchObject({ full: true, status: 'success', ops: { upsert: { planned: 10, succeeded: 10 } } });
  expect(full.warnings).toEqual([]);
  const [record] = await listRuns(createDb(db), id, 1);
  expect(record!.warnings).toEqual([]);
  // Every row changed, unasked: the warning it is for.
  await db.query(`UPDATE public.${id} SET name = name || ' v2'`);
  expect((await sync(id)).warnings.map((w) => w.code)).toEqual(['DELTA_LARGE']);
  await waitFor('DELTA_LARGE opened', async () => notices(id).length === 1);
  expect(notices(id)).toEqual(['DELTA_LARGE:opened:warning']);
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('a failed run says nothing about the rows that failed before: FAILED_ROWS stays open through it, with no recovery notice', async () => {
  const id = uniqueName('failkeep');
  await makeModel(id, 10);
  await db.query(
    `INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, '1', 'FIELD_INTEGRITY_EXCEPTION', false), ($1, '2', 'FIELD_INTEGRITY_EXCEPTION', false)`,
    [id],
  );
  await start(activation(id, { thresholds: { failedRowPercent: 10 } }));
  expect((await sync(id)).status).toBe('partial'); // 2 of 10 refused for good: over 10%
  await waitFor('FAILED_ROWS opened', async () => notices(id).length === 1);

  await db.query(`ALTER TABLE public.${id} RENAME TO ${id}_gone`); // MODEL_SQL_ERROR: the run fails before sending anything
  expect((await sync(id)).status).toBe('failed');
  await waitFor('RUN_FAILED opened', async () => notices(id).includes('RUN_FAILED:opened:warning'));
  await db.query(`ALTER TABLE public.${id}_gone RENAME TO ${id}`);
  const r3 = await sync(id); // the 2 rows are still refused (skipped until they change)
  expect(r3).toMatchObject({ status: 'success', ops: { upsert: { skipped: 2 } } });
  await waitFor('RUN_FAILED cleared', async () => notices(id).includes('RUN_FAILED:cleared:warning'));
  await new Promise((r) => setTimeout(r, 1000)); // nothing else trails in
  expect(notices(id)).toEqual(['FAILED_ROWS:opened:warning', 'RUN_FAILED:opened:warning', 'RUN_FAILED:cleared:warning']);
  expect(await openWarnings(id)).toEqual([expect.objectContaining({ code: 'FAILED_ROWS' })]);
  expect(await health(id)).toBe('warning');
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('a failed run leaves held deletions held: DELETES_HELD stays open through it, with no recovery notice', async () => {
  const id = uniqueName('heldkeep');
  await makeModel(id, 20);
  await start(activation(id, { mode: 'mirror' }));
  expect((await sync(id)).status).toBe('success');
  await db.query(`DELETE FROM public.${id} WHERE id > 10`); // half the synced rows: over the 10% guard
  expect((await sync(id)).heldDeletes).toBe(10);
  await waitFor('DELETES_HELD opened', async () => notices(id).includes('DELETES_HELD:opened:critical'));

  await db.query(`ALTER TABLE public.${id} RENAME TO ${id}_gone`); // MODEL_SQL_ERROR: the run fails before its delta
  expect((await sync(id)).status).toBe('failed');
  await waitFor('RUN_FAILED opened', async () => notices(id).includes('RUN_FAILED:opened:warning'));
  const st = await status(id);
  expect(st.heldDeletes).toEqual({ run: 2, count: 10 });
  expect(st.warnings?.map((w) => `${w.code}:${w.level}`)).toEqual(['DELETES_HELD:critical', 'RUN_FAILED:warning']);
  await new Promise((r) => setTimeout(r, 1000)); // nothing else trails in
  expect(notices(id)).toEqual(['DELETES_HELD:opened:critical', 'RUN_FAILED:opened:warning']);
  expect(await health(id)).toBe('critical');
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

/** Every execution of these workflows (continued-as-new ones too), payloads (base64 `data`) decoded as text. */
async function historiesText(workflowIds: string[]): Promise<string> {
  const texts: string[] = [];
  for (const workflowId of workflowIds) {
    for await (const wf of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      texts.push(
        JSON.stringify(history, (k, v: unknown) => {
          if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
          return k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v;
        }),
      );
    }
  }
  return texts.join('\n');
}

test('the webhook comes from a named connection: notices reach it and no workflow history holds its URL; an inline webhookUrl still works for running activations', async () => {
  const id = uniqueName('hookconn');
  const legacy = uniqueName('hooklegacy');
  // Tokens in the path, as in a Slack webhook URL: the part that must never be recorded.
  const named = `${hookUrl}/T0/B0/${id}-token`;
  const inline = `${hookUrl}/T0/B0/${legacy}-token`;
  worker.connections[`alerts-${id}`] = { url: named };
  for (const x of [id, legacy]) {
    await makeModel(x, 10);
    await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, '1', 'FIELD_INTEGRITY_EXCEPTION', false)`, [x]);
  }
  await start(activation(id, { warnings: { connection: `alerts-${id}`, slack: true } }));
  await start(activation(legacy, { warnings: { webhookUrl: inline } })); // as a running activation's document has it
  for (const x of [id, legacy]) expect((await sync(x)).warnings.map((w) => w.code)).toEqual(['FAILED_ROWS']); // 1 of 10 over 5%
  const at = (token: string) => received.filter((r) => r.path.includes(token));
  await waitFor('both notices', async () => at(`${id}-token`).length === 1 && at(`${legacy}-token`).length === 1);
  expect(at(`${id}-token`)[0]!.body).toEqual({ text: expect.stringContaining(`activation "${id}" · FAILED_ROWS`) });
  expect(at(`${legacy}-token`)[0]!.body).toMatchObject({ kind: 'opened', code: 'FAILED_ROWS', activationId: legacy });

  const ids = (x: string) => [activationWorkflowId(x), runWorkflowId(x, 1)];
  const recorded = await historiesText([...ids(id), WARNINGS_ID]);
  expect(recorded).toContain(`alerts-${id}`); // the histories were read: the connection's name is there...
  expect(recorded).not.toContain(`${id}-token`); // ...its URL is not
  expect(await historiesText(ids(legacy))).toContain(`${legacy}-token`); // the inline form does record it
  for (const x of [id, legacy]) await client.workflow.getHandle(activationWorkflowId(x)).terminate('test done');
});

test('a webhook URL that cannot be posted to fails its notice at once, naming where the URL is set, never the URL', async () => {
  const port = (server.address() as AddressInfo).port;
  const cases = [
    // fetch refuses a URL with a user name or password, and quotes it whole in its error.
    [uniqueName('hookuser'), (x: string) => `http://hook-user:${x}-s3cret@127.0.0.1:${port}/T0/B0/${x}-token`],
    // A port out of range: "Failed to parse URL from <the URL>".
    [uniqueName('hookport'), (x: string) => `https://hooks.example.com:99999/T0/B0/${x}-token`],
  ] as const;
  for (const [x, url] of cases) {
    worker.connections[`alerts-${x}`] = { url: url(x) };
    await makeModel(x, 10);
    await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, '1', 'FIELD_INTEGRITY_EXCEPTION', false)`, [x]);
    await start(activation(x, { warnings: { connection: `alerts-${x}` } }));
    expect((await sync(x)).warnings.map((w) => w.code)).toEqual(['FAILED_ROWS']);
  }
  // Failed attempts: in history once the activity gives up, and meanwhile as the last failure of the pending
  // activity (the Web UI shows it).
  const failures = async () => {
    const handle = client.workflow.getHandle(WARNINGS_ID);
    const history = await handle.fetchHistory();
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    return [
      ...(history.events ?? []).map((e) => e.activityTaskFailedEventAttributes?.failure?.message),
      ...pending.map((a) => a.lastFailure?.message),
    ].filter((m): m is string => !!m);
  };
  const failed = await waitFor(
    'both notices failed',
    async () => {
      const all = await failures();
      return cases.every(([x]) => all.some((m) => m.includes(`activation "${x}"`))) && all;
    },
    200_000,
    1000,
  );
  for (const [x] of cases) {
    const message = failed.find((m) => m.includes(`activation "${x}"`))!;
    expect(message).toContain(`the URL of connection "alerts-${x}"`);
    expect(message).not.toMatch(new RegExp(`${x}-(s3cret|token)`));
  }
  expect(await historiesText([WARNINGS_ID])).not.toMatch(/-s3cret|hookport\w*-token|hookuser\w*-token/);
  for (const [x] of cases) await client.workflow.getHandle(activationWorkflowId(x)).terminate('test done');
}, 240_000);

test('a run late past its deadline warns while it runs and recovers when it ends; low quota warns once (Slack payload, default webhook)', async () => {
  const id = uniqueName('late');
  const conn = `slow_${id}`;
  worker.connections[conn] = { url: env().databaseUrl, delayMs: 1500, batchSize: 5, quotaUsed: 0, quotaMax: 100 };
  await makeModel(id, 40);
  await start(
    activation(id, {
      destination: { kind: 'quotadb', connection: conn, object: id, key: 'ext_id' },
      warnings: { slack: true },
      thresholds: { deadlineMinutes: 0.1, quotaLowPercent: 20 },
    }),
  );
  const first = sync(id); // 8 batches of 5 rows, 1.5 s each: well past the 6 s deadline
  await waitFor('DEADLINE_MISSED opened', async () => notices(id).includes('DEADLINE_MISSED:opened:slack'), 30_000);
  expect((await status(id)).state).toBe('running');
  expect(await health(id)).toBe('warning');
  expect((await first).status).toBe('success');
  await waitFor('DEADLINE_MISSED cleared', async () => notices(id).includes('DEADLINE_MISSED:cleared:slack'));
  expect(
    received.filter((r) => typeof r.body.text === 'string' && r.body.text.includes(id)).every((r) => Object.keys(r.body).join() === 'text'),
  ).toBe(true);

  worker.connections[conn] = { url: env().databaseUrl, quotaUsed: 90, quotaMax: 100 };
  await sync(id);
  await sync(id); // still low: no second notice
  worker.connections[conn] = { url: env().databaseUrl, quotaUsed: 10, quotaMax: 100 };
  await sync(id);
  await waitFor('QUOTA_LOW cleared', async () => notices(id).includes('QUOTA_LOW:cleared:slack'));
  expect(notices(id)).toEqual([
    'DEADLINE_MISSED:opened:slack',
    'DEADLINE_MISSED:cleared:slack',
    'QUOTA_LOW:opened:slack',
    'QUOTA_LOW:cleared:slack',
  ]);
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('a quota that cannot be read says nothing about it: an open QUOTA_LOW stays open, with no recovery notice', async () => {
  const id = uniqueName('quotaread');
  const conn = `q_${id}`;
  worker.connections[conn] = { url: env().databaseUrl, quotaUsed: 95, quotaMax: 100 };
  await makeModel(id, 5);
  await start(activation(id, { destination: { kind: 'quotadb', connection: conn, object: id, key: 'ext_id' } }));
  await sync(id);
  await waitFor('QUOTA_LOW opened', async () => notices(id).includes('QUOTA_LOW:opened:warning'));
  worker.connections[conn] = { url: env().databaseUrl, quotaUsed: 95, quotaMax: 100, quotaFails: true };
  await db.query(`UPDATE public.${id} SET name = 'changed' WHERE id = 1`);
  expect((await sync(id)).status).toBe('success');
  await new Promise((r) => setTimeout(r, 1000)); // nothing else trails in
  expect(notices(id)).toEqual(['QUOTA_LOW:opened:warning']);
  expect(await health(id)).toBe('warning');
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

/** A synced activation whose credential is then revoked while the model changes: the run pauses it. */
async function breakCredential(id: string, extra: Record<string, unknown> = {}): Promise<string> {
  const conn = `cred_${id}`;
  worker.connections[conn] = { url: env().databaseUrl };
  await makeModel(id, 10);
  await start(activation(id, { destination: { kind: 'testdb', connection: conn, object: id, key: 'ext_id' }, ...extra }));
  expect((await sync(id)).status).toBe('success');
  worker.connections[conn] = { url: env().databaseUrl, revoked: true };
  await db.query(`INSERT INTO public.${id} SELECT g, 'Late ' || g FROM generate_series(11, 15) g`);
  await db.query(`UPDATE public.${id} SET name = 'Renamed ' || id WHERE id IN (2, 3)`);
  const failed = await sync(id);
  expect(failed).toMatchObject({ status: 'failed', error: { type: 'AUTH_FAILED' } });
  await waitFor('CONFIG_BROKEN opened', async () => notices(id).length === 1);
  const st = await status(id);
  expect(st.state).toBe('paused');
  expect(st.pausedReason).toContain('configuration error');
  expect(await health(id)).toBe('critical');
  expect(await openWarnings(id)).toEqual([expect.objectContaining({ code: 'CONFIG_BROKEN', level: 'critical' })]);
  return conn;
}

test('a revoked credential pauses with one critical warning; after the fix, resume syncs everything pending', async () => {
  const id = uniqueName('revoked');
  const conn = await breakCredential(id);
  await new Promise((r) => setTimeout(r, 2000));
  expect(notices(id)).toEqual(['CONFIG_BROKEN:opened:critical']);
  worker.connections[conn] = { url: env().databaseUrl };
  await client.workflow.getHandle(activationWorkflowId(id)).signal(resumeSignal);
  await waitFor('the catch-up run', async () => (await status(id)).lastRuns.find((r) => r.runNumber === 3 && r.status === 'success'));
  await waitFor('CONFIG_BROKEN cleared', async () => notices(id).length === 2);
  expect(notices(id)).toEqual(['CONFIG_BROKEN:opened:critical', 'CONFIG_BROKEN:cleared:critical']);
  await destinationMatchesModel(id);
  expect(await health(id)).toBe('ok');
  expect((await status(id)).state).toBe('idle');
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('while auto-paused, the periodic re-check resumes by itself once the credential works, and syncs what is pending', async () => {
  const id = uniqueName('recheck');
  const conn = await breakCredential(id, { recheck: '2s' });
  await new Promise((r) => setTimeout(r, 5000)); // re-checks fail meanwhile: still paused, no new notice, no run
  expect((await status(id)).state).toBe('paused');
  expect((await status(id)).lastRuns).toHaveLength(2);
  expect(notices(id)).toEqual(['CONFIG_BROKEN:opened:critical']);
  worker.connections[conn] = { url: env().databaseUrl };
  await waitFor(
    'the run after the re-check',
    async () => (await status(id)).lastRuns.find((r) => r.runNumber === 3 && r.status === 'success'),
    30_000,
  );
  await destinationMatchesModel(id);
  expect(notices(id)).toEqual(['CONFIG_BROKEN:opened:critical', 'CONFIG_BROKEN:cleared:critical']);
  expect(await health(id)).toBe('ok');
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
});

test('the warnings workflow keeps its history bounded: it continues as new with the open warnings', async () => {
  const id = uniqueName('flood');
  const handle = client.workflow.getHandle(WARNINGS_ID);
  const report = (warnings: RunWarning[], at: string) => ({ activationId: id, warnings, at, channel: { webhookUrl: hookUrl } });
  const open: RunWarning[] = [{ code: 'FAILED_ROWS', level: 'warning', message: 'still failing' }];
  await handle.signal(reportWarningsSignal, report(open, new Date().toISOString()));
  await waitFor('opened', async () => notices(id).length === 1);
  const before = (await handle.describe()).runId;
  // More reports than one execution takes (REPORTS_PER_EXECUTION), all repeating the open set.
  for (let i = 0; i < 210; i++) await handle.signal(reportWarningsSignal, report(open, new Date().toISOString()));
  await waitFor('continued as new', async () => (await client.workflow.getHandle(WARNINGS_ID).describe()).runId !== before, 30_000);
  expect(await openWarnings(id)).toEqual([expect.objectContaining({ code: 'FAILED_ROWS', message: 'still failing' })]);
  await handle.signal(reportWarningsSignal, report([], new Date().toISOString()));
  await waitFor('cleared', async () => notices(id).length === 2);
  expect(notices(id)).toEqual(['FAILED_ROWS:opened:warning', 'FAILED_ROWS:cleared:warning']);
  expect((await client.workflow.getHandle(WARNINGS_ID).describe()).historyLength).toBeLessThan(200);
});

test('every recorded history of these activations and of the warnings workflow replays deterministically', async () => {
  const bundle = await workflowBundle();
  const query = [...started.map((id) => `WorkflowId = "activation/${id}"`), `WorkflowId = "${WARNINGS_ID}"`].join(' OR ');
  let replayed = 0;
  for await (const wf of client.workflow.list({ query })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'warnings-test' }, history, wf.workflowId);
    replayed++;
  }
  expect(replayed).toBeGreaterThan(started.length * 2);
});
