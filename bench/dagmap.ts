/**
 * `npm run bench -- dagmap [--items 5000] [--batch-size 200] [--parallelism 10]`
 *
 * A DAG whose mapped task runs over `items` items: a sql task returns the numbers 1..items as one row
 * holding an array, and the mapped sql task inserts one row per item. Above its batch size the task runs
 * its items in dagMapBatchWorkflow children (common/dag-map.ts). Reports the DAG's seconds and status, the
 * history events of the DAG and of its batches (max and total) against Temporal's limits (51,200 events
 * refused, 10,240 warned), the size of the DAG's final state, and checks that every item inserted its row
 * exactly once. Services: a dev server and Postgres of its own (bench/support.ts); the worker in its own process.
 */
import { Client, Connection } from '@temporalio/client';
import { benchPool, peakRssMb, startBenchServices, startWorkerProcess, stopProcess } from './support';
import { WORKFLOW_TYPES } from '../common/names';
import type { DagSpec, DagState } from '../common/dag';

const arg = (args: string[], name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const log = (msg: string) => console.log(`[bench dagmap ${new Date().toISOString().slice(11, 19)}] ${msg}`);

interface HistoryEvent {
  startChildWorkflowExecutionInitiatedEventAttributes?: { workflowId?: string | null } | null;
}

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const items = arg(args, 'items', 5000);
  const batchSize = arg(args, 'batch-size', 200);
  const parallelism = arg(args, 'parallelism', 10);
  log('starting Temporal dev server and Postgres');
  const services = await startBenchServices();
  const db = benchPool(services.pg.url);
  const connection = await Connection.connect({ address: services.temporal.address });
  const client = new Client({ connection });
  const id = `bench_dagmap_${Date.now().toString(36)}`;
  const taskQueue = `tq_${id}`;
  const worker = await startWorkerProcess({ address: services.temporal.address, databaseUrl: services.pg.url, taskQueue });
  try {
    await db.query(`CREATE TABLE public.${id} (n int)`);
    const spec: DagSpec = {
      id,
      maxParallelism: parallelism,
      tasks: [
        {
          id: 'list',
          kind: 'sql',
          input: { statement: `SELECT array_agg(g ORDER BY g) AS ns FROM generate_series(1, ${items}) g`, returnRows: true },
        },
        {
          id: 'each',
          kind: 'sql',
          upstream: ['list'],
          map: { over: 'list', field: 'rows.0.ns', batchSize },
          input: { statement: `INSERT INTO public.${id} VALUES ($1::int)` },
        },
      ],
    };
    const workflowId = `dag/${id}`;
    log(`mapping ${items} items, ${batchSize} per batch, maxParallelism ${parallelism}`);
    const started = Date.now();
    const state = (await client.workflow.execute(WORKFLOW_TYPES.dag, { taskQueue, workflowId, args: [spec] })) as DagState;
    const seconds = (Date.now() - started) / 1000;
    log(`DAG ${state.status} in ${seconds.toFixed(1)} s`);

    const events = async (wid: string) => ((await client.workflow.getHandle(wid).fetchHistory()).events ?? []) as HistoryEvent[];
    const dagEvents = await events(workflowId);
    const children = dagEvents.flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
    const childEvents: number[] = [];
    for (const c of children) childEvents.push((await events(c)).length);
    const { rows } = await db.query<{ n: number; distinct: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT n)::int AS distinct FROM public.${id}`,
    );
    if (rows[0]!.n !== items || rows[0]!.distinct !== items)
      throw new Error(`the table holds ${rows[0]!.n} rows, ${rows[0]!.distinct} distinct, for ${items} items`);
    const each = state.tasks.each!;
    const result = {
      items,
      batch_size: batchSize,
      max_parallelism: parallelism,
      status: state.status,
      each: each.state,
      counts: each.mapBatches?.counts,
      output_kept: Array.isArray(each.output),
      seconds: Number(seconds.toFixed(1)),
      items_per_s: Number((items / seconds).toFixed(1)),
      batches: children.length,
      events_dag: dagEvents.length,
      events_child_max: Math.max(0, ...childEvents),
      events_children_total: childEvents.reduce((a, b) => a + b, 0),
      events_total: dagEvents.length + childEvents.reduce((a, b) => a + b, 0),
      events_limit: 51_200,
      state_bytes: JSON.stringify(state).length,
      rows_inserted: rows[0]!.n,
      worker_peak_rss_mb: peakRssMb(worker.pid!),
    };
    log(
      `events: DAG ${result.events_dag}, ${children.length} batches max ${result.events_child_max} (total ${result.events_children_total}); state ${result.state_bytes} bytes`,
    );
    return result;
  } finally {
    await stopProcess(worker);
    await db.end();
    await connection.close();
    await services.stop();
  }
}
