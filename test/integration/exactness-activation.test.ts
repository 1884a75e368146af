/**
 * Exactness of the activation's requests through the real stack (Temporal dev server, Postgres, the
 * test destination): an approval belongs to the run that follows it, a retry of failed rows keeps its
 * meaning when coalesced with another request, an approval still in flight when a run ends never stalls
 * the activation, a run whose workflow was terminated is closed when the activation starts again, and a run
 * reset mid-write with the `temporal` CLI settles its earlier attempt before it starts again, and an apply reset
 * mid-write settles its earlier attempt and is refused (planned again, every row lands once).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import type { RunSummary } from '../../common/run';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import {
  applyPlanUpdate,
  approveDeletesUpdate,
  planUpdate,
  resyncSignal,
  retryFailedSignal,
  statusQuery,
  triggerSyncUpdate,
} from '../../workflows/messages';

const TQ = uniqueName('tq_exact');
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

function config(id: string, mode: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    mode,
    schedule: { manual: true },
    source: { sql: `SELECT id, name FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
    ...extra,
  };
}
const handle = (id: string) => client.workflow.getHandle(activationWorkflowId(id));
const sync = (id: string) => handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });
async function keys(object: string): Promise<string[]> {
  return (await db.query(`SELECT key FROM test_dest.records WHERE object = $1 ORDER BY key::int`, [object])).rows.map(
    (r) => r.key as string,
  );
}
async function runStatus(id: string, run: number): Promise<string | undefined> {
  return (await db.query(`SELECT status FROM syncline.runs WHERE activation_id = $1 AND run_number = $2`, [id, run])).rows[0]?.status;
}

test('an approval is used by the run that follows it or not at all: the same keys removed weeks later are held again', async () => {
  const id = uniqueName('stale_appr');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: config(id, 'mirror') }],
  });
  expect((await sync(id)).status).toBe('success');
  // Half the model disappears by mistake: the guard holds it.
  await db.query(`CREATE TABLE public.${id}_gone AS SELECT * FROM public.${id} WHERE id > 10`);
  await db.query(`DELETE FROM public.${id} WHERE id > 10`);
  const held = await sync(id);
  expect(held.heldDeletes).toBe(10);
  // The model is fixed first; the approval then arrives and its run has nothing to delete.
  await db.query(`INSERT INTO public.${id} SELECT * FROM public.${id}_gone`);
  const approval = await handle(id).executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }] });
  expect(approval.approved).toBe(10);
  expect(approval.run.ops.delete).toBeUndefined();
  expect(await keys(id)).toHaveLength(20);
  // Later the same keys leave the model again: nobody approved that.
  await db.query(`DELETE FROM public.${id} WHERE id > 10`);
  const later = await sync(id);
  expect(later.heldDeletes).toBe(10);
  expect(await keys(id)).toHaveLength(20);
});

test('retryFailed coalesced with a re-sync still retries rows that failed permanently', async () => {
  const id = uniqueName('retry_merge');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 30) g`);
  await db.query(
    `INSERT INTO test_dest.faults (object, key, code, retryable, times) VALUES ($1, '3', 'REJECTED_BY_RULE', false, 1), ($1, '7', 'REJECTED_BY_RULE', false, 1)`,
    [id],
  );
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: config(id, 'upsert') }],
  });
  const first = await sync(id);
  expect(first.ops.upsert).toMatchObject({ succeeded: 28, failed: 2 });
  // Both requests reach the activation in one workflow task: they are served by one run.
  await worker.stop();
  await handle(id).signal(retryFailedSignal);
  await handle(id).signal(resyncSignal, { reason: 'someone asked' });
  worker = await startWorker({ taskQueue: TQ, connections: { slowdb: { url: process.env.DATABASE_URL!, delayMs: 200, batchSize: 10 } } });
  await waitFor('run 2 to finish', async () => ['success', 'partial', 'failed'].includes((await runStatus(id, 2)) ?? ''));
  expect(await runStatus(id, 3)).toBeUndefined();
  expect(await keys(id)).toHaveLength(30);
  expect(await runStatus(id, 2)).toBe('success');
});

test('an approval whose activity is still running when a run ends does not stall the activation', async () => {
  const id = uniqueName('appr_inflight');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: config(id, 'mirror') }],
  });
  await sync(id);
  await db.query(`DELETE FROM public.${id} WHERE id > 15`);
  const held = await sync(id);
  expect(held.heldDeletes).toBe(5);
  // The approval's UPDATE of held_deletes waits on these row locks until a run has come and gone.
  const locker = await db.connect();
  let approval: Promise<{ approved: number; run: RunSummary }> | undefined;
  try {
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM syncline.held_deletes WHERE activation_id = $1 FOR UPDATE`, [id]);
    approval = handle(id).executeUpdate(approveDeletesUpdate, { args: [{ run: held.runNumber }] });
    await waitFor(
      'the approval activity to wait on the lock',
      async () =>
        Number(
          (await db.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%held_deletes%'`))
            .rows[0].n,
        ) > 0,
    );
    // A run comes and goes meanwhile (with the model back in full it touches no held deletion).
    await db.query(`INSERT INTO public.${id} SELECT g, 'Name ' || g FROM generate_series(16, 20) g`);
    await handle(id).signal(resyncSignal, { reason: 'a run while the approval waits' });
    // Released only once the activation has recorded run 3 and stands idle, waiting for its handlers.
    await waitFor('run 3 recorded by the activation', async () => {
      const st = await handle(id).query(statusQuery);
      return st.state === 'idle' && st.lastRuns.some((r) => r.runNumber === 3);
    });
  } finally {
    await locker.query('COMMIT');
    locker.release();
  }
  const answered = await Promise.race([approval!, new Promise<'stalled'>((r) => setTimeout(() => r('stalled'), 60_000))]);
  expect(answered).not.toBe('stalled');
  const { approved, run } = answered as { approved: number; run: RunSummary };
  expect(approved).toBe(5);
  expect(run.runNumber).toBe(4);
  expect(run.ops.delete).toBeUndefined();
  expect(await keys(id)).toHaveLength(20);
  // The activation still serves requests.
  expect((await sync(id)).runNumber).toBe(5);
});

/**
 * A 300-row Insert activation on the slow destination (50-row chunks), started with its first run under way
 * until at least `written` rows are in the destination. Returns the sync request of that run, in flight.
 */
