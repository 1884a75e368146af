/**
 * `npm run bench -- fleet [--activations 1000] [--minutes 10] [--rows 100] [--change 0.05] [--workers 1,2]
 *   [--interval 1m] [--spread] [--activity-slots N] [--destination-latency-ms M]`
 *
 * A fleet of small activations on one schedule: `activations` Upsert activations of `rows`-row models
 * (one SQL model each over a shared table) into Salesforce Contacts (the in-process emulator, sObject
 * Collections), every one on the same `interval`, while a changer alters a `change` share of every model
 * each minute. All activations start at once (their runs fall due together, a burst each interval), or,
 * with `--spread`, one after another over the first interval, so that runs fall due at an even rate
 * (activations / interval) and the lag measures the fleet at that rate rather than a burst's backlog. For each worker count in `--workers` (one phase each, fresh activations, production worker
 * processes), after `minutes`:
 *   runs due and done per minute (over the phase, and over its second half: the rate once the start is behind), schedule lag p50/p99/max (started_at - scheduled_at of scheduled runs,
 *   syncline.runs), run duration p50/p99, runs failed, each worker's peak RSS, history events per run
 *   (the second runs of 20 activations), state-database growth per 1,000 runs and the work tables left behind;
 * and the speed-up of the last phase over the first. Services: a dev server and Postgres of its own.
 *
 * To see the speed-up of more workers where the worker is what limits the fleet, not the machine's two
 * cores (which the workers share with the dev server and Postgres): `--activity-slots N` runs each worker
 * with SYNCLINE_MAX_CONCURRENT_ACTIVITIES=N, and `--destination-latency-ms M` has the emulator hold each
 * data API request M ms (a destination far away), so a worker finishes at most about N writes every M ms.
 */
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { startSalesforceEmulator } from '../emulators/salesforce/server';
import { benchPool, cpuSeconds, peakRssMb, startBenchServices, startWorkerProcess, stopProcess } from './support';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../common/names';
import { parseDuration } from '../common/duration';

const num = (args: string[], name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const str = (args: string[], name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const log = (msg: string) => console.log(`[bench fleet ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2));
}

interface Phase {
  workers: number;
  activations: number;
  minutes: number;
  interval: string;
  spread: boolean;
  runs_due: number;
  runs_done: number;
  runs_due_per_min: number;
  runs_done_per_min: number;
  /** Runs finished in the second half of the phase, a minute: the rate once the start is behind. */
  runs_done_per_min_second_half: number;
  runs_failed: number;
  schedule_lag_s: { p50: number | null; p99: number | null; max: number | null };
  run_duration_s: { p50: number | null; p99: number | null };
  worker_peak_rss_mb: number[];
  history_events_per_run: number | null;
  state_db_growth_mb_per_1000_runs: number | null;
  work_tables_left: number;
  /**
   * CPU milliseconds per run done, by process (cpuSeconds in bench/support.ts): the workers, Postgres,
   * the dev server, and this process (the emulator and the client). On a 2-core machine their sum over
   * the phase says how much of the machine the fleet used; what one run costs each part says where to cut.
   */
  cpu_ms_per_run: Record<string, number> | null;
}

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const activations = num(args, 'activations', 1000);
  const minutes = num(args, 'minutes', 10);
  const rows = num(args, 'rows', 100);
  const change = num(args, 'change', 0.05);
  const workerCounts = str(args, 'workers', '1,2').split(',').map(Number);
  const interval = str(args, 'interval', '1m');
  const spread = args.includes('--spread');
  const activitySlots = args.includes('--activity-slots') ? num(args, 'activity-slots', 0) : undefined;
  const latencyMs = num(args, 'destination-latency-ms', 0);
  parseDuration(interval); // a bad interval stops the bench here, not in the first activation
  log('starting Temporal dev server, Postgres and the Salesforce emulator');
  const services = await startBenchServices();
  const emu = await startSalesforceEmulator({ port: 0 });
  if (latencyMs > 0)
    // The emulator's limit of requests in flight is set far above what the fleet sends: only the latency is wanted.
    await fetch(`${emu.url}/__admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ concurrentRequests: { max: 1_000_000, latencyMs } }),
    });
  const db = benchPool(services.pg.url);
  const connection = await Connection.connect({ address: services.temporal.address });
  const client = new Client({ connection });
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  const phases: Phase[] = [];
  try {
    for (const workers of workerCounts) {
      phases.push(
        await phase({
          workers,
          activations,
          minutes,
          rows,
          change,
          interval,
          spread,
          activitySlots,
          client,
          db,
          address: services.temporal.address,
          url: services.pg.url,
          sf,
        }),
      );
      log(`phase ${workers} worker(s): ${JSON.stringify(phases.at(-1))}`);
    }
  } finally {
    await db.end();
    await connection.close();
    await emu.close();
    await services.stop();
  }
  const first = phases[0]!;
  const last = phases.at(-1)!;
  return {
    activations,
    minutes,
    rows,
    change,
    ...(activitySlots !== undefined ? { activity_slots: activitySlots } : {}),
    ...(latencyMs > 0 ? { destination_latency_ms: latencyMs } : {}),
    phases,
    ...(phases.length > 1
      ? {
          speedup: ratio(last.runs_done_per_min, first.runs_done_per_min),
          speedup_second_half: ratio(last.runs_done_per_min_second_half, first.runs_done_per_min_second_half),
        }
      : {}),
  };
}

