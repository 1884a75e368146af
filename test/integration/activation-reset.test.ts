/**
 * `temporal workflow reset` of an ACTIVATION workflow while one of its runs (a child workflow) is still
 * open, through the real stack (Temporal dev server, Postgres, the slow test destination). The reset
 * execution serves the same request again and starts the same run number, a child of the same workflow id,
 * while the reset execution's child may still be open (its parent-close policy ends it, but not at once).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { applyPlanUpdate, planUpdate, resyncSignal, runStateQuery, statusQuery, triggerSyncUpdate } from '../../workflows/messages';

const TQ = uniqueName('tq_act_reset');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, connections: { slowdb: { url: process.env.DATABASE_URL!, delayMs: 200, batchSize: 10 } } }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

const handle = (id: string) => client.workflow.getHandle(activationWorkflowId(id));

/** `temporal workflow reset` of the activation's current execution, as an operator runs it. */
async function resetActivation(id: string, how: string[]): Promise<void> {
  const cli = process.env.TEMPORAL_CLI;
  if (!cli) throw new Error('this test needs the temporal CLI (TEMPORAL_CLI, set by the global setup)');
  const args = ['workflow', 'reset', '--workflow-id', activationWorkflowId(id), ...how, '--reason', 'operator reset the activation'];
  await promisify(execFile)(cli, [...args, '--address', env().address]);
}

/**
 * A 300-row Insert activation on the slow destination (50-row chunks). `runsBefore` runs on an empty model
 * first (each ends, and the activation continues as new); then run `runsBefore + 1`, started by a signal, is
 * left under way with some rows written.
 */
async function writing(id: string, runsBefore: number): Promise<void> {
  await db.query(`CREATE TABLE public.${id} (id int, name text)`);
  const config = {
    id,
    mode: 'insert',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 50 } },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
  for (let i = 0; i < runsBefore; i++) await handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });
  await db.query(`INSERT INTO public.${id} SELECT g, 'Name ' || g FROM generate_series(1, 300) g`);
  await handle(id).signal(resyncSignal, { reason: 'the model filled' });
  await waitFor('some rows written', async () => {
    const n = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id]);
    return n.rows[0].n >= 60;
  });
}

async function runs(id: string): Promise<string[]> {
  const r = await db.query(`SELECT run_number, status FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`, [id]);
  return r.rows.map((x) => `${x.run_number}:${x.status}`);
}

/**
 * The activation records run `run` with the status given and still serves requests (the next run finds
 * nothing to do); each of the 300 rows written once, all in the snapshot.
 */
async function carriesOn(id: string, run: number, status: string): Promise<void> {
  await waitFor(
    `run ${run} recorded by the activation (or the activation closed)`,
    async () => {
      const d = await handle(id).describe();
      if (d.status.name !== 'RUNNING') return true;
      const st = await handle(id).query(statusQuery);
      return st.lastRuns.some((r) => r.runNumber === run);
    },
    120_000,
  );
  const d = await handle(id).describe();
  expect(d.status.name).toBe('RUNNING');
  const st = await handle(id).query(statusQuery);
  expect(st.lastRuns.filter((r) => r.runNumber === run).map((r) => r.status)).toEqual([status]);
  const dest = await db.query(`SELECT key, count(*)::int AS n, max(writes) AS w FROM test_dest.records WHERE object = $1 GROUP BY key`, [
    id,
  ]);
  expect(dest.rows).toHaveLength(300);
  expect(dest.rows.filter((r) => r.n !== 1 || r.w !== 1)).toEqual([]);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(300);
  // The activation still serves requests: the next run finds nothing to do.
  const next = await handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect([next.runNumber, next.status]).toEqual([run + 1, 'success']);
  expect(Object.values(next.ops).reduce((n, c) => n + c.planned, 0)).toBe(0);
}

test('an activation reset to its first workflow task (its first execution) while its run writes: the run ends as its own, then the activation carries on', async () => {
  // The first execution reads the run numbering from Postgres, and settled run 1 there while its workflow was
  // still open (the reset does not end it): run 2 sent again the rows run 1 still had in flight, and run 1's
  // writes went on beside it (seen failing before the fix: 202 keys written twice). The reset execution now
  // waits for run 1's workflow to end (it commits itself), then serves the request with run 2.
  const id = uniqueName('act_reset1');
  await writing(id, 0);
  await resetActivation(id, ['--type', 'FirstWorkflowTask']);
  await carriesOn(id, 2, 'success');
  expect(await runs(id)).toEqual(['1:success', '2:success', '3:success']);
});

