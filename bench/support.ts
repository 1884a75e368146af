/** Shared benchmark plumbing: services, a worker in its own process, peak RSS from /proc. */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startTemporalDevServer, type TemporalServer } from '../scripts/services/temporal';
import { startPostgres, type PostgresServer } from '../scripts/services/postgres';
import { migrateToLatest } from '../db/migrate';
import { createPool } from '../db/connect';
import { envName } from '../connectors/connections';
import { runStateQuery } from '../workflows/messages';

const ROOT = path.resolve(__dirname, '..');

export interface BenchServices {
  temporal: TemporalServer;
  pg: PostgresServer;
  stop(): Promise<void>;
}

export async function startBenchServices(): Promise<BenchServices> {
  const dataDir = path.join(ROOT, `.data/pg-bench-${process.pid}`);
  const [temporal, pg] = await Promise.all([
    startTemporalDevServer({ headless: true, quiet: true }),
    startPostgres({ dataDir, fresh: true, noFsync: true }),
  ]);
  await migrateToLatest(pg.url);
  return {
    temporal,
    pg,
    stop: async () => {
      await Promise.allSettled([temporal.stop(), pg.stop()]);
      if (pg.embedded) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The production worker in its own process: `npm run build` once per benchmark, then the command of
 * package.json's `start` script (environment and V8 flags, then `node … dist/worker.js`: compiled
 * JavaScript on the prebuilt workflow bundle), spawned directly so the child's pid is the worker itself
 * and its RSS is the worker's own.
 * Named connections reach it as SYNCLINE_CONNECTION_<NAME>, as they would in production.
 * BENCH_WORKER_NODE_ARGS adds node/V8 flags for experiments (e.g. "--max-semi-space-size=8").
 */
export async function startWorkerProcess(opts: {
  address: string;
  databaseUrl: string;
  taskQueue: string;
  connections?: Record<string, unknown>;
  /** More environment for the worker (e.g. SYNCLINE_MAX_CONCURRENT_ACTIVITIES). */
  env?: Record<string, string>;
}): Promise<ChildProcess> {
  await buildOnce();
  const { env, args } = startCommand();
  const extra = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const connections = Object.fromEntries(Object.entries(opts.connections ?? {}).map(([name, c]) => [envName(name), JSON.stringify(c)]));
  // The bench's own NODE_OPTIONS (a larger heap for the emulator at millions of rows) are not the worker's.
  const { NODE_OPTIONS: _benchOptions, ...inherited } = process.env;
  const child = spawn(process.execPath, [...extra, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...inherited,
      ...env,
      ...connections,
      TEMPORAL_ADDRESS: opts.address,
      DATABASE_URL: opts.databaseUrl,
      SYNCLINE_TASK_QUEUE: opts.taskQueue,
      ...opts.env,
    },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out = (out + b.toString()).slice(-2000);
      if (out.includes('syncline worker on')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
}

/** `[VAR=value ...] [exec] node <flags> dist/worker.js`, as package.json's start script says (plain words, no other shell syntax). */
export function startCommand(): { env: Record<string, string>; args: string[] } {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = pkg.scripts.start!.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split('=');
    env[name!] = value.join('=');
  }
  if (words[0] === 'exec') words.shift();
  if (words.shift() !== 'node') throw new Error(`package.json "start" should run node directly: ${pkg.scripts.start}`);
  return { env, args: words };
}

let built: Promise<void> | undefined;
function buildOnce(): Promise<void> {
  built ??= new Promise((resolve, reject) => {
    const npm = spawn('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    npm.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build exited with ${code}`))));
  });
  return built;
}

/** Current resident set size of a process in MB (VmRSS); NaN once it has exited. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

/** Resets VmHWM to the current RSS (Linux clear_refs 5), so a peak can be measured from now on. */
export function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU seconds (user + system, with the children each process has reaped) of the processes under this
 * one, by the kind of the child of this process they descend from: `temporal` (the dev server),
 * `postgres` (the postmaster and its backends; a backend that exited is in the postmaster's reaped
 * time), `worker:<pid>` (worker processes), and `bench` (this process: the emulators and the client).
 * Take it before and after a phase; the difference is what the phase cost each part.
 */
export function cpuSeconds(): Record<string, number> {
  const tick = 100; // USER_HZ: 100 on every Linux the benchmarks run on (getconf CLK_TCK)
  const stats = new Map<number, { ppid: number; comm: string; ticks: number }>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: the fields after it are split.
      const close = text.lastIndexOf(')');
      const comm = text.slice(text.indexOf('(') + 1, close);
      const f = text.slice(close + 2).split(' ');
      // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
      stats.set(Number(name), { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // exited while listed
    }
  }
  const out: Record<string, number> = { bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6 };
  for (const [pid, st] of stats) {
    // Walk up to the child of this process the pid descends from, if any.
    let at = pid;
    let parent = st.ppid;
    while (parent !== process.pid && parent > 1 && stats.has(parent)) {
      at = parent;
      parent = stats.get(parent)!.ppid;
    }
    if (parent !== process.pid) continue;
    const top = stats.get(at)!;
    const kind = top.comm.startsWith('temporal') ? 'temporal' : top.comm.startsWith('postgres') ? 'postgres' : `worker:${at}`;
    out[kind] = (out[kind] ?? 0) + st.ticks / tick;
  }
  return out;
}

/**
 * The benchmark's own small pool. pg-pool's end() resolves before its clients' sockets have closed, so
 * stopping Postgres right after can reach a closing client as an 'error' event: ignored, not a crash.
 */
export function benchPool(url: string): pg.Pool {
  return createPool(url, 2);
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

/** Per DAG task wall-clock seconds, and per activity type summed seconds. */
export interface WhereTimeGoes {
  tasks_s: Record<string, number>;
  activities_s: Record<string, { calls: number; seconds: number }>;
}

const tsMs = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0;
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Wall-clock per DAG task (runState query) and summed activity execution time per type (history). */
export async function whereTimeGoes(client: Client, runWorkflowId: string): Promise<WhereTimeGoes> {
  const handle = client.workflow.getHandle(runWorkflowId);
  const tasks_s: Record<string, number> = {};
  try {
    const dag = await handle.query(runStateQuery);
    for (const [id, t] of Object.entries(dag?.tasks ?? {})) {
      if (t.startedAt && t.endedAt) tasks_s[id] = round1((Date.parse(t.endedAt) - Date.parse(t.startedAt)) / 1000);
    }
  } catch {
    // the query needs a worker; the history below does not
  }
  const activities_s: Record<string, { calls: number; seconds: number }> = {};
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  const started = new Map<string, number>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    if (e.activityTaskStartedEventAttributes) started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), tsMs(e.eventTime));
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (done) {
      const sched = String(done.scheduledEventId);
      const type = scheduled.get(sched) ?? '?';
      const a = (activities_s[type] ??= { calls: 0, seconds: 0 });
      a.calls++;
      a.seconds = round1(a.seconds + (tsMs(e.eventTime) - (started.get(sched) ?? tsMs(e.eventTime))) / 1000);
    }
  }
  return { tasks_s, activities_s };
}
