/**
 * Plan and apply through the real stack (Temporal dev server, Postgres, the test destination, the CLI
 * as a child process): a plan writes nothing, apply writes exactly the frozen plan even after the
 * model changed, the snapshot advances only for those rows, and stale plans are refused.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { runCli, type CliResult } from '../support/cli';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { livenessTimer } from '../../activities/liveness';
import { backInModelCheck } from '../../activities/plan';
import { triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_plan');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

function syncline(...args: string[]): Promise<CliResult> {
  const { address, databaseUrl } = env();
  return runCli(args, { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: TQ });
}

beforeAll(async () => {
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

async function destination(object: string): Promise<Map<string, Record<string, unknown>>> {
  const r = await db.query(`SELECT key, "values" FROM test_dest.records WHERE object = $1`, [object]);
  return new Map(r.rows.map((x) => [x.key as string, x.values as Record<string, unknown>]));
}
async function snapshotKeys(id: string): Promise<string[]> {
  return (await db.query(`SELECT key FROM syncline.snapshot WHERE activation_id = $1 ORDER BY key::int`, [id])).rows.map(
    (r) => r.key as string,
  );
}
async function workTables(runId: string): Promise<number> {
  return Number(
    (
      await db.query(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'syncline_work' AND tablename IN ($1, $2)`, [
        `s_${runId}`,
        `d_${runId}`,
      ])
    ).rows[0].n,
  );
}
async function planRunId(id: string, plan: number): Promise<string> {
  return String(
    (await db.query(`SELECT run_id FROM syncline.plans WHERE activation_id = $1 AND run_number = $2`, [id, plan])).rows[0].run_id,
  );
}

describe('plan and apply (mirror)', () => {
  const id = uniqueName('plan');
  const table = `public.${id}`;
  const config = {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT id, email, name FROM ${table}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [
      { from: 'email', to: 'Email' },
      { from: 'name', to: 'Name' },
    ],
    deletionGuard: { maxDeletePercent: 50 },
  };

  test('apply writes exactly the frozen plan; the next run picks up later changes; stale plans are refused', async () => {
    await db.query(`CREATE TABLE ${table} (id int, email text, name text)`);
    await db.query(`INSERT INTO ${table} SELECT g, 'u' || g || '@x.com', 'Name ' || g FROM generate_series(1, 20) g`);
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    const first = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(first.status).toBe('success');

    // The plan: 2 changed, 2 added, 1 removed. Nothing reaches the destination.
    await db.query(`UPDATE ${table} SET name = 'Changed ' || id WHERE id IN (1, 2)`);
    await db.query(`INSERT INTO ${table} VALUES (21, 'u21@x.com', 'New 21'), (22, 'u22@x.com', 'New 22')`);
    await db.query(`DELETE FROM ${table} WHERE id = 20`);
    const planned = await syncline('plan', id);
    expect(planned.code).toBe(0);
    const plan = Number(/^plan (\d+) of/.exec(planned.stdout)?.[1]);
    expect(plan).toBe(2);
    expect(planned.stdout).toMatch(/^\s+upsert\s+4$/m);
    expect(planned.stdout).toMatch(/^\s+delete\s+1$/m);
    expect(planned.stdout).toContain('sample upsert rows:');
    expect(planned.stdout).toMatch(/^\s+key\s+Email\s+Name\s+ext_id$/m);
    expect(planned.stdout).toMatch(/^\s+21\s+"u21@x.com"\s+"New 21"\s+21$/m);
    expect(planned.stdout).toMatch(/^\s+1\s+"u1@x.com"\s+"Changed 1"\s+1$/m);
    expect(planned.stdout).toMatch(/^\s+20$/m); // a deletion has no values
    let dest = await destination(id);
    expect(dest.size).toBe(20);
    expect(dest.get('1')).toMatchObject({ Name: 'Name 1' });
    const samples = (await db.query(`SELECT counts, samples FROM syncline.plans WHERE activation_id = $1 AND run_number = $2`, [id, plan]))
      .rows[0];
    expect(samples.counts).toMatchObject({ upsert: 4, delete: 1 });
    expect(samples.samples.delete).toEqual([{ key: '20', values: {} }]);

    // The model moves on after the plan: none of this may be applied.
    await db.query(`UPDATE ${table} SET name = 'Later ' || id WHERE id IN (1, 3)`);
    await db.query(`INSERT INTO ${table} VALUES (23, 'u23@x.com', 'New 23')`);
    await db.query(`DELETE FROM ${table} WHERE id IN (4, 21)`);
    const runId = await planRunId(id, plan);
    expect(await workTables(runId)).toBe(2);

    const applied = await syncline('apply', id, String(plan));
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout.split('\n')[0]).toMatch(new RegExp(`^plan ${plan} was computed \\d+ s ago$`));
    dest = await destination(id);
    expect([...dest.keys()].map(Number).sort((a, b) => a - b)).toEqual([...Array.from({ length: 19 }, (_, i) => i + 1), 21, 22]);
    expect(dest.get('1')).toMatchObject({ Name: 'Changed 1' });
    expect(dest.get('2')).toMatchObject({ Name: 'Changed 2' });
    expect(dest.get('3')).toMatchObject({ Name: 'Name 3' });
    expect(dest.get('21')).toMatchObject({ Name: 'New 21' });
    expect(await snapshotKeys(id)).toEqual([...Array.from({ length: 19 }, (_, i) => String(i + 1)), '21', '22']);
    expect(await workTables(runId)).toBe(0);

    // Applying it again is refused; so is a plan made stale by a normal run.
    const again = await syncline('apply', id, String(plan));
    expect(again).toMatchObject({ code: 1, stdout: '' }); // no "plan 2 was computed ..." line before the refusal
    expect(again.stderr).toMatch(new RegExp(`plan ${plan} of "${id}" was already applied`));
    // A plan number never computed: the refusal alone, nothing on stdout for a script to read as an answer.
    const unknown = await syncline('apply', id, '999');
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toBe(
      `syncline apply: activation "${id}" refused apply: activation "${id}" has no plan 999; run \`syncline plan ${id}\` to compute a new plan\n`,
    );

    const stale = await syncline('plan', id);
    const stalePlan = Number(/^plan (\d+) of/.exec(stale.stdout)?.[1]);
    const staleRunId = await planRunId(id, stalePlan);
    const next = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(next.ops).toMatchObject({ upsert: { succeeded: 3 }, delete: { succeeded: 2 } });
    dest = await destination(id);
    expect(dest.get('1')).toMatchObject({ Name: 'Later 1' });
    expect(dest.get('3')).toMatchObject({ Name: 'Later 3' });
    expect(dest.has('4')).toBe(false);
    expect(dest.has('21')).toBe(false);
    expect(dest.get('23')).toMatchObject({ Name: 'New 23' });
    const refused = await syncline('apply', id, String(stalePlan));
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(new RegExp(`plan ${stalePlan} of "${id}" is stale: run ${next.runNumber} synced after it`));
    expect(await workTables(staleRunId)).toBe(0);
    expect(
      (await db.query(`SELECT status FROM syncline.plans WHERE activation_id = $1 ORDER BY run_number`, [id])).rows.map((r) => r.status),
    ).toEqual(['applied', 'superseded']);
  }, 240_000);
});

describe('plan and apply: a planned deletion whose key is back in the model', () => {
  const id = uniqueName('planback');
  const table = `public.${id}`;
  const config = {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM ${table}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
    deletionGuard: { maxDeletePercent: 50 },
  };
  async function records(): Promise<Map<string, { id: string; name: unknown }>> {
    const r = await db.query(`SELECT id, key, "values" FROM test_dest.records WHERE object = $1`, [id]);
    return new Map(r.rows.map((x) => [x.key as string, { id: String(x.id), name: (x.values as Record<string, unknown>).Name }]));
  }

  test('is not deleted by the apply (the record keeps its id); the other planned deletion and writes are applied', async () => {
    await db.query(`CREATE TABLE ${table} (id int, name text)`);
    await db.query(`INSERT INTO ${table} SELECT g, 'Name ' || g FROM generate_series(1, 10) g`);
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    const handle = client.workflow.getHandle(activationWorkflowId(id));
    expect((await handle.executeUpdate(triggerSyncUpdate, { args: [{}] })).status).toBe('success');
    const before = await records();

    // Keys 5 and 6 leave the model, key 1 changes: the plan deletes 5 and 6 and updates 1.
    await db.query(`DELETE FROM ${table} WHERE id IN (5, 6)`);
    await db.query(`UPDATE ${table} SET name = 'Changed 1' WHERE id = 1`);
    const planned = await syncline('plan', id);
    expect(planned.code).toBe(0);
    const plan = Number(/^plan (\d+) of/.exec(planned.stdout)?.[1]);
    expect(planned.stdout).toMatch(/^\s+delete\s+2$/m);

    // Key 5 is put back before the apply: the user no longer removes it.
    await db.query(`INSERT INTO ${table} VALUES (5, 'Name 5')`);
    const applied = await syncline('apply', id, String(plan));
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);

    const after = await records();
    expect(after.get('5')).toEqual(before.get('5')); // the same record, not deleted (and not made again)
    expect(after.has('6')).toBe(false);
    expect(after.get('1')).toMatchObject({ id: before.get('1')!.id, name: 'Changed 1' });
    expect(await snapshotKeys(id)).toEqual(['1', '2', '3', '4', '5', '7', '8', '9', '10']);
    expect(applied.stdout).toContain('delete 2 (1 ok, 1 back in the model)');
    expect(applied.stdout).toContain('1 planned deletion(s) not made: their key is back in the model since the plan was computed');
    const log = await db.query(
      `SELECT outcome, message FROM syncline.row_changes WHERE activation_id = $1 AND run_number = $2 AND key = '5'`,
      [id, plan],
    );
    expect(log.rows).toEqual([{ outcome: 'back_in_model', message: expect.stringContaining('back in the model') }]);

    // The next run finds the destination matching the model: nothing to send, key 5's record untouched.
    const next = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(next).toMatchObject({ status: 'success', ops: {} });
    expect((await records()).get('5')).toEqual(before.get('5'));

    // A plan whose only deletion is back in the model: its delete chunk has nothing left to send.
    await db.query(`DELETE FROM ${table} WHERE id = 7`);
    const only = await syncline('plan', id);
    const onlyPlan = Number(/^plan (\d+) of/.exec(only.stdout)?.[1]);
    await db.query(`INSERT INTO ${table} VALUES (7, 'Name 7')`);
    const none = await syncline('apply', id, String(onlyPlan));
    expect({ code: none.code, stderr: none.stderr }).toEqual({ code: 0, stderr: '' });
    expect(none.stdout).toContain('delete 1 (0 ok, 1 back in the model)');
    expect((await records()).get('7')).toEqual(before.get('7'));
    expect(await snapshotKeys(id)).toEqual(['1', '2', '3', '4', '5', '7', '8', '9', '10']);
  }, 240_000);
});

describe('apply: the check of planned deletions against a model that takes long', () => {
  const id = uniqueName('planslow');
  const table = `public.${id}`;
  // The model sleeps for the seconds in its control table: the plan reads it at once, the apply's check slowly.
  const config = {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT t.id, t.name FROM ${table} t, (SELECT pg_sleep((SELECT secs FROM ${table}_ctl))) z`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
    deletionGuard: { maxDeletePercent: 50 },
  };
  async function records(): Promise<Map<string, string>> {
    const r = await db.query(`SELECT id, key FROM test_dest.records WHERE object = $1`, [id]);
    return new Map(r.rows.map((x) => [x.key as string, String(x.id)]));
  }
  async function planWithDeletions(): Promise<number> {
    await db.query(`UPDATE ${table}_ctl SET secs = 0`);
    await db.query(`DELETE FROM ${table} WHERE id IN (5, 6)`);
    const planned = await syncline('plan', id);
    expect(planned.code).toBe(0);
    await db.query(`INSERT INTO ${table} VALUES (5, 'Name 5')`); // put back before the apply
    return Number(/^plan (\d+) of/.exec(planned.stdout)?.[1]);
  }

  beforeAll(async () => {
    await db.query(`CREATE TABLE ${table} (id int, name text)`);
    await db.query(`CREATE TABLE ${table}_ctl (secs float8)`);
    await db.query(`INSERT INTO ${table}_ctl VALUES (0)`);
    await db.query(`INSERT INTO ${table} SELECT g, 'Name ' || g FROM generate_series(1, 10) g`);
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    const handle = client.workflow.getHandle(activationWorkflowId(id));
    expect((await handle.executeUpdate(triggerSyncUpdate, { args: [{}] })).status).toBe('success');
  }, 120_000);

  test('the activity heartbeats while the model query runs, and the apply keeps the key back in the model', async () => {
    const before = await records();
    const plan = await planWithDeletions();
    await db.query(`UPDATE ${table}_ctl SET secs = 4`);
    livenessTimer.everyMs = 200;
    try {
      const applying = syncline('apply', id, String(plan));
      const run = client.workflow.getHandle(runWorkflowId(id, plan, true));
      // While the model sleeps, the pending loadPlan activity has sent a heartbeat (a heartbeat timeout of a
      // minute is not reached by a model that runs longer).
      const beat = await waitFor(
        'a heartbeat of loadPlan while the model runs',
        async () => {
          const d = await run.describe().catch(() => undefined);
          const a = d?.raw.pendingActivities?.find((x) => x.activityType?.name === 'loadPlan');
          return a?.lastHeartbeatTime ? { attempt: a.attempt } : undefined;
        },
        30_000,
        100,
      );
      expect(beat).toEqual({ attempt: 1 });
      const applied = await applying;
      expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
      expect(applied.stdout).toContain('delete 2 (1 ok, 1 back in the model)');
      const after = await records();
      expect(after.get('5')).toBe(before.get('5'));
      expect(after.has('6')).toBe(false);
    } finally {
      livenessTimer.everyMs = 10_000;
      await db.query(`INSERT INTO ${table} VALUES (6, 'Name 6')`);
      await db.query(`UPDATE ${table}_ctl SET secs = 0`);
      await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
    }
  }, 180_000);

  test("a check that cannot finish in the activity's time fails the apply at once, naming what to do, and deletes nothing", async () => {
    const before = await records();
    const plan = await planWithDeletions();
    await db.query(`UPDATE ${table}_ctl SET secs = 5`);
    const bound = backInModelCheck.timeoutMs;
    backInModelCheck.timeoutMs = 1000;
    const started = Date.now();
    let applied: CliResult;
    try {
      applied = await syncline('apply', id, String(plan));
    } finally {
      backInModelCheck.timeoutMs = bound;
    }
    const out = applied.stdout + applied.stderr;
    expect(applied.code).toBe(1);
    expect(out).toContain(`plan ${plan} of "${id}"`);
    expect(out).toContain(`syncline sync ${id}`);
    expect(out).toContain('Nothing was written');
    expect(Date.now() - started).toBeLessThan(60_000); // not retried
    // Nothing was written: both planned deletions are still in the destination.
    expect(await records()).toEqual(before);

    // The advice works: a sync reads the model in its long-running step and deletes only key 6.
    await db.query(`UPDATE ${table}_ctl SET secs = 2`);
    const synced = await syncline('sync', id);
    expect({ code: synced.code, stderr: synced.stderr }).toEqual({ code: 0, stderr: '' });
    const after = await records();
    expect(after.get('5')).toBe(before.get('5'));
    expect(after.has('6')).toBe(false);
  }, 180_000);
});

describe('apply: the check of more planned deletions than a batch', () => {
  const id = uniqueName('planmany');
  const table = `public.${id}`;
  const config = {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT t.id, t.name FROM ${table} t, (SELECT pg_sleep((SELECT secs FROM ${table}_ctl))) z`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
    deletionGuard: { maxDeletePercent: 100 },
  };

  test('runs the model once for all 20,002 planned deletions (two batches before), and keeps the key back in the model', async () => {
    await db.query(`CREATE TABLE ${table} (id int, name text)`);
    await db.query(`CREATE TABLE ${table}_ctl (secs float8)`);
    await db.query(`INSERT INTO ${table}_ctl VALUES (0)`);
    await db.query(`INSERT INTO ${table} SELECT g, 'Name ' || g FROM generate_series(1, 20005) g`);
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
    const handle = client.workflow.getHandle(activationWorkflowId(id));
    expect((await handle.executeUpdate(triggerSyncUpdate, { args: [{}] })).status).toBe('success');
    const kept = (await db.query(`SELECT id FROM test_dest.records WHERE object = $1 AND key = '1'`, [id])).rows[0].id;

    await db.query(`DELETE FROM ${table} WHERE id <= 20002`);
    const planned = await syncline('plan', id);
    expect(planned.code).toBe(0);
    const plan = Number(/^plan (\d+) of/.exec(planned.stdout)?.[1]);
    expect(planned.stdout).toMatch(/^\s+delete\s+20002$/m);
    await db.query(`INSERT INTO ${table} VALUES (1, 'Name 1')`);

    // Each model run sleeps a second: every one is seen running in pg_stat_activity, counted once it has run for
    // 0.3 s (its parse and bind, each with its own query_start, pass before the sleep; under load they were seen).
    await db.query(`UPDATE ${table}_ctl SET secs = 1`);
    const runs = new Set<string>();
    let done = false;
    const watching = (async () => {
      while (!done) {
        const r = await db.query(
          `SELECT pid, query_start FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' AND clock_timestamp() - query_start > interval '300 milliseconds' AND query LIKE '%ANY($1::text[])%' AND query LIKE '%' || $1 || '_ctl%' AND pid <> pg_backend_pid()`,
          [id],
        );
        for (const x of r.rows) runs.add(`${x.pid}@${new Date(x.query_start).toISOString()}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    let applied: CliResult;
    try {
      applied = await syncline('apply', id, String(plan));
    } finally {
      done = true;
      await watching;
    }
    // On a loaded machine the CLI may say on stderr that it still waits for the run: not an error.
    expect({ code: applied.code, stderr: applied.stderr.replace(/^still waiting for the run .*\n/gm, '') }).toEqual({
      code: 0,
      stderr: '',
    });
    expect(applied.stdout).toContain('delete 20002 (20001 ok, 1 back in the model)');
    expect(runs.size).toBe(1);
    const left = await db.query(`SELECT id, key FROM test_dest.records WHERE object = $1 ORDER BY key::int`, [id]);
    expect(left.rows.map((x) => x.key)).toEqual(['1', '20003', '20004', '20005']);
    expect(left.rows[0].id).toBe(kept);
  }, 300_000);
});
