/**
 * One stage for the DAG workflow tests (test/workflow/dag-*.test.ts): the dagWorkflow bundle, a native and a
 * client connection to the test's Temporal dev server, a pool on its Postgres, and (unless a test starts its
 * own) a worker on a task queue of the test's own running the DAG task activities against them.
 *
 *   let stage: DagStage;
 *   beforeAll(async () => (stage = await startDagStage('dag-pools', { setupSql: 'CREATE SCHEMA ...' })));
 *   afterAll(() => stage?.stop());
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { PRELOADED_WORKFLOW_MODULES, WORKFLOW_INTERCEPTOR_MODULES } from '../../client/workflow-bundle';
import { createDagTaskActivities } from '../../activities/dag-tasks';

export type DagActivities = ReturnType<typeof createDagTaskActivities>;

export interface DagStage {
  taskQueue: string;
  client: Client;
  db: pg.Pool;
  bundle: WorkflowBundleWithSourceMap;
  native: NativeConnection;
  /** The real activities, on this stage's client and pool. */
  activities: DagActivities;
  /** A worker of this stage (the stage's task queue and bundle) for `fn`'s duration, e.g. with other activities. */
  runWorker<T>(fn: Promise<T> | (() => Promise<T>), activities?: object): Promise<T>;
  stop(): Promise<void>;
}

export interface DagStageOptions {
  /** Run once on the test database before the worker starts (the test's own schema, tables, functions). */
  setupSql?: string;
  /** The activities the stage's worker runs: the real ones by default, or what this makes of them. */
  activities?: (real: DagActivities) => object;
  /** false: no worker for the whole file; the tests run theirs with `runWorker`. */
  worker?: boolean;
  /** The lease of a pool slot, as SYNCLINE_DAG_POOL_LEASE_SECONDS sets it (default 10 minutes). */
  poolLeaseMs?: number;
}

export async function startDagStage(name: string, opts: DagStageOptions = {}): Promise<DagStage> {
  // Failing tasks are on purpose in these tests: keep the worker's WARN lines about them out of the output.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = process.env.TEMPORAL_ADDRESS!;
  const [bundle, native, connection] = await Promise.all([
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows/dag-workflow'),
      preloadModules: PRELOADED_WORKFLOW_MODULES,
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: new DefaultLogger('ERROR'),
    }),
    NativeConnection.connect({ address }),
    Connection.connect({ address }),
  ]);
  const client = new Client({ connection });
  const db = createPool(process.env.DATABASE_URL!);
  const taskQueue = `${name}-test-${process.pid}`;
  const activities = createDagTaskActivities({
    resolvePg: () => ({ url: process.env.DATABASE_URL! }),
    client: () => client,
    stateDb: db,
    poolLeaseMs: opts.poolLeaseMs,
  });
  const create = (acts: object) => Worker.create({ connection: native, taskQueue, workflowBundle: bundle, activities: acts });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    if (opts.setupSql) await db.query(opts.setupSql);
    if (opts.worker !== false) {
      worker = await create(opts.activities ? opts.activities(activities) : activities);
      running = worker.run();
    }
  } catch (err) {
    await Promise.all([db.end(), connection.close(), native.close()]);
    throw err;
  }
  return {
    taskQueue,
    client,
    db,
    bundle,
    native,
    activities,
    runWorker: async (fn, acts = activities) => (await create(acts)).runUntil(fn),
    async stop() {
      worker?.shutdown();
      await running;
      await Promise.all([db.end(), connection.close(), native.close()]);
    },
  };
}
