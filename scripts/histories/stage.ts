/** What the recording scenarios share: clients, the worker's connections, the emulators, the webhook receiver. */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { SynclineClient } from '../../client';
import type { ConnectionMap } from '../../connectors/connections';
import type { RunSummary } from '../../common/run';
import { DEMO_CREDENTIALS, type SalesforceEmulator } from '../../emulators/salesforce/server';
import type { Recorder } from './recorder';
import { ROW_SENTINEL } from './set';

export type EmulatorName = 'main' | 'bulk' | 'stuck' | 'reserve' | 'exhausted' | 'exhaustedSmall' | 'reset' | 'slow' | 'held' | 'waits';

export interface Stage {
  rec: Recorder;
  client: Client;
  syncline: SynclineClient;
  taskQueue: string;
  sql: pg.Pool;
  /** Answers 204; with "refuse" in the URL it answers 400 (a notice that cannot be delivered). */
  hookUrl: string;
  /** The worker's connection overrides: replacing an entry is how a fixed credential reaches it. */
  connections: ConnectionMap;
  /** One emulator per fault set, so that one scenario's switches never slow or fail another's run. */
  emulators: Record<EmulatorName, SalesforceEmulator>;
  /**
   * The next try of `activity` for activation `activationId` meets a refusal no retry mends (a Postgres
   * program limit, SQLSTATE 54000, as activities/failure.ts words it): the state database failing at a step.
   */
  refuseNext(activity: string, activationId: string): void;
  /**
   * A worker of its own on `taskQueue` (nothing else polls it): a scenario stops it to keep its activation without
   * a worker for a while. `delays`: activity types that start that many ms late on it.
   */
  worker(taskQueue: string, delays?: Record<string, number>): Promise<() => Promise<void>>;
}

export function sfConnection(emu: SalesforceEmulator, clientSecret: string = DEMO_CREDENTIALS.clientSecret): Record<string, unknown> {
  return { auth: 'client_credentials', loginUrl: emu.url, clientId: DEMO_CREDENTIALS.clientId, clientSecret };
}

/** A model of `rows` customers in hist.<id>; every value carries ROW_SENTINEL (it must never reach history). */
export async function createModel(s: Stage, id: string, rows: number): Promise<void> {
  await s.sql
    .query(`CREATE TABLE hist.${id} AS SELECT '${id.toUpperCase()}-${ROW_SENTINEL}-' || g AS id, '${ROW_SENTINEL} ' || g AS last_name,
    '${ROW_SENTINEL.toLowerCase()}.' || g || '@example.com' AS email FROM generate_series(1, ${rows}) g`);
}

export interface ActivationOptions {
  mode?: string;
  connection?: string;
  schedule?: Record<string, unknown>;
  options?: Record<string, unknown>;
  /** Named connection of the warning webhook (default "hooks"). */
  hook?: string;
  extra?: Record<string, unknown>;
}

/** Contacts keyed on External_Id__c; runs of 50 rows or more take Bulk API 2.0, polled every second. */
export function activation(s: Stage, id: string, o: ActivationOptions = {}): Record<string, unknown> {
  return {
    id,
    mode: o.mode ?? 'upsert',
    schedule: o.schedule ?? { manual: true },
    source: { table: `hist.${id}`, key: 'id' },
    destination: {
      kind: 'salesforce',
      connection: o.connection ?? 'sf',
      object: 'Contact',
      key: 'External_Id__c',
      options: { bulkThreshold: 50, bulkPollMs: 0, ...o.options },
    },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'last_name', to: 'LastName' },
      { from: 'email', to: 'Email' },
    ],
    warnings: { connection: o.hook ?? 'hooks' },
    ...o.extra,
  };
}

/** The emulator's admin API (faults, quota). */
export async function emulatorAdmin(url: string, path: string, init: RequestInit): Promise<void> {
  const res = await fetch(`${url}/__admin${path}`, { ...init, headers: { 'Content-Type': 'application/json' } });
  if (!res.ok) throw new Error(`emulator admin ${init.method} ${path}: ${res.status} ${await res.text()}`);
}

/** The scenario stops when a run did not take the path its history is named for. */
export function expectRun(what: string, run: RunSummary, ok: (r: RunSummary) => boolean): RunSummary {
  if (!ok(run))
    throw new Error(
      `${what}: unexpected run ${JSON.stringify({ status: run.status, ops: run.ops, error: run.error, heldDeletes: run.heldDeletes })}`,
    );
  return run;
}