async function midWrite(
  id: string,
  written: number,
  extra: Record<string, unknown> = {},
): Promise<{ cfg: Record<string, unknown>; caller: Promise<RunSummary> }> {
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 300) g`);
  const cfg = config(id, 'insert', {
    ...extra,
    destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 50 } },
  });
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config: cfg }] });
  const caller = sync(id);
  caller.catch(() => undefined); // awaited (or its failure read) by the test
  await waitFor('some rows written', async () => (await keys(id)).length >= written);
  return { cfg, caller };
}

/** Every one of the 300 keys has exactly one record in the destination. */
async function expectOneRecordEach(id: string): Promise<void> {
  const dest = await db.query(`SELECT key, count(*)::int AS n FROM test_dest.records WHERE object = $1 GROUP BY key`, [id]);
  expect(dest.rows).toHaveLength(300);
  expect(dest.rows.filter((r) => r.n !== 1)).toEqual([]);
}

test('a run whose activation was terminated mid-run is closed (cancelled) when the activation starts again; its acknowledged rows count', async () => {
  const id = uniqueName('terminated');
  const { cfg, caller } = await midWrite(id, 30);
  await handle(id).terminate('operator stopped it mid-run');
  expect(
    await caller.then(
      () => 'answered',
      (err: Error) => err.name,
    ),
  ).not.toBe('answered');
  expect(await runStatus(id, 1)).toBe('running');
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config: cfg }] });
  await waitFor('run 1 closed', async () => (await runStatus(id, 1)) === 'cancelled');
  const second = await sync(id);
  expect(second.runNumber).toBe(2);
  expect(second.status).toBe('success');
  await expectOneRecordEach(id);
});

/** `temporal workflow reset --type FirstWorkflowTask`, as an operator runs it. */
async function resetRun(workflowId: string): Promise<void> {
  const cli = process.env.TEMPORAL_CLI;
  if (!cli) throw new Error('this test needs the temporal CLI (TEMPORAL_CLI, set by the global setup)');
  const args = ['workflow', 'reset', '--workflow-id', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'operator restarted the run'];
  await promisify(execFile)(cli, [...args, '--address', env().address]);
}

test('a run reset mid-write with `temporal workflow reset` commits what its earlier attempt wrote and sends it no second time', async () => {
  // The reset starts the run's workflow again from its first task: the same run number is prepared again.
  // Before the fix, that prepare dropped the earlier attempt's delta with the destination's answers, and the
  // run sent every row again (seen failing: the rows written before the reset written twice, no settle logged).
  const id = uniqueName('reset');
  const { caller } = await midWrite(id, 60);
  await resetRun(runWorkflowId(id, 1));
  const summary = await caller;
  expect(summary.runNumber).toBe(1);
  expect(summary.status).toBe('success');
  // The earlier attempt's settle logged, at its own time, the rows the destination had accepted by then.
  const settled = await db.query(
    `SELECT c.key, r.writes FROM syncline.row_changes c JOIN test_dest.records r ON r.object = $1 AND r.key = c.key
      WHERE c.activation_id = $1 AND c.run_number = 1 AND c.outcome = 'ok'
        AND c.at = (SELECT min(at) FROM syncline.row_changes WHERE activation_id = $1 AND run_number = 1)`,
    [id],
  );
  expect(settled.rows.length).toBeGreaterThanOrEqual(50);
  expect(settled.rows.filter((r) => r.writes !== 1)).toEqual([]);
  await expectOneRecordEach(id);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(300);
});

test("a run that fans its writes out, reset mid-write: the new attempt's write workflows take ids of their own", async () => {
  // The reset execution's write children are closed by their parent-close policy, but not at once: the new
  // attempt starting a child of the same id failed the run with WorkflowExecutionAlreadyStarted (chaos,
  // seed 20261207, schedule 6). Seen failing before the fix: no child under the new attempt's id.
  const id = uniqueName('reset_fan');
  const { caller } = await midWrite(id, 30, { chunksPerWorkflow: 2 });
  await resetRun(runWorkflowId(id, 1));
  const summary = await caller;
  expect(summary.status).toBe('success');
  const runId = (await db.query(`SELECT id::text FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id])).rows[0].id;
  const child = await client.workflow.getHandle(`${runWorkflowId(id, 1)}/write/1~${runId}`).describe();
  expect(child.status.name).toBe('COMPLETED');
  await expectOneRecordEach(id);
});

