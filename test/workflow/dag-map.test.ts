/**
 * Large mapped tasks on a real Temporal dev server with real Postgres: above its batch size a mapped task's
 * items run in child workflows (dagMapBatchWorkflow), a few batches at a time. Every item runs once, the DAG's
 * own history holds no item's activity, the state keeps counts instead of one entry per item, and the
 * DAG's cancellation reaches the children.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { CancelledFailure, type ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type pg from 'pg';
import { startDagStage, type DagStage } from '../support/dag-stage';
import type { DagSpec, DagState } from '../../common/dag';
import { dagStateQuery, dagWorkflow } from '../../workflows/dag-workflow';

let stage: DagStage;
let TASK_QUEUE: string;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  // No worker for the file: each test runs one for its own duration.
  stage = await startDagStage('dag-map', { setupSql: 'DROP SCHEMA IF EXISTS dag_map CASCADE; CREATE SCHEMA dag_map', worker: false });
  ({ taskQueue: TASK_QUEUE, client, db } = stage);
});

afterAll(() => stage?.stop());

function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  return stage.runWorker(fn);
}

const workflowId = (name: string) => `dag-map/${name}/${process.pid}`;

interface HistoryEvent {
  eventType?: unknown;
  startChildWorkflowExecutionInitiatedEventAttributes?: { workflowId?: string | null } | null;
}
async function history(id: string): Promise<HistoryEvent[]> {
  return ((await client.workflow.getHandle(id).fetchHistory()).events ?? []) as HistoryEvent[];
}
const ACTIVITY_SCHEDULED = temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED;
const count = (events: HistoryEvent[], type: temporal.api.enums.v1.EventType) => events.filter((e) => Number(e.eventType) === type).length;
const children = (events: HistoryEvent[]) => events.flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);

/** The n numbers 1..n as one row holding an array: a list mapped over by the path `rows.0.ns`. */
const numbers = (n: number) => ({
  id: 'list',
  kind: 'sql',
  input: { statement: `SELECT array_agg(g ORDER BY g) AS ns FROM generate_series(1, ${n}) g`, returnRows: true },
});

test('a mapped task over 50 items runs in batches of 10: each item once, no item in the DAG history, small outputs kept', async () => {
  await db.query('CREATE TABLE dag_map.ran (n int); CREATE TABLE dag_map.again (n int)');
  const spec: DagSpec = {
    id: 'map-batches',
    maxParallelism: 4,
    tasks: [
      numbers(50),
      {
        id: 'each',
        kind: 'sql',
        upstream: ['list'],
        map: { over: 'list', field: 'rows.0.ns', batchSize: 10 },
        input: { statement: 'INSERT INTO dag_map.ran VALUES ($1::int) RETURNING n', returnRows: true },
      },
      // Maps over the batched task's output (kept: it is small), the DAG-wide batch size this time.
      {
        id: 'again',
        kind: 'sql',
        upstream: ['each'],
        map: { over: 'each' },
        input: { statement: "INSERT INTO dag_map.again VALUES (($1::jsonb->'rows'->0->>'n')::int)" },
      },
      // Under its batch size: runs here, one `mapped` entry per item, as before.
      { id: 'few', kind: 'sleep', upstream: ['list'], map: { over: 'list', field: 'rows' }, input: { seconds: 0 } },
    ],
    mapBatchSize: 10,
  };
  const id = workflowId('batches');
  const result = await withWorker(() => client.workflow.execute(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: id, args: [spec] }));

  expect(result.status).toBe('success');
  const each = result.tasks.each!;
  expect(each.state).toBe('success');
  expect(each.mapped).toBeUndefined();
  expect(each.mapBatches).toEqual({ items: 50, batchSize: 10, batches: 5, batchesDone: 5, counts: { success: 50 }, failed: [] });
  expect(each.tries).toBe(1);
  expect(each.output).toEqual(Array.from({ length: 50 }, (_, i) => ({ rowCount: 1, rows: [{ n: i + 1 }] })));
  expect(result.tasks.again).toMatchObject({ state: 'success', mapBatches: { items: 50, batches: 5, counts: { success: 50 } } });
  expect(result.tasks.few).toMatchObject({ state: 'success', mapped: [{ index: 0, state: 'success', output: { seconds: 0 } }] });
  expect(result.tasks.few!.mapBatches).toBeUndefined();

  for (const table of ['ran', 'again']) {
    const { rows } = await db.query<{ n: number; distinct: number; min: number; max: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT n)::int AS distinct, min(n) AS min, max(n) AS max FROM dag_map.${table}`,
    );
    expect({ table, ...rows[0] }).toEqual({ table, n: 50, distinct: 50, min: 1, max: 50 });
  }

  // The DAG's history: the list's activity only (no item's), one child per batch.
  const parent = await history(id);
  expect(count(parent, ACTIVITY_SCHEDULED)).toBe(1);
  const batchIds = children(parent);
  expect([...batchIds].sort()).toEqual([1, 2, 3, 4, 5].flatMap((b) => [`${id}/map/again/${b}`, `${id}/map/each/${b}`]).sort());
  const childEvents = await Promise.all(batchIds.map(history));
  for (const events of childEvents) expect(count(events, ACTIVITY_SCHEDULED)).toBe(10);
  // Bounded per execution: at most 10 events per batch in the DAG's history (child initiated, started,
  // completed, workflow tasks) over 40 for the rest (start, the list's activity, the markers, the end);
  // at most 7 per item in a child's over 10 for its start and end.
  const childMax = Math.max(...childEvents.map((e) => e.length));
  console.log(
    `DAG history: ${parent.length} events for ${batchIds.length} batches; a batch's history: at most ${childMax} events for 10 items`,
  );
  expect(parent.length).toBeLessThanOrEqual(40 + 10 * batchIds.length);
  expect(childMax).toBeLessThanOrEqual(10 + 7 * 10);
});

