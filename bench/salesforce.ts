/**
 * `npm run bench -- salesforce [rows=1000000] [collectionsRows=1500] [--no-handwritten]` (above a million rows the
 * emulator, in this process, needs a larger heap: `NODE_OPTIONS=--max-old-space-size=16384`; the worker does not
 * inherit it)
 *
 * Bulk 2.0 path: a model of `rows` Contacts built with generate_series is first synced (all inserts,
 * as upserts), then every row is changed and the upsert of `rows` changed rows is measured.
 * Collections path: a 1,500-row model synced once, then all 1,500 rows changed and measured.
 *
 * Figures per path: seconds of the measured sync (triggerSync update round trip), API calls from the
 * emulator's request log (every logged call, polls and token/describe/limits included), calls per
 * 100,000 rows, and the worker process's peak RSS. The worker runs in its own process
 * (bench/support.ts), with its own process per path, so each path's VmHWM is its own; the emulator runs
 * in this process, so its memory is not counted against the worker (`bench_process_peak_rss_mb` is this process's).
 *
 * The floor, in the same run: after syncline's measured sync every row is changed again, and a
 * hand-written jsforce 3 script (bench/salesforce-handwritten.ts, its own process: COPY of the model as
 * CSV streamed into `bulk2.loadAndWaitForResults`) upserts them against the same emulator.
 * `ratio_to_handwritten` is syncline's seconds over its seconds (the script's own timing, process start excluded).
 */
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { startSalesforceEmulator, type SalesforceEmulator } from '../emulators/salesforce/server';
import type { RunSummary } from '../common/run';
import { benchPool, peakRssMb, rssMb, startBenchServices, startWorkerProcess, stopProcess, whereTimeGoes } from './support';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../common/names';
import { triggerSyncUpdate } from '../workflows/messages';

interface PathResult {
  rows: number;
  seconds: number;
  api_calls: number;
  api_calls_per_100k: number;
  peak_rss_mb: number;
  [k: string]: unknown;
}

