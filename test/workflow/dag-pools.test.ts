/**
 * DAG pools on a real Temporal dev server with real Postgres: several DAG runs at once share a pool's slots
 * (the tasks record, from Postgres, when they ran and the leases they saw), a task naming an unknown pool is
 * refused before anything runs and before anything is deployed, a failed task gives its slot back, and the
 * lease of a holder that never releases (a terminated run) expires and frees its slot, and a lease lost while
 * its task runs (another run took the slot after it ran out) is said in the run's state and the worker's log.
 * The worker leases slots for 20 s (SYNCLINE_DAG_POOL_LEASE_SECONDS=20, renewed every 6 s), not 10 minutes: a
 * renewal comes within seconds, and still long after any task here would need one to keep its slot.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ScheduleNotFoundError, WorkflowFailedError, type Client } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { poolSizes, setPool } from '../../db/dag-pools';
import { startDagStage, type DagActivities, type DagStage } from '../support/dag-stage';
import { DagError, DagSchedules, dagScheduleId } from '../../client/dags';
import { SynclineClient } from '../../client/index';
import type { DagSpec, DagState } from '../../common/dag';
import { dagStateQuery, dagWorkflow } from '../../workflows/dag-workflow';

let stage: DagStage;
let TASK_QUEUE: string;
let client: Client;
let db: pg.Pool;
const LEASE_MS = 20_000;

beforeAll(async () => {
  stage = await startDagStage('dag-pools', {
    poolLeaseMs: LEASE_MS,
    // Each task records when it ran (Postgres's clock) and how many slots of its pool were leased as it started.
    setupSql: `DROP SCHEMA IF EXISTS pool_test CASCADE; CREATE SCHEMA pool_test;
    CREATE TABLE pool_test.spans (pool text, run text, task text, started timestamptz, ended timestamptz, leased int);
    CREATE FUNCTION pool_test.work(p_pool text, p_run text, p_task text) RETURNS int AS $$
    DECLARE
      t0 timestamptz := clock_timestamp();
      n int;
    BEGIN
      SELECT count(*) INTO n FROM syncline.dag_pool_slots WHERE pool = p_pool AND holder IS NOT NULL AND expires_at > now();
      PERFORM pg_sleep(0.3);
      INSERT INTO pool_test.spans VALUES (p_pool, p_run, p_task, t0, clock_timestamp(), n);
      RETURN n;
    END $$ LANGUAGE plpgsql`,
    // A release that is slow to reach Postgres (a loaded worker or database): the task "slow-release" (its item 3
    // when mapped) gives its slot back late.
    activities: (real: DagActivities) => ({
      ...real,
      async releaseDagPoolSlot(input: Parameters<typeof real.releaseDagPoolSlot>[0]): Promise<void> {
        if (/\/slow-release(#3)?$/.test(input.holder)) await new Promise((r) => setTimeout(r, 2000));
        return real.releaseDagPoolSlot(input);
      },
    }),
  });
  ({ taskQueue: TASK_QUEUE, client, db } = stage);
});

afterAll(() => stage?.stop());

const work = (pool: string, run: string, task: string) => ({
  id: task,
  kind: 'sql',
  pool,
  input: { statement: 'SELECT pool_test.work($1, $2, $3)', params: [pool, run, task] },
});

interface Span {
  run: string;
  task: string;
  started: Date;
  ended: Date;
  leased: number;
}
const spans = async (pool: string): Promise<Span[]> =>
  (await db.query<Span>('SELECT run, task, started, ended, leased FROM pool_test.spans WHERE pool = $1 ORDER BY started', [pool])).rows;

/** The most tasks of the pool that ran at one instant: at each start, the spans open then. */
const peak = (all: Span[]): number => Math.max(...all.map((s) => all.filter((t) => t.started <= s.started && t.ended > s.started).length));

const leasesHeld = async (pool: string): Promise<number> =>
  (
    await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM syncline.dag_pool_slots WHERE pool = $1 AND holder IS NOT NULL AND expires_at > now()',
      [pool],
    )
  ).rows[0]!.n;

