/**
 * The campaign: real services started once, schedules run `concurrency` at a time on `workers` production
 * worker processes (one by default) sharing one task queue, global faults (worker SIGKILL, Postgres
 * restart, Temporal restart) serialized and counted for every schedule in flight, then the matrix and the
 * RESULT line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ScheduleRun, type Env, type ScheduleResult } from './driver';
import { DESTS, FAULTS, GLOBAL_FAULTS, MODES, generateSchedule, type FaultClass, type GlobalFault } from './schedule';
import { PostgresService, ROOT, TemporalService, WorkerService, build, harnessPool, sleep } from './services';

export interface CampaignOptions {
  seed: number;
  schedules: number;
  /** Only these schedule indexes (replay). */
  only?: number[];
  concurrency: number;
  /**
   * Production worker processes on the task queue (default 1). With more than one, a worker kill takes
   * the worker that holds the striking run's pending activity when Temporal names one, else the next in
   * turn; the others go on polling, so the run's tasks move to them while it is down.
   */
  workers?: number;
  /** Schedules whose destination is written behind syncline's back before the checks: they must report it. */
  tamper?: number[];
  log?: (line: string) => void;
}

export interface GlobalEvent {
  fault: GlobalFault;
  variant: string;
  by: number;
  at: string;
  seconds: number;
  hit: number[];
  pending: string[];
  /** The worker killed (1-based; worker kills only), and whether it held the striking run's pending activity. */
  worker?: { index: number; heldActivity: boolean };
}