/** a / b to two decimals (b = 0 gives a large number, not Infinity, in the JSON line). */
const ratio = (a: number, b: number): number => Number((a / Math.max(1e-9, b)).toFixed(2));

async function phase(o: {
  workers: number;
  activations: number;
  minutes: number;
  rows: number;
  change: number;
  interval: string;
  spread: boolean;
  activitySlots: number | undefined;
  client: Client;
  db: ReturnType<typeof benchPool>;
  address: string;
  url: string;
  sf: Record<string, unknown>;
}): Promise<Phase> {
  const prefix = `fleet${o.workers}_${Date.now().toString(36)}`;
  const table = `public.${prefix}`;
  const taskQueue = `tq_${prefix}`;
  await o.db.query(`CREATE TABLE ${table} (a int, id text, v text, PRIMARY KEY (a, id))`);
  await o.db.query(
    `INSERT INTO ${table} SELECT a, $1 || '-' || a || '-' || i, 'v' FROM generate_series(1, $2::int) a, generate_series(1, $3::int) i`,
    [prefix.toUpperCase(), o.activations, o.rows],
  );
  const sizeBefore = await dbSize(o.db);
  log(
    `${o.workers} worker(s): starting; ${o.activations} activations of ${o.rows} rows on a ${o.interval} interval${o.spread ? ', started over the first interval' : ''}`,
  );
  const procs: ChildProcess[] = [];
  for (let w = 0; w < o.workers; w++)
    procs.push(
      await startWorkerProcess({
        address: o.address,
        databaseUrl: o.url,
        taskQueue,
        connections: { sf: o.sf },
        env: o.activitySlots === undefined ? {} : { SYNCLINE_MAX_CONCURRENT_ACTIVITIES: String(o.activitySlots) },
      }),
    );
  const ids = Array.from({ length: o.activations }, (_, i) => `${prefix}_${i + 1}`);
  const cpuBefore = cpuSeconds();
  const intervalMs = parseDuration(o.interval);
  const start = (id: string, a: number) =>
    o.client.workflow.start(WORKFLOW_TYPES.activation, {
      taskQueue,
      workflowId: activationWorkflowId(id),
      args: [
        {
          config: {
            id,
            mode: 'upsert',
            schedule: { every: o.interval },
            source: { sql: `SELECT id, v FROM ${table} WHERE a = ${a}`, key: 'id' },
            destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
            mappings: [
              { from: 'id', to: 'External_Id__c' },
              { from: 'v', to: 'LastName' },
            ],
          },
        },
      ],
    });
  const started = new Date();
  // Activation i's first run falls due when it starts, then every interval: spread, i starts at i/n of the first interval.
  const offsetMs = (i: number) => (o.spread ? (i * intervalMs) / o.activations : 0);
  const starting = (async () => {
    const batch = o.spread ? 1 : 50;
    for (let i = 0; i < ids.length; i += batch) {
      if (o.spread) await sleep(Math.max(0, started.getTime() + offsetMs(i) - Date.now()));
      await Promise.all(ids.slice(i, i + batch).map((id, j) => start(id, i + j + 1)));
    }
  })();
  if (!o.spread) {
    await starting;
    log(`${ids.length} activations started in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s; measuring ${o.minutes} min`);
  } else log(`starting ${ids.length} activations over ${o.interval}; measuring ${o.minutes} min`);
  const end = started.getTime() + o.minutes * 60_000;
  for (let m = 1; Date.now() < end; m++) {
    await sleep(Math.min(60_000, end - Date.now()));
    await o.db.query(`UPDATE ${table} SET v = v || '.' WHERE random() < $1`, [o.change]);
    const done = await o.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM syncline.runs WHERE activation_id LIKE $1 AND status NOT IN ('running') AND finished_at IS NOT NULL`,
      [`${prefix}\\_%`],
    );
    log(`minute ${m}: ${done.rows[0]!.n} runs done`);
  }
  await starting;
  const until = new Date(end);
  const r = await o.db.query<{
    trigger: string;
    status: string;
    lag: number | null;
    duration: number | null;
    finished: boolean;
    finished_ms: number | null;
  }>(
    `SELECT trigger, status, extract(epoch FROM started_at - scheduled_at)::float8 AS lag,
       extract(epoch FROM finished_at - started_at)::float8 AS duration, finished_at IS NOT NULL AND finished_at <= $2 AS finished,
       extract(epoch FROM finished_at)::float8 * 1000 AS finished_ms
     FROM syncline.runs WHERE activation_id LIKE $1 AND started_at <= $2`,
    [`${prefix}\\_%`, until],
  );
  const rssPeaks = procs.map((p) => peakRssMb(p.pid!));
  const cpuAfter = cpuSeconds();
  const done = r.rows.filter((x) => x.finished);
  const lags = r.rows.filter((x) => x.trigger === 'schedule' && x.lag !== null).map((x) => x.lag!);
  lags.sort((a, b) => a - b);
  const durations = done.filter((x) => x.duration !== null).map((x) => x.duration!);
  durations.sort((a, b) => a - b);
  // A history sample: the second runs of the first activations (a first run loads the whole model; the
  // fleet's steady state is small deltas).
  const sample = ids.slice(0, 20).map((id) => runWorkflowId(id, 2));
  const lengths = (
    await Promise.all(
      sample.map((wid) =>
        o.client.workflow
          .getHandle(wid)
          .describe()
          .then(
            (d) => d.historyLength,
            () => null,
          ),
      ),
    )
  ).filter((n): n is number => n !== null);
  for (let i = 0; i < ids.length; i += 50)
    await Promise.all(
      ids.slice(i, i + 50).map((id) =>
        o.client.workflow
          .getHandle(activationWorkflowId(id))
          .terminate('benchmark done')
          .catch(() => {}),
      ),
    );
  for (const p of procs) await stopProcess(p);
  const sizeAfter = await dbSize(o.db);
  const workLeft = await o.db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'syncline_work'`);
  await o.db.query(`DROP TABLE ${table}`);
  // Fire times within the phase: at each activation's start, then every interval.
  const windowMs = o.minutes * 60_000;
  const runsDue = ids.reduce((n, _, i) => n + (offsetMs(i) < windowMs ? Math.ceil((windowMs - offsetMs(i)) / intervalMs) : 0), 0);
  return {
    workers: o.workers,
    activations: o.activations,
    minutes: o.minutes,
    interval: o.interval,
    spread: o.spread,
    runs_due: runsDue,
    runs_done: done.length,
    runs_due_per_min: runsDue / o.minutes,
    runs_done_per_min: Number((done.length / o.minutes).toFixed(1)),
    // Past the start (first runs load whole models, every activation's first run falls due at once).
    runs_done_per_min_second_half: Number((done.filter((x) => x.finished_ms! >= end - windowMs / 2).length / (o.minutes / 2)).toFixed(1)),
    runs_failed: done.filter((x) => x.status === 'failed').length,
    schedule_lag_s: { p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: lags.length ? Number(lags.at(-1)!.toFixed(2)) : null },
    run_duration_s: { p50: quantile(durations, 0.5), p99: quantile(durations, 0.99) },
    worker_peak_rss_mb: rssPeaks,
    history_events_per_run: lengths.length ? Math.round(lengths.reduce((a, b) => a + b, 0) / lengths.length) : null,
    state_db_growth_mb_per_1000_runs: done.length ? Number((((sizeAfter - sizeBefore) / 1e6) * (1000 / done.length)).toFixed(2)) : null,
    work_tables_left: Number(workLeft.rows[0]!.n),
    cpu_ms_per_run: done.length ? cpuPerRun(cpuBefore, cpuAfter, procs, done.length) : null,
  };
}

/** CPU ms per run done of each part, over the phase (workers summed); `total` is all of them. */
function cpuPerRun(before: Record<string, number>, after: Record<string, number>, procs: ChildProcess[], runs: number) {
  const used = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const parts: Record<string, number> = {
    workers: procs.reduce((n, p) => n + used(`worker:${p.pid}`), 0),
    postgres: used('postgres'),
    temporal: used('temporal'),
    bench: used('bench'),
  };
  parts.total = Object.values(parts).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round((v * 1000) / runs)]));
}

async function dbSize(db: ReturnType<typeof benchPool>): Promise<number> {
  return Number((await db.query<{ b: string }>('SELECT pg_database_size(current_database()) AS b')).rows[0]!.b);
}