async function failure(workflowId: string, spec: DagSpec): Promise<ApplicationFailure> {
  const err = await client.workflow.execute(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId, args: [spec] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause as ApplicationFailure;
}

test('three DAG runs at once never run more tasks of pool "warehouse" than its 2 slots, mapped items included; all finish', async () => {
  await setPool(db, 'warehouse', 2);
  const dag = (run: string): DagSpec => ({
    id: `pooled-${run}`,
    maxParallelism: 4,
    tasks: [
      work('warehouse', run, 'a'),
      work('warehouse', run, 'b'),
      { id: 'list', kind: 'sql', input: { statement: 'SELECT n FROM generate_series(1, 3) n', returnRows: true } },
      {
        id: 'load',
        kind: 'sql',
        pool: 'warehouse',
        upstream: ['list'],
        map: { over: 'list', field: 'rows' },
        input: { statement: `SELECT pool_test.work('warehouse', '${run}', 'load#' || ($1::jsonb->>'n'))` },
      },
    ],
  });
  const runs = ['r1', 'r2', 'r3'];
  const results = await Promise.all(
    runs.map((run) =>
      client.workflow.execute(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: `dag/pooled-${run}/${process.pid}`, args: [dag(run)] }),
    ),
  );
  for (const r of results) expect(Object.values(r.tasks).map((t) => t.state)).toEqual(['success', 'success', 'success', 'success']);
  const all = await spans('warehouse');
  expect(all.map((s) => `${s.run}/${s.task}`).sort()).toEqual(
    runs.flatMap((r) => ['a', 'b', 'load#1', 'load#2', 'load#3'].map((t) => `${r}/${t}`)).sort(),
  );
  expect(peak(all)).toBeLessThanOrEqual(2);
  // Every task saw its own lease (at least 1) and never more leases than slots.
  for (const s of all) expect([1, 2]).toContain(s.leased);
  expect(await leasesHeld('warehouse')).toBe(0);
});

