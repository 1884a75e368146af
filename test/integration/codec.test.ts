/**
 * Encrypted payloads end to end, on a dev server of its own whose Web UI decodes with `syncline
 * codec-server`: history read raw from the server holds no model SQL, mapping or run summary; the CLI
 * (`temporal workflow show --codec-endpoint`) and the Web UI (a real headless Chromium) show them
 * decoded; after a key rotation the activation carries on from payloads of the old key; `syncline list`
 * still reads the memos; and a worker whose key is missing refuses to start, naming the variable.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { startTemporalDevServer, type TemporalServer } from '../../scripts/services/temporal';
import { freePort } from '../../scripts/services/ports';
import { startWorker, sqlClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { startRefusedWorker } from '../support/worker-start';
import { codecFromEnvironment, withCodec, KEY_ID_METADATA, type AesGcmCodec } from '../../client/codec';
import { startCodecServer, type CodecServer } from '../../client/codec-server';
import { SynclineClient } from '../../client';
import { activationWorkflowId, runWorkflowId, WORKFLOW_TYPES } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const ROOT = path.resolve(__dirname, '../..');
const ARTIFACTS = path.resolve(ROOT, '.data/artifacts/codec');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const key = () => crypto.randomBytes(32).toString('base64');
const K1 = key();
const K2 = key();
const oldCodec = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k1:${K1}` })!;
const rotatedCodec = codecFromEnvironment({ SYNCLINE_CODEC_KEYS: `k2:${K2},k1:${K1}` })!;

let server: TemporalServer;
let codecServer: CodecServer;
let connection: Connection;
let raw: Client;
let db: pg.Pool;
let browser: Browser;
const workers: RunningWorker[] = [];

const clientWith = (codec: AesGcmCodec) => new Client({ connection, dataConverter: withCodec(undefined, codec) });

/** Every string and byte string of a history as text, and the key ids its encrypted payloads name. */
function walk(v: unknown, out: { text: string[]; keyIds: Set<string> }, name = ''): typeof out {
  if (v instanceof Uint8Array) {
    const s = Buffer.from(v).toString('utf8');
    out.text.push(s);
    if (name === KEY_ID_METADATA) out.keyIds.add(s);
  } else if (typeof v === 'string') out.text.push(v);
  else if (Array.isArray(v)) v.forEach((x) => walk(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, out, k);
  return out;
}

async function rawHistory(workflowId: string): Promise<{ text: string; keyIds: Set<string> }> {
  const h = walk(await raw.workflow.getHandle(workflowId).fetchHistory(), { text: [], keyIds: new Set() });
  return { text: h.text.join('\n'), keyIds: h.keyIds };
}

/** `temporal workflow show` as a person runs it (text, --detailed), and as JSON. */
async function temporalShow(workflowId: string, codecEndpoint?: string): Promise<{ text: string; json: string }> {
  const args = [
    'workflow',
    'show',
    '--workflow-id',
    workflowId,
    '--address',
    server.address,
    ...(codecEndpoint ? ['--codec-endpoint', codecEndpoint] : []),
  ];
  const run = async (extra: string[]) =>
    (await promisify(execFile)(server.cli!, [...args, ...extra], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  const [text, json] = await Promise.all([run(['--detailed', '--color', 'never']), run(['--output', 'json'])]);
  fs.writeFileSync(path.join(ARTIFACTS, `temporal-show${codecEndpoint ? '-codec' : ''}.txt`), text);
  return { text, json };
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: run "bash scripts/install-chromium.sh" (Debian's chromium package) or set CHROMIUM_PATH`);
  const uiPort = await freePort();
  // The Web UI calls the codec server from the browser: its origin must be allowed (CORS).
  codecServer = await startCodecServer({
    codec: rotatedCodec,
    port: await freePort(),
    origins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
  });
  server = await startTemporalDevServer({ quiet: true, uiPort, uiCodecEndpoint: codecServer.url });
  if (!server.cli) throw new Error('this test needs the temporal CLI (TEMPORAL_CLI)');
  connection = await Connection.connect({ address: server.address });
  raw = new Client({ connection });
  db = sqlClient();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  for (const w of workers) await w.stop().catch(() => undefined);
  await db?.end();
  await connection?.close();
  await server?.stop();
  await codecServer?.close();
});

test('history holds ciphertext; the CLI and the Web UI decode it; payloads of the old key still decrypt after rotation', async () => {
  const id = uniqueName('codec');
  const tq = uniqueName('tq_codec');
  const sql = `SELECT id, name AS model_sql_marker FROM public.${id}`;
  const mapping = 'Mapped_Field_Marker';
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 50) g`);

  // Before the rotation: worker and client encrypt with k1.
  const before = await startWorker({ taskQueue: tq, address: server.address, codec: oldCodec });
  workers.push(before);
  const oldClient = clientWith(oldCodec);
  await oldClient.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: tq,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          source: { sql, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'model_sql_marker', to: mapping }],
        },
      },
    ],
  });
  const first = await oldClient.workflow
    .getHandle(activationWorkflowId(id))
    .executeUpdate(triggerSyncUpdate, { args: [{ reason: 'before rotation' }] });
  expect(first).toMatchObject({ runNumber: 1, status: 'success', ops: { upsert: { succeeded: 50 } } });
  await before.stop();

  // After it: k2 encrypts, k1 only decrypts. The activation's current execution was written with k1 (its
  // continue-as-new input), so the new worker serving it at all shows the old key's payloads decrypt.
  await db.query(`UPDATE public.${id} SET name = 'Changed ' || id WHERE id <= 5`);
  workers.push(await startWorker({ taskQueue: tq, address: server.address, codec: rotatedCodec }));
  const client = clientWith(rotatedCodec);
  const second = await client.workflow
    .getHandle(activationWorkflowId(id))
    .executeUpdate(triggerSyncUpdate, { args: [{ reason: 'after rotation' }] });
  expect(second).toMatchObject({ runNumber: 2, status: 'success', ops: { upsert: { succeeded: 5 } } });
  const dest = await db.query(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE "values"->>'${mapping}' LIKE 'Changed %')::int AS changed FROM test_dest.records WHERE object = $1`,
    [id],
  );
  expect(dest.rows[0]).toEqual({ n: 50, changed: 5 });

  // Raw from the server: no model SQL, no mapping, no run summary; each run's payloads name the key they were sealed with.
  const run1 = await rawHistory(runWorkflowId(id, 1));
  const run2 = await rawHistory(runWorkflowId(id, 2));
  const activation = await rawHistory(activationWorkflowId(id));
  for (const h of [run1, run2, activation]) {
    for (const secret of [
      `public.${id}`,
      'model_sql_marker',
      mapping,
      'heldDeletes',
      'attributesCreated',
      'before rotation',
      'after rotation',
    ])
      expect(h.text).not.toContain(secret);
  }
  expect([...run1.keyIds]).toEqual(['k1']);
  expect([...run2.keyIds]).toEqual(['k2']);
  // Search attributes are not payload data: they stay readable (and searchable) by design.
  const listed = await raw.workflow.count(`SynclineActivation = '${id}'`);
  expect(listed.count).toBeGreaterThan(0);

  // The CLI decodes with the codec server; without it the same history shows no secret.
  const plainShow = await temporalShow(runWorkflowId(id, 1));
  expect(plainShow.text + plainShow.json).not.toContain('model_sql_marker');
  const shown = await temporalShow(runWorkflowId(id, 1), codecServer.url);
  for (const readable of [`public.${id}`, 'model_sql_marker', mapping, 'heldDeletes', 'attributesCreated'])
    expect(shown.text).toContain(readable);

  // `syncline list` reads each activation's memo, encrypted too, through the client's codec.
  const syncline = new SynclineClient({ client });
  // Visibility is eventually consistent: the execution continued as new after run 2 shows its memo shortly.
  const row = await waitFor('the listing of run 2', async () =>
    (await syncline.list()).find((a) => a.id === id && a.lastRun?.runNumber === 2),
  );
  expect(row).toMatchObject({ mode: 'upsert', destination: 'testdb', lastRun: { runNumber: 2, status: 'success' } });
  const memo = (
    await connection.workflowService.describeWorkflowExecution({
      namespace: 'default',
      execution: { workflowId: activationWorkflowId(id) },
    })
  ).workflowExecutionInfo?.memo?.fields?.syncline;
  expect(Buffer.from(memo?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');

  // The Web UI, pointed at the codec server by the dev server, shows the run's input and its summary decoded.
  const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
  const run = await raw.workflow.getHandle(runWorkflowId(id, 2)).describe();
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(runWorkflowId(id, 2))}/${run.runId}/history`);
  let text = '';
  // Up to a minute: the browser renders slowly on a loaded machine.
  for (let i = 0; i < 240 && !(text.includes('heldDeletes') && text.includes('model_sql_marker')); i++) {
    await page.waitForTimeout(250);
    text = await page.locator('body').innerText();
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'run-decoded.png'), fullPage: true });
  expect(text).toContain('heldDeletes'); // the run summary: the workflow's result
  expect(text).toMatch(/"succeeded":\s*5/);
  expect(text).toContain('model_sql_marker'); // the model SQL: the run's input
  expect(text).not.toContain('binary/encrypted');
  await page.close();
}, 300_000);

test('a worker whose key is missing or malformed refuses to start, naming the variable and never the key', async () => {
  // Nothing to reach: the keys are checked before any service is contacted.
  const start = (env: NodeJS.ProcessEnv) => startRefusedWorker(env);
  const missing = await start({ SYNCLINE_CODEC_KEYS_FILE: '/run/secrets/no-such-codec-keys' });
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('syncline worker: SYNCLINE_CODEC_KEYS_FILE (/run/secrets/no-such-codec-keys) cannot be read (ENOENT)');
  const empty = await start({ SYNCLINE_CODEC_KEYS: '' });
  expect(empty.code).toBe(2);
  expect(empty.stderr).toContain('syncline worker: SYNCLINE_CODEC_KEYS is set but holds no key');
  const short = await start({ SYNCLINE_CODEC_KEYS: `k3:${K1.slice(0, 20)}` });
  expect(short.code).toBe(2);
  expect(short.stderr).toContain('SYNCLINE_CODEC_KEYS, entry 1 (key "k3"): the key is not 32 bytes in base64');
  expect(short.stderr).not.toContain(K1.slice(0, 20));
}, 120_000);
