/**
 * Clear and re-run, and a run shown, on a real Temporal dev server with real Postgres: a DAG whose middle
 * task fails until a flag row exists is re-run with --failed once the flag is set; its upstream is not run
 * again (one row per execution proves it) and its kept output still reaches the downstream; --from runs one
 * task and its downstream again; a dated run keeps its logical date and its (DAG, date) record; bad input is
 * refused before anything starts; `dag show` prints a closed and a running run.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startDagStage, type DagStage } from '../support/dag-stage';
import { DagRuns } from '../../client/dag-runs';
import { SynclineClient } from '../../client/index';
import { DagError, DagSchedules, dagScheduleId } from '../../client/dags';
import type { DagSpec, DagState } from '../../common/dag';
import type { DagWorkflowInput, DagWorkflowResult } from '../../workflows/dag-workflow';

let stage: DagStage;
let TASK_QUEUE: string;
let client: Client;
let db: pg.Pool;
let runs: DagRuns;

beforeAll(async () => {
  stage = await startDagStage('dag-rerun', {
    setupSql: `DROP SCHEMA IF EXISTS dag_rerun_test CASCADE; CREATE SCHEMA dag_rerun_test;
      CREATE TABLE dag_rerun_test.executions (dag text, task text, batch int);
      CREATE TABLE dag_rerun_test.flags (dag text)`,
  });
  ({ taskQueue: TASK_QUEUE, client, db } = stage);
  runs = new DagRuns(client);
});

afterAll(() => stage?.stop());

/**
 * up (one row per execution, returns batch 42) -> middle (fails until flags holds the DAG) -> down (maps
 * over up's rows: its item is up's output); side after up, a sibling that succeeds.
 */
const flaky = (dag: string): DagSpec => ({
  id: dag,
  tasks: [
    {
      id: 'up',
      kind: 'sql',
      input: {
        statement: `INSERT INTO dag_rerun_test.executions VALUES ($1, 'up', 42) RETURNING batch`,
        params: [dag],
        returnRows: true,
      },
    },
    {
      id: 'middle',
      kind: 'sql',
      upstream: ['up'],
      retry: { maximumAttempts: 1 },
      input: {
        statement: `INSERT INTO dag_rerun_test.executions SELECT $1, 'middle', 1 / (SELECT count(*)::int FROM dag_rerun_test.flags WHERE dag = $1)`,
        params: [dag],
      },
    },
    {
      id: 'down',
      kind: 'sql',
      upstream: ['up', 'middle'],
      map: { over: 'up', field: 'rows' },
      input: {
        statement: `INSERT INTO dag_rerun_test.executions SELECT dag, 'down', ($1::jsonb->>'batch')::int FROM dag_rerun_test.flags`,
      },
    },
    {
      id: 'side',
      kind: 'sql',
      upstream: ['up'],
      input: { statement: `INSERT INTO dag_rerun_test.executions VALUES ($1, 'side', 0)`, params: [dag] },
    },
  ],
});

const executions = async (dag: string): Promise<Record<string, number[]>> => {
  const rows = (
    await db.query<{ task: string; batch: number }>(
      'SELECT task, batch FROM dag_rerun_test.executions WHERE dag = $1 ORDER BY task, batch',
      [dag],
    )
  ).rows;
  const out: Record<string, number[]> = {};
  for (const r of rows) (out[r.task] ??= []).push(r.batch);
  return out;
};
const states = (s: DagState) => Object.fromEntries(Object.values(s.tasks).map((t) => [t.id, t.state]));
const failureState = (id: string): Promise<DagState> =>
  client.workflow
    .getHandle(id)
    .result()
    .then(
      (r) => {
        throw new Error(`${id} succeeded: ${JSON.stringify(r)}`);
      },
      (e: { cause?: { type?: string; details?: unknown[] } }) => {
        expect(e.cause?.type).toBe('DAG_FAILED');
        return e.cause!.details![0] as DagState;
      },
    );
const refusal = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'not refused',
    (e: unknown) => (e instanceof DagError ? e.message : `not a DagError: ${String(e)}`),
  );
