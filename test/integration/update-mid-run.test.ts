/**
 * A document applied while a run writes waits for the run to end (it applies between runs). The engineer
 * gives up on it (Ctrl-C: the update is already queued in the activation) and applies the document that
 * runs now again, with `syncline activation apply -f`. The waiting document must not be applied after
 * the run: the last document sent is the one that counts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowUpdateStage } from '@temporalio/client';
import { env, testClient, uniqueName, waitFor } from '../support/harness';
import { activationWorkflowId, WORKFLOW_TYPES } from '../../common/names';
import { configQuery, resyncSignal, statusQuery, triggerSyncUpdate, updateConfigUpdate } from '../../workflows/messages';
import { useCliStage } from '../support/cli-stage';

const stage = useCliStage('midrun', { connections: () => ({ slowdb: { url: env().databaseUrl, delayMs: 2000, batchSize: 10 } }) });
const syncline = (...args: string[]) => stage.syncline(...args);
const TQ = stage.taskQueue;
let client: Client;

beforeAll(async () => {
  client = await testClient();
});
afterAll(async () => {
  await client?.connection.close();
});

test('a document given up on while a run writes is not applied after it, once the running one is applied again', async () => {
  const id = uniqueName('midrun');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
  const doc = (object: string) => ({
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'slowdb', object, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: doc(`${id}_a`) }],
  });
  await h.executeUpdate(triggerSyncUpdate, { args: [{}] });

  // A full re-sync writes (2 s a batch of 10); meanwhile a new target is sent, then given up on.
  await h.signal(resyncSignal, { full: true });
  await waitFor('the run writes', async () => (await h.query(statusQuery)).state === 'running');
  const waiting = await h.startUpdate(updateConfigUpdate, {
    args: [{ config: doc(`${id}_b`), retarget: true }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await new Promise((r) => setTimeout(r, 1000)); // its destination check done, it waits for the run to end
  fs.writeFileSync(path.join(stage.dir, `${id}.json`), JSON.stringify(doc(`${id}_a`)));
  const again = await syncline('activation', 'apply', '-f', stage.dir);
  expect(again.code).toBe(0);

  const outcome = await waiting.result().then(
    () => 'applied',
    (e: Error) => `refused: ${(e.cause as Error | undefined)?.message ?? e.message}`,
  );
  expect(outcome).toMatch(/^refused: .*a later document/);
  expect(((await h.query(configQuery)) as { destination: { object: string } }).destination.object).toBe(`${id}_a`);
  await h.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(Number((await stage.db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [`${id}_b`])).rows[0].n)).toBe(0);
  expect(Number((await stage.db.query(`SELECT count(*) AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n)).toBe(20);
  expect(again.stdout).toContain('the document waiting to apply after the run in progress is dropped');
});

test("a plan computed before a new target was accepted is stale: applied, it would write to the old target and fill the new one's snapshot", async () => {
  const id = uniqueName('planretarget');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const doc = (object: string) => ({
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(file, JSON.stringify(doc(`${id}_a`)));
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  expect((await syncline('sync', id)).code).toBe(0);
  await stage.db.query(`UPDATE public.${id} SET name = 'Changed' WHERE id <= 3`);
  const plan = await syncline('plan', id, '--json');
  expect(plan.code).toBe(0);
  const n = String((JSON.parse(plan.stdout) as { plan: number }).plan);

  fs.writeFileSync(file, JSON.stringify(doc(`${id}_b`)));
  expect((await syncline('activation', 'update', '--file', file, '--retarget')).code).toBe(0);
  const applied = await syncline('apply', id, n);
  expect(applied.code).toBe(1);
  expect(applied.stderr).toContain(`plan ${n} of "${id}" is stale: the activation's document changed after it was computed (version 2)`);

  expect((await syncline('sync', id)).code).toBe(0);
  const count = async (object: string) =>
    Number((await stage.db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [object])).rows[0].n);
  expect(await count(`${id}_b`)).toBe(10);
});

test('a new target drops the deletions held for the old one: status no longer asks to approve them, DELETES_HELD clears', async () => {
  const id = uniqueName('heldretarget');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const doc = (object: string) => ({
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: doc(`${id}_a`) }],
  });
  await h.executeUpdate(triggerSyncUpdate, { args: [{}] });
  await stage.db.query(`DELETE FROM public.${id} WHERE id > 5`);
  expect((await h.executeUpdate(triggerSyncUpdate, { args: [{}] })).heldDeletes).toBe(5);
  expect((await h.query(statusQuery)).heldDeletes).toEqual({ run: 2, count: 5 });

  const r = await h.executeUpdate(updateConfigUpdate, { args: [{ config: doc(`${id}_b`), retarget: true }] });
  expect(r.applied).toBe(true);
  const status = await h.query(statusQuery);
  expect(status.heldDeletes).toBeNull();
  expect((status.warnings ?? []).map((w) => w.code)).not.toContain('DELETES_HELD');
  expect(status.health).toBe('ok');
});

test('paused by a configuration error, a document that fixes it resumes the activation now, not at the next hourly re-check', async () => {
  const id = uniqueName('fixpause');
  await stage.db.query(
    `CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City ' || g AS city FROM generate_series(1, 10) g`,
  );
  const doc = (mappings: unknown[]) => ({
    id,
    mode: 'upsert',
    schedule: { every: '1d' },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings,
  });
  const h = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: doc([
          { from: 'name', to: 'Name' },
          { from: 'city', to: 'City' },
        ]),
      },
    ],
  });
  await waitFor('the first scheduled run', async () => (await h.query(statusQuery)).lastRuns.length === 1);
  await stage.db.query(`ALTER TABLE public.${id} DROP COLUMN city`);
  expect((await h.executeUpdate(triggerSyncUpdate, { args: [{}] })).status).toBe('failed');
  expect((await h.query(statusQuery)).state).toBe('paused');

  await stage.db.query(`UPDATE public.${id} SET name = 'Changed' WHERE id = 1`);
  const r = await h.executeUpdate(updateConfigUpdate, { args: [{ config: doc([{ from: 'name', to: 'Name' }]) }] });
  expect(r.applied).toBe(true);
  await waitFor(
    'resumed, the rows are sent',
    async () => {
      const s = await h.query(statusQuery);
      return s.state === 'idle' && s.lastRuns.at(-1)?.status === 'success';
    },
    20_000,
  );
});
