/**
 * The org's request slots are leased in the state Postgres through the worker's one pool, the pool that a
 * Bulk chunk's results recorder (ChunkWrite.recordStream → db/delta.ts recordOutcomeStream) holds a
 * connection of, in a transaction, while it pulls the results: the pull opens the results download, which
 * must first lease a slot. When as many chunks as the pool has connections reach that point together (a
 * worker reading the results of several finished jobs), every connection is held by a recorder waiting for
 * a slot, and no lease query can run: the worker stops for good (its heartbeats go on).
 *
 * Played here with the runtime's own pieces (PostgresLimits, recordOutcomeStream, a real delta table) and a
 * pool of 3 connections with 3 Bulk chunks whose recorders start pulling together (the barrier only picks
 * the interleaving that load produces). Fails by hanging (the test's timeout).
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns salesforce-limits-pool
 */
import { sql } from 'kysely';
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { admin as emulatorAdmin } from '../../emulators/salesforce/conformance-helpers';
import { createDb, createPool } from '../../db/connect';
import { recordOutcomeStream } from '../../db/delta';
import { deltaTable } from '../../db/work-tables';
import { outcomes } from '../../activities/write';
import { PostgresLimits } from '../../activities/destination-limits';
import { salesforceConnector as sf } from '../../connectors/salesforce/index';
import { resetClients } from '../../connectors/salesforce/client';
import type { SalesforceConnection } from '../../connectors/salesforce/config';
import { drive, field, makeContext, MemoryChunk, outRow } from '../../connectors/salesforce/test-harness';
import type { RowResult } from '../../connectors/types';
import { env } from '../support/harness';

const POOL = 3;

// Control: the same with the slots leased through a pool of their own finishes (the barrier is not what hangs).
test.each([
  ['the worker pool (as activities/run-context.ts does)', false],
  ['a pool of their own (control)', true],
])(
  `${POOL} Bulk chunks reading their results at once on a worker whose pool has ${POOL} connections, slots leased through %s: all finish`,
  async (_name, ownPool) => {
    const emu = await startSalesforceEmulator({ bulkProcessingDelayMs: 10 });
    const pool = createPool(env().databaseUrl, POOL);
    const db = createDb(pool);
    const limitsPool = ownPool ? createPool(env().databaseUrl, 2) : pool;
    try {
      resetClients();
      const connection: SalesforceConnection = {
        auth: 'client_credentials',
        loginUrl: emu.url,
        clientId: 'syncline-demo-client',
        clientSecret: 'syncline-demo-secret',
        maxConcurrentRequests: 10,
      };
      const limits = new PostgresLimits(ownPool ? createDb(limitsPool) : db, { pollMs: 10 });
      const runIds = Array.from({ length: POOL }, (_, i) => 900_000_000 + Math.floor(Math.random() * 1_000_000) * 10 + i);
      let arrived = 0;
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
            if (++arrived === POOL) open();
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
        await sql`INSERT INTO ${deltaTable(w.runId)} (key, status) SELECT unnest(${w.rows.map((r) => r.key)}::text[]), 'pending'`.execute(
          db,
        );
      }
      try {
        await Promise.all(work.map((w) => drive(sf, w.ctx, w.chunk, { method: 'bulk2', chunkSize: 150000 }, 1)));
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
      await pool.end().catch(() => undefined);
      if (ownPool) await limitsPool.end().catch(() => undefined);
      await emu.close();
    }
  },
  90_000,
);
