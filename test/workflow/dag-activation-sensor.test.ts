/**
 * activation_sensor on a real Temporal dev server with real Postgres. The activation's runs are written into
 * syncline.runs with the functions a run records itself with (openRun, finishRun of db/runs.ts), not by a
 * real activation: the sensor reads only those records, and a real sync would need the emulators and minutes.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { createDb } from '../../db/connect';
import type { Database } from '../../db/database';
import { finishRun, openRun } from '../../db/runs';
import { startDagStage, type DagStage } from '../support/dag-stage';
import { sensorInputProblems } from '../../common/dag-sensors';
import type { DagSpec, DagState } from '../../common/dag';
import { dagStateQuery, dagWorkflow, type DagWorkflowInput } from '../../workflows/dag-workflow';

let stage: DagStage;
let TASK_QUEUE: string;
let client: Client;
let db: Kysely<Database>;

beforeAll(async () => {
  stage = await startDagStage('dag-activation-sensor');
  ({ taskQueue: TASK_QUEUE, client } = stage);
  db = createDb(stage.db);
});
// The stage ends the pool under db.
afterAll(() => stage?.stop());

/** A run of `activationId` recorded as the activation workflow records it, ended with `status`. */
async function recordRun(activationId: string, runNumber: number, status: string): Promise<void> {
  const { runId: id } = await openRun(db, {
    activationId,
    runNumber,
    trigger: 'schedule',
    full: false,
    retryFailed: false,
    config: { id: activationId },
  });
  await finishRun(db, id, { status, counts: {}, warnings: [] });
}

const sensorDag = (id: string, input: Record<string, unknown>): DagSpec => ({
  id: `${id}-${process.pid}`,
  tasks: [
    { id: 'wait', kind: 'activation_sensor', input: { pokeIntervalSeconds: 1, ...input } },
    { id: 'after', kind: 'sql', upstream: ['wait'], input: { statement: 'SELECT 1' } },
  ],
});

/** A run dated 2026-01-01, as `syncline dag trigger` starts one (with a logical date long before the runs recorded). */
const dated = (spec: DagSpec): DagWorkflowInput => ({ ...spec, run: { logicalDate: '2026-01-01T00:00:00Z' } });

test('waits for the next successful run finished after the sensor started: not an earlier one, not a failed one', async () => {
  const activationId = `sensed-${process.pid}`;
  await recordRun(activationId, 1, 'success'); // before the sensor: does not count
  const handle = await client.workflow.start(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/sensor-next/${process.pid}`,
    args: [sensorDag('sensor-next', { activationId, timeoutSeconds: 600 })],
  });
  // The sensor has started (and poked) once its task is running.
  let state: DagState | undefined;
  for (let i = 0; i < 300 && (state = await handle.query(dagStateQuery)).tasks.wait?.state !== 'running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(state!.tasks.wait!.state).toBe('running');
  await recordRun(activationId, 2, 'failed');
  await recordRun(activationId, 3, 'success');
  const result = await handle.result();
  expect(result.tasks.wait!.state).toBe('success');
  expect(result.tasks.wait!.output).toMatchObject({ runNumber: 3, status: 'success' });
  expect(result.tasks.after!.state).toBe('success');
});

test('"since": "logical_date": a run finished after the logical date counts, even one before the sensor started', async () => {
  const activationId = `sensed-dated-${process.pid}`;
  await recordRun(activationId, 1, 'success');
  const result = await client.workflow.execute(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/sensor-dated/${process.pid}`,
    args: [dated(sensorDag('sensor-dated', { activationId, since: 'logical_date', timeoutSeconds: 60 }))],
  });
  expect(result.tasks.wait!.output).toMatchObject({ runNumber: 1, status: 'success', pokes: 1 });
});

test('times out: failed with SENSOR_TIMEOUT, or skipped with softFail (the skip propagates)', async () => {
  const activationId = `sensed-idle-${process.pid}`;
  await recordRun(activationId, 1, 'partial'); // partial counts only with acceptPartial
  const soft = await client.workflow.execute(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/sensor-soft/${process.pid}`,
    args: [dated(sensorDag('sensor-soft', { activationId, since: 'logical_date', timeoutSeconds: 2, softFail: true }))],
  });
  expect(soft.tasks.wait!.state).toBe('skipped');
  expect(soft.tasks.after!.state).toBe('skipped');

  const err = await client.workflow
    .execute(dagWorkflow, {
      taskQueue: TASK_QUEUE,
      workflowId: `dag/sensor-hard/${process.pid}`,
      args: [sensorDag('sensor-hard', { activationId, timeoutSeconds: 2 })],
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const state = ((err as WorkflowFailedError).cause as ApplicationFailure).details?.[0] as DagState;
  expect(state.tasks.wait!.error).toEqual({
    type: 'SENSOR_TIMEOUT',
    message: expect.stringContaining(`sensor "wait" timed out: activation "${activationId}" had no success run finished after`),
  });

  const partial = await client.workflow.execute(dagWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: `dag/sensor-partial/${process.pid}`,
    args: [dated(sensorDag('sensor-partial', { activationId, since: 'logical_date', acceptPartial: true, timeoutSeconds: 60 }))],
  });
  expect(partial.tasks.wait!.output).toMatchObject({ runNumber: 1, status: 'partial' });
});

test('an unknown activation id fails the sensor at its first poke with ACTIVATION_UNKNOWN; a sensor without timeout is refused', async () => {
  const err = await client.workflow
    .execute(dagWorkflow, {
      taskQueue: TASK_QUEUE,
      workflowId: `dag/sensor-unknown/${process.pid}`,
      args: [sensorDag('sensor-unknown', { activationId: 'no-such-activation', timeoutSeconds: 600 })],
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const state = ((err as WorkflowFailedError).cause as ApplicationFailure).details?.[0] as DagState;
  expect(state.tasks.wait!.error).toEqual({
    type: 'ACTIVATION_UNKNOWN',
    message: expect.stringContaining(
      'activation "no-such-activation" is not known: it has no run recorded and no workflow "activation/no-such-activation"',
    ),
  });
  expect(state.tasks.after!.state).toBe('upstream_failed');

  expect(sensorInputProblems({ id: 'wait', kind: 'activation_sensor', input: { activationId: 'x' } })).toEqual([
    expect.stringContaining('task "wait": input.timeoutSeconds: a sensor needs "timeoutSeconds"'),
  ]);
});
