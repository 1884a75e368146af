/** Shared benchmark plumbing: services, a worker in its own process, peak RSS from /proc. */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTemporalDevServer, type TemporalServer } from '../scripts/services/temporal';
import { startPostgres, type PostgresServer } from '../scripts/services/postgres';
import { migrateToLatest } from '../db/migrate';
import { writeWorkflowBundle } from '../scripts/bundle-workflows';

const ROOT = path.resolve(__dirname, '..');

export interface BenchServices { temporal: TemporalServer; pg: PostgresServer; stop(): Promise<void> }

export async function startBenchServices(): Promise<BenchServices> {
  const dataDir = path.join(ROOT, `.data/pg-bench-${process.pid}`);
  const [temporal, pg] = await Promise.all([startTemporalDevServer({ headless: true, quiet: true }), startPostgres({ dataDir, fresh: true })]);
  await migrateToLatest(pg.url);
  return {
    temporal, pg,
    stop: async () => {
      await Promise.allSettled([temporal.stop(), pg.stop()]);
      if (pg.embedded) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A syncline worker process (test/support/worker-process.ts) with the given named connections. It runs
 * as `node --import tsx` (one process: its pid is the worker's) on a workflow bundle built beforehand,
 * as a production worker would, so its memory is the worker's own and not webpack's.
 */
export async function startWorkerProcess(opts: { address: string; databaseUrl: string; taskQueue: string; connections?: Record<string, unknown> }): Promise<ChildProcess> {
  const bundle = await workflowBundleFile();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/worker-process.ts')], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TEMPORAL_ADDRESS: opts.address, DATABASE_URL: opts.databaseUrl, SYNCLINE_TASK_QUEUE: opts.taskQueue,
      SYNCLINE_CONNECTIONS: JSON.stringify(opts.connections ?? {}), SYNCLINE_WORKFLOW_BUNDLE: bundle },
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('WORKER READY')) resolve(child); });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

let bundlePath: Promise<string> | undefined;
function workflowBundleFile(): Promise<string> {
  bundlePath ??= writeWorkflowBundle(path.join(ROOT, `.data/workflow-bundle-${process.pid}.js`));
  return bundlePath;
}

/** Peak resident set size of a process in MB (VmHWM), read before it exits. */
export function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}