test('a mapped task run in batches (child workflows) holds the pool too: never more than its slots, every item once', async () => {
  await setPool(db, 'batched', 2);
  const result = await client.workflow.execute(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/pooled-batches/${process.pid}`,
    args: [
      {
        id: 'pooled-batches',
        maxParallelism: 6,
        tasks: [
          { id: 'list', kind: 'sql', input: { statement: 'SELECT n FROM generate_series(1, 12) n', returnRows: true } },
          {
            id: 'load',
            kind: 'sql',
            pool: 'batched',
            upstream: ['list'],
            map: { over: 'list', field: 'rows', batchSize: 3 },
            input: { statement: `SELECT pool_test.work('batched', 'b', 'load#' || ($1::jsonb->>'n'))` },
          },
        ],
      },
    ],
  });
  expect(result.tasks.load).toMatchObject({ state: 'success', mapBatches: { items: 12, batches: 4, counts: { success: 12 } } });
  const all = await spans('batched');
  expect(all.map((s) => s.task).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `load#${i + 1}`).sort());
  expect(peak(all)).toBeLessThanOrEqual(2);
  for (const s of all) expect([1, 2]).toContain(s.leased);
  expect(await leasesHeld('batched')).toBe(0);
});

test('a task naming an unknown pool: refused at the run start (DAG_INVALID, nothing ran) and at deploy (nothing deployed)', async () => {
  await setPool(db, 'warehouse', 2);
  const spec: DagSpec = {
    id: 'unknown-pool',
    schedule: { cron: '0 2 * * *' },
    tasks: [work('warehouse', 'u', 'fine'), work('nowhere', 'u', 'lost')],
  };
  const f = await failure(`dag/unknown-pool/${process.pid}`, spec);
  expect(f.type).toBe('DAG_INVALID');
  expect(f.message).toContain('task "lost": pool "nowhere" is not defined (known pools: ');
  expect(f.message).toContain('warehouse');
  expect(f.message).toContain('define it with "syncline pool set nowhere <size>"');
  expect((await db.query(`SELECT 1 FROM pool_test.spans WHERE run = 'u'`)).rowCount).toBe(0);

  const dags = new DagSchedules(client, TASK_QUEUE, () => poolSizes(db));
  await expect(dags.deploy(spec)).rejects.toThrow(DagError);
  await expect(dags.deploy(spec)).rejects.toThrow(/task "lost": pool "nowhere" is not defined/);
  await expect(client.schedule.getHandle(dagScheduleId('unknown-pool')).describe()).rejects.toThrow(ScheduleNotFoundError);
});

test('a pool size below 1 is refused, by the client and by the table', async () => {
  const syncline = new SynclineClient({ client, databaseUrl: process.env.DATABASE_URL! });
  await expect(syncline.setPool('tiny', 0)).rejects.toThrow(
    'pool "tiny": the size is how many tasks may run in it at once, a whole number of at least 1 (not 0)',
  );
  await expect(setPool(db, 'tiny', 0)).rejects.toThrow(/check constraint/);
  expect(await poolSizes(db)).not.toHaveProperty('tiny');
});

test('a failed task gives its slot back', async () => {
  await setPool(db, 'fails', 1);
  const f = await failure(`dag/pool-fails/${process.pid}`, {
    id: 'pool-fails',
    tasks: [{ id: 'bad', kind: 'sql', pool: 'fails', input: { statement: 'SELEC 1' } }],
  });
  expect(f.type).toBe('DAG_FAILED');
  expect((f.details?.[0] as DagState).tasks.bad!.error?.type).toBe('SQL_42601');
  expect(await leasesHeld('fails')).toBe(0);
});

test('the lease of a holder that never releases it expires, and a waiting task then takes the slot', async () => {
  await setPool(db, 'solo', 1);
  // What a terminated run leaves: a leased slot nobody will give back.
  const dead = await db.query<{ expires_at: Date }>(
    `INSERT INTO syncline.dag_pool_slots (pool, slot, holder, expires_at) VALUES ('solo', 0, 'dag/gone/terminated-run/t', now() + interval '3 seconds')
     ON CONFLICT (pool, slot) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
     RETURNING expires_at`,
  );
  const result = await client.workflow.execute(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/pool-solo/${process.pid}`,
    args: [{ id: 'pool-solo', tasks: [work('solo', 's', 'after-dead')] }],
  });
  expect(result.tasks['after-dead']!.state).toBe('success');
  const [ran] = await spans('solo');
  // Postgres's clock: the task started only once the dead holder's lease had run out.
  expect(ran!.started.getTime()).toBeGreaterThanOrEqual(dead.rows[0]!.expires_at.getTime());
  expect(ran!.leased).toBe(1);
  const slot = await db.query('SELECT holder FROM syncline.dag_pool_slots WHERE pool = $1', ['solo']);
  expect(slot.rows).toEqual([{ holder: null }]);
});

test('the CLI: pool set, pool list, a size below 1 refused, and dag deploy refusing an unknown pool', async () => {
  const root = path.resolve(__dirname, '../..');
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        path.join(root, 'node_modules/.bin/tsx'),
        ['client/cli.ts', ...args, '--address', process.env.TEMPORAL_ADDRESS!, '--task-queue', TASK_QUEUE],
        { cwd: root, timeout: 60_000, env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL } },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      ),
    );
  expect(await cli('pool', 'set', 'cli-pool', '3')).toEqual({ code: 0, stdout: 'pool "cli-pool": 3 slot(s)\n', stderr: '' });
  expect(await poolSizes(db)).toMatchObject({ 'cli-pool': 3 });
  const listed = await cli('pool', 'list', '--json');
  expect(JSON.parse(listed.stdout)).toContainEqual({ name: 'cli-pool', size: 3, inUse: 0 });
  const zero = await cli('pool', 'set', 'cli-pool', '0');
  expect(zero.code).toBe(2); // a bad value: a usage error, refused before Postgres is reached
  expect(zero.stderr).toContain('pool "cli-pool": <size> is how many tasks may run in it at once, a whole number of at least 1, not "0"');
  expect(await poolSizes(db)).toMatchObject({ 'cli-pool': 3 });

  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dag-pool-')), 'dag.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ id: 'cli-unknown-pool', schedule: { cron: '0 2 * * *' }, tasks: [work('cli-nowhere', 'c', 'lost')] }),
  );
  const deployed = await cli('dag', 'deploy', file);
  expect(deployed.code).toBe(1);
  expect(deployed.stderr).toContain(
    'DAG "cli-unknown-pool" is invalid, nothing was deployed:\n  task "lost": pool "cli-nowhere" is not defined (known pools: ',
  );
  await expect(client.schedule.getHandle(dagScheduleId('cli-unknown-pool')).describe()).rejects.toThrow(ScheduleNotFoundError);
});

test('a cancelled run gives back the slot of its running task', async () => {
  await setPool(db, 'cancelled', 1);
  const handle = await client.workflow.start(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/pool-cancelled/${process.pid}`,
    args: [{ id: 'pool-cancelled', tasks: [{ id: 'long', kind: 'sql', pool: 'cancelled', input: { statement: 'SELECT pg_sleep(5)' } }] }],
  });
  for (let i = 0; i < 300 && (await leasesHeld('cancelled')) === 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await leasesHeld('cancelled')).toBe(1);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  expect(await leasesHeld('cancelled')).toBe(0);
});

