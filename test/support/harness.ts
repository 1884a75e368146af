/** Test helpers: a syncline worker in this process on the real dev server, a client, SQL, polling. */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode, type ActivityInterceptorsFactory, type WorkflowBundle } from '@temporalio/worker';
import type pg from 'pg';
import type { PayloadCodec, WorkerDeploymentVersion } from '@temporalio/common';
import { createPool } from '../../db/connect';
import { synclinePlugin } from '../../client/plugin';
import { PRELOADED_WORKFLOW_MODULES, WORKFLOW_INTERCEPTOR_MODULES } from '../../client/workflow-bundle';
import type { ConnectionMap } from '../../connectors/connections';
import type { DestinationConnector } from '../../connectors/types';
import { testdbConnector, setupTestDestination, closeTestdbPools } from './testdb-connector';

let bundle: Promise<WorkflowBundle> | undefined;
/** One workflow bundle per test file: bundling is the slow part of creating a worker. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    preloadModules: PRELOADED_WORKFLOW_MODULES,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
  });
  return bundle;
}

export function env(): { address: string; databaseUrl: string } {
  const address = process.env.TEMPORAL_ADDRESS;
  const databaseUrl = process.env.DATABASE_URL;
  if (!address || !databaseUrl) throw new Error('TEMPORAL_ADDRESS and DATABASE_URL are set by test/support/global-setup.ts');
  return { address, databaseUrl };
}

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
  connections: ConnectionMap;
}

export async function startWorker(opts: {
  taskQueue: string;
  connections?: ConnectionMap;
  connectors?: DestinationConnector<any>[];
  address?: string;
  /** The payload codec (client/codec.ts); by default none, whatever the environment says. */
  codec?: PayloadCodec | null;
  /** A Worker Versioning deployment version (client/deployment.ts); by default none, whatever the environment says. */
  deployment?: WorkerDeploymentVersion | null;
  /** 0: every workflow task replays its execution's history from the start (no sticky cache). */
  maxCachedWorkflows?: number;
  /** The worker's state database (and its "default" model connection), e.g. behind a test/support/service-gate.ts; the testdb destination stays on the real one. */
  stateDatabaseUrl?: string;
  /** Activity interceptors: a test's hook around the real activities (e.g. to take a gate down at a given step). */
  activityInterceptors?: ActivityInterceptorsFactory[];
}): Promise<RunningWorker> {
  const { databaseUrl } = env();
  const address = opts.address ?? env().address;
  await setupTestDestination(databaseUrl);
  const connections: ConnectionMap = { testdb: { url: databaseUrl }, ...(opts.connections ?? {}) };
  const connection = await NativeConnection.connect({ address });
  const plugin = synclinePlugin({
    databaseUrl: opts.stateDatabaseUrl ?? databaseUrl,
    connectors: [testdbConnector, ...(opts.connectors ?? [])],
    connections,
    migrate: false,
    workflowBundle: await workflowBundle(),
    codec: opts.codec ?? null,
    deployment: opts.deployment ?? null,
  });
  const worker = await Worker.create({
    connection,
    taskQueue: opts.taskQueue,
    plugins: [plugin],
    ...(opts.activityInterceptors ? { interceptors: { activity: opts.activityInterceptors } } : {}),
    ...(opts.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: opts.maxCachedWorkflows }),
  });
  const running = worker.run();
  return {
    worker,
    connections,
    stop: async () => {
      worker.shutdown();
      await running;
      await connection.close();
      await closeTestdbPools();
    },
  };
}

export async function testClient(address = env().address): Promise<Client> {
  return new Client({ connection: await Connection.connect({ address }) });
}

export function sqlClient(): pg.Pool {
  return createPool(env().databaseUrl, 4);
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
