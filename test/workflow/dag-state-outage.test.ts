/**
 * A DAG run while its state database restarts, on a real Temporal dev server and real Postgres: the run's own
 * bookkeeping there (the claim of its logical date, the pools' sizes, a slot's lease and release, the run's
 * end) waits out an outage of some minutes (workflows/dag.ts STATE_RETRY), as an activation's steps do,
 * instead of failing the run after about 15 s. The state database is reached through a gate the test takes down and brings back; the tasks'
 * own statements go to the model database directly.
 */
import { serviceGate, type ServiceGate } from '../support/service-gate';
import { startDagStage, type DagActivities, type DagStage } from '../support/dag-stage';
import { createDagTaskActivities } from '../../activities/dag-tasks';
import { createPool } from '../../db/connect';
import { setPool } from '../../db/dag-pools';
import { dagWorkflow } from '../../workflows/dag-workflow';
import type pg from 'pg';

// Longer than the 15 s these steps used to retry for; the tries come at 1, 3, 7, 15, 31 s.
const OUTAGE_MS = 20_000;

let stage: DagStage;
let gate: ServiceGate;
let gated: pg.Pool;

beforeAll(async () => {
  stage = await startDagStage('dag-state-outage', {
    worker: false,
    setupSql: `DROP SCHEMA IF EXISTS outage_test CASCADE; CREATE SCHEMA outage_test; CREATE TABLE outage_test.done (dag text, task text)`,
  });
  const real = new URL(process.env.DATABASE_URL!);
  gate = serviceGate({ hostname: real.hostname, port: real.port || '5432' });
  await gate.up();
  const url = new URL(real.toString());
  url.hostname = '127.0.0.1';
  url.port = String(await gate.port);
  gated = createPool(url.toString());
});

afterAll(async () => {
  clearTimeout(back);
  await gated?.end().catch(() => undefined);
  gate?.close();
  await stage?.stop();
});

/** The real activities, their state database behind the gate; `around` wraps some of them. */
function activities(around: (real: DagActivities) => Partial<DagActivities> = () => ({})): DagActivities {
  const real = createDagTaskActivities({
    resolvePg: () => ({ url: process.env.DATABASE_URL! }),
    client: () => stage.client,
    stateDb: gated,
  });
  return { ...real, ...around(real) };
}

let back: NodeJS.Timeout | undefined;

/** Takes the state database down now, and back up after OUTAGE_MS. */
async function outage(): Promise<void> {
  clearTimeout(back);
  await gate.down();
  back = setTimeout(() => void gate.up(), OUTAGE_MS);
}

// Each test starts with the state database up (a failed test may leave an outage under way).
beforeEach(async () => {
  clearTimeout(back);
  await gate.up();
});

const task = (dag: string, id: string, pool?: string) => ({
  id,
  kind: 'sql',
  ...(pool && { pool }),
  input: { statement: 'INSERT INTO outage_test.done VALUES ($1, $2)', params: [dag, id] },
});

const done = async (dag: string) =>
  (await stage.db.query<{ task: string }>('SELECT task FROM outage_test.done WHERE dag = $1 ORDER BY task', [dag])).rows.map((r) => r.task);

const dateRecord = async (dag: string) =>
  (await stage.db.query<{ status: string }>('SELECT status FROM syncline.dag_runs WHERE dag_id = $1', [dag])).rows.map((r) => r.status);

test('the state database down when a dated run claims its date: the run waits for it, then runs and records its end', async () => {
  const dag = `outage-claim-${process.pid}`;
  await outage();
  const result = await stage.runWorker(
    stage.client.workflow.execute(dagWorkflow, {
      taskQueue: stage.taskQueue,
      workflowId: `dag/${dag}`,
      args: [{ id: dag, tasks: [task(dag, 'a')], run: { logicalDate: '2026-12-07T00:00:00.000Z' } }],
    }),
    activities(),
  );
  expect(result.status).toBe('success');
  expect(await done(dag)).toEqual(['a']);
  expect(await dateRecord(dag)).toEqual(['success']);
}, 180_000);

test('the state database down when a task leases a pool slot, and again when the run records its end: the run waits each time', async () => {
  const dag = `outage-pool-${process.pid}`;
  const pool = `outage-${process.pid}`;
  await setPool(stage.db, pool, 1);
  let leases = 0;
  let finishes = 0;
  const result = await stage.runWorker(
    stage.client.workflow.execute(dagWorkflow, {
      taskQueue: stage.taskQueue,
      workflowId: `dag/${dag}`,
      args: [{ id: dag, tasks: [task(dag, 'a', pool)], run: { logicalDate: '2026-12-07T00:00:00.000Z' } }],
    }),
    activities((real) => ({
      async acquireDagPoolSlot(input) {
        if (leases++ === 0) await outage();
        return real.acquireDagPoolSlot(input);
      },
      async finishDagRun(input) {
        if (finishes++ === 0) await outage();
        return real.finishDagRun(input);
      },
    })),
  );
  expect(result.status).toBe('success');
  expect(await done(dag)).toEqual(['a']);
  expect(await dateRecord(dag)).toEqual(['success']);
  // Each outage was met, then waited out: more than one try of each.
  expect(leases).toBeGreaterThan(1);
  expect(finishes).toBeGreaterThan(1);
  // The slot was given back, not left to expire.
  const held = await stage.db.query('SELECT holder FROM syncline.dag_pool_slots WHERE pool = $1 AND holder IS NOT NULL', [pool]);
  expect(held.rows).toEqual([]);
}, 240_000);