test('an activation reset to the start of a continued execution while its run writes: it waits for that run and carries on, each row written once', async () => {
  // An execution continued as new carries its run numbering: the reset execution starts the same run
  // number again, a child of the same workflow id, while the reset execution's child is still open (seen
  // failing before the fix: the activation workflow FAILED, "WorkflowExecutionAlreadyStartedError: Workflow
  // execution already started"). The activation now waits for that child and takes its outcome as run 2's.
  const id = uniqueName('act_reset2');
  await writing(id, 1);
  const reset = (await handle(id).describe()).runId;
  await resetActivation(id, ['--type', 'FirstWorkflowTask']);
  await carriesOn(id, 2, 'success');
  expect(await runs(id)).toEqual(['1:success', '2:success', '3:success']);
  // Run 2 was written by the reset execution's child alone: no other was started.
  expect((await client.workflow.getHandle(runWorkflowId(id, 2)).describe()).parentExecution?.runId).toBe(reset);
});

test('an activation reset to a workflow task before its run started (its run numbering kept) while the run writes: it waits for that run', async () => {
  // The reset keeps the first execution's lastRunNumber: the same run number is started again while the reset
  // execution's child is still open, as above.
  const id = uniqueName('act_reset3');
  await writing(id, 0);
  const reset = (await handle(id).describe()).runId;
  const events = (await handle(id).fetchHistory()).events ?? [];
  const read = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
  const task = events.slice(read).find((e) => e.workflowTaskCompletedEventAttributes);
  await resetActivation(id, ['--event-id', String(task!.eventId)]);
  await carriesOn(id, 1, 'success');
  expect(await runs(id)).toEqual(['1:success', '2:success']);
  expect((await client.workflow.getHandle(runWorkflowId(id, 1)).describe()).parentExecution?.runId).toBe(reset);
});

test('an activation reset to the start of its execution while a plan is applied: it waits for the apply, each row written once', async () => {
  // The apply (`…/run/<n>/apply`) served again by the reset execution met the apply still open (seen failing
  // before the fix: the activation workflow FAILED). The caller's update went with the reset execution (seen:
  // WorkflowUpdateFailedError); the activation records the apply's outcome all the same.
  const id = uniqueName('act_reset4');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 300) g`);
  const config = {
    id,
    mode: 'insert',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 50 } },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
  const { plan } = await handle(id).executeUpdate(planUpdate, { args: [] });
  const caller = handle(id).executeUpdate(applyPlanUpdate, { args: [{ plan }] });
  caller.catch(() => undefined); // it goes with the reset execution
  await waitFor('some rows written', async () => {
    const n = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id]);
    return n.rows[0].n >= 60;
  });
  const reset = (await handle(id).describe()).runId;
  await resetActivation(id, ['--type', 'FirstWorkflowTask']);
  await carriesOn(id, plan, 'success');
  expect((await client.workflow.getHandle(runWorkflowId(id, plan, true)).describe()).parentExecution?.runId).toBe(reset);
});

test('the run the reset activation waits for is terminated: the run is started again, settles it, and the activation carries on', async () => {
  // The terminated attempt is settled by the new attempt's prepare: the rows it had in flight are listed
  // NOT_ACKNOWLEDGED and sent again (the settle's conservative side), so records are counted here, not writes.
  const id = uniqueName('act_reset5');
  await writing(id, 1);
  await resetActivation(id, ['--type', 'FirstWorkflowTask']);
  const resetExecution = (await handle(id).describe()).runId;
  await waitFor('the activation waiting for run 2', async () =>
    (await handle(id).fetchHistory()).events?.some(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'awaitRunWorkflow',
    ),
  );
  await client.workflow.getHandle(runWorkflowId(id, 2)).terminate('operator ends the earlier attempt');
  await waitFor('run 2 recorded by the activation', async () =>
    (await handle(id).query(statusQuery)).lastRuns.some((r) => r.runNumber === 2),
  );
  expect((await handle(id).describe()).status.name).toBe('RUNNING');
  const st = await handle(id).query(statusQuery);
  expect(st.lastRuns.filter((r) => r.runNumber === 2).map((r) => r.status)).toEqual(['success']);
  // Started again by the activation's own execution: its prepare settled the terminated attempt (a new run id).
  expect((await client.workflow.getHandle(runWorkflowId(id, 2)).describe()).parentExecution?.runId).toBe(resetExecution);
  const dest = await db.query(`SELECT key, count(*)::int AS n FROM test_dest.records WHERE object = $1 GROUP BY key`, [id]);
  expect(dest.rows).toHaveLength(300);
  expect(dest.rows.filter((r) => r.n !== 1)).toEqual([]);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(300);
});

test('an activation reset to its first workflow task (its first execution) while a plan is applied: the apply ends as its own, each row written once', async () => {
  // Passed before the fix too (seen: the reset execution started no plan or run while the apply went on;
  // the next number after it is 2): kept as a guard on this case.
  const id = uniqueName('act_reset6');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 300) g`);
  const config = {
    id,
    mode: 'insert',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 50 } },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
  const { plan } = await handle(id).executeUpdate(planUpdate, { args: [] });
  expect(plan).toBe(1);
  handle(id)
    .executeUpdate(applyPlanUpdate, { args: [{ plan }] })
    .catch(() => undefined); // it goes with the reset execution
  await waitFor('some rows written', async () => {
    const n = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id]);
    return n.rows[0].n >= 60;
  });
  await resetActivation(id, ['--type', 'FirstWorkflowTask']);
  await waitFor('the apply committed', async () => (await runs(id))[0] === '1:success', 120_000);
  await waitFor('the activation idle', async () => (await handle(id).query(statusQuery)).state === 'idle');
  expect((await handle(id).describe()).status.name).toBe('RUNNING');
  const dest = await db.query(`SELECT key, count(*)::int AS n, max(writes) AS w FROM test_dest.records WHERE object = $1 GROUP BY key`, [
    id,
  ]);
  expect(dest.rows).toHaveLength(300);
  expect(dest.rows.filter((r) => r.n !== 1 || r.w !== 1)).toEqual([]);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(300);
  const next = await handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(next.status).toBe('success');
  expect(Object.values(next.ops).reduce((n, c) => n + c.planned, 0)).toBe(0);
  expect(await runs(id)).toEqual(['1:success', '2:success']);
});