const activitiesIn = async (id: string): Promise<number> =>
  ((await client.workflow.getHandle(id).fetchHistory()).events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 120_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('--failed keeps the succeeded tasks (not run again, outputs handed down) and runs the failed one and its downstream; --from runs a task and its downstream again', async () => {
  const dag = `flaky-${process.pid}`;
  const source = `dag/${dag}/manual`;
  await client.workflow.start('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: source, args: [flaky(dag)] });
  const failed = await failureState(source);
  expect(states(failed)).toEqual({ up: 'success', middle: 'failed', down: 'upstream_failed', side: 'success' });
  expect(await executions(dag)).toEqual({ up: [42], side: [0] });

  // The closed run, shown: tasks upstream first, with state, tries, items and the error.
  const shown = (await runs.show(source)).text.split('\n');
  expect(shown[0]).toBe(`DAG "${dag}" run ${source} (failed): failed`);
  expect(shown.slice(2).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
    ['✓', 'up', 'success', '1'],
    ['✗', 'middle', 'failed', '1'],
    ['↑', 'down', 'upstream_failed', '-'],
    ['✓', 'side', 'success', '1'],
  ]);
  expect(shown.find((l) => l.includes(' middle '))).toMatch(/up\s+SQL_\w+: .*division by zero/);

  // Bad input is refused before anything starts.
  expect(await refusal(runs.rerun(source, { from: 'midle' }))).toBe(
    `--from "midle" is not a task of DAG "${dag}"; its tasks are up, middle, down, side`,
  );
  expect(await refusal(runs.rerun('dag/no-such-run', { failed: true }))).toBe(
    'no DAG run "dag/no-such-run" in this namespace (or it is past its retention)',
  );

  await db.query('INSERT INTO dag_rerun_test.flags VALUES ($1)', [dag]);
  const first = await runs.rerun(source, { failed: true });
  expect(first).toMatchObject({ workflowId: `${source}/rerun-1`, rerunOf: source, rerun: ['middle', 'down'], kept: ['up', 'side'] });
  expect(first.logicalDate).toBeUndefined();
  // A second call while it runs (or after) starts no second re-run of the same run.
  const again = await refusal(runs.rerun(source, { failed: true }));
  expect([
    `a re-run of ${source} is already running: ${source}/rerun-1 ("syncline dag show ${source}/rerun-1")`,
    `run ${source} was already re-run as ${source}/rerun-1 (completed): re-run that run instead ("syncline dag show ${source}/rerun-1")`,
  ]).toContain(again);
  const done = (await client.workflow.getHandle(first.workflowId).result()) as DagWorkflowResult;
  expect(states(done)).toEqual({ up: 'success', middle: 'success', down: 'success', side: 'success' });
  // up ran once in all: its output (batch 42) came from the first run's state to down's item.
  expect(await executions(dag)).toMatchObject({ up: [42], side: [0], middle: [1], down: [42] });
  expect(done.tasks.up).toMatchObject({ kept: true, tries: 1, output: { rowCount: 1, rows: [{ batch: 42 }] } });
  expect(done.tasks.middle).toMatchObject({ tries: 2 });
  expect(done.tasks.middle!.kept).toBeUndefined();
  // Its history holds middle and down's one item only.
  expect(await activitiesIn(first.workflowId)).toBe(2);

  expect(await refusal(runs.rerun(first.workflowId, { failed: true }))).toBe(
    `run ${first.workflowId} has no failed task (success): nothing for --failed to re-run; use --from <task> to run a task and its downstream again`,
  );
  const shownRerun = (await runs.show(first.workflowId)).text;
  expect(shownRerun.split('\n')[0]).toBe(`DAG "${dag}" run ${first.workflowId} (completed) · re-run of ${source}: success`);
  expect(shownRerun).toMatch(/✓\s+up\s+success\s+1\s+.*kept from the earlier run/);
  expect(shownRerun).toMatch(/✓\s+down\s+success\s+1\s+.*1 items: 1 success\s+up, middle/);

  // --from middle on the re-run that succeeded: middle and down again, up and side kept.
  const second = await runs.rerun(first.workflowId, { from: 'middle' });
  expect(second).toMatchObject({ workflowId: `${source}/rerun-2`, rerun: ['middle', 'down'], kept: ['up', 'side'] });
  const done2 = (await client.workflow.getHandle(second.workflowId).result()) as DagWorkflowResult;
  expect(states(done2)).toEqual({ up: 'success', middle: 'success', down: 'success', side: 'success' });
  expect(await executions(dag)).toEqual({ up: [42], side: [0], middle: [1, 1], down: [42, 42] });
  expect(done2.tasks.middle!.tries).toBe(3);
}, 300_000);

test('a dated run re-run keeps its logical date and takes over its (DAG, date) record, failed or succeeded', async () => {
  const dag = `dated-${process.pid}`;
  const source = `dag/${dag}-2026-01-01T00:00:00Z`;
  const logicalDate = '2026-01-01T00:00:00.000Z';
  const input: DagWorkflowInput = { ...flaky(dag), run: { logicalDate, conf: { note: 'kept' } } };
  await client.workflow.start('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: source, args: [input] });
  await failureState(source);
  const record = async () =>
    (await db.query('SELECT workflow_id, status FROM syncline.dag_runs WHERE dag_id = $1', [dag])).rows as Array<{
      workflow_id: string;
      status: string;
    }>;
  expect(await record()).toEqual([{ workflow_id: source, status: 'failed' }]);

  await db.query('INSERT INTO dag_rerun_test.flags VALUES ($1)', [dag]);
  const first = await runs.rerun(source, { failed: true });
  expect(first.logicalDate).toBe(logicalDate);
  const done = (await client.workflow.getHandle(first.workflowId).result()) as DagWorkflowResult;
  expect(done.alreadyDone).toBeUndefined();
  expect(done.run).toMatchObject({ logicalDate, conf: { note: 'kept' } });
  expect(states(done)).toEqual({ up: 'success', middle: 'success', down: 'success', side: 'success' });
  expect(await record()).toEqual([{ workflow_id: first.workflowId, status: 'success' }]);

  // The date succeeded; a re-run of that run (--from) is a new try of the date, not refused by the record.
  const second = await runs.rerun(first.workflowId, { from: 'down' });
  const done2 = (await client.workflow.getHandle(second.workflowId).result()) as DagWorkflowResult;
  expect(done2.alreadyDone).toBeUndefined();
  expect(done2.run?.logicalDate).toBe(logicalDate);
  expect(await record()).toEqual([{ workflow_id: second.workflowId, status: 'success' }]);
  expect(await executions(dag)).toEqual({ up: [42], side: [0], middle: [1], down: [42, 42] });
}, 300_000);

test('a run already re-run is not re-run again under the same id: the refusal names its re-run, which holds the date and stays shown', async () => {
  const dag = `twice-${process.pid}`;
  const source = `dag/${dag}-2026-02-01T00:00:00Z`;
  const input: DagWorkflowInput = { ...flaky(dag), run: { logicalDate: '2026-02-01T00:00:00.000Z' } };
  await client.workflow.start('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: source, args: [input] });
  await failureState(source);
  await db.query('INSERT INTO dag_rerun_test.flags VALUES ($1)', [dag]);
  const first = await runs.rerun(source, { failed: true });
  const done = (await client.workflow.getHandle(first.workflowId).result()) as DagWorkflowResult;
  expect(states(done)).toEqual({ up: 'success', middle: 'success', down: 'success', side: 'success' });

  // The same command again, once that re-run has closed: its id is taken; re-running it is the way on.
  expect(await refusal(runs.rerun(source, { from: 'down' }))).toBe(
    `run ${source} was already re-run as ${first.workflowId} (completed): re-run that run instead ("syncline dag show ${first.workflowId}")`,
  );
  // The re-run that holds the date is still the one shown under its id, and can itself be re-run.
  expect((await runs.show(first.workflowId)).text.split('\n')[0]).toBe(
    `DAG "${dag}" run ${first.workflowId} (completed) · logical date 2026-02-01T00:00:00.000Z · re-run of ${source}: success`,
  );
  const second = await runs.rerun(first.workflowId, { from: 'down' });
  const done2 = (await client.workflow.getHandle(second.workflowId).result()) as DagWorkflowResult;
  expect(done2.alreadyDone).toBeUndefined();
  expect(await executions(dag)).toEqual({ up: [42], side: [0], middle: [1], down: [42, 42] });
}, 300_000);

test('a run its Schedule started is re-run with the logical date of its scheduled time', async () => {
  const dag = `scheduled-${process.pid}`;
  const dags = new DagSchedules(client, TASK_QUEUE);
  await dags.deploy({ ...flaky(dag), schedule: { cron: '0 * * * *', paused: true } });
  const at = new Date('2026-02-01T05:00:00Z');
  await dags.backfill(dag, at, at);
  const source = `${dagScheduleId(dag)}-2026-02-01T05:00:00Z`;
  await waitFor('the backfilled run', () =>
    client.workflow
      .getHandle(source)
      .describe()
      .then(
        () => true,
        () => undefined,
      ),
  );
  await failureState(source);
  await db.query('INSERT INTO dag_rerun_test.flags VALUES ($1)', [dag]);
  const rerun = await runs.rerun(source, { failed: true });
  expect(rerun.logicalDate).toBe(at.toISOString());
  const done = (await client.workflow.getHandle(rerun.workflowId).result()) as DagWorkflowResult;
  expect(done.run?.logicalDate).toBe(at.toISOString());
  expect(states(done)).toEqual({ up: 'success', middle: 'success', down: 'success', side: 'success' });
  const recorded = await db.query('SELECT logical_date, workflow_id, status FROM syncline.dag_runs WHERE dag_id = $1', [dag]);
  expect(recorded.rows).toEqual([{ logical_date: at, workflow_id: rerun.workflowId, status: 'success' }]);
  await dags.delete(dag);
}, 300_000);

test('a run that failed after its tasks (its date not recorded: Postgres refused) is shown with its tasks and can be re-run', async () => {
  const dag = `unrecorded-${process.pid}`;
  const source = `dag/${dag}-2026-03-01T00:00:00Z`;
  await db.query('INSERT INTO dag_rerun_test.flags VALUES ($1)', [dag]);
  // Postgres refuses to record this run's end (the state database failing as the run ends), every attempt.
  await db.query(`CREATE FUNCTION dag_rerun_test.refuse_end() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'state database refused the end of %', NEW.workflow_id; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER refuse_end BEFORE UPDATE ON syncline.dag_runs FOR EACH ROW
    WHEN (NEW.workflow_id = '${source}' AND NEW.status = 'success') EXECUTE FUNCTION dag_rerun_test.refuse_end()`);
  try {
    const input: DagWorkflowInput = { ...flaky(dag), run: { logicalDate: '2026-03-01T00:00:00.000Z' } };
    const failed = await client.workflow.execute('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: source, args: [input] }).then(
      () => 'completed',
      (e: { cause?: { message?: string } }) => e.cause?.message ?? String(e),
    );
    expect(failed).not.toBe('completed');
  } finally {
    await db.query('DROP TRIGGER refuse_end ON syncline.dag_runs; DROP FUNCTION dag_rerun_test.refuse_end()');
  }
  expect(await executions(dag)).toEqual({ up: [42], side: [0], middle: [1], down: [42] });

  // Its tasks ran and succeeded: shown as they ended, with what failed the run; not as a run that ran no task.
  const shown = (await runs.show(source)).text;
  expect(shown).not.toContain('before any task ran');
  expect(shown.split('\n').slice(0, 2)).toEqual([
    `DAG "${dag}" run ${source} (failed) · logical date 2026-03-01T00:00:00.000Z: success`,
    `the run failed after its tasks: finishDagRun: state database refused the end of ${source}`,
  ]);
  expect(shown).toMatch(/✓\s+middle\s+success\s+1/);
  const rerun = await runs.rerun(source, { from: 'down' });
  expect(rerun).toMatchObject({ rerun: ['down'], kept: ['up', 'middle', 'side'] });
  const done = (await client.workflow.getHandle(rerun.workflowId).result()) as DagWorkflowResult;
  expect(done.alreadyDone).toBeUndefined();
  expect(await executions(dag)).toEqual({ up: [42], side: [0], middle: [1], down: [42, 42] });

  // A run that failed before any task still says so, and is not re-run.
  const invalid = `dag/${dag}-invalid/manual`;
  await client.workflow
    .execute('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: invalid, args: [{ id: dag, tasks: [{ id: 'x', kind: 'nope' }] }] })
    .catch(() => undefined);
  expect((await runs.show(invalid)).text.split('\n')[1]).toMatch(/^it failed before any task ran: DAG ".*" is invalid, nothing was run: /);
  expect(await refusal(runs.rerun(invalid, { failed: true }))).toMatch(
    /^run .* has no task state to re-run from: it failed before any task ran: /,
  );
}, 300_000);

test('a running run is shown through its query and is not re-run', async () => {
  const dag = `waiting-${process.pid}`;
  const spec: DagSpec = {
    id: dag,
    tasks: [
      { id: 'first', kind: 'sql', input: { statement: 'SELECT 1' } },
      { id: 'gate', kind: 'wait_for_signal', upstream: ['first'], input: { signal: 'go', timeoutSeconds: 600 } },
      { id: 'last', kind: 'sql', upstream: ['gate'], input: { statement: 'SELECT 1' } },
    ],
  };
  const id = `dag/${dag}/manual`;
  const handle = await client.workflow.start('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: id, args: [spec] });
  const text = await waitFor('the gate to wait', async () => {
    const t = (await runs.show(id)).text;
    return /▶\s+gate\s+running/.test(t) ? t : undefined;
  });
  const lines = text.split('\n');
  expect(lines[0]).toBe(`DAG "${dag}" run ${id} (running): running`);
  expect(lines.slice(2).map((l) => l.split(/\s{2,}/).slice(0, 5))).toEqual([
    ['✓', 'first', 'success', '1', expect.stringMatching(/^\d+\.\d s$/)],
    ['▶', 'gate', 'running', '1', 'running'],
    ['·', 'last', 'pending', '-', '-'],
  ]);
  for (const selection of [{ failed: true as const }, { from: 'gate' }])
    expect(await refusal(runs.rerun(id, selection))).toBe(
      `run ${id} is still running: wait for it or cancel it ("syncline dag show ${id}" shows where it is)`,
    );
  const started = await client.workflow
    .getHandle(`${id}/rerun-1`)
    .describe()
    .then(
      () => 'started',
      (e: Error) => e.name,
    );
  expect(started).toBe('WorkflowNotFoundError');
  // The Web UI's current details hold the same table as markdown.
  const details = (await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails;
  expect(details).toContain(`**${dag}** · **running**`);
  expect(details).toMatch(/\| ▶ \| gate \| running \| 1 \| running \|/);
  await handle.signal('dagSignal', { name: 'go' });
  expect(states((await handle.result()) as DagWorkflowResult)).toEqual({ first: 'success', gate: 'success', last: 'success' });
}, 300_000);

test('a terminated run is re-run from the state its query replays: its finished tasks kept, the unfinished ones run', async () => {
  const dag = `terminated-${process.pid}`;
  const spec: DagSpec = {
    id: dag,
    tasks: [
      { id: 'first', kind: 'sql', input: { statement: `INSERT INTO dag_rerun_test.executions VALUES ($1, 'first', 0)`, params: [dag] } },
      { id: 'gate', kind: 'wait_for_signal', upstream: ['first'], input: { signal: 'go', timeoutSeconds: 600 } },
      {
        id: 'last',
        kind: 'sql',
        upstream: ['gate'],
        input: { statement: `INSERT INTO dag_rerun_test.executions VALUES ($1, 'last', 0)`, params: [dag] },
      },
    ],
  };
  const id = `dag/${dag}/manual`;
  const handle = await client.workflow.start('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: id, args: [spec] });
  await waitFor('the gate to wait', async () =>
    (await handle.query<DagState>('dagState')).tasks.gate?.state === 'running' ? true : undefined,
  );
  await handle.terminate('test: cut short');
  expect((await runs.show(id)).text.split('\n')[0]).toBe(`DAG "${dag}" run ${id} (terminated): running`);
  const rerun = await runs.rerun(id, { failed: true });
  expect(rerun).toMatchObject({ rerun: ['gate', 'last'], kept: ['first'] });
  const next = client.workflow.getHandle(rerun.workflowId);
  await waitFor('the re-run gate to wait', async () =>
    (await next.query<DagState>('dagState')).tasks.gate?.state === 'running' ? true : undefined,
  );
  await next.signal('dagSignal', { name: 'go' });
  const done = (await next.result()) as DagWorkflowResult;
  expect(states(done)).toEqual({ first: 'success', gate: 'success', last: 'success' });
  expect(done.tasks.gate!.tries).toBe(2);
  expect(await executions(dag)).toEqual({ first: [0], last: [0] });
}, 300_000);

test('a re-run starts on the task queue of the run it re-runs, not on the one the re-running client names', async () => {
  const dag = `queue-${process.pid}`;
  const source = `dag/${dag}/manual`;
  const spec: DagSpec = {
    id: dag,
    tasks: [{ id: 'boom', kind: 'sql', retry: { maximumAttempts: 1 }, input: { statement: 'SELECT 1 / 0' } }],
  };
  await client.workflow.start('dagWorkflow', { taskQueue: TASK_QUEUE, workflowId: source, args: [spec] });
  await failureState(source);
  // An on-call shell without SYNCLINE_TASK_QUEUE: the CLI's default queue, where no worker of this DAG polls.
  const started = await new SynclineClient({ client, taskQueue: 'syncline-elsewhere' }).dagRuns().rerun(source, { failed: true });
  const handle = client.workflow.getHandle(started.workflowId);
  expect((await handle.describe()).taskQueue).toBe(TASK_QUEUE);
  await handle.terminate('test over').catch(() => undefined);
}, 120_000);
