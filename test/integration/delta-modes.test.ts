/**
 * Delta correctness per mode through the real stack: Temporal dev server, Postgres, the activation and
 * run workflows, and the Postgres-backed test destination. Each step changes the model and asserts
 * the state left in the destination.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, type RunningWorker } from '../support/harness';
import type { RunSummary } from '../../common/run';
import { ROW_RETRY_ATTEMPTS } from '../../activities/write';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { approveDeletesUpdate, triggerSyncUpdate } from '../../workflows/messages';
import { NULL_KEY } from '../../db/delta';

const TQ = uniqueName('tq_delta');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

async function makeModel(table: string, rows: number): Promise<void> {
  await db.query(`CREATE TABLE ${table} (id int, email text, name text, score numeric(10,2), note text)`);
  await db.query(
    `INSERT INTO ${table} SELECT g, 'user' || g || '@example.com', 'Name ' || g, g / 7.0, 'unmapped ' || g FROM generate_series(1, $1) g`,
    [rows],
  );
}

function config(id: string, table: string, mode: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    mode,
    schedule: { manual: true },
    source: { sql: `SELECT id, email, name, score, note FROM ${table}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id', options: { chunkSize: 500 } },
    mappings: [
      { from: 'email', to: 'Email' },
      { from: 'name', to: 'Name' },
      { from: 'score', to: 'Score' },
    ],
    ...extra,
  };
}

async function startActivation(cfg: Record<string, unknown>) {
  return client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(String(cfg.id)),
    args: [{ config: cfg }],
  });
}

async function sync(id: string, full = false): Promise<RunSummary> {
  return client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{ full }] });
}

async function destination(object: string): Promise<Map<string, Record<string, unknown>>> {
  const r = await db.query(`SELECT key, "values" FROM test_dest.records WHERE object = $1`, [object]);
  return new Map(r.rows.map((x) => [x.key as string, x.values as Record<string, unknown>]));
}

describe('upsert', () => {
  const id = uniqueName('ups');
  const table = `public.${id}`;

  test('first run sends every row; a change set sends only added and changed rows', async () => {
    await makeModel(table, 3000);
    await startActivation(config(id, table, 'upsert'));
    const first = await sync(id);
    expect(first.status).toBe('success');
    expect(first.ops.upsert).toMatchObject({ planned: 3000, succeeded: 3000, failed: 0 });
    expect((await destination(id)).size).toBe(3000);

    await db.query(`UPDATE ${table} SET name = name || ' v2' WHERE id <= 100`);
    await db.query(`UPDATE ${table} SET note = 'changed but unmapped' WHERE id BETWEEN 500 AND 999`);
    await db.query(`INSERT INTO ${table} SELECT g, 'new' || g || '@example.com', 'New ' || g, 1, '' FROM generate_series(3001, 3200) g`);
    await db.query(`DELETE FROM ${table} WHERE id BETWEEN 2001 AND 2150`);
    await db.query(
      `INSERT INTO ${table} VALUES (9999, 'a@x.com', 'dup A', 1, ''), (9999, 'b@x.com', 'dup B', 2, ''), (NULL, 'n@x.com', 'no key', 3, '')`,
    );
    const second = await sync(id);
    expect(second.ops.upsert).toMatchObject({ planned: 300, succeeded: 300, failed: 0 });
    expect(second.rejected).toBe(3);
    expect(second.status).toBe('partial');
    const dest = await destination(id);
    expect(dest.size).toBe(3200); // upsert never deletes
    expect(dest.get('1')).toMatchObject({ Name: 'Name 1 v2', Email: 'user1@example.com', ext_id: 1 });
    expect(dest.get('3200')).toMatchObject({ Name: 'New 3200' });
    expect(dest.has('9999')).toBe(false); // duplicate keys: never last-wins
    const errors = await db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key`, [id]);
    expect(errors.rows.map((e) => [e.key, e.code])).toEqual([
      [NULL_KEY, 'MODEL_NULL_KEY'],
      ['9999', 'MODEL_DUPLICATE_KEY'],
    ]);
    expect(errors.rows[1].message).toContain('appears 2 times');
  });

  test('a row refused with a retryable error is kept out of the snapshot and sent again next run', async () => {
    await db.query(`UPDATE ${table} SET name = 'will fail' WHERE id = 5`);
    // Refused at every send of the run (ROW_RETRY_ATTEMPTS), accepted at the next run's first.
    await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable, times) VALUES ($1, '5', 'UNABLE_TO_LOCK_ROW', true, $2)`, [
      id,
      ROW_RETRY_ATTEMPTS,
    ]);
    const third = await sync(id);
    expect(third.ops.upsert).toMatchObject({ planned: 1, succeeded: 0, failed: 1 });
    expect(third.resent).toEqual({ UNABLE_TO_LOCK_ROW: ROW_RETRY_ATTEMPTS - 1 });
    expect((await destination(id)).get('5')).toMatchObject({ Name: 'Name 5 v2' });
    const err = await db.query(`SELECT code, attempts FROM syncline.row_errors WHERE activation_id = $1 AND key = '5'`, [id]);
    expect(err.rows[0].code).toBe('UNABLE_TO_LOCK_ROW');
    const fourth = await sync(id);
    expect(fourth.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    expect((await destination(id)).get('5')).toMatchObject({ Name: 'will fail' });
    expect((await db.query(`SELECT 1 FROM syncline.row_errors WHERE activation_id = $1 AND key = '5'`, [id])).rowCount).toBe(0);
  });

  test('a permanent error waits for the row to change; a full re-sync sends everything again', async () => {
    await db.query(`UPDATE ${table} SET name = 'bad value' WHERE id = 6`);
    await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable, times) VALUES ($1, '6', 'STRING_TOO_LONG', false, 1)`, [
      id,
    ]);
    const a = await sync(id);
    expect(a.ops.upsert).toMatchObject({ planned: 1, failed: 1 });
    const b = await sync(id);
    expect(b.ops.upsert).toMatchObject({ planned: 1, skipped: 1, succeeded: 0 });
    await db.query(`UPDATE ${table} SET name = 'fixed value' WHERE id = 6`);
    const c = await sync(id);
    expect(c.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    expect((await destination(id)).get('6')).toMatchObject({ Name: 'fixed value' });
    const full = await sync(id, true);
    expect(full.full).toBe(true);
    expect(full.ops.upsert?.succeeded).toBe(3050); // 3000 + 200 added - 150 removed; the duplicate and null keys stay rejected
  });
});

describe('insert, update and mirror', () => {
  test('insert sends only added rows and never duplicates', async () => {
    const id = uniqueName('ins');
    await makeModel(`public.${id}`, 1000);
    await startActivation(config(id, `public.${id}`, 'insert'));
    expect((await sync(id)).ops.create).toMatchObject({ planned: 1000, succeeded: 1000 });
    await db.query(`UPDATE public.${id} SET name = 'changed' WHERE id <= 10`);
    await db.query(`INSERT INTO public.${id} VALUES (1001, 'x@y.z', 'new', 1, '')`);
    const s = await sync(id);
    expect(s.ops.create).toMatchObject({ planned: 1, succeeded: 1 });
    const n = await db.query(`SELECT count(*)::int AS n, count(DISTINCT key)::int AS k FROM test_dest.records WHERE object = $1`, [id]);
    expect(n.rows[0]).toEqual({ n: 1001, k: 1001 });
  });

  test('update never creates: rows missing in the destination fail as NOT_FOUND', async () => {
    const id = uniqueName('upd');
    await makeModel(`public.${id}`, 50);
    await db.query(`INSERT INTO test_dest.records (object, key, "values") SELECT $1, g::text, '{}' FROM generate_series(1, 40) g`, [id]);
    await startActivation(config(id, `public.${id}`, 'update'));
    const s = await sync(id);
    expect(s.ops.update).toMatchObject({ planned: 50, succeeded: 40, failed: 10 });
    expect((await destination(id)).size).toBe(40);
    const codes = await db.query(`SELECT DISTINCT code FROM syncline.row_errors WHERE activation_id = $1`, [id]);
    expect(codes.rows).toEqual([{ code: 'NOT_FOUND' }]);
  });

  test('the deletion guard is inclusive: exactly maxDeletePercent % of the synced rows are deleted, one more key is held', async () => {
    const id = uniqueName('mirlim');
    const table = `public.${id}`;
    await makeModel(table, 200);
    await startActivation(config(id, table, 'mirror'));
    expect((await sync(id)).ops.upsert?.succeeded).toBe(200);
    await db.query(`DELETE FROM ${table} WHERE id <= 20`); // 20 of 200 synced: exactly 10%
    const atLimit = await sync(id);
    expect(atLimit).toMatchObject({ heldDeletes: 0, ops: { delete: { planned: 20, succeeded: 20, held: 0 } } });
    expect((await destination(id)).size).toBe(180);
    await db.query(`DELETE FROM ${table} WHERE id <= 39`); // 19 of 180 synced: one key over 10% (18)
    const over = await sync(id);
    expect(over).toMatchObject({ heldDeletes: 19, ops: { delete: { planned: 19, succeeded: 0, held: 19 } } });
    expect(over.warnings.map((w) => w.code)).toEqual(['DELETES_HELD']);
    expect((await destination(id)).size).toBe(180);
  });

  test('mirror deletes removed rows; the deletion guard holds an empty model until approved', async () => {
    const id = uniqueName('mir');
    const table = `public.${id}`;
    await makeModel(table, 200);
    await startActivation(config(id, table, 'mirror'));
    expect((await sync(id)).ops.upsert?.succeeded).toBe(200);
    await db.query(`DELETE FROM ${table} WHERE id <= 10`); // 5%: under the 10% guard
    const small = await sync(id);
    expect(small.ops.delete).toMatchObject({ planned: 10, succeeded: 10 });
    expect((await destination(id)).size).toBe(190);

    await db.query(`DELETE FROM ${table}`);
    const held = await sync(id);
    expect(held.heldDeletes).toBe(190);
    expect(held.ops.delete).toMatchObject({ held: 190, succeeded: 0 });
    expect(held.warnings.map((w) => w.code)).toContain('DELETES_HELD');
    expect((await destination(id)).size).toBe(190);
    const again = await sync(id); // still held without approval
    expect(again.ops.delete?.succeeded ?? 0).toBe(0);
    expect((await destination(id)).size).toBe(190);

    const handle = client.workflow.getHandle(activationWorkflowId(id));
    const wrongRun = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }] }).catch((e: Error) => e);
    expect((wrongRun as Error & { cause?: Error }).cause?.message).toMatch(/held by run/);
    const approved = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: again.runNumber }] });
    expect(approved.approved).toBe(190);
    expect(approved.run.ops.delete).toMatchObject({ succeeded: 190 });
    expect((await destination(id)).size).toBe(0);
  });

  test("an approval deletes only the keys its run held: keys removed after it are held again, and need their own run's approval", async () => {
    const id = uniqueName('mirapp');
    const table = `public.${id}`;
    await makeModel(table, 200);
    await startActivation(config(id, table, 'mirror'));
    expect((await sync(id)).ops.upsert?.succeeded).toBe(200);
    await db.query(`DELETE FROM ${table} WHERE id <= 30`); // 15%: held
    const held = await sync(id);
    expect(held).toMatchObject({ heldDeletes: 30, ops: { delete: { held: 30, succeeded: 0 } } });
    // The model loses 30 more keys before the approval is given for the first 30.
    await db.query(`DELETE FROM ${table} WHERE id <= 60`);
    const handle = client.workflow.getHandle(activationWorkflowId(id));
    const approved = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }] });
    expect(approved.approved).toBe(30);
    expect(approved.run).toMatchObject({ heldDeletes: 30, ops: { delete: { planned: 60, succeeded: 30, held: 30 } } });
    const left = await destination(id);
    expect([...Array(60).keys()].map((i) => left.has(String(i + 1)))).toEqual([...Array(60).keys()].map((i) => i >= 30));
    // The approval was used: naming its run again is refused; the new keys wait for their own run's approval.
    const again = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }] }).catch((e: Error) => e);
    expect((again as Error & { cause?: Error }).cause?.message).toMatch(/held by run/);
    const second = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: approved.run.runNumber }] });
    expect(second.run).toMatchObject({ heldDeletes: 0, ops: { delete: { planned: 30, succeeded: 30 } } });
    expect((await destination(id)).size).toBe(140);
  });
});