test('an activation reset to the start of a continued execution that served two runs, the second writing: each row written once', async () => {
  // The reset execution prepares run 2 (committed) again while run 3's workflow, of the reset execution, still
  // writes. Run 2's prepare settled run 3 under it, and run 2's delta sent again the rows run 3 had in flight
  // (seen failing before the fix: 40 keys written twice; runs 1, 2 success, 3 cancelled). The prepare is now
  // refused (RUN_STILL_OPEN) and run 2 waits for run 3's workflow to end and commit itself (the test below).
  const id = uniqueName('act_reset7');
  await writing(id, 1); // run 2 writes rows 1-300
  await db.query(`INSERT INTO public.${id} SELECT g, 'Name ' || g FROM generate_series(301, 600) g`);
  await handle(id).signal(resyncSignal, { reason: 'more rows' }); // run 3, served by the same execution
  await waitFor(
    'run 3 writing',
    async () => {
      const n = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1 AND key::int > 300`, [id]);
      return n.rows[0].n >= 60;
    },
    120_000,
  );
  await resetActivation(id, ['--type', 'FirstWorkflowTask']);
  await waitFor(
    'the activation idle',
    async () => {
      const d = await handle(id).describe();
      return (
        d.status.name !== 'RUNNING' ||
        ((await handle(id).query(statusQuery)).state === 'idle' && (await runs(id)).every((r) => !r.endsWith('running')))
      );
    },
    120_000,
  );
  expect(await runs(id)).toEqual(['1:success', '2:success', '3:success']);
  expect((await handle(id).describe()).status.name).toBe('RUNNING');
  const dest = await db.query(`SELECT key, count(*)::int AS n, max(writes) AS w FROM test_dest.records WHERE object = $1 GROUP BY key`, [
    id,
  ]);
  expect(dest.rows.filter((r) => r.n !== 1 || r.w !== 1)).toEqual([]);
  expect(dest.rows).toHaveLength(600);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(600);
});

/**
 * Run `open` of the activation writes, held open (a row of its write waits on a lock the test holds) for as
 * long as the test likes, when `reset` (given the execution's events) sends the activation back to before
 * run `waiting`, which it prepares again. Run `waiting` waits for run `open` to end (awaitRunWorkflow),
 * shows it, and syncs once it has ended; no run fails, each of the 600 rows written once.
 */
async function waitsForLaterRun(
  id: string,
  runsBefore: number,
  waiting: number,
  resetTo: (events: Awaited<ReturnType<ReturnType<typeof handle>['fetchHistory']>>['events']) => string[],
  prepareAs: 'activity' | 'local activity',
): Promise<void> {
  const open = waiting + 1;
  await writing(id, runsBefore); // run `waiting` writes rows 1-300
  await db.query(`INSERT INTO test_dest.faults (object, key, code, times) VALUES ($1, '450', 'HELD', 1)`, [id]);
  const hold = await db.connect();
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    await hold.query('COMMIT');
    hold.release();
  };
  try {
    // Row 450's write waits for this transaction; once it commits, no fault is left and the row is written.
    await hold.query('BEGIN');
    await hold.query(`UPDATE test_dest.faults SET times = 0 WHERE object = $1 AND key = '450'`, [id]);
    await db.query(`INSERT INTO public.${id} SELECT g, 'Name ' || g FROM generate_series(301, 600) g`);
    await handle(id).signal(resyncSignal, { reason: 'more rows' }); // run `open`, served by the same execution
    await waitFor(
      `run ${open} writing`,
      async () => {
        const n = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1 AND key::int > 300`, [id]);
        return n.rows[0].n >= 60;
      },
      120_000,
    );
    const openRun = client.workflow.getHandle(runWorkflowId(id, open));
    const openExecution = (await openRun.describe()).runId;
    const reset = (await handle(id).describe()).runId;
    await resetActivation(id, resetTo((await handle(id).fetchHistory()).events));
    const run = client.workflow.getHandle(runWorkflowId(id, waiting));
    const waits = await waitFor(
      `run ${waiting} (started again) waiting for run ${open} with awaitRunWorkflow`,
      async () => {
        const d = await run.describe();
        if (d.parentExecution?.runId === reset || d.status.name !== 'RUNNING') return false;
        const awaiting = d.raw.pendingActivities?.some((a) => a.activityType?.name === 'awaitRunWorkflow');
        return awaiting && d;
      },
      30_000,
    );
    // Its prepare is not being tried again meanwhile: one attempt, refused, and the wait.
    expect(waits.raw.pendingActivities?.map((a) => a.activityType?.name)).toEqual(['awaitRunWorkflow']);
    expect((await run.query(runStateQuery))?.tasks.waiting_run?.state).toBe('running');
    await waitFor(`the activation showing run ${waiting} waiting`, async () => {
      const st = await handle(id).query(statusQuery);
      return st.currentRun?.runNumber === waiting && st.currentRun.phase === 'waiting_run';
    });
    // A while later it still waits, on the same try of the wait: nothing counts down to a failure.
    await new Promise((r) => setTimeout(r, 5_000));
    const later = await run.describe();
    expect(later.status.name).toBe('RUNNING');
    expect(later.raw.pendingActivities?.map((a) => [a.activityType?.name, a.attempt])).toEqual([['awaitRunWorkflow', 1]]);
    // Run `open` is still open and writing (the wait ends it in no way).
    const o = await openRun.describe();
    expect([o.runId, o.status.name]).toEqual([openExecution, 'RUNNING']);
    await release();
    await waitFor(
      'the activation idle',
      async () => {
        const d = await handle(id).describe();
        return (
          d.status.name !== 'RUNNING' ||
          ((await handle(id).query(statusQuery)).state === 'idle' && (await runs(id)).every((r) => !r.endsWith('running')))
        );
      },
      120_000,
    );
  } finally {
    await release();
  }
  expect((await handle(id).describe()).status.name).toBe('RUNNING');
  const waited = client.workflow.getHandle(runWorkflowId(id, waiting));
  expect((await waited.describe()).status.name).toBe('COMPLETED');
  const prepares = ((await waited.fetchHistory()).events ?? []).filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareRun',
  ).length;
  expect(prepares > 0 ? 'activity' : 'local activity').toBe(prepareAs);
  expect((await runs(id)).filter((r) => !r.endsWith(':success'))).toEqual([]);
  const st = await handle(id).query(statusQuery);
  expect(st.lastRuns.filter((r) => r.status === 'failed')).toEqual([]);
  const dest = await db.query(`SELECT key, count(*)::int AS n, max(writes) AS w FROM test_dest.records WHERE object = $1 GROUP BY key`, [
    id,
  ]);
  expect(dest.rows.filter((r) => r.n !== 1 || r.w !== 1)).toEqual([]);
  expect(dest.rows).toHaveLength(600);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(600);
}

