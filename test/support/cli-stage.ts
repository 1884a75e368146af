/**
 * The stage of a CLI test file: an in-process worker on a task queue of its own, a pool on the test database
 * and a scratch folder, made in beforeAll and closed in afterAll; `syncline(...)` runs the CLI (its own
 * process) against them.
 *
 *   const s = useCliStage('life');
 *   test('...', async () => { expect((await s.syncline('sync', id)).code).toBe(0); await s.db.query(...); });
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { ConnectionMap } from '../../connectors/connections';
import { env, startWorker, sqlClient, uniqueName, type RunningWorker } from './harness';
import { runCli, type CliResult } from './cli';

export interface CliStage {
  readonly taskQueue: string;
  /** Set once beforeAll has run. */
  readonly db: pg.Pool;
  readonly dir: string;
  syncline(...args: string[]): Promise<CliResult>;
}

export function useCliStage(name: string, opts: { connections?: () => ConnectionMap } = {}): CliStage {
  const taskQueue = uniqueName(`tq_${name}`);
  let worker: RunningWorker | undefined;
  const s = {
    taskQueue,
    db: undefined as unknown as pg.Pool,
    dir: '',
    syncline(...args: string[]): Promise<CliResult> {
      const { address, databaseUrl } = env();
      return runCli(args, { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: taskQueue });
    },
  };
  beforeAll(async () => {
    worker = await startWorker({ taskQueue, ...(opts.connections && { connections: opts.connections() }) });
    s.db = sqlClient();
    s.dir = fs.mkdtempSync(path.join(os.tmpdir(), `syncline-${name}-`));
  });
  afterAll(async () => {
    await worker?.stop();
    await s.db?.end();
    if (s.dir) fs.rmSync(s.dir, { recursive: true, force: true });
  });
  return s;
}