test('failed items of a batched task are counted and the first listed; every other item runs; the DAG fails', async () => {
  await db.query('CREATE TABLE dag_map.divided (n int, quotient int)');
  const spec: DagSpec = {
    id: 'map-batches-failing',
    tasks: [
      numbers(25),
      {
        id: 'each',
        kind: 'sql',
        upstream: ['list'],
        retry: { maximumAttempts: 1 },
        // n = 7, 14, 21 divide by zero.
        map: { over: 'list', field: 'rows.0.ns', batchSize: 10 },
        input: { statement: 'INSERT INTO dag_map.divided VALUES ($1::int, $1::int / ($1::int % 7))' },
      },
      { id: 'after', kind: 'sql', upstream: ['each'], input: { statement: 'SELECT 1' } },
    ],
  };
  const { failure, state } = await withWorker(async () => {
    const handle = await client.workflow.start(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: workflowId('failing'), args: [spec] });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    return { failure: (err as WorkflowFailedError).cause as ApplicationFailure, state: await handle.query(dagStateQuery) };
  });
  expect(failure.type).toBe('DAG_FAILED');
  const each = (failure.details?.[0] as DagState).tasks.each!;
  expect(each).toMatchObject({
    state: 'failed',
    error: { type: 'SQL_22012', message: expect.stringMatching(/^item 6: .*division by zero/) },
    mapBatches: { items: 25, batches: 3, batchesDone: 3, counts: { success: 22, failed: 3 } },
  });
  expect(each.mapBatches!.failed.map((f) => [f.index, f.error?.type])).toEqual([
    [6, 'SQL_22012'],
    [13, 'SQL_22012'],
    [20, 'SQL_22012'],
  ]);
  expect(state.tasks.after!.state).toBe('upstream_failed');
  const { rows } = await db.query<{ n: number; distinct: number }>(
    'SELECT count(*)::int AS n, count(DISTINCT n)::int AS distinct FROM dag_map.divided',
  );
  expect(rows[0]).toEqual({ n: 22, distinct: 22 });
});

