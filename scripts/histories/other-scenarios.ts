/** warningsWorkflow and dagWorkflow paths. */
import { WorkflowFailedError } from '@temporalio/client';
import type { DagSpec, DagState } from '../../common/dag';
import { REPORTS_PER_EXECUTION } from '../../workflows/warnings';
import { activation, createModel, expectRun, type Stage } from './stage';
import { WORKFLOW_TYPES } from '../../common/names';
import { dagSignal, dagStateQuery, reportWarningsSignal } from '../../workflows/messages';
import { DagSchedules, dagScheduleId } from '../../client/dags';
import type { DagWorkflowInput, DagWorkflowResult } from '../../workflows/dag-workflow';
import { DagRuns } from '../../client/dag-runs';
import { setPool } from '../../db/dag-pools';
import { createDb } from '../../db/connect';
import { finishRun, openRun } from '../../db/runs';

/** The namespace's warnings workflow, fed by every activation above: recorded last, while open. */
export async function warningsOpen(s: Stage): Promise<void> {
  await s.rec.record(
    'open-notices',
    'syncline-warnings',
    undefined,
    'OPEN: started by the first report (signal-with-start); reports from the activations open, change and clear warnings; one deliverNotice per notice, undeliverable ones logged',
  );
}

/** More reports than one execution takes: the warnings workflow continues as new with its open warnings. */
export async function warningsContinueAsNew(s: Stage): Promise<void> {
  const workflowId = 'syncline-warnings-hist-flood';
  const report = {
    activationId: 'hist_flood',
    warnings: [{ code: 'FAILED_ROWS', level: 'warning' as const, message: 'recording: still failing' }],
    at: new Date(0).toISOString(),
    channel: { connection: 'hooks' },
  };
  const handle = await s.client.workflow.signalWithStart(WORKFLOW_TYPES.warnings, {
    workflowId,
    taskQueue: s.taskQueue,
    args: [{}],
    signal: reportWarningsSignal,
    signalArgs: [report],
  });
  const first = handle.signaledRunId;
  for (let i = 0; i < REPORTS_PER_EXECUTION; i++) await handle.signal(reportWarningsSignal, report);
  await s.rec.nextRun(workflowId, first);
  await s.rec.record(
    'continue-as-new',
    workflowId,
    first,
    `${REPORTS_PER_EXECUTION + 1} reports: one notice (opened), the rest repeat the open set; continue-as-new carrying the open warning`,
  );
}

const sql = (id: string, statement: string, extra: Partial<DagSpec['tasks'][number]> = {}) => ({
  id,
  kind: 'sql',
  input: { statement },
  ...extra,
});

/** A mapped task, a failing task and the trigger rules around it; the DAG fails. */
export async function dagRules(s: Stage): Promise<void> {
  const spec: DagSpec = {
    id: 'hist-rules',
    maxParallelism: 2,
    tasks: [
      { id: 'list', kind: 'sql', input: { statement: 'SELECT g AS n FROM generate_series(1, 3) g ORDER BY g', returnRows: true } },
      {
        id: 'each',
        kind: 'sql',
        upstream: ['list'],
        map: { over: 'list', field: 'rows' },
        input: { statement: "SELECT ($1::jsonb->>'n')::int * 10 AS tenfold", returnRows: true },
      },
      { id: 'nap', kind: 'sleep', upstream: ['each'], input: { seconds: 1 } },
      sql('bad', 'SELEC 1', { upstream: ['list'], retry: { maximumAttempts: 1 } }),
      sql('after_bad', 'SELECT 1', { upstream: ['bad'] }),
      {
        id: 'alert',
        kind: 'http',
        upstream: ['bad'],
        triggerRule: 'one_failed',
        input: { url: `${s.hookUrl}?dag`, body: { dag: 'hist-rules' } },
      },
      sql('cleanup', 'SELECT 1', { upstream: ['bad', 'nap'], triggerRule: 'all_done' }),
      { id: 'nothing', kind: 'sql', upstream: ['list'], input: { statement: 'SELECT 1 WHERE false', skipIfNoRows: true } },
      sql('after_nothing', 'SELECT 1', { upstream: ['nothing'] }),
    ],
  };
  const state = await expectDagFailure(s, 'dag/hist-rules', spec);
  const states = Object.fromEntries(Object.values(state.tasks).map((t) => [t.id, t.state]));
  const want = {
    list: 'success',
    each: 'success',
    nap: 'success',
    bad: 'failed',
    after_bad: 'upstream_failed',
    alert: 'success',
    cleanup: 'success',
    nothing: 'skipped',
    after_nothing: 'skipped',
  };
  if (JSON.stringify(states) !== JSON.stringify(want)) throw new Error(`dag/hist-rules: unexpected task states ${JSON.stringify(states)}`);
  await s.rec.record(
    'mapped-failing-trigger-rules',
    'dag/hist-rules',
    undefined,
    'sql returning rows, a task mapped over them (3 items), a sleep (timer), a failing sql task: after_bad upstream_failed, alert (one_failed, http) and cleanup (all_done) run, a skip propagates; DAG_FAILED',
  );
}