// Run 2's (run 1's) prepare refused, retryably, while run 3 (run 2) of the reset execution was open, and its
// step's retries (about 4 minutes) ran out on a long write: the run FAILED with RUN_STILL_OPEN, counted
// against the activation (seen before the fix: no wait, the prepare tried again). The run now waits for the
// later run's workflow to end (awaitRunWorkflow, an activity that heartbeats, tried again without limit),
// shows it (runState, the activation's status), and prepares again once that run has ended.
test('the run prepared again after a reset waits for a later run still writing (awaitRunWorkflow, shown as waiting_run) however long it writes, then goes on: no RUN_STILL_OPEN failure', async () => {
  // A continued execution: run 2 follows a run (of an empty model), so its prepare is a local activity.
  const id = uniqueName('act_reset9');
  await waitsForLaterRun(id, 1, 2, () => ['--type', 'FirstWorkflowTask'], 'local activity');
  expect(await runs(id)).toEqual(['1:success', '2:success', '3:success']);
});

test('the first run prepared again after a reset of the first execution (its run numbering kept) waits for run 2 still writing: its prepare an activity', async () => {
  // No run before it: run 1's prepare is an activity, whose refusal comes as an ActivityFailure around it.
  await waitsForLaterRun(
    uniqueName('act_reset10'),
    0,
    1,
    (events) => {
      const read = (events ?? []).findIndex((e) => e.activityTaskCompletedEventAttributes);
      const task = (events ?? []).slice(read).find((e) => e.workflowTaskCompletedEventAttributes);
      return ['--event-id', String(task!.eventId)];
    },
    'activity',
  );
});

