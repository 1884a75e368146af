/**
 * What a Salesforce integration test through Temporal starts and stops: the in-process Salesforce emulator,
 * a worker on a task queue of its own with the emulator as connection `sf`, a Temporal client, the typed
 * syncline client and a pool on the state database. Call at the top level of a test file; the fields are
 * set by its beforeAll, which runs before the file's own.
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { SynclineClient } from '../../client';
import type { RunSummary } from '../../common/run';
import { activationWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';
import { emulatorAdmin } from './emulator-admin';
import { env, sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from './harness';

export interface SalesforceStage {
  taskQueue: string;
  emu: SalesforceEmulator;
  worker: RunningWorker;
  client: Client;
  syncline: SynclineClient;
  db: pg.Pool;
  /** The emulator's Contacts whose External_Id__c starts with `prefix`, ignoring case. */
  contacts(prefix: string): Promise<Array<Record<string, unknown>>>;
  /** A run of activation `id` now (the triggerSync update), its summary. */
  sync(id: string): Promise<RunSummary>;
}

export function salesforceStage(taskQueuePrefix: string): SalesforceStage {
  const stage = {
    taskQueue: uniqueName(taskQueuePrefix),
    async contacts(prefix: string) {
      const all = await emulatorAdmin<Array<Record<string, unknown>>>(stage.emu.url, '/records/Contact');
      return all.filter((r) => typeof r.External_Id__c === 'string' && r.External_Id__c.toUpperCase().startsWith(prefix));
    },
    sync: (id: string) => stage.client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] }),
  } as SalesforceStage;
  beforeAll(async () => {
    stage.emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
    const sf = {
      auth: 'client_credentials',
      loginUrl: stage.emu.url,
      clientId: 'syncline-demo-client',
      clientSecret: 'syncline-demo-secret',
    };
    [stage.worker, stage.client] = await Promise.all([startWorker({ taskQueue: stage.taskQueue, connections: { sf } }), testClient()]);
    stage.syncline = new SynclineClient({ client: stage.client, taskQueue: stage.taskQueue, databaseUrl: env().databaseUrl });
    stage.db = sqlClient();
  });
  afterAll(async () => {
    await stage.worker?.stop();
    await stage.db?.end();
    await stage.client?.connection.close();
    await stage.emu?.close();
  });
  return stage;
}
