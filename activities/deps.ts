import type pg from 'pg';
import type { Kysely } from 'kysely';
import type { Client } from '@temporalio/client';
import type { Database } from '../db/database';
import type { DestinationConnector, SharedLimits } from '../connectors/types';

/** What the worker hands to the activities (createActivities(deps)). */
export interface SynclineDeps {
  pool: pg.Pool;
  db: Kysely<Database>;
  /**
   * The destination limits (docs/limits.md), on a pool of their own (client/plugin.ts createWorkerDeps):
   * never behind activities that hold a connection of `pool` while a request waits for a slot.
   * Absent (tests that build deps by hand): leased through `db`.
   */
  limits?: SharedLimits;
  /** The database syncline keeps its state in (the "default" connection). */
  stateDbUrl: string;
  connectors: Map<string, DestinationConnector<any>>;
  /** Credentials of a named connection (env vars or secrets file); throws SyncError CONNECTION_UNKNOWN. */
  resolveConnection(name: string): Record<string, unknown>;
  /** A Temporal client for activities that talk to other workflows (DAG tasks, warnings). */
  client(): Client;
}