export interface CampaignResult {
  seed: number;
  results: ScheduleResult[];
  events: GlobalEvent[];
  workers: number;
  workerExits: WorkerService['unexpectedExits'];
  /** Workers started while Postgres was down that waited for it and reached it. */
  workerWaits: number;
  seconds: number;
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const dir = path.join(ROOT, `.data/chaos-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  // Also into the campaign's directory, to follow a long campaign whose output is captured.
  const print = opts.log ?? ((l: string) => console.log(l));
  const log = (l: string) => {
    print(l);
    fs.appendFileSync(path.join(dir, 'campaign.log'), `${new Date().toISOString().slice(11, 19)} ${l}\n`);
  };
  const workerCount = opts.workers ?? 1;
  if (!Number.isInteger(workerCount) || workerCount < 1)
    throw new Error(`--workers must be a whole number of at least 1, not ${opts.workers}`);
  log(
    `chaos: seed ${opts.seed}, ${opts.only ? `schedule(s) ${opts.only.join(',')} only` : `${opts.schedules} schedules`}, concurrency ${opts.concurrency}, ${workerCount} worker${workerCount > 1 ? 's' : ''}; building the worker, starting Postgres and the Temporal dev server (files in ${dir})`,
  );
  await build();
  const [pgStart, temporalStart] = await Promise.allSettled([
    PostgresService.start(path.join(dir, 'pg')),
    TemporalService.start(path.join(dir, 'temporal.db')),
  ]);
  if (pgStart.status === 'rejected' || temporalStart.status === 'rejected') {
    if (pgStart.status === 'fulfilled') await pgStart.value.stop();
    if (temporalStart.status === 'fulfilled') await temporalStart.value.stop();
    throw pgStart.status === 'rejected' ? pgStart.reason : (temporalStart as PromiseRejectedResult).reason;
  }
  const postgres = pgStart.value;
  const temporal = temporalStart.value;
  const secretsFile = path.join(dir, 'secrets.json');
  const connections: Record<string, Record<string, unknown>> = {};
  const writeSecrets = () => {
    // Atomic: the worker re-reads the file on every use.
    fs.writeFileSync(`${secretsFile}.tmp`, JSON.stringify({ connections }));
    fs.renameSync(`${secretsFile}.tmp`, secretsFile);
  };
  writeSecrets();
  const taskQueue = 'chaos';
  const workers = Array.from(
    { length: workerCount },
    (_, i) =>
      new WorkerService(
        {
          DATABASE_URL: postgres.url,
          TEMPORAL_ADDRESS: temporal.address,
          SYNCLINE_TASK_QUEUE: taskQueue,
          SYNCLINE_SECRETS_FILE: secretsFile,
        },
        path.join(dir, i === 0 ? 'worker.log' : `worker-${i + 1}.log`),
      ),
  );
  let turn = 0;
  // The worker a kill takes: the one Temporal names as holding the run's pending activity (its identity
  // is the SDK's default, `<pid>@<host>`), else the next in turn.
  const target = (holders: string[]): { worker: WorkerService; index: number; heldActivity: boolean } => {
    const held = workers.findIndex((w) => w.pid !== undefined && holders.some((h) => h.startsWith(`${w.pid}@`)));
    const index = held >= 0 ? held : turn++ % workers.length;
    return { worker: workers[index]!, index, heldActivity: held >= 0 };
  };
  const pool = harnessPool(postgres.url, 4 + opts.concurrency * 2);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const active = new Set<ScheduleRun>();
  const events: GlobalEvent[] = [];
  let lock: Promise<void> = Promise.resolve();

  const env: Env = {
    pool,
    databaseUrl: postgres.url,
    temporal: client,
    taskQueue,
    log,
    addConnection: (name, c) => {
      connections[name] = c;
      writeSecrets();
    },
    // One global fault at a time; each counts for every schedule in flight when it strikes.
    strike: (fault, variant, downMs, by, pending, holders) => {
      const next = lock.then(async () => {
        const t0 = Date.now();
        const hit = [...active];
        for (const r of hit) r.hit(fault);
        const killed = fault === 'worker_kill' || variant === 'with_worker' ? target(holders) : undefined;
        if (fault === 'worker_kill') await killed!.worker.kill(downMs);
        else if (fault === 'postgres_restart' && variant === 'with_worker') await restartWithWorker(postgres, killed!.worker, downMs, log);
        else if (fault === 'postgres_restart') await (variant === 'backend' ? postgres.killBackend() : postgres.restartImmediate(downMs));
        else await temporal.restart(variant as 'SIGTERM' | 'SIGKILL', downMs);
        const ev: GlobalEvent = {
          fault,
          variant,
          by: by.s.index,
          at: new Date(t0).toISOString(),
          seconds: Math.round((Date.now() - t0) / 100) / 10,
          hit: hit.map((r) => r.s.index),
          pending,
          ...(killed && workers.length > 1 ? { worker: { index: killed.index + 1, heldActivity: killed.heldActivity } } : {}),
        };
        events.push(ev);
        const which = ev.worker ? `, worker ${ev.worker.index}${ev.worker.heldActivity ? ', which held it' : ''}` : '';
        log(
          `  ! ${fault} (${variant}, by schedule ${by.s.index}, during ${pending.join('+') || 'no activity'}${which}): ${ev.seconds} s, ${hit.length} schedules in flight`,
        );
      });
      lock = next.catch(() => {});
      return next;
    },
  };

  const results: ScheduleResult[] = [];
  try {
    await Promise.all(workers.map((w) => w.start()));
    const queue = opts.only ?? Array.from({ length: opts.schedules }, (_, i) => i);
    let nextAt = 0;
    const lane = async (): Promise<void> => {
      while (nextAt < queue.length) {
        const index = queue[nextAt++]!;
        const s = generateSchedule(opts.seed, index);
        const run = new ScheduleRun(env, s, opts.tamper?.includes(index) ?? false);
        active.add(run);
        let r: ScheduleResult;
        try {
          r = await run.run();
        } finally {
          active.delete(run);
        }
        results.push(r);
        report(log, r, s, opts.seed);
      }
    };
    // Lanes start a little apart, so schedules do not all load at the same moment.
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, (_, i) => sleep(i * 3000).then(lane)));
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => {})));
    await pool.end().catch(() => {});
    await connection.close().catch(() => {});
    await temporal.stop().catch(() => {});
    await postgres.stop().catch(() => {});
    // The worker's log stays for a look at what happened; the databases go.
    for (const f of ['temporal.db', 'temporal.db-shm', 'temporal.db-wal', 'secrets.json']) fs.rmSync(path.join(dir, f), { force: true });
  }
  results.sort((a, b) => a.index - b.index);
  return {
    seed: opts.seed,
    results,
    events,
    workers: workerCount,
    workerExits: workers.flatMap((w) => w.unexpectedExits),
    workerWaits: workers.reduce((n, w) => n + w.waitedForPostgres, 0),
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

/**
 * Postgres shut down (SIGQUIT) and the worker killed with it, then a new worker started while Postgres is
 * still down: it must wait for its state database (SYNCLINE_START_WAIT_SECONDS) and run once Postgres
 * is back, `downMs` after the worker said it waits (at most 30 s after its start).
 */
async function restartWithWorker(
  postgres: PostgresService,
  worker: WorkerService,
  downMs: number,
  log: (line: string) => void,
): Promise<void> {
  await postgres.stopImmediate();
  const before = worker.waitLines;
  const back = worker.kill(0);
  for (const end = Date.now() + 30_000; worker.waitLines === before && Date.now() < end;) await sleep(100);
  if (worker.waitLines === before) log('  ! the worker started while Postgres was down did not say it waits within 30 s');
  await sleep(downMs);
  await postgres.startAgain();
  await back;
}

function report(log: (l: string) => void, r: ScheduleResult, s: ReturnType<typeof generateSchedule>, seed: number): void {
  const struck =
    Object.entries(r.struck)
      .map(([f, n]) => `${f}×${n}`)
      .join(' ') || 'none';
  const verdict =
    r.tampered !== null
      ? `self-check: record of key ${r.tampered} written behind syncline's back, ${r.violations.some((v) => v.includes(`key ${r.tampered}`)) ? 'reported' : 'NOT REPORTED'}`
      : r.violations.length
        ? `${r.violations.length} VIOLATION(S)`
        : 'ok';
  log(
    `[${r.index}] ${r.dest} ${r.mode} ${r.primary}${s.chunksPerWorkflow ? ` (${s.chunksPerWorkflow} chunks per workflow)` : ''}: ${verdict} in ${r.seconds} s; struck: ${struck}; runs ${JSON.stringify(r.runs)}; checked ${JSON.stringify(r.checked)}`,
  );
  if (!r.violations.length) return;
  for (const v of r.violations) log(`    violation: ${v}`);
  for (const n of r.notes) log(`    note: ${n}`);
  log(`    replay: npm run chaos -- --seed ${seed} --only ${r.index}`);
  log(`    schedule: ${JSON.stringify(s)}`);
}

/** The matrix: fault class × (mode, destination), schedules the fault struck / schedules with violations. */
export function matrix(results: ScheduleResult[]): { text: string; covered: number; cells: number } {
  const cols = MODES.flatMap((m) => DESTS.map((d) => ({ m, d })));
  const head = ['fault \\ mode·dest'.padEnd(20), ...cols.map((c) => `${c.m}·${c.d === 'salesforce' ? 'sf' : 'ax'}`.padStart(11))].join('');
  const lines = [head];
  let covered = 0;
  for (const f of FAULTS) {
    const cells = cols.map((c) => {
      const here = results.filter((r) => r.mode === c.m && r.dest === c.d && (r.struck[f] ?? 0) > 0);
      if (here.length) covered++;
      return `${here.length}/${here.filter((r) => r.violations.length).length}`.padStart(11);
    });
    lines.push([f.padEnd(20), ...cells].join(''));
  }
  return { text: lines.join('\n'), covered, cells: FAULTS.length * cols.length };
}

export function summary(c: CampaignResult): Record<string, unknown> {
  // Injected faults: emulator faults that fired, and global faults once each (the matrix counts them for every schedule they hit).
  const faults: Partial<Record<FaultClass, number>> = {};
  for (const r of c.results) {
    for (const [f, n] of Object.entries(r.struck))
      if (!(GLOBAL_FAULTS as readonly string[]).includes(f)) faults[f as FaultClass] = (faults[f as FaultClass] ?? 0) + n;
  }
  for (const e of c.events) faults[e.fault] = (faults[e.fault] ?? 0) + 1;
  // Schedules tampered with on purpose report what was done to them: a self-check, not a finding.
  const real = c.results.filter((r) => r.tampered === null);
  const tampered = c.results.filter((r) => r.tampered !== null);
  const m = matrix(real);
  return {
    schedules: c.results.length,
    faults,
    violations: real.reduce((n, r) => n + r.violations.length, 0),
    schedules_with_violations: real.filter((r) => r.violations.length).map((r) => r.index),
    ...(tampered.length
      ? {
          self_check: {
            schedules: tampered.map((r) => r.index),
            reported: tampered.every((r) => r.violations.some((v) => v.includes(`key ${r.tampered}`))),
          },
        }
      : {}),
    seed: c.seed,
    cells_covered: `${m.covered}/${m.cells}`,
    global_faults: c.events.length,
    fanned_out_runs: c.results.reduce((n, r) => n + (r.fannedOutRuns ?? 0), 0),
    run_resets: c.results.reduce((n, r) => n + (r.resets?.length ?? 0), 0),
    workers: c.workers,
    ...(c.workers > 1
      ? {
          worker_kills: c.events.filter((e) => e.fault === 'worker_kill').length,
          worker_kills_of_activity_holder: c.events.filter((e) => e.fault === 'worker_kill' && e.worker?.heldActivity).length,
        }
      : {}),
    worker_unexpected_exits: c.workerExits.length,
    worker_waited_for_postgres: c.workerWaits,
    seconds: c.seconds,
  };
}