/** The bench's model (also bench/csvbuild.ts's): `rows` Contacts, a text key, three texts, a numeric(12,2). */
export async function createModel(
  db: { query(sql: string, values?: unknown[]): Promise<unknown> },
  table: string,
  rows: number,
): Promise<void> {
  await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, last_name text, first_name text, email text, ltv numeric(12,2))`);
  await db.query(
    `INSERT INTO ${table} SELECT 'B' || g, 'Last ' || g, 'First ' || (g % 1000), 'user' || g || '@example.com', (g % 100000) * 1.25 FROM generate_series(1, $1) g`,
    [rows],
  );
}

/** The model's mappings onto Contact (key `External_Id__c`). */
export const MAPPINGS = [
  { from: 'id', to: 'External_Id__c' },
  { from: 'last_name', to: 'LastName' },
  { from: 'first_name', to: 'FirstName' },
  { from: 'email', to: 'Email' },
  { from: 'ltv', to: 'Lifetime_Value__c' },
];

const log = (msg: string) => console.log(`[bench salesforce ${new Date().toISOString().slice(11, 19)}] ${msg}`);

function sampleRss(pid: number): { stop(): number } {
  let max = 0;
  const t = setInterval(() => {
    try {
      max = Math.max(max, rssMb(pid));
    } catch {
      /* exited */
    }
  }, 250);
  return {
    stop: () => {
      clearInterval(t);
      try {
        max = Math.max(max, rssMb(pid));
      } catch {
        /* exited */
      }
      return max;
    },
  };
}

function callsByRoute(emu: SalesforceEmulator): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of emu.state.requests) {
    const route = `${r.method} ${r.path
      .replace(/\?.*$/, '')
      .replace(/\/v\d+\.\d/, '')
      .replace(/\/jobs\/ingest\/[^/]+/, '/jobs/ingest/{id}')
      .replace(/\/sobjects\/Contact\/External_Id__c\/[^/]+$/, '/sobjects/Contact/External_Id__c/{value}')}`;
    out[route] = (out[route] ?? 0) + 1;
  }
  return out;
}

/**
 * The emulator's own processing time of each Bulk job created after `before` (its job ids): the part of
 * both sides' time that neither controls, shown so a slow emulator phase is not read as the code's.
 */
function jobsSince(emu: SalesforceEmulator, before: Set<string>): Array<{ rows: number; processing_s: number }> {
  return [...emu.state.jobs.values()]
    .filter((j) => !before.has(j.id))
    .map((j) => ({ rows: j.numberRecordsProcessed, processing_s: Math.round(j.totalProcessingTime / 100) / 10 }));
}

interface Ctx {
  client: Client;
  db: pg.Pool;
  emu: SalesforceEmulator;
  address: string;
  databaseUrl: string;
  connections: Record<string, unknown>;
}

async function sync(ctx: Ctx, id: string): Promise<RunSummary> {
  return ctx.client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });
}

const describeOps = (s: RunSummary) =>
  Object.entries(s.ops)
    .map(([op, c]) => `${op} ${c.succeeded}/${c.planned}${c.failed ? ` (${c.failed} failed)` : ''}`)
    .join(', ');

/**
 * The floor (bench/salesforce-handwritten.ts, in its own process): every row is changed again, so the
 * hand-written upsert does the same work as the measured sync, against the same emulator.
 */
async function handwrittenUpsert(
  ctx: Ctx,
  table: string,
  rows: number,
): Promise<{ seconds: number; api_calls: number; results: number; jobs: ReturnType<typeof jobsSince> }> {
  log(`handwritten: changing every row again`);
  await ctx.db.query(`UPDATE ${table} SET last_name = last_name || ' hw', ltv = ltv + 1`);
  ctx.emu.state.requests = [];
  const before = new Set(ctx.emu.state.jobs.keys());
  log(`handwritten: jsforce bulk2.loadAndWaitForResults of ${rows} rows streamed from COPY, in its own process`);
  const t = Date.now();
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, path.join(__dirname, 'run.ts'), 'salesforce-handwritten', ctx.emu.url, ctx.databaseUrl, table, String(rows)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let text = '';
    child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`handwritten script exited with ${code}: ${text.slice(-2000)}`)),
    );
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`handwritten script printed no RESULT: ${out.slice(-2000)}`);
  const r = JSON.parse(line.slice('RESULT '.length)) as { seconds: number; results: number };
  log(
    `handwritten: ${r.results} results in ${r.seconds} s (process ${((Date.now() - t) / 1000).toFixed(1)} s); ${ctx.emu.state.requests.length} API calls`,
  );
  return { seconds: r.seconds, api_calls: ctx.emu.state.requests.length, results: r.results, jobs: jobsSince(ctx.emu, before) };
}

/** One path: model of `rows`, first sync, change every row, measured sync. */
async function measurePath(
  ctx: Ctx,
  name: string,
  rows: number,
  options: Record<string, unknown>,
  handwritten = false,
): Promise<PathResult> {
  const id = `bench_sf_${name}_${Date.now().toString(36)}`;
  const table = `public.${id}`;
  const taskQueue = `bench-sf-${name}`;
  log(`${name}: building a ${rows}-row model with generate_series`);
  await createModel(ctx.db, table, rows);
  await ctx.db.query(`ANALYZE ${table}`);

  const worker: ChildProcess = await startWorkerProcess({
    address: ctx.address,
    databaseUrl: ctx.databaseUrl,
    taskQueue,
    connections: ctx.connections,
  });
  const pid = worker.pid!;
  // Before any sync: the worker's own start sets a baseline.
  await new Promise((r) => setTimeout(r, 2000));
  const ready = { rss_mb: rssMb(pid), peak_rss_mb: peakRssMb(pid) };
  log(`${name}: worker process ${pid} ready: RSS ${ready.rss_mb} MB, peak so far ${ready.peak_rss_mb} MB`);
  try {
    const config = {
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table, key: 'id' },
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options },
      mappings: MAPPINGS,
      // A first load and a full change are expected here: no anomaly thresholds in the way.
      thresholds: { deltaPercent: 100, modelDropPercent: 100 },
    };
    await ctx.client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: activationWorkflowId(id), args: [{ config }] });

    log(`${name}: first sync (${rows} inserts)`);
    let t = Date.now();
    const first = await sync(ctx, id);
    const firstSeconds = (Date.now() - t) / 1000;
    log(
      `${name}: first sync ${first.status} in ${firstSeconds.toFixed(1)} s: ${describeOps(first)}; ${ctx.emu.state.requests.length} API calls`,
    );
    if (first.status !== 'success') throw new Error(`first sync: ${first.status} ${first.error?.message ?? ''}`);
    const firstCalls = ctx.emu.state.requests.length;

    log(`${name}: changing every row`);
    await ctx.db.query(`UPDATE ${table} SET last_name = last_name || ' v2', ltv = ltv + 1`);
    ctx.emu.state.requests = [];
    const before = new Set(ctx.emu.state.jobs.keys());
    const rss = sampleRss(pid);
    log(`${name}: measured sync (${rows} changed rows, upsert)`);
    t = Date.now();
    const second = await sync(ctx, id);
    const seconds = (Date.now() - t) / 1000;
    const phasePeak = rss.stop();
    const measuredJobs = jobsSince(ctx.emu, before);
    const calls = ctx.emu.state.requests.length;
    const routes = callsByRoute(ctx.emu);
    const peak = peakRssMb(pid);
    // Before the worker stops: the run's DAG state is a query it answers.
    const where = await whereTimeGoes(ctx.client, runWorkflowId(id, second.runNumber));
    log(`${name}: DAG tasks (s) ${JSON.stringify(where.tasks_s)}; activities ${JSON.stringify(where.activities_s)}`);
    log(
      `${name}: measured sync ${second.status} in ${seconds.toFixed(1)} s: ${describeOps(second)}; ${calls} API calls ${JSON.stringify(routes)}; worker peak RSS ${peak} MB (measured phase ${phasePeak} MB)`,
    );
    if (second.status !== 'success') throw new Error(`measured sync: ${second.status} ${second.error?.message ?? ''}`);
    const hand = handwritten ? await handwrittenUpsert(ctx, table, rows) : null;
    const jobs = routes['POST /services/data/jobs/ingest'] ?? 0;
    const polls = routes['GET /services/data/jobs/ingest/{id}'] ?? 0;
    return {
      rows,
      seconds: Math.round(seconds * 10) / 10,
      api_calls: calls,
      api_calls_per_100k: Math.round((calls / rows) * 100_000 * 100) / 100,
      peak_rss_mb: peak,
      measured_phase_peak_rss_mb: phasePeak,
      worker_ready_rss_mb: ready.rss_mb,
      worker_ready_peak_rss_mb: ready.peak_rss_mb,
      rows_per_second: Math.round(rows / seconds),
      ...(jobs ? { bulk_jobs: jobs, job_polls: polls, jobs: measuredJobs } : {}),
      ...(hand
        ? {
            handwritten_s: hand.seconds,
            ratio_to_handwritten: Math.round((seconds / hand.seconds) * 100) / 100,
            handwritten: hand,
          }
        : {}),
      calls_by_route: routes,
      where_time_goes: where,
      first_load: { seconds: Math.round(firstSeconds * 10) / 10, api_calls: firstCalls },
    };
  } finally {
    await stopProcess(worker);
  }
}

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  // `--no-handwritten` leaves the script out (its process holds every result in memory: gigabytes at 10M rows).
  const withHandwritten = !argv.includes('--no-handwritten');
  const args = argv.filter((a) => !a.startsWith('--'));
  const rows = Number(args[0] ?? 1_000_000);
  const collectionsRows = Number(args[1] ?? 1500);
  log('starting Temporal dev server, Postgres and the Salesforce emulator');
  const services = await startBenchServices();
  // Processing delay as in the emulator's default; a daily limit the benchmark cannot reach.
  const emu = await startSalesforceEmulator({ port: 0, dailyApiLimit: 100_000_000 });
  const connection = await Connection.connect({ address: services.temporal.address });
  const db = benchPool(services.pg.url);
  const ctx: Ctx = {
    client: new Client({ connection }),
    db,
    emu,
    address: services.temporal.address,
    databaseUrl: services.pg.url,
    connections: {
      sf: { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' },
    },
  };
  try {
    // Default connector options (jobs sized by CSV bytes, polls by progress): what a user gets.
    const collections = await measurePath(ctx, 'collections', collectionsRows, {});
    emu.state.reset();
    const bulk = await measurePath(ctx, 'bulk', rows, {}, withHandwritten);
    const result = {
      ...bulk,
      // This process: the Salesforce emulator (every record and every job's results), the client and the pool.
      bench_process_peak_rss_mb: peakRssMb(process.pid),
      measured: 'upsert of every row changed after a first load',
      targets: { api_calls_per_100k_max: 3, peak_rss_mb_max: 300, ratio_to_handwritten_max: 1.5 },
      meets: {
        api_calls_per_100k: bulk.api_calls_per_100k <= 3,
        peak_rss_mb: bulk.peak_rss_mb <= 300,
        ...(withHandwritten && { ratio_to_handwritten: (bulk.ratio_to_handwritten as number) <= 1.5 }),
      },
      collections,
    };
    return result;
  } finally {
    await db.end();
    await connection.close();
    await emu.close();
    await services.stop();
  }
}
