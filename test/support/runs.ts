/**
 * Drives a run's activities directly (no Temporal), step by step, on the real Postgres: for tests that
 * need to stop between two steps — a crash of Postgres, a retried activity, a run that never commits.
 */
import type pg from 'pg';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sql } from 'kysely';
import { createDb, createPool } from '../../db/connect';
import { createConnectionResolver, type ConnectionMap } from '../../connectors/connections';
import { parseActivationConfig, type ActivationConfig } from '../../common/config';
import type { SynclineDeps } from '../../activities/deps';
import { prepareRun, checkDestination } from '../../activities/prepare';
import { extractModel } from '../../activities/extract';
import { computeDelta, type ComputeDeltaResult } from '../../activities/delta';
import { writeChunk } from '../../activities/write';
import { commitRun } from '../../activities/commit';
import type { RunSummary, RunTrigger } from '../../common/run';
import { testdbConnector, setupTestDestination } from './testdb-connector';
import { createClient } from '../../db/connect';
import { env, sqlClient } from './harness';

export interface DirectDeps {
  deps: SynclineDeps;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Activities' dependencies on `url`, with the test destination installed. `options` go to every connection (e.g. `-c enable_hashjoin=off`). */
export async function directDeps(url: string, opts: { connections?: ConnectionMap; pgOptions?: string } = {}): Promise<DirectDeps> {
  await setupTestDestination(url);
  const pool = createPool(url, 4, opts.pgOptions ? { options: opts.pgOptions } : {});
  const deps: SynclineDeps = {
    pool,
    db: createDb(pool),
    stateDbUrl: url,
    connectors: new Map([[testdbConnector.kind, testdbConnector]]),
    resolveConnection: createConnectionResolver({ stateDbUrl: url, overrides: { testdb: { url }, ...(opts.connections ?? {}) } }),
    // No workflow runs in direct activity tests: a run's workflow is never found open (activities/run-workflows.ts).
    client: () =>
      ({
        workflow: {
          getHandle: (workflowId: string) => ({
            describe: () => Promise.reject(new WorkflowNotFoundError('no workflows in direct activity tests', workflowId, undefined)),
          }),
        },
      }) as unknown as Client,
  };
  return { deps, pool, close: () => deps.db.destroy() };
}

/**
 * For a test file that drives activities directly: registers the file's beforeAll and afterAll, which
 * open a pool on the test database (`db`, for the test's own SQL) and the activities' dependencies (`d`),
 * and close both. Read them inside tests (they are set once beforeAll has run).
 */
export function useDirectDeps(): { readonly db: pg.Pool; readonly d: DirectDeps } {
  const t = {} as { db: pg.Pool; d: DirectDeps };
  beforeAll(async () => {
    t.db = sqlClient();
    t.d = await directDeps(env().databaseUrl);
  });
  afterAll(async () => {
    await t.d?.close();
    await t.db?.end();
  });
  return t;
}

export function parsed(doc: Record<string, unknown>): ActivationConfig {
  const p = parseActivationConfig(doc);
  if (!p.ok) throw new Error(JSON.stringify(p.problems));
  return p.config;
}

/** prepare + check + extract: the run is ready for its delta. */
export async function startRun(
  deps: SynclineDeps,
  config: ActivationConfig,
  runNumber: number,
  trigger: RunTrigger = 'manual',
  full = false,
): Promise<string> {
  const { runId } = await prepareRun(deps, { activationId: config.id, runNumber, trigger, full, config });
  await checkDestination(deps, { runId });
  await extractModel(deps, { runId });
  return runId;
}

/**
 * The run's chunks marked begun, as writeChunk marks each before it calls the destination
 * (chunks.write_began, its seq range restored as claimChunk does): for a test that has a write reach the
 * destination (or not) without writeChunk, its answer lost. A chunk never marked was never sent, and its
 * rows are not listed NOT_ACKNOWLEDGED.
 */
export async function markWritesBegun(deps: SynclineDeps, runId: string, chunks?: number[]): Promise<void> {
  let q = deps.db
    .updateTable('syncline.chunks')
    .set({ write_began: true, seq_from: sql<number>`abs(seq_from)`, seq_to: sql<number>`abs(seq_to)` })
    .where('run_id', '=', runId);
  if (chunks) q = q.where('chunk', 'in', chunks);
  await q.execute();
}

/** Writes every listed chunk (test destination: synchronous, never pending). */
export async function writeAll(deps: SynclineDeps, runId: string, chunks: number[]): Promise<void> {
  for (const chunk of chunks) await writeChunk(deps, { runId, chunk });
}

/** A whole run, as the workflow would do it with no fault. */
export async function fullRun(
  deps: SynclineDeps,
  config: ActivationConfig,
  runNumber: number,
  trigger: RunTrigger = 'manual',
): Promise<{ delta: ComputeDeltaResult; summary: RunSummary }> {
  const runId = await startRun(deps, config, runNumber, trigger);
  const delta = await computeDelta(deps, { runId });
  await writeAll(deps, runId, delta.chunks);
  const summary = await commitRun(deps, { runId });
  return { delta, summary };
}

/**
 * A Postgres crash: one backend is killed with SIGKILL, so the postmaster resets every backend and runs
 * crash recovery (what a power cut or an OOM kill does; UNLOGGED tables come back empty). Resolves once
 * Postgres accepts connections again.
 */
export async function crashPostgres(url: string): Promise<void> {
  const victim = createClient({ connectionString: url });
  await victim.connect();
  const pid = Number((await victim.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  process.kill(pid, 'SIGKILL');
  await victim.end().catch(() => undefined);
  const deadline = Date.now() + 60_000;
  // The postmaster notices the dead child and restarts the cluster: wait for that to begin and end.
  await new Promise((r) => setTimeout(r, 300));
  for (;;) {
    const probe = createClient({ connectionString: url });
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      await probe.end();
      return;
    } catch (err) {
      await probe.end().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