/**
 * A 300-row Insert plan on the slow destination (50-row chunks) applied, its apply reset with the CLI once at
 * least 30 rows are written, then planned and applied again. Before the fix the reset apply loaded its plan
 * again while its earlier attempt's writes went on, and sent again the rows they had in flight. Now the reset
 * apply settles its earlier attempt (its writes find nothing more to write) and is refused: the plan is
 * closed, and the next plan has what is left. Every row ends written once, or listed NOT_ACKNOWLEDGED by the
 * settle (sent, no answer recorded: such a row is sent again, as after any run that never committed).
 */
async function resetApply(id: string, extra: Record<string, unknown>): Promise<void> {
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 300) g`);
  const cfg = config(id, 'insert', {
    ...extra,
    destination: { kind: 'testdb', connection: 'slowdb', object: id, key: 'ext_id', options: { chunkSize: 50 } },
  });
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config: cfg }] });
  const { plan } = await handle(id).executeUpdate(planUpdate, { args: [] });
  const caller = handle(id).executeUpdate(applyPlanUpdate, { args: [{ plan }] });
  caller.catch(() => undefined); // awaited below
  await waitFor('some rows written', async () => (await keys(id)).length >= 30);
  await resetRun(runWorkflowId(id, plan, true));
  const refused = await caller;
  expect([refused.runNumber, refused.status]).toEqual([plan, 'failed']);
  expect(refused.error?.message).toContain(`plan ${plan} of "${id}" was not applied again: its apply was started again (a workflow reset)`);
  expect(refused.error?.message).toContain(`run \`syncline plan ${id}\` and apply the new plan`);
  // The earlier attempt is settled: its run cancelled, the plan closed, what the destination acknowledged committed.
  expect(await runStatus(id, plan)).toBe('cancelled');
  const planStatus = await db.query(`SELECT status FROM syncline.plans WHERE activation_id = $1 AND run_number = $2`, [id, plan]);
  expect(planStatus.rows[0].status).toBe('superseded');
  const committed = (await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n;
  expect(committed).toBeGreaterThanOrEqual(30);
  expect(committed).toBeLessThan(300);
  const listed = (
    await db.query(`SELECT key FROM syncline.row_errors WHERE activation_id = $1 AND code = 'NOT_ACKNOWLEDGED'`, [id])
  ).rows.map((r) => r.key as string);
  // The earlier attempt's writes stop at their next read: nothing sent after is written by them, and nothing twice.
  await new Promise((r) => setTimeout(r, 3000));
  const written = await keys(id);
  const snapshot = new Set(
    (await db.query(`SELECT key FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows.map((r) => r.key as string),
  );
  expect(written.filter((k) => !snapshot.has(k) && !listed.includes(k))).toEqual([]);
  expect((await db.query(`SELECT key FROM test_dest.records WHERE object = $1 AND writes <> 1`, [id])).rows).toEqual([]);
  // Planned again: the new plan has what is left; applied, every row is in the destination once.
  const again = await handle(id).executeUpdate(planUpdate, { args: [] });
  const applied = await handle(id).executeUpdate(applyPlanUpdate, { args: [{ plan: again.plan }] });
  expect([applied.runNumber, applied.status, applied.error]).toEqual([again.plan, 'success', undefined]);
  await expectOneRecordEach(id);
  const twice = await db.query(`SELECT key FROM test_dest.records WHERE object = $1 AND writes <> 1`, [id]);
  expect(twice.rows.map((r) => r.key as string).filter((k) => !listed.includes(k))).toEqual([]);
  expect((await db.query(`SELECT count(*)::int AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n).toBe(300);
  expect((await db.query(`SELECT key FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows).toEqual([]);
}

// Seen failing before the fix (as plain tests): the apply failed with WorkflowExecutionAlreadyStarted (its write
// children took the ids of the reset execution's children, still open); with only the ids changed (a child id
// held by an open workflow taking `#2`), it succeeded with 120 rows written twice.
test('an apply that fans its writes out, reset mid-write: its earlier attempt is settled, the apply refused; each row written once', async () => {
  await resetApply(uniqueName('reset_apply'), { chunksPerWorkflow: 2 });
});

// Seen failing before the fix (as a plain test): the apply succeeded with 31 rows written twice (62 in an earlier
// run): the earlier attempt's writes went on after the reset and the new attempt sent the rows they had in flight again.
test('an apply reset mid-write (no fan-out): its earlier attempt is settled, the apply refused; each row written once', async () => {
  await resetApply(uniqueName('reset_apply1'), {});
});
