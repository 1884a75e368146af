/**
 * A cluster for the cross-worker tests (docs/limits.md): `count` syncline workers, each in its own process
 * (test/support/worker-process.ts), on one task queue, sharing the test's Temporal and state database; and
 * which of them ran an activation's writes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { env, sqlClient, testClient, uniqueName, workflowBundle } from './harness';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';
import type { RunSummary } from '../../common/run';

const ROOT = path.resolve(__dirname, '../..');

export interface WorkerCluster {
  /** Kills every worker (nothing is left to finish: a drain would wait on the activation workflows' pollers). */
  stop(): Promise<void>;
}

export async function startWorkerCluster(o: {
  taskQueue: string;
  count: number;
  connections: Record<string, unknown>;
}): Promise<WorkerCluster> {
  // Bundled once here: several webpack runs at once would only slow the machine down.
  const bundleFile = path.join(os.tmpdir(), `${o.taskQueue}-bundle.js`);
  fs.writeFileSync(bundleFile, (await workflowBundle()).code);
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => (c.once('exit', r), c.kill('SIGKILL'))) : undefined)));
    fs.rmSync(bundleFile, { force: true });
  };
  const { address, databaseUrl } = env();
  const start = (): Promise<void> => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/worker-process.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        DATABASE_URL: databaseUrl,
        SYNCLINE_TASK_QUEUE: o.taskQueue,
        SYNCLINE_CONNECTIONS: JSON.stringify(o.connections),
        SYNCLINE_WORKFLOW_BUNDLE: bundleFile,
      },
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('WORKER READY')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
  };
  try {
    await Promise.all(Array.from({ length: o.count }, start));
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

export interface ClusterStage {
  taskQueue: string;
  client: Client;
  db: pg.Pool;
}

/**
 * A test file's cluster: `count` worker processes with the connections `setup` returns (it starts the
 * emulators they name; `close` stops them), a Temporal client and a pool on the state database. Call at
 * the top level of a test file or describe; the fields are set by its beforeAll.
 */
export function clusterStage(
  taskQueuePrefix: string,
  count: number,
  setup: () => Promise<{ connections: Record<string, unknown>; close: () => Promise<void> }>,
): ClusterStage {
  const stage = { taskQueue: uniqueName(taskQueuePrefix) } as ClusterStage;
  let cluster: WorkerCluster | undefined;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const destinations = await setup();
    close = destinations.close;
    [stage.client, cluster] = await Promise.all([
      testClient(),
      startWorkerCluster({ taskQueue: stage.taskQueue, count, connections: destinations.connections }),
    ]);
    stage.db = sqlClient();
  });
  afterAll(async () => {
    await cluster?.stop();
    await stage.db?.end();
    await stage.client?.connection.close();
    await close?.();
  });
  return stage;
}

/** The identities of the workers that ran the writeChunk activities of these activations' first runs. */
export async function chunkWriters(client: Client, activationIds: string[]): Promise<Set<string>> {
  const writers = new Set<string>();
  for (const id of activationIds) {
    const history = await client.workflow.getHandle(runWorkflowId(id, 1)).fetchHistory();
    const scheduled = new Map<string, string>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
      const st = e.activityTaskStartedEventAttributes;
      if (st && scheduled.get(String(st.scheduledEventId)) === 'writeChunk') writers.add(st.identity ?? '');
    }
  }
  return writers;
}

/** Starts one activation workflow (manual schedule) per config on the cluster's task queue. */
export async function startActivations(
  client: Client,
  taskQueue: string,
  configs: Array<{ id: string } & Record<string, unknown>>,
): Promise<void> {
  for (const config of configs)
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: activationWorkflowId(config.id), args: [{ config }] });
}

/** One run of each activation, all triggered at once; their summaries in the same order. */
export function syncAllAtOnce(client: Client, ids: string[]): Promise<RunSummary[]> {
  return Promise.all(ids.map((id) => client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] })));
}