/**
 * A mapped task over more items than its batch size: 12 items in three dagMapBatchWorkflow children of 4,
 * one item failing (division by zero); the DAG fails. Records the DAG and the batch holding the failure.
 */
export async function dagMapBatches(s: Stage): Promise<void> {
  const spec: DagSpec = {
    id: 'hist-map-batches',
    maxParallelism: 2,
    tasks: [
      {
        id: 'list',
        kind: 'sql',
        input: { statement: 'SELECT array_agg(g ORDER BY g) AS ns FROM generate_series(1, 12) g', returnRows: true },
      },
      {
        id: 'each',
        kind: 'sql',
        upstream: ['list'],
        retry: { maximumAttempts: 1 },
        map: { over: 'list', field: 'rows.0.ns', batchSize: 4 },
        input: { statement: 'SELECT 60 / ($1::int - 5) AS q', returnRows: true },
      },
      sql('after', 'SELECT 1', { upstream: ['each'] }),
    ],
  };
  const workflowId = 'dag/hist-map-batches';
  const state = await expectDagFailure(s, workflowId, spec);
  const each = state.tasks.each;
  if (each?.mapBatches?.counts.failed !== 1 || each.mapBatches.counts.success !== 11 || state.tasks.after?.state !== 'upstream_failed')
    throw new Error(`${workflowId}: unexpected state ${JSON.stringify(state.tasks)}`);
  await s.rec.record(
    'map-batches',
    workflowId,
    undefined,
    'a sql task listing 12 numbers (map.field path rows.0.ns), a task mapped over them in 3 dagMapBatchWorkflow children of 4 (two at a time, maxParallelism 2), item 4 failing: counts, after upstream_failed; DAG_FAILED',
  );
  await s.rec.record(
    'map-batch',
    `${workflowId}/map/each/2`,
    undefined,
    "a batch's child: items 4-7 of a mapped sql task, one at a time, item 4 failing (SQL_22012); returns counts, the failed item and the outputs",
  );
}

/** An activation task (a triggerSync update sent by an activity), then a sleep: the DAG succeeds. */
export async function dagActivation(s: Stage): Promise<void> {
  const id = 'hist_dag';
  await createModel(s, id, 5);
  await s.syncline.start(activation(s, id));
  const spec: DagSpec = {
    id: 'hist-activation',
    tasks: [
      { id: 'sync', kind: 'activation', input: { activationId: id, reason: 'recording a DAG' } },
      { id: 'settle', kind: 'sleep', upstream: ['sync'], input: { seconds: 1 } },
    ],
  };
  const state = (await s.client.workflow.execute(WORKFLOW_TYPES.dag, {
    taskQueue: s.taskQueue,
    workflowId: 'dag/hist-activation',
    args: [spec],
  })) as DagState;
  expectRun('the DAG-triggered sync', state.tasks.sync?.output as never, (r) => r.status === 'success');
  await s.rec.record(
    'activation-task',
    'dag/hist-activation',
    undefined,
    "an activation task (triggerActivationSync waits on the activation's triggerSync update), then a sleep; the DAG succeeds",
  );
}

