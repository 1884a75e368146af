/**
 * `npm run bench -- salesforce-limits [--workers 3] [--activations 6] [--rows 3200] [--max 4] [--latency-ms 50]`
 *
 * An org's concurrent-requests limit across a cluster (docs/limits.md): `workers` production worker
 * processes write `activations` Upsert activations of `rows` rows at once into Salesforce Contacts
 * through sObject Collections (800-row chunks, four 200-record requests in flight per chunk, so the
 * cluster always has more requests ready than the org admits), against the in-process emulator refusing
 * a request above `max` in flight (403 REQUEST_LIMIT_EXCEEDED) and holding each one `latency-ms`. The
 * connection's `maxConcurrentRequests` is `max`.
 *
 * Figures: wall seconds of the runs; data requests, refusals (expected 0) and peak in flight (expected
 * `max`) from the emulator; and the throughput while writing, over the span from the first Collections
 * request to the end of the last: Collections requests per second against the ceiling `max` × 1000 /
 * `latency-ms` (each request lasts at least `latency-ms`), and the share of the org's slots kept busy
 * (the data requests' summed durations over `max` × span). Services: a dev server and Postgres of its own.
 */
import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { startSalesforceEmulator } from '../emulators/salesforce/server';
import type { LoggedRequest } from '../emulators/salesforce/state';
import { benchPool, startBenchServices, startWorkerProcess, stopProcess } from './support';
import { WORKFLOW_TYPES, activationWorkflowId } from '../common/names';
import { triggerSyncUpdate } from '../workflows/messages';

const num = (args: string[], name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const log = (msg: string) => console.log(`[bench salesforce-limits ${new Date().toISOString().slice(11, 19)}] ${msg}`);

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const workers = num(args, 'workers', 3);
  const activations = num(args, 'activations', 6);
  const rows = num(args, 'rows', 3200);
  const max = num(args, 'max', 4);
  const latencyMs = num(args, 'latency-ms', 50);
  log('starting Temporal dev server, Postgres and the Salesforce emulator');
  const services = await startBenchServices();
  const emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  const db = benchPool(services.pg.url);
  const connection = await Connection.connect({ address: services.temporal.address });
  const client = new Client({ connection });
  const prefix = `sflim_${Date.now().toString(36)}`;
  const taskQueue = `tq_${prefix}`;
  const sf = {
    auth: 'client_credentials',
    loginUrl: emu.url,
    clientId: 'syncline-demo-client',
    clientSecret: 'syncline-demo-secret',
    maxConcurrentRequests: max,
  };
  const procs: ChildProcess[] = [];
  try {
    const ids = Array.from({ length: activations }, (_, i) => `${prefix}_${i + 1}`);
    for (const id of ids) {
      await db.query(
        `CREATE TABLE public.${id} AS SELECT '${id}-' || g AS id, 'Last ' || g AS last_name FROM generate_series(1, $1::int) g`,
        [rows],
      );
      await client.workflow.start(WORKFLOW_TYPES.activation, {
        taskQueue,
        workflowId: activationWorkflowId(id),
        args: [
          {
            config: {
              id,
              mode: 'upsert',
              schedule: { manual: true },
              source: { table: `public.${id}`, key: 'id' },
              destination: {
                kind: 'salesforce',
                connection: 'sf',
                object: 'Contact',
                key: 'External_Id__c',
                options: { bulkThreshold: 1_000_000, collectionsChunkSize: 800, concurrency: 4 },
              },
              mappings: [
                { from: 'id', to: 'External_Id__c' },
                { from: 'last_name', to: 'LastName' },
              ],
            },
          },
        ],
      });
    }
    log(`${workers} worker(s); ${activations} activations of ${rows} rows; org limit ${max} in flight, ${latencyMs} ms a request`);
    for (let w = 0; w < workers; w++)
      procs.push(
        await startWorkerProcess({ address: services.temporal.address, databaseUrl: services.pg.url, taskQueue, connections: { sf } }),
      );
    await fetch(`${emu.url}/__admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ concurrentRequests: { max, latencyMs } }),
    });
    await fetch(`${emu.url}/__admin/requests`, { method: 'DELETE' });
    const t0 = Date.now();
    const summaries = await Promise.all(
      ids.map((id) => client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] })),
    );
    const seconds = (Date.now() - t0) / 1000;
    const seen = (await (await fetch(`${emu.url}/__admin/requests`)).json()) as {
      requests: LoggedRequest[];
      concurrency: { peak: number; rejected: number };
    };
    const data = seen.requests.filter((r) => r.path.startsWith('/services/data/'));
    const writes = data.filter((r) => r.category === 'composite');
    const start = Math.min(...writes.map((r) => Date.parse(r.time)));
    const end = Math.max(...writes.map((r) => Date.parse(r.time) + r.durationMs));
    const spanS = (end - start) / 1000;
    const busyMs = data.filter((r) => Date.parse(r.time) >= start).reduce((a, r) => a + r.durationMs, 0);
    const contacts = ((await (await fetch(`${emu.url}/__admin/records/Contact`)).json()) as unknown[]).length;
    const result = {
      workers,
      activations,
      rows,
      max,
      latency_ms: latencyMs,
      runs_succeeded: summaries.filter((s) => s.status === 'success').length,
      contacts_written: contacts,
      seconds: Number(seconds.toFixed(1)),
      data_requests: data.length,
      refused: seen.concurrency.rejected,
      peak_in_flight: seen.concurrency.peak,
      collections_requests: writes.length,
      write_span_s: Number(spanS.toFixed(2)),
      collections_per_s: Number((writes.length / spanS).toFixed(1)),
      ceiling_per_s: Number(((max * 1000) / latencyMs).toFixed(1)),
      slots_busy: Number((busyMs / (max * spanS * 1000)).toFixed(2)),
    };
    log(JSON.stringify(result));
    return result;
  } finally {
    for (const p of procs) await stopProcess(p);
    await db.end();
    await connection.close();
    await emu.close();
    await services.stop();
  }
}
