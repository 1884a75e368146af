/**
 * `npm run bench -- actito [--rows 1000000] [--single-rows 1500] [--keep]`
 *
 * 1. bulk: a model of `rows` rows (generate_series, in the state database) upserted into an Actito
 *    custom table through bulk imports (ETL executions), first run of a new activation.
 * 2. single: `single-rows` rows of that model changed, synced again: a delta under bulkThreshold,
 *    written one call per row.
 *
 * 3. resync: every row changed, synced again: the activation's second bulk run, whose rows per import are
 *    sized from the bytes per row of the first run's files (bulkChunkSize unset).
 *
 * 4. the floor, in the same run: a hand-written single-file import (bench/actito-handwritten.ts, its own
 *    process: COPY of the model as CSV, gzipped into one file, one ETL execution polled every second) of
 *    the same `rows` rows into a fresh table like the bulk phase's (inserts, as in the bulk phase).
 *    `ratio_to_handwritten` is the bulk phase's seconds over the script's (its own timing); `resync.ratio_to_handwritten`
 *    the resync's over the same (the script inserts into a fresh table; the resync updates every record).
 *
 * The Actito emulator runs in this process (its memory does not count); each phase gets a fresh
 * production worker process (`npm start`, bench/support.ts) so its peak RSS (VmHWM) is that phase's alone.
 * API calls come from the emulator's request log. Services: TEMPORAL_ADDRESS + DATABASE_URL when both
 * are set, else a dev server and Postgres of its own (bench/support.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startActitoEmulator, type ActitoEmulator } from '../emulators/actito/server';
import type { RunSummary } from '../common/run';
import {
  benchPool,
  peakRssMb,
  resetPeak,
  rssMb,
  startBenchServices,
  startWorkerProcess,
  stopProcess,
  whereTimeGoes,
  type WhereTimeGoes,
} from './support';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../common/names';
import { statusQuery, triggerSyncUpdate } from '../workflows/messages';

interface Phase {
  rows: number;
  seconds: number;
  api_calls: number;
  calls_by_route: Record<string, number>;
  /** VmHWM of the worker process over its whole life (start-up included). */
  peak_rss_mb: number;
  /** RSS when the worker was ready, and VmHWM from the trigger on (clear_refs reset; null when not permitted). */
  ready_rss_mb: number;
  run_peak_rss_mb: number | null;
  status: string;
  ops: RunSummary['ops'];
  /** Per DAG task wall-clock seconds, and per activity type summed seconds (from the run's history). */
  where: WhereTimeGoes;
}