/** A cycle: the DAG is refused before any task runs. */
export async function dagInvalid(s: Stage): Promise<void> {
  const spec: DagSpec = {
    id: 'hist-invalid',
    tasks: [sql('a', 'SELECT 1', { upstream: ['b'] }), sql('b', 'SELECT 1', { upstream: ['a'] })],
  };
  await expectDagFailure(s, 'dag/hist-invalid', spec);
  await s.rec.record('invalid', 'dag/hist-invalid', undefined, 'a DAG with a cycle: DAG_INVALID before any task runs');
}

async function expectDagFailure(s: Stage, workflowId: string, spec: DagSpec): Promise<DagState> {
  const err = await s.client.workflow.execute(WORKFLOW_TYPES.dag, { taskQueue: s.taskQueue, workflowId, args: [spec] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof WorkflowFailedError)) throw new Error(`${workflowId}: expected the DAG to fail, got ${String(err)}`);
  return (err.cause as { details?: unknown[] } | undefined)?.details?.[0] as DagState;
}

/**
 * A DAG run by its Schedule (backfilled): its logical date from TemporalScheduledStartTime, (DAG, logical date)
 * claimed in syncline.dag_runs, a sql task binding :logical_date; then the same date backfilled again: no task runs.
 */
export async function dagScheduled(s: Stage): Promise<void> {
  await s.sql.query('CREATE TABLE hist.dag_ticks (logical_date timestamptz, interval_start timestamptz)');
  const dags = new DagSchedules(s.client, s.taskQueue);
  await dags.deploy({
    id: 'hist-scheduled',
    schedule: { cron: '0 * * * *', paused: true },
    tasks: [sql('record', 'INSERT INTO hist.dag_ticks VALUES (:logical_date, :data_interval_start)')],
  });
  const at = new Date('2026-01-01T00:00:00Z');
  const workflowId = `${dagScheduleId('hist-scheduled')}-2026-01-01T00:00:00Z`;
  await dags.backfill('hist-scheduled', at, at);
  const first = await waitForRun(s, workflowId);
  const done = (await s.client.workflow.getHandle(workflowId, first).result()) as DagWorkflowResult;
  if (done.status !== 'success' || done.alreadyDone) throw new Error(`${workflowId}: unexpected result ${JSON.stringify(done)}`);
  await s.rec.record(
    'scheduled-backfilled',
    workflowId,
    first,
    'started by a Schedule backfill: logical date from TemporalScheduledStartTime, claimDagRun, a sql task binding :logical_date, finishDagRun',
  );
  await dags.backfill('hist-scheduled', at, at);
  const second = await waitForRun(s, workflowId, first);
  const again = (await s.client.workflow.getHandle(workflowId, second).result()) as DagWorkflowResult;
  if (again.alreadyDone?.status !== 'success') throw new Error(`${workflowId}: the second backfill ran again: ${JSON.stringify(again)}`);
  await s.rec.record(
    'scheduled-already-done',
    workflowId,
    second,
    'the same date backfilled again: claimDagRun finds it done, no task runs',
  );
  await dags.delete('hist-scheduled');
}

/**
 * Clear and re-run: a dated run whose middle task fails until a flag row exists; re-run with --failed once it
 * does (the upstream kept, its output mapped over downstream; the date claimed from the failed run), then that
 * re-run again --from its last task (the date taken over from a run that succeeded).
 */
