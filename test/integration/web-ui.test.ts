/**
 * The Temporal Web UI explains an activation and its runs, read by a real headless Chromium from the
 * dev server's own Web UI: the activation's current details (state, health, the last runs), a run's
 * summary, static details and final counts, and one summary per chunk write. Screenshots are kept in
 * .data/artifacts/web-ui/ (test artefacts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTemporalDevServer, type TemporalServer } from '../../scripts/services/temporal';
import { startWorker, sqlClient, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

const ARTIFACTS = path.resolve(__dirname, '../../.data/artifacts/web-ui');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TQ = uniqueName('tq_ui');
let server: TemporalServer;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: run "bash scripts/install-chromium.sh" (Debian's chromium package) or set CHROMIUM_PATH`);
  server = await startTemporalDevServer({ quiet: true });
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, address: server.address }), testClient(server.address)]);
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
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await server?.stop();
});

/** Opens a workflow's User Metadata tab and returns its text, current details (rendered in a frame) included. */
async function metadataOf(page: Page, workflowId: string, runId: string, shot: string): Promise<string> {
  await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`);
  await page.getByText('User Metadata', { exact: true }).click();
  await page.getByText('Current Details').waitFor();
  // The details are markdown rendered in frames of their own: wait until one has content.
  let text = '';
  // Up to a minute: the browser renders slowly on a loaded machine.
  for (let i = 0; i < 240 && !/\w/.test(text.replace(/Current Details|Press the|for freshness/g, '')); i++) {
    await page.waitForTimeout(250);
    const frames = await Promise.all(
      page.frames().map((f) =>
        f
          .locator('body')
          .innerText()
          .catch(() => ''),
      ),
    );
    text = [await page.locator('main').innerText(), ...frames].join('\n');
  }
  await page.screenshot({ path: path.join(ARTIFACTS, `${shot}.png`), fullPage: true });
  return text;
}

test('the activation and one of its runs, as the Web UI shows them', async () => {
  const id = uniqueName('ui');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 120) g`);
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 40 } },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  const summary = await client.workflow
    .getHandle(activationWorkflowId(id))
    .executeUpdate(triggerSyncUpdate, { args: [{ reason: 'web ui test' }] });
  expect(summary.status).toBe('success');
  const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });

  const run = await client.workflow.getHandle(runWorkflowId(id, 1)).describe();
  const runText = await metadataOf(page, runWorkflowId(id, 1), run.runId, 'run');
  expect(runText).toContain(`${id} · run 1 · upsert · manual · web ui test`); // summary
  expect(runText).toContain(`Model: table public.${id}`); // static details
  expect(runText).toMatch(/Run 1\s+success/); // current details: the counts at the end
  expect(runText).toMatch(/upsert\s+120\s+120\s+0\s+0\s+0/);
  for (const n of [1, 2, 3]) expect(runText).toContain(`chunk ${n}/3 · upsert · 40 rows`);

  const activation = await client.workflow.getHandle(activationWorkflowId(id)).describe();
  const activationText = await metadataOf(page, activationWorkflowId(id), activation.runId, 'activation');
  expect(activationText).toMatch(new RegExp(`${id}\\s+· upsert → testdb ${id}`));
  expect(activationText).toMatch(/State\s+idle\s+· health\s+ok\s+· next run on request/);
  expect(activationText).toMatch(/1\s+manual\s+success\s+120\s+0\s+0/);
  await page.close();
}, 180_000);
