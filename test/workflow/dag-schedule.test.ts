/**
 * Scheduled DAGs on a real Temporal dev server (its Schedules) with real Postgres: a DAG deployed on a
 * one-minute cron runs with the logical dates of its scheduled times bound into a sql task, pausing stops
 * it, a backfill runs each interval once (twice backfilled: still once), and a manual trigger carries --conf.
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { PRELOADED_WORKFLOW_MODULES, WORKFLOW_INTERCEPTOR_MODULES } from '../../client/workflow-bundle';
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { createDagTaskActivities } from '../../activities/dag-tasks';
import { DagSchedules, dagScheduleId } from '../../client/dags';
import type { DagSpec } from '../../common/dag';
import type { DagWorkflowResult } from '../../workflows/dag-workflow';

const TASK_QUEUE = `dag-schedule-test-${process.pid}`;
const address = () => process.env.TEMPORAL_ADDRESS!;
let bundle: WorkflowBundleWithSourceMap;
let native: NativeConnection;
let connection: Connection;
let client: Client;
let db: pg.Pool;
let dags: DagSchedules;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  [bundle, native, connection] = await Promise.all([
    // Preloaded as in production (client/workflow-bundle.ts): zod and the schemas shared and frozen.
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows/dag-workflow'),
      preloadModules: PRELOADED_WORKFLOW_MODULES,
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: new DefaultLogger('ERROR'),
    }),
    NativeConnection.connect({ address: address() }),
    Connection.connect({ address: address() }),
  ]);
  client = new Client({ connection });
  db = createPool(process.env.DATABASE_URL!);
  await db.query(`DROP SCHEMA IF EXISTS dag_sched_test CASCADE; CREATE SCHEMA dag_sched_test;
    CREATE TABLE dag_sched_test.ticks (dag text, logical_date timestamptz, interval_start timestamptz, interval_end timestamptz, conf jsonb)`);
  dags = new DagSchedules(client, TASK_QUEUE);
  const activities = createDagTaskActivities({
    resolvePg: () => ({ url: process.env.DATABASE_URL! }),
    client: () => client,
    stateDb: db,
  });
  worker = await Worker.create({ connection: native, taskQueue: TASK_QUEUE, workflowBundle: bundle, activities });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await Promise.all([db?.end(), connection?.close(), native?.close()]);
});

const tickDag = (id: string, schedule: DagSpec['schedule']): DagSpec => ({
  id,
  schedule,
  tasks: [
    {
      id: 'record',
      kind: 'sql',
      input: {
        // The dates arrive as bind parameters; the literal ':logical_date' stays text.
        statement: `INSERT INTO dag_sched_test.ticks SELECT $1, :logical_date, :data_interval_start, :data_interval_end, :conf
                    WHERE ':logical_date' = ':logical_date'`,
        params: [id],
      },
    },
  ],
});

interface Tick {
  logical_date: Date;
  interval_start: Date;
  interval_end: Date;
  conf: unknown;
}
const ticks = async (dag: string): Promise<Tick[]> =>
  (
    await db.query<Tick>(
      'SELECT logical_date, interval_start, interval_end, conf FROM dag_sched_test.ticks WHERE dag = $1 ORDER BY logical_date',
      [dag],
    )
  ).rows;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 300_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

test('a DAG on a one-minute cron runs with the logical dates of its scheduled times; pausing stops it', async () => {
  const id = `every-minute-${process.pid}`;
  expect(await dags.deploy(tickDag(id, { cron: '* * * * *', timezone: 'Asia/Tokyo' }))).toEqual({ id, created: true, paused: false });
  const three = await waitFor('three scheduled runs', async () => {
    const rows = await ticks(id);
    return rows.length >= 3 ? rows : undefined;
  });
  await dags.pause(id, 'test');
  const pausedAt = Date.now();

  const dates = three.slice(0, 3).map((t) => t.logical_date.getTime());
  expect(new Set(dates).size).toBe(3);
  for (const t of three) {
    // Scheduled times, not the clock of the worker: on the minute.
    expect(t.logical_date.getTime() % 60_000).toBe(0);
    expect(t.interval_end).toEqual(t.logical_date);
    expect(t.logical_date.getTime() - t.interval_start.getTime()).toBe(60_000);
    expect(t.conf).toBeNull();
  }
  expect(dates[1]! - dates[0]!).toBe(60_000);
  expect(dates[2]! - dates[1]!).toBe(60_000);
  const listed = (await dags.list()).find((d) => d.id === id);
  expect(listed).toMatchObject({ paused: true, schedule: 'cron "* * * * *" Asia/Tokyo' });

  // Past the next minute: a paused schedule takes no action, so no run is dated after the pause.
  const nextMinute = Math.ceil(pausedAt / 60_000) * 60_000;
  await new Promise((r) => setTimeout(r, nextMinute + 20_000 - Date.now()));
  const d = await client.schedule.getHandle(dagScheduleId(id)).describe();
  expect(d.state.paused).toBe(true);
  expect(d.info.recentActions.filter((a) => a.scheduledAt.getTime() >= nextMinute)).toEqual([]);
  expect((await ticks(id)).filter((t) => t.logical_date.getTime() >= nextMinute)).toEqual([]);
  await dags.delete(id);
}, 600_000);

test('a backfill runs each interval once, and a second backfill of the same intervals runs none again', async () => {
  const id = `backfilled-${process.pid}`;
  // Deployed paused: only the backfill starts runs.
  await dags.deploy(tickDag(id, { every: '1h', paused: false }));
  // Deployed again: the schedule is updated in place (spec, action, paused).
  expect(await dags.deploy(tickDag(id, { cron: '* * * * *', paused: true }))).toEqual({ id, created: false, paused: true });
  const deployed = await client.schedule.getHandle(dagScheduleId(id)).describe();
  expect(deployed.state.paused).toBe(true);
  expect(deployed.spec.calendars?.length).toBe(1);
  expect(deployed.spec.intervals ?? []).toEqual([]);
  expect((await dags.list()).find((d) => d.id === id)).toMatchObject({ paused: true, schedule: 'cron "* * * * *" UTC' });
  const from = new Date('2026-01-01T00:00:00Z');
  const to = new Date('2026-01-01T00:04:00Z');
  expect(await dags.backfill(id, from, to)).toEqual({ runs: 5 });
  const expected = [0, 1, 2, 3, 4].map((m) => new Date(from.getTime() + m * 60_000));
  const handles = expected.map((t) => client.workflow.getHandle(`${dagScheduleId(id)}-${t.toISOString().replace('.000Z', 'Z')}`));
  await waitFor('the first backfill', async () => ((await ticks(id)).length >= 5 ? true : undefined));
  const first = await Promise.all(handles.map((h) => h.result() as Promise<DagWorkflowResult>));
  expect(first.map((r) => [r.status, r.alreadyDone, r.run?.logicalDate])).toEqual(
    expected.map((t) => ['success', undefined, t.toISOString()]),
  );
  const firstRuns = await Promise.all(handles.map(async (h) => (await h.describe()).runId));

  expect(await dags.backfill(id, from, to)).toEqual({ runs: 5 });
  // Each scheduled time starts again (a new run of the same workflow id), and finds its date done.
  const second = await waitFor('the second backfill', async () => {
    const runs = await Promise.all(handles.map((h) => h.describe()));
    if (runs.some((r, i) => r.runId === firstRuns[i] || r.status.name === 'RUNNING')) return undefined;
    return Promise.all(handles.map((h) => h.result() as Promise<DagWorkflowResult>));
  });
  expect(second.map((r) => [r.status, r.alreadyDone?.status, Object.keys(r.tasks).length])).toEqual(
    expected.map(() => ['success', 'success', 0]),
  );
  const rows = await ticks(id);
  expect(rows.map((t) => t.logical_date)).toEqual(expected);
  expect(rows.map((t) => t.interval_start)).toEqual(expected.map((t) => new Date(t.getTime() - 60_000)));

  // A manual trigger: dated by its trigger time, with its conf.
  const triggered = await dags.trigger(id, { reason: 'test' });
  const result = (await client.workflow.getHandle(triggered.workflowId).result()) as DagWorkflowResult;
  expect(result.run?.logicalDate).toBe(triggered.logicalDate);
  expect((await ticks(id)).filter((t) => t.logical_date.toISOString() === triggered.logicalDate).map((t) => t.conf)).toEqual([
    { reason: 'test' },
  ]);
  const recorded = await db.query('SELECT logical_date, status FROM syncline.dag_runs WHERE dag_id = $1 ORDER BY logical_date', [id]);
  expect(recorded.rows.map((r) => r.status)).toEqual(['success', 'success', 'success', 'success', 'success', 'success']);
  await dags.delete(id);
}, 600_000);

describe('sensors', () => {
  const states = (s: DagWorkflowResult) => Object.fromEntries(Object.values(s.tasks).map((t) => [t.id, t.state]));

  test('wait_for_signal waits on a durable condition, holding no activity, until its signal releases it with the payload', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS dag_sched_test.released (batch int)');
    const spec: DagSpec = {
      id: 'signalled',
      tasks: [
        { id: 'go', kind: 'wait_for_signal', input: { signal: 'files_ready', timeoutSeconds: 600 } },
        {
          id: 'load',
          kind: 'sql',
          upstream: ['go'],
          input: { statement: 'INSERT INTO dag_sched_test.released VALUES ($1::int)', params: [7] },
        },
        { id: 'late', kind: 'wait_for_signal', input: { signal: 'never', timeoutSeconds: 1, softFail: true } },
        { id: 'after_late', kind: 'sql', upstream: ['late'], input: { statement: 'SELECT 1' } },
      ],
    };
    const handle = await client.workflow.start('dagWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: `dag/signalled/${process.pid}`,
      args: [spec],
    });
    await waitFor('the soft-failed sensor to settle while "go" waits', async () => {
      const s = await handle.query<DagWorkflowResult>('dagState');
      return s.tasks.go?.state === 'running' && s.tasks.after_late?.state === 'skipped' ? true : undefined;
    });
    // Waiting is a timer in the workflow, not an activity on a worker.
    expect((await handle.describe()).raw.pendingActivities ?? []).toEqual([]);
    expect((await db.query('SELECT * FROM dag_sched_test.released')).rows).toEqual([]);
    await handle.signal('dagSignal', { name: 'files_ready', payload: { batch: 7 } });
    const result = (await handle.result()) as DagWorkflowResult;
    expect(states(result)).toEqual({ go: 'success', load: 'success', late: 'skipped', after_late: 'skipped' });
    expect(result.tasks.go!.output).toEqual({ signal: 'files_ready', payload: { batch: 7 } });
    expect((await db.query('SELECT batch FROM dag_sched_test.released')).rows).toEqual([{ batch: 7 }]);
  });

  test('sql_sensor pokes until its query returns a row; on timeout it fails, or is skipped with softFail', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS dag_sched_test.flags (name text)');
    const sensor = (id: string, flag: string, extra: object) => ({
      id,
      kind: 'sql_sensor',
      input: { statement: 'SELECT 1 FROM dag_sched_test.flags WHERE name = $1', params: [flag], pokeIntervalSeconds: 1, ...extra },
    });
    const spec: DagSpec = {
      id: 'sensed',
      tasks: [
        sensor('ready', 'ready', { timeoutSeconds: 600 }),
        sensor('soft', 'never', { timeoutSeconds: 2, softFail: true }),
        sensor('strict', 'never', { timeoutSeconds: 2 }),
        { id: 'after_soft', kind: 'sql', upstream: ['soft'], input: { statement: 'SELECT 1' } },
      ],
    };
    const handle = await client.workflow.start('dagWorkflow', {
      taskQueue: TASK_QUEUE,
      workflowId: `dag/sensed/${process.pid}`,
      args: [spec],
    });
    await waitFor('the timed-out sensors to settle while "ready" pokes', async () => {
      const s = await handle.query<DagWorkflowResult>('dagState');
      return s.tasks.strict?.state === 'failed' && s.tasks.soft?.state === 'skipped' ? true : undefined;
    });
    await db.query("INSERT INTO dag_sched_test.flags VALUES ('ready')");
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e as { cause?: { type?: string; details?: unknown[] } },
    );
    expect(err?.cause?.type).toBe('DAG_FAILED');
    const final = err!.cause!.details![0] as DagWorkflowResult;
    expect(states(final)).toEqual({ ready: 'success', soft: 'skipped', strict: 'failed', after_soft: 'skipped' });
    expect(final.tasks.strict!.error).toEqual({
      type: 'SENSOR_TIMEOUT',
      message: expect.stringMatching(/^sensor "strict" timed out: no row after \d+ poke\(s\) in 2 s$/),
    });
    expect((final.tasks.ready!.output as { pokes: number }).pokes).toBeGreaterThan(1);
  });

  test('a run with a sensor without timeout fails as DAG_INVALID before any task runs', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS dag_sched_test.untimed (n int)');
    const spec: DagSpec = {
      id: 'untimed',
      tasks: [
        { id: 'first', kind: 'sql', input: { statement: 'INSERT INTO dag_sched_test.untimed VALUES (1)' } },
        { id: 'wait', kind: 'wait_for_signal', input: { signal: 'go' } },
      ],
    };
    const err = await client.workflow
      .execute('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: `dag/untimed/${process.pid}`, args: [spec] })
      .then(
        () => undefined,
        (e: unknown) => e as { cause?: { type?: string; message?: string } },
      );
    expect(err?.cause?.type).toBe('DAG_INVALID');
    expect(err?.cause?.message).toBe(
      'DAG "untimed" is invalid, nothing was run: task "wait": input.timeoutSeconds: a sensor needs "timeoutSeconds": how long it waits before it fails (or is skipped, with "softFail": true)',
    );
    expect((await db.query('SELECT * FROM dag_sched_test.untimed')).rows).toEqual([]);
  });
});