export async function dagRerun(s: Stage): Promise<void> {
  await s.sql.query('CREATE TABLE hist.rerun_flag (ok boolean)');
  const source = 'dag/hist-rerun-2026-01-01T00:00:00Z';
  const spec: DagWorkflowInput = {
    id: 'hist-rerun',
    run: { logicalDate: '2026-01-01T00:00:00.000Z' },
    tasks: [
      { id: 'up', kind: 'sql', input: { statement: 'SELECT g AS n FROM generate_series(1, 2) g ORDER BY g', returnRows: true } },
      sql('middle', 'SELECT 1 / (SELECT count(*)::int FROM hist.rerun_flag)', { upstream: ['up'], retry: { maximumAttempts: 1 } }),
      {
        id: 'down',
        kind: 'sql',
        upstream: ['up', 'middle'],
        map: { over: 'up', field: 'rows' },
        input: { statement: "SELECT ($1::jsonb->>'n')::int" },
      },
    ],
  };
  await expectDagFailure(s, source, spec);
  await s.sql.query('INSERT INTO hist.rerun_flag VALUES (true)');
  const runs = new DagRuns(s.client);
  const first = await runs.rerun(source, { failed: true });
  const done = (await s.client.workflow.getHandle(first.workflowId).result()) as DagWorkflowResult;
  if (done.status !== 'success' || done.alreadyDone || !done.tasks.up?.kept)
    throw new Error(`${first.workflowId}: unexpected result ${JSON.stringify(done)}`);
  await s.rec.record(
    'rerun-failed',
    first.workflowId,
    first.runId,
    're-run --failed of a dated run: up kept (not executed; its rows mapped over by down), middle and down run; claimDagRun replaces the failed run',
  );
  const second = await runs.rerun(first.workflowId, { from: 'down' });
  const again = (await s.client.workflow.getHandle(second.workflowId).result()) as DagWorkflowResult;
  if (again.status !== 'success' || again.alreadyDone) throw new Error(`${second.workflowId}: unexpected result ${JSON.stringify(again)}`);
  await s.rec.record(
    'rerun-from',
    second.workflowId,
    second.runId,
    're-run --from down of a re-run that succeeded: up and middle kept, claimDagRun takes the date over from the succeeded run',
  );
}

