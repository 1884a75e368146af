/**
 * The org's request slots must not be leased through the pool a Bulk chunk's results recorder
 * (ChunkWrite.recordStream → db/delta.ts recordOutcomeStream) holds a connection of, in a transaction,
 * while it pulls the results: the pull opens the results download, which must first lease a slot. When as
 * many chunks as the pool has connections reach that point together (a worker reading the results of
 * several finished jobs), every connection is held by a recorder waiting for a slot; with the slots on the
 * same pool, no lease query could run and the worker stopped for good (its heartbeats went on).
 *
 * Played here with the worker's own construction (client/plugin.ts createWorkerDeps, with a pool of 3
 * connections, and the limits `buildContext` hands to contexts), the runtime's recorder on a real delta
 * table, and 3 Bulk chunks whose recorders start pulling together, once they hold every connection of the
 * activities' pool (the barrier only picks the interleaving that load produces). A deadlock shows as the
 * test's timeout.
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns salesforce-limits-pool
 */
import { sql } from 'kysely';
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { admin as emulatorAdmin } from '../../emulators/salesforce/conformance-helpers';
import { createWorkerDeps } from '../../client/plugin';
import { destinationLimits } from '../../activities/run-context';
import { recordOutcomeStream } from '../../db/delta';
import { deltaTable } from '../../db/work-tables';
import { outcomes } from '../../activities/write';
import { salesforceConnector as sf } from '../../connectors/salesforce/index';
import { resetClients } from '../../connectors/salesforce/client';
import type { SalesforceConnection } from '../../connectors/salesforce/config';
import { drive, field, makeContext, MemoryChunk, outRow } from '../../connectors/salesforce/test-harness';
import type { RowResult } from '../../connectors/types';
import { env } from '../support/harness';

const POOL = 3;

test(`${POOL} Bulk chunks reading their results at once on a worker whose activities' pool has ${POOL} connections, all held by their recorders: all finish`, async () => {
  const emu = await startSalesforceEmulator({ bulkProcessingDelayMs: 10 });
  const worker = createWorkerDeps({ databaseUrl: env().databaseUrl, poolSize: POOL, migrate: false });
  const { pool, db } = worker.deps;
  try {
    resetClients();
    const connection: SalesforceConnection = {
      auth: 'client_credentials',
      loginUrl: emu.url,
      clientId: 'syncline-demo-client',
      clientSecret: 'syncline-demo-secret',
      maxConcurrentRequests: 10,
    };
    const limits = destinationLimits(worker.deps);
    const runIds = Array.from({ length: POOL }, (_, i) => 900_000_000 + Math.floor(Math.random() * 1_000_000) * 10 + i);
    let arrived = 0;
    // The activities' pool when the last recorder arrives: every connection held, none idle.
    let poolAtBarrier: { total: number; idle: number } | undefined;
    let open!: () => void;
    const allArrived = new Promise<void>((r) => (open = r));

    /** MemoryChunk whose stream recorder is the runtime's (a transaction on the pool, COPY from the results). */
    class PgChunk extends MemoryChunk {
      constructor(
        private readonly runId: number,
        rows: ReturnType<typeof outRow>[],
        n: number,
      ) {
        super('upsert', rows, n);
      }
      override recordStream(results: AsyncIterable<RowResult[]>): Promise<number> {
        const seen = this.results;
        async function* tee(): AsyncGenerator<RowResult[]> {
          // Every recorder holds its connection before any pulls: the interleaving of a busy worker.
          if (++arrived === POOL) {
            poolAtBarrier = { total: pool.totalCount, idle: pool.idleCount };
            open();
          }
          await allArrived;
          for await (const batch of results) {
            for (const r of batch) seen.set(r.key, r);
            yield batch;
          }
        }
        return recordOutcomeStream(db, pool, String(this.runId), outcomes(tee()));
      }
    }

    const FIELDS = [field('External_Id__c', 'text', { isKey: true, from: 'id' }), field('LastName')];
    const work = runIds.map((runId, c) => {
      const rows = Array.from({ length: 50 }, (_, i) => outRow(`p${c}-${i}`, { External_Id__c: `p${c}-${i}`, LastName: `L ${i}` }));
      const ctx = makeContext({
        connection,
        object: 'Contact',
        key: 'External_Id__c',
        mode: 'upsert',
        fields: FIELDS,
        options: { bulkPollMs: 50 },
      });
      ctx.limits = limits;
      return { runId, rows, ctx, chunk: new PgChunk(runId, rows, c) };
    });
    for (const w of work) {
      await sql`CREATE TABLE ${deltaTable(w.runId)} (key text, status text, code text, message text, retryable boolean, result_id text)`.execute(
        db,
      );
      await sql`INSERT INTO ${deltaTable(w.runId)} (key, status) SELECT unnest(${w.rows.map((r) => r.key)}::text[]), 'pending'`.execute(db);
    }
    try {
      await Promise.all(work.map((w) => drive(sf, w.ctx, w.chunk, { method: 'bulk2', chunkSize: 150000 }, 1)));
      expect(poolAtBarrier).toEqual({ total: POOL, idle: 0 });
      for (const w of work) {
        const st = await sql<{
          status: string;
          n: number;
        }>`SELECT status, count(*)::int AS n FROM ${deltaTable(w.runId)} GROUP BY 1`.execute(db);
        expect(st.rows).toEqual([{ status: 'ok', n: 50 }]);
      }
      expect(((await emulatorAdmin(emu, 'GET', '/records/Contact')) as unknown[]).length).toBe(50 * POOL);
    } finally {
      for (const w of work) await sql`DROP TABLE IF EXISTS ${deltaTable(w.runId)}`.execute(db).catch(() => undefined);
    }
  } finally {
    await worker.close().catch(() => undefined);
    await emu.close();
  }
}, 90_000);