test("the plan's execution (closed, continued as new) reset to before its plan while the plan is applied: each row written once", async () => {
  // A plan continues the activation as new, so a run number the apply's own execution could open again is
  // never the plan's; only a reset of the plan's closed execution goes back before the plan. That reset
  // terminates the current execution, and its apply with it (parent-close policy; seen: TERMINATED), so the
  // reapplied plan (run 2) settles an ended apply. Passes on main (a guard, no defect): the apply's answers
  // committed, the rest sent once by the next run.
  const id = uniqueName('act_reset8');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 1500) g`);
  const config = {
    id,
    mode: 'insert',
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 50 } },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  const first = (
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] })
  ).firstExecutionRunId;
  await waitFor('the activation idle (its run numbering read)', async () => (await handle(id).query(statusQuery)).state === 'idle');
  const { plan } = await handle(id).executeUpdate(planUpdate, { args: [] });
  expect(plan).toBe(1);
  handle(id)
    .executeUpdate(applyPlanUpdate, { args: [{ plan }] })
    .catch(() => undefined); // it goes with the reset execution
  await waitFor('some rows written', async () => {
    const n = await db.query(`SELECT count(*)::int AS n FROM test_dest.records WHERE object = $1`, [id]);
    return n.rows[0].n >= 60;
  });
  // The plan's execution (the first), reset to its last workflow task before the plan update was accepted.
  const events = (await client.workflow.getHandle(activationWorkflowId(id), first).fetchHistory()).events ?? [];
  const accepted = events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  const task = events
    .slice(0, accepted)
    .reverse()
    .find((e) => e.workflowTaskCompletedEventAttributes);
  await resetActivation(id, ['--run-id', first, '--event-id', String(task!.eventId)]);
  await waitFor(
    'the apply ended and the activation idle',
    async () => {
      const d = await handle(id).describe();
      if (d.status.name !== 'RUNNING') return true;
      const apply = await client.workflow.getHandle(runWorkflowId(id, plan, true)).describe();
      return (
        apply.status.name !== 'RUNNING' &&
        (await handle(id).query(statusQuery)).state === 'idle' &&
        (await runs(id)).every((r) => !r.endsWith('running'))
      );
    },
    120_000,
  );
  expect((await client.workflow.getHandle(runWorkflowId(id, plan, true)).describe()).status.name).toBe('TERMINATED');
  // Where the reset lands decides what follows (seen both ways, by load): the reset execution serves the
  // reapplied plan update (run 2 planned, plan 1 superseded), or it does not and plan 1 stays planned, its
  // apply ended. Either way the next run must leave every row written once.
  expect([JSON.stringify(['1:superseded', '2:planned']), JSON.stringify(['1:planned'])]).toContain(JSON.stringify(await runs(id)));
  expect((await handle(id).describe()).status.name).toBe('RUNNING');
  await handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });
  const dest = await db.query(`SELECT key, count(*)::int AS n FROM test_dest.records WHERE object = $1 GROUP BY key`, [id]);
  expect(dest.rows.filter((r) => r.n !== 1)).toEqual([]);
  expect(dest.rows).toHaveLength(1500);
});