/** The run of workflowId after `previous` (or its first run), once it has closed. */
async function waitForRun(s: Stage, workflowId: string, previous?: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const d = await s.client.workflow
      .getHandle(workflowId)
      .describe()
      .catch(() => undefined);
    if (d && d.runId !== previous && d.status.name !== 'RUNNING') return d.runId;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${workflowId}: no new closed run`);
}

/** Sensors: a sql_sensor that times out (soft fail: skipped), a wait_for_signal released by dagSignal. */
export async function dagSensors(s: Stage): Promise<void> {
  const spec: DagSpec = {
    id: 'hist-sensors',
    tasks: [
      {
        id: 'poke',
        kind: 'sql_sensor',
        input: { statement: 'SELECT 1 WHERE false', pokeIntervalSeconds: 1, timeoutSeconds: 2, softFail: true },
      },
      sql('after_poke', 'SELECT 1', { upstream: ['poke'] }),
      { id: 'go', kind: 'wait_for_signal', input: { signal: 'files_ready', timeoutSeconds: 3600 } },
      sql('after_go', 'SELECT 1', { upstream: ['go'] }),
    ],
  };
  const handle = await s.client.workflow.start(WORKFLOW_TYPES.dag, {
    taskQueue: s.taskQueue,
    workflowId: 'dag/hist-sensors',
    args: [spec],
  });
  for (let i = 0; i < 600 && (await handle.query(dagStateQuery)).tasks.after_poke?.state !== 'skipped'; i++)
    await new Promise((r) => setTimeout(r, 200));
  await handle.signal(dagSignal, { name: 'files_ready', payload: { batch: 7 } });
  const state = (await handle.result()) as DagState;
  if (state.tasks.go?.state !== 'success' || state.tasks.poke?.state !== 'skipped')
    throw new Error(`dag/hist-sensors: unexpected states ${JSON.stringify(state.tasks)}`);
  await s.rec.record(
    'sensors',
    'dag/hist-sensors',
    undefined,
    'a sql_sensor poking on a timer until its timeout (softFail: skipped, skip propagates); a wait_for_signal released by dagSignal with a payload',
  );
}

/** Tasks of a pool of one slot, two in parallel and a mapped one: each leases the slot in turn and gives it back. */
export async function dagPools(s: Stage): Promise<void> {
  await setPool(s.sql, 'hist-pool', 1);
  const spec: DagSpec = {
    id: 'hist-pools',
    tasks: [
      sql('a', 'SELECT 1', { pool: 'hist-pool' }),
      sql('b', 'SELECT 1', { pool: 'hist-pool' }),
      { id: 'list', kind: 'sql', input: { statement: 'SELECT n FROM generate_series(1, 2) n', returnRows: true } },
      {
        id: 'each',
        kind: 'sql',
        pool: 'hist-pool',
        upstream: ['list'],
        map: { over: 'list', field: 'rows' },
        input: { statement: 'SELECT $1::jsonb' },
      },
    ],
  };
  const state = (await s.client.workflow.execute(WORKFLOW_TYPES.dag, {
    taskQueue: s.taskQueue,
    workflowId: 'dag/hist-pools',
    args: [spec],
  })) as DagState;
  if (state.status !== 'success') throw new Error(`dag/hist-pools: unexpected states ${JSON.stringify(state.tasks)}`);
  await s.rec.record(
    'pools',
    'dag/hist-pools',
    undefined,
    'tasks of a one-slot pool (two in parallel, two mapped items) acquiring, waiting on a timer, and releasing their lease',
  );
}

/**
 * activation_sensor: one satisfied at its first poke by a run finished after the logical date, one poking on
 * a timer until its timeout (softFail: skipped). The runs are recorded as a run records itself.
 */
export async function dagActivationSensor(s: Stage): Promise<void> {
  const db = createDb(s.sql);
  const { runId: id } = await openRun(db, {
    activationId: 'hist-sensed',
    runNumber: 1,
    trigger: 'schedule',
    full: false,
    retryFailed: false,
    config: {},
  });
  await finishRun(db, id, { status: 'success', counts: {}, warnings: [] });
  const spec: DagWorkflowInput = {
    id: 'hist-activation-sensor',
    run: { logicalDate: '2026-01-01T00:00:00Z' },
    tasks: [
      { id: 'synced', kind: 'activation_sensor', input: { activationId: 'hist-sensed', since: 'logical_date', timeoutSeconds: 60 } },
      {
        id: 'never',
        kind: 'activation_sensor',
        input: { activationId: 'hist-sensed', pokeIntervalSeconds: 1, timeoutSeconds: 2, softFail: true },
      },
      sql('after', 'SELECT 1', { upstream: ['synced'] }),
    ],
  };
  const state = (await s.client.workflow.execute(WORKFLOW_TYPES.dag, {
    taskQueue: s.taskQueue,
    workflowId: 'dag/hist-activation-sensor',
    args: [spec],
  })) as DagState;
  if (state.tasks.synced?.state !== 'success' || state.tasks.never?.state !== 'skipped')
    throw new Error(`dag/hist-activation-sensor: unexpected states ${JSON.stringify(state.tasks)}`);
  await s.rec.record(
    'activation-sensor',
    'dag/hist-activation-sensor',
    undefined,
    'activation_sensor: satisfied by a run finished after the logical date; another poking on a timer until its timeout (softFail: skipped)',
  );
}

/** A wait_for_signal still waiting: recorded while open. */
export async function dagWaitingOnSignal(s: Stage): Promise<void> {
  const spec: DagSpec = {
    id: 'hist-waiting',
    tasks: [{ id: 'go', kind: 'wait_for_signal', input: { signal: 'never', timeoutSeconds: 86_400 } }],
  };
  const handle = await s.client.workflow.start(WORKFLOW_TYPES.dag, {
    taskQueue: s.taskQueue,
    workflowId: 'dag/hist-waiting',
    args: [spec],
  });
  for (let i = 0; i < 600 && (await handle.query(dagStateQuery)).tasks.go?.state !== 'running'; i++)
    await new Promise((r) => setTimeout(r, 200));
  await s.rec.record(
    'open-waiting-on-signal',
    'dag/hist-waiting',
    undefined,
    'OPEN: a wait_for_signal task waiting on its condition (a timer for its timeout)',
  );
}

/**
 * A DAG started around the client (which refuses it first) with an http task whose inline header is named like
 * a credential: refused before any task runs (patched 'dag-http-credential-headers'). The header's value is a
 * placeholder: a task's input is kept in history, which is why the workflow refuses it.
 */
export async function dagCredentialHeader(s: Stage): Promise<void> {
  const workflowId = 'dag/hist-credential-header';
  const spec: DagSpec = {
    id: 'hist-credential-header',
    tasks: [
      sql('first', 'SELECT 1'),
      {
        id: 'call',
        kind: 'http',
        upstream: ['first'],
        input: { url: `${s.hookUrl}?dag`, headers: { Authorization: 'placeholder, not a credential' }, body: {} },
      },
    ],
  };
  const err = await s.client.workflow.execute(WORKFLOW_TYPES.dag, { taskQueue: s.taskQueue, workflowId, args: [spec] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  const cause = (err as WorkflowFailedError | undefined)?.cause as { type?: string; message?: string } | undefined;
  if (!(err instanceof WorkflowFailedError) || cause?.type !== 'DAG_INVALID' || !/looks like a credential/.test(cause.message ?? ''))
    throw new Error(`${workflowId}: expected DAG_INVALID for the credential header, got ${String(err)}: ${cause?.message}`);
  await s.rec.record(
    'invalid-credential-header',
    workflowId,
    undefined,
    'an http task with an inline Authorization header: the marker dag-http-credential-headers, DAG_INVALID before any task runs',
  );
}

/**
 * A DAG cancelled with two tasks of a pool running (1 h sleeps): the run closes only once both have given back
 * their slot (patched 'dag-cancel-settles'; runs before it closed at the first task that ended).
 */
export async function dagCancelSettles(s: Stage): Promise<void> {
  await setPool(s.sql, 'hist-cancel', 2);
  const workflowId = 'dag/hist-cancel';
  const spec: DagSpec = {
    id: 'hist-cancel',
    tasks: [
      { id: 'one', kind: 'sleep', pool: 'hist-cancel', input: { seconds: 3600 } },
      { id: 'two', kind: 'sleep', pool: 'hist-cancel', input: { seconds: 3600 } },
    ],
  };
  const handle = await s.client.workflow.start(WORKFLOW_TYPES.dag, { taskQueue: s.taskQueue, workflowId, args: [spec] });
  const leases = async () =>
    Number(
      (
        await s.sql.query(
          `SELECT count(*)::int AS n FROM syncline.dag_pool_slots WHERE pool = 'hist-cancel' AND holder IS NOT NULL AND expires_at > now()`,
        )
      ).rows[0].n,
    );
  for (let i = 0; i < 600 && (await leases()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
  const running = (await handle.query(dagStateQuery)).tasks;
  if (running.one?.state !== 'running' || running.two?.state !== 'running')
    throw new Error(`${workflowId}: both tasks should run: ${JSON.stringify(running)}`);
  await handle.cancel();
  const ended = await handle.result().then(
    () => 'completed',
    (e: unknown) => String((e as Error).cause ?? e),
  );
  if (!/cancel/i.test(ended)) throw new Error(`${workflowId}: expected the run cancelled, got ${ended}`);
  if ((await leases()) !== 0) throw new Error(`${workflowId}: a slot is still leased after the run closed`);
  await s.rec.record(
    'cancel-settles',
    workflowId,
    undefined,
    'cancelled with two pooled sleep tasks running: the marker dag-cancel-settles, both tasks give back their slot (releaseDagPoolSlot), then the run closes cancelled',
  );
}