test('a cancelled run with two pooled tasks running closes only once both slots are given back', async () => {
  await setPool(db, 'cancelled-two', 2);
  const handle = await client.workflow.start(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/pool-cancelled-two/${process.pid}`,
    args: [
      {
        id: 'pool-cancelled-two',
        maxParallelism: 2,
        tasks: [
          { id: 'fast-release', kind: 'sql', pool: 'cancelled-two', input: { statement: 'SELECT pg_sleep(5)' } },
          { id: 'slow-release', kind: 'sql', pool: 'cancelled-two', input: { statement: 'SELECT pg_sleep(5)' } },
        ],
      },
    ],
  });
  for (let i = 0; i < 300 && (await leasesHeld('cancelled-two')) < 2; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await leasesHeld('cancelled-two')).toBe(2);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  // Closed: no task of it runs any more, so none may still hold a slot (else it stays taken until its lease expires).
  expect(await leasesHeld('cancelled-two')).toBe(0);
});

test('a cancelled run with two batches of a pooled mapped task running closes only once every slot is given back', async () => {
  await setPool(db, 'cancelled-batches', 4);
  const handle = await client.workflow.start(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/pool-cancelled-batches/${process.pid}`,
    args: [
      {
        id: 'pool-cancelled-batches',
        maxParallelism: 4,
        tasks: [
          { id: 'list', kind: 'sql', input: { statement: 'SELECT n FROM generate_series(1, 4) n', returnRows: true } },
          {
            id: 'slow-release',
            kind: 'sql',
            pool: 'cancelled-batches',
            upstream: ['list'],
            // Two batches of two items, one child workflow each, both running: item 3 (in the second) releases late.
            map: { over: 'list', field: 'rows', batchSize: 2 },
            input: { statement: 'SELECT pg_sleep(5)' },
          },
        ],
      },
    ],
  });
  for (let i = 0; i < 300 && (await leasesHeld('cancelled-batches')) < 4; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await leasesHeld('cancelled-batches')).toBe(4);
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  expect(await leasesHeld('cancelled-batches')).toBe(0);
});

