/**
 * `npm run bench -- chunks [--chunks 5000] [--per-workflow 500]`
 *
 * A run of many chunks: a model of `chunks` rows upserted into Salesforce Contacts through sObject
 * Collections with `chunkSize: 1`, so every row is a chunk (the shape of Actito one-by-one writes or a
 * small `chunkSize`). The run fans its writes out to child workflows of `per-workflow` chunks each
 * (workflows/write-chunks.ts). Reports the run's seconds and the history events of every execution it
 * took: the activation, the run, each write child (max and total) — against Temporal's limits (51,200
 * events refused, 10,240 warned) — and checks the emulator holds one Contact per row.
 * Services: a dev server and Postgres of its own (bench/support.ts); the worker in its own process.
 */
import { Client, Connection } from '@temporalio/client';
import { startSalesforceEmulator } from '../emulators/salesforce/server';
import { benchPool, peakRssMb, startBenchServices, startWorkerProcess, stopProcess } from './support';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../common/names';
import { triggerSyncUpdate } from '../workflows/messages';

const arg = (args: string[], name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const log = (msg: string) => console.log(`[bench chunks ${new Date().toISOString().slice(11, 19)}] ${msg}`);

interface StartedChild {
  startChildWorkflowExecutionInitiatedEventAttributes?: { workflowId?: string | null } | null;
}

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const chunks = arg(args, 'chunks', 5000);
  const perWorkflow = arg(args, 'per-workflow', 500);
  log('starting Temporal dev server, Postgres and the Salesforce emulator');
  const services = await startBenchServices();
  const emu = await startSalesforceEmulator({ port: 0 });
  const db = benchPool(services.pg.url);
  const connection = await Connection.connect({ address: services.temporal.address });
  const client = new Client({ connection });
  const id = `bench_chunks_${Date.now().toString(36)}`;
  const taskQueue = `tq_${id}`;
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  const worker = await startWorkerProcess({
    address: services.temporal.address,
    databaseUrl: services.pg.url,
    taskQueue,
    connections: { sf },
  });
  try {
    await db.query(`CREATE TABLE public.${id} AS SELECT 'K' || g AS id, 'name ' || g AS last_name FROM generate_series(1, $1::int) g`, [
      chunks,
    ]);
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
            // Collections whatever the delta's size: a one-row Bulk job per chunk is not what this measures.
            destination: {
              kind: 'salesforce',
              connection: 'sf',
              object: 'Contact',
              key: 'External_Id__c',
              options: { bulkThreshold: 1_000_000 },
            },
            mappings: [
              { from: 'id', to: 'External_Id__c' },
              { from: 'last_name', to: 'LastName' },
            ],
            chunkSize: 1,
            chunksPerWorkflow: perWorkflow,
          },
        },
      ],
    });
    log(`syncing ${chunks} rows as ${chunks} one-row chunks, ${perWorkflow} per workflow`);
    const started = Date.now();
    const summary = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
    const seconds = (Date.now() - started) / 1000;
    log(`run ${summary.runNumber}: ${summary.status} in ${seconds.toFixed(1)} s`);

    const events = async (workflowId: string) => (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const runId = runWorkflowId(id, summary.runNumber);
    const runEvents = await events(runId);
    const children = (runEvents as StartedChild[]).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
    const childEvents = await Promise.all(children.map(async (c) => (await events(c)).length));
    const activationEvents = (await events(activationWorkflowId(id))).length;
    const contacts = (await (await fetch(`${emu.url}/__admin/records/Contact`)).json()) as Array<{ External_Id__c?: string }>;
    const keys = new Set(contacts.map((c) => c.External_Id__c));
    const present = [...Array(chunks).keys()].filter((i) => keys.has(`K${i + 1}`)).length;
    if (present !== chunks || contacts.length !== chunks)
      throw new Error(`the emulator holds ${contacts.length} Contacts, ${present} of ${chunks} keys`);
    const result = {
      chunks,
      per_workflow: perWorkflow,
      status: summary.status,
      succeeded: summary.ops.upsert?.succeeded ?? 0,
      seconds: Number(seconds.toFixed(1)),
      chunks_per_s: Number((chunks / seconds).toFixed(1)),
      write_children: children.length,
      events_run: runEvents.length,
      events_child_max: Math.max(0, ...childEvents),
      events_children_total: childEvents.reduce((a, b) => a + b, 0),
      events_activation: activationEvents,
      events_limit: 51_200,
      worker_peak_rss_mb: peakRssMb(worker.pid!),
    };
    log(
      `events: run ${result.events_run}, ${children.length} children max ${result.events_child_max} (total ${result.events_children_total}), activation ${activationEvents}`,
    );
    await client.workflow.getHandle(activationWorkflowId(id)).terminate('benchmark done');
    return result;
  } finally {
    await stopProcess(worker);
    await db.end();
    await connection.close();
    await emu.close();
    await services.stop();
  }
}