test('cancelling the DAG cancels its running batches and starts no other', async () => {
  const spec: DagSpec = {
    id: 'map-batches-cancel',
    maxParallelism: 4,
    tasks: [
      numbers(30),
      {
        id: 'wait',
        kind: 'sleep',
        upstream: ['list'],
        map: { over: 'list', field: 'rows.0.ns', batchSize: 10 },
        input: { seconds: 600 },
      },
    ],
  };
  const id = workflowId('cancel');
  const batch = (b: number) => client.workflow.getHandle(`${id}/map/wait/${b}`);
  const err = await withWorker(async () => {
    const handle = await client.workflow.start(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: id, args: [spec] });
    // Two batches run at once (maxParallelism 4: two items each).
    for (let i = 0; i < 200; i++) {
      const running = await Promise.all(
        [1, 2].map((b) =>
          batch(b)
            .describe()
            .then(
              (d) => d.status.name === 'RUNNING',
              () => false,
            ),
        ),
      );
      if (running.every(Boolean)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await handle.query(dagStateQuery)).tasks.wait).toMatchObject({
      state: 'running',
      mapBatches: { counts: { running: 20, pending: 10 }, batchesDone: 0 },
    });
    await handle.cancel();
    return handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
  });
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect((await batch(1).describe()).status.name).toBe('CANCELLED');
  expect((await batch(2).describe()).status.name).toBe('CANCELLED');
  await expect(batch(3).describe()).rejects.toThrow(/not found/i);
});

test("a dated run's batches bind its logical date", async () => {
  await db.query('CREATE TABLE dag_map.dated (n int, logical_date timestamptz)');
  const logicalDate = '2026-03-01T00:00:00.000Z';
  const spec: DagSpec = {
    id: 'map-batches-dated',
    tasks: [
      numbers(12),
      {
        id: 'each',
        kind: 'sql',
        upstream: ['list'],
        map: { over: 'list', field: 'rows.0.ns', batchSize: 5 },
        input: { statement: 'INSERT INTO dag_map.dated VALUES ($1::int, :logical_date)' },
      },
    ],
  };
  const result = await withWorker(() =>
    client.workflow.execute(dagWorkflow, {
      taskQueue: TASK_QUEUE,
      workflowId: workflowId('dated'),
      args: [{ ...spec, run: { logicalDate } }],
    }),
  );
  expect(result).toMatchObject({
    status: 'success',
    run: { logicalDate },
    tasks: { each: { mapBatches: { batches: 3, counts: { success: 12 } } } },
  });
  const { rows } = await db.query<{ n: number; at: Date }>('SELECT n, logical_date AS at FROM dag_map.dated ORDER BY n');
  expect(rows.map((r) => [r.n, r.at.toISOString()])).toEqual(Array.from({ length: 12 }, (_, i) => [i + 1, logicalDate]));
});

test("batches share the DAG's maxParallelism with its other tasks", async () => {
  await db.query('CREATE TABLE dag_map.spans (task text, started timestamptz, ended timestamptz)');
  // statement_timestamp() is when the statement began; clock_timestamp() is read after the sleep.
  const span = (label: string, seconds: number) =>
    `INSERT INTO dag_map.spans SELECT ${label}, statement_timestamp(), clock_timestamp() FROM pg_sleep(${seconds})`;
  const spec: DagSpec = {
    id: 'map-batches-parallel',
    maxParallelism: 3,
    tasks: [
      numbers(12),
      {
        id: 'fan',
        kind: 'sql',
        upstream: ['list'],
        map: { over: 'list', field: 'rows.0.ns', batchSize: 4 },
        input: { statement: span("'m' || $1", 0.3) },
      },
      // Long enough to be running while the batches start: the batches must wait for their slots.
      ...['p1', 'p2'].map((id) => ({ id, kind: 'sql', upstream: ['list'], input: { statement: span(`'${id}'`, 3) } })),
    ],
  };
  const result = await withWorker(() =>
    client.workflow.execute(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: workflowId('parallel'), args: [spec] }),
  );
  expect(result.tasks.fan).toMatchObject({ state: 'success', mapBatches: { batches: 3, counts: { success: 12 } } });
  const spans = await db.query<{ started: Date; ended: Date }>('SELECT * FROM dag_map.spans');
  expect(spans.rows).toHaveLength(14);
  // Sweep over start/end events; an end sorts before a start at the same instant.
  const events = spans.rows
    .flatMap(
      (s) =>
        [
          [s.started.getTime(), 1],
          [s.ended.getTime(), -1],
        ] as const,
    )
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let peak = 0;
  for (const [, delta] of events) peak = Math.max(peak, (open += delta));
  expect(peak).toBe(3);
});