test('the renewal names the holders whose lease another run took; one that ran out with its slot still free is renewed', async () => {
  await setPool(db, 'renewal', 3);
  await db.query(`DELETE FROM syncline.dag_pool_slots WHERE pool = 'renewal'`);
  const acts = stage.activities;
  const run = `dag/renewal/${process.pid}/r1/`;
  for (const task of ['kept', 'expired', 'lost'])
    expect(
      await acts.acquireDagPoolSlot({ pool: 'renewal', holder: `${run}${task}`, leaseMs: task === 'kept' ? 60_000 : 300 }),
    ).toMatchObject({
      acquired: true,
    });
  await new Promise((r) => setTimeout(r, 500));
  // 'expired' and 'lost' ran out; another run took the slot of 'lost'.
  await db.query(
    `UPDATE syncline.dag_pool_slots SET holder = 'dag/renewal/other/t', expires_at = now() + interval '1 minute' WHERE holder = $1`,
    [`${run}lost`],
  );
  const holders = ['kept', 'expired', 'lost'].map((t) => `${run}${t}`);
  expect(await acts.renewDagPoolLeases({ holderPrefix: run, leaseMs: 60_000, holders })).toEqual({ renewed: 2, lost: [`${run}lost`] });
  expect(await leasesHeld('renewal')).toBe(3);
  // A workflow recorded before it passed no holders: nothing is called lost.
  expect(await acts.renewDagPoolLeases({ holderPrefix: run, leaseMs: 60_000 })).toEqual({ renewed: 2, lost: [] });
  await db.query(`DELETE FROM syncline.dag_pool_slots WHERE pool = 'renewal'`);
});

test('a lease lost while its task runs (a lease without a renewal: another run took the slot) is said, naming the run, the pool and the task', async () => {
  // Every worker gone for longer than a lease (10 minutes by default): the lease ran out, another run's task took the slot, and the renewal
  // that comes back later finds nothing of this run's to renew. The task runs on in a slot that is not its own.
  // Before, the renewal's count went unread and nothing said so (seen failing: no leasesLost in the run's state).
  await setPool(db, 'lossy', 1);
  await db.query(`DELETE FROM syncline.dag_pool_slots WHERE pool = 'lossy'`);
  const workflowId = `dag/pool-lossy/${process.pid}`;
  const handle = await client.workflow.start(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId,
    args: [{ id: 'pool-lossy', tasks: [{ id: 'held', kind: 'sleep', pool: 'lossy', input: { seconds: 600 } }] }],
  });
  for (let i = 0; i < 300 && (await leasesHeld('lossy')) === 0; i++) await new Promise((r) => setTimeout(r, 100));
  // The slot got the worker's lease (SYNCLINE_DAG_POOL_LEASE_SECONDS), not the default 10 minutes.
  const lease = await db.query<{ ms: number }>(
    `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM syncline.dag_pool_slots WHERE pool = 'lossy' AND holder IS NOT NULL`,
  );
  expect(Number(lease.rows[0]!.ms)).toBeGreaterThan(0);
  expect(Number(lease.rows[0]!.ms)).toBeLessThanOrEqual(LEASE_MS);
  const taken = await db.query(
    `UPDATE syncline.dag_pool_slots SET holder = 'dag/other/run/t', expires_at = now() + interval '20 minutes'
      WHERE pool = 'lossy' AND starts_with(holder, $1) RETURNING slot`,
    [`${workflowId}/`],
  );
  expect(taken.rowCount).toBe(1);
  // The run renews its leases 3/10 of a lease (6 s; 3 minutes by default) after it took the first.
  let state: DagState | undefined;
  for (let i = 0; i < 60 && !state?.leasesLost; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    state = await handle.query(dagStateQuery);
  }
  expect(state?.leasesLost).toEqual([{ pool: 'lossy', task: 'held', at: expect.any(String) }]);
  expect(state?.tasks.held?.state).toBe('running');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  // The slot stays the other run's: this run's release gives back only its own lease.
  const slot = await db.query('SELECT holder FROM syncline.dag_pool_slots WHERE pool = $1', ['lossy']);
  expect(slot.rows).toEqual([{ holder: 'dag/other/run/t' }]);
});