const arg = (args: string[], name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const log = (msg: string) => console.log(`[bench actito ${new Date().toISOString().slice(11, 19)}] ${msg}`);

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const rows = arg(args, 'rows', 1_000_000);
  const singleRows = arg(args, 'single-rows', 1500);
  // Unset = the connector's default: sized from the last import file's bytes per row (before any, from a sample of the rows).
  const bulkChunkSize = arg(args, 'bulk-chunk-size', 0);
  const reuse = process.env.TEMPORAL_ADDRESS && process.env.DATABASE_URL;
  log(
    reuse ? `services: Temporal ${process.env.TEMPORAL_ADDRESS}, Postgres from DATABASE_URL` : 'starting Temporal dev server and Postgres',
  );
  const services = reuse ? null : await startBenchServices();
  const address = services?.temporal.address ?? process.env.TEMPORAL_ADDRESS!;
  const databaseUrl = services?.pg.url ?? process.env.DATABASE_URL!;
  const emu = await startActitoEmulator({ port: 0 });
  const db = benchPool(databaseUrl);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const id = `bench_actito_${Date.now().toString(36)}`;
  const taskQueue = `tq_${id}`;
  const table = 'bench_orders';
  try {
    await createTable(emu, table);
    log(`building the model public.${id}: ${rows} rows (generate_series)`);
    const t = Date.now();
    await db.query(modelSql(`public.${id}`), [rows]);
    await db.query(`ANALYZE public.${id}`);
    log(`model ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const connections = { actito: { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity } };
    await client.workflow.start(WORKFLOW_TYPES.activation, {
      taskQueue,
      workflowId: activationWorkflowId(id),
      args: [
        {
          config: {
            id,
            mode: 'upsert',
            schedule: { manual: true },
            source: { table: `public.${id}`, key: 'order_id' },
            destination: { kind: 'actito', connection: 'actito', table, key: 'orderId', options: bulkChunkSize ? { bulkChunkSize } : {} },
            mappings: MAPPINGS,
          },
        },
      ],
    });

    const bulk = await phase('bulk', rows, { emu, client, id, taskQueue, address, databaseUrl, connections, table });
    if (bulk.status !== 'success') throw new Error(`bulk run ended ${bulk.status}`);
    log(`changing ${singleRows} rows for the one-by-one delta`);
    await db.query(
      `UPDATE public.${id} SET amount = amount + 1, status = 'PAID' WHERE order_id IN (SELECT 'o' || g FROM generate_series(1, $1::int) g)`,
      [singleRows],
    );
    const single = await phase('single', singleRows, { emu, client, id, taskQueue, address, databaseUrl, connections, table });
    // Every row changed: the activation's next bulk run, its rows per import now sized from the first run's files.
    log(`changing every row for a full re-sync`);
    await db.query(`UPDATE public.${id} SET amount = amount + 2`);
    const resync = await phase('resync', rows, { emu, client, id, taskQueue, address, databaseUrl, connections, table });
    if (resync.status !== 'success') throw new Error(`resync run ended ${resync.status}`);
    const stored = emu.state.tables.customTable(table)!.size;
    log(`Actito table ${table} holds ${stored} records`);
    const hand = await handwrittenImport(emu, databaseUrl, `public.${id}`, `${table}_hw`, rows);
    if (!args.includes('--keep')) await db.query(`DROP TABLE public.${id}`);
    await client.workflow
      .getHandle(activationWorkflowId(id))
      .terminate('benchmark done')
      .catch(() => undefined);
    return {
      rows: bulk.rows,
      seconds: bulk.seconds,
      api_calls: bulk.api_calls,
      peak_rss_mb: bulk.peak_rss_mb,
      run_peak_rss_mb: bulk.run_peak_rss_mb,
      ready_rss_mb: bulk.ready_rss_mb,
      rows_per_second: Math.round(bulk.rows / bulk.seconds),
      handwritten_s: hand.seconds,
      ratio_to_handwritten: Math.round((bulk.seconds / hand.seconds) * 100) / 100,
      handwritten: hand,
      status: bulk.status,
      calls_by_route: bulk.calls_by_route,
      stored_records: stored,
      bulk_chunk_size: bulkChunkSize || 'default (sized by bytes)',
      where_time_goes: bulk.where,
      // The same rows again, all changed (updates): what a daily full change costs once a run has sized the imports.
      resync: {
        rows: resync.rows,
        seconds: resync.seconds,
        ratio_to_handwritten: Math.round((resync.seconds / hand.seconds) * 100) / 100,
        imports: resync.calls_by_route['POST /v5/entities/:entity/etl-executions'] ?? 0,
        api_calls: resync.api_calls,
        peak_rss_mb: resync.peak_rss_mb,
        status: resync.status,
        calls_by_route: resync.calls_by_route,
        where_time_goes: resync.where,
      },
      single: {
        rows: single.rows,
        seconds: single.seconds,
        api_calls: single.api_calls,
        peak_rss_mb: single.peak_rss_mb,
        run_peak_rss_mb: single.run_peak_rss_mb,
        ready_rss_mb: single.ready_rss_mb,
        status: single.status,
        calls_by_route: single.calls_by_route,
        ops: single.ops,
      },
      target_peak_rss_mb: 300,
      target_ratio_to_handwritten: 1.5,
    };
  } finally {
    await connection.close();
    await db.end();
    await emu.close();
    await services?.stop();
  }
}

interface PhaseCtx {
  emu: ActitoEmulator;
  client: Client;
  id: string;
  taskQueue: string;
  address: string;
  databaseUrl: string;
  connections: Record<string, unknown>;
  table: string;
}

/** One run on a fresh worker process: time, API calls and that worker's peak RSS. */
async function phase(name: string, rows: number, c: PhaseCtx): Promise<Phase> {
  log(`${name}: starting a worker process`);
  const worker: ChildProcess = await startWorkerProcess({
    address: c.address,
    databaseUrl: c.databaseUrl,
    taskQueue: c.taskQueue,
    connections: c.connections,
  });
  const pid = worker.pid!;
  c.emu.state.requests.clear();
  const startupPeak = peakRssMb(pid);
  const readyRss = rssMb(pid);
  const reset = resetPeak(pid);
  log(
    `${name}: worker pid ${pid} ready: rss ${readyRss} MB, start-up peak ${startupPeak} MB${reset ? ' (peak reset for the run)' : ''}; triggerSync`,
  );
  const handle = c.client.workflow.getHandle(activationWorkflowId(c.id));
  const t0 = Date.now();
  let maxRss = 0;
  const ticker = setInterval(() => {
    const rss = rssMb(pid);
    maxRss = Math.max(maxRss, rss || 0);
    void handle
      .query(statusQuery)
      .then((s) => {
        const r = s.currentRun;
        const imports = [...c.emu.state.imports.executions.values()].map((e) => (e as unknown as { status: string }).status);
        log(
          `${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s · ${r ? `${r.phase} ${r.chunksDone}/${r.chunksTotal} chunks` : 'idle'} · worker rss ${rss} MB (peak ${peakRssMb(pid)} MB) · ${Object.values(c.emu.state.requests.counts).reduce((a, b) => a + b, 0)} API calls · imports [${imports.join(',')}] · table ${c.emu.state.tables.customTable(c.table)!.size}`,
        );
      })
      .catch(() => undefined);
  }, 10_000);
  let summary: RunSummary;
  try {
    summary = await handle.executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });
  } finally {
    clearInterval(ticker);
  }
  const seconds = (Date.now() - t0) / 1000;
  const runPeak = peakRssMb(pid);
  const peak = Math.max(runPeak, startupPeak);
  // Before the worker stops: the runState query needs it.
  const where = await whereTimeGoes(c.client, runWorkflowId(c.id, summary.runNumber));
  await stopProcess(worker);
  const counts = { ...c.emu.state.requests.counts };
  const apiCalls = Object.values(counts).reduce((a, b) => a + b, 0);
  log(
    `${name}: ${summary.status} in ${seconds.toFixed(1)} s · ${JSON.stringify(summary.ops)} · ${apiCalls} API calls · worker peak RSS ${peak} MB (run ${reset ? runPeak : 'n/a'} MB, start-up ${startupPeak} MB)`,
  );
  if (summary.error) log(`${name}: error ${summary.error.type}: ${summary.error.message}`);
  log(`${name}: DAG tasks (s) ${JSON.stringify(where.tasks_s)}; activities ${JSON.stringify(where.activities_s)}`);
  return {
    rows,
    seconds: Math.round(seconds * 10) / 10,
    api_calls: apiCalls,
    calls_by_route: counts,
    peak_rss_mb: peak,
    where,
    ready_rss_mb: readyRss,
    run_peak_rss_mb: reset ? runPeak : null,
    status: summary.status,
    ops: summary.ops,
  };
}

/**
 * The floor (bench/actito-handwritten.ts, in its own process): the same rows loaded by one hand-written
 * import file into a fresh table like the bulk phase's, so it does the same work (inserts).
 */
async function handwrittenImport(
  emu: ActitoEmulator,
  databaseUrl: string,
  model: string,
  table: string,
  rows: number,
): Promise<{ seconds: number; api_calls: number; [k: string]: unknown }> {
  await createTable(emu, table);
  emu.state.requests.clear();
  log(`handwritten: one import file of ${rows} rows streamed from COPY into table ${table}, in its own process`);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        path.join(__dirname, 'run.ts'),
        'actito-handwritten',
        emu.url,
        emu.apiKey,
        emu.entity,
        databaseUrl,
        model,
        table,
        String(rows),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`handwritten script exited with ${code}: ${text.slice(-2000)}`)),
    );
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`handwritten script printed no RESULT: ${out.slice(-2000)}`);
  const r = JSON.parse(line.slice('RESULT '.length)) as { seconds: number };
  const apiCalls = Object.values(emu.state.requests.counts).reduce((a, b) => a + b, 0);
  const stored = emu.state.tables.customTable(table)!.size;
  if (stored !== rows) throw new Error(`handwritten: table ${table} holds ${stored} records, not ${rows}`);
  log(`handwritten: ${JSON.stringify(r)}; ${apiCalls} API calls; table ${table} holds ${stored} records`);
  return { ...r, api_calls: apiCalls };
}

/** A custom table like the seeded `orders`, without the profile foreign key (no profiles in this benchmark). */
/** The bench's model: `$1` rows (generate_series) of orders, key `order_id`. */
export function modelSql(table: string): string {
  return `CREATE TABLE ${table} AS SELECT 'o' || g AS order_id, 'c' || (g % 100000) AS customer_id, ((g % 10000) * 1.25)::numeric(10,2) AS amount,
      (ARRAY['NEW','PAID','SHIPPED','CANCELLED'])[1 + g % 4] AS status, (date '2026-01-01' + (g % 300)) AS order_date, 'note ' || g AS note FROM generate_series(1, $1::int) g`;
}

/** The model's mappings onto the emulator table `createTable` makes (key `orderId`). */
export const MAPPINGS = [
  { from: 'customer_id', to: 'customerId' },
  { from: 'amount', to: 'amount' },
  { from: 'status', to: 'status' },
  { from: 'order_date', to: 'orderDate' },
  { from: 'note', to: 'note' },
];

export async function createTable(emu: ActitoEmulator, name: string): Promise<void> {
  const res = await fetch(`${emu.url}/__admin/tables`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name,
      primaryKeyAttribute: 'orderId',
      attributes: [
        { name: 'orderId', valueType: 'STRING' },
        { name: 'customerId', valueType: 'STRING' },
        { name: 'amount', valueType: 'NUMBER' },
        { name: 'status', valueType: 'STRING' },
        { name: 'orderDate', valueType: 'DATE' },
        { name: 'note', valueType: 'STRING' },
      ],
    }),
  });
  if (!res.ok) throw new Error(`creating table ${name}: ${res.status} ${await res.text()}`);
}
