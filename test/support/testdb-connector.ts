/**
 * A destination for runtime tests and the fallback demo: records live in a Postgres table
 * (test_dest.records), so tests assert the state left in the destination with plain SQL, and it
 * survives worker crashes. Faults: rows listed in test_dest.faults fail with a given code.
 * Also the smallest complete connector: docs/connectors.md walks through it, and the contract suite
 * (connectors/kit/testing/contract.ts) runs against it in test/integration/testdb-contract.test.ts.
 */
import pg from 'pg';
import { createPool } from '../../db/connect';
import { z } from 'zod';
import { SyncError } from '../../common/errors';
import { STANDARD_MODES } from '../../common/sync-modes';
import type { DestinationConnector, OutRow, RowResult } from '../../connectors/types';

export const testdbConnectionSchema = z.object({
  url: z.string(),
  /** Milliseconds to wait per written batch (lets tests kill a worker mid-run). */
  delayMs: z.number().default(0),
  /** Simulates a revoked credential: check fails with AUTH_FAILED. */
  revoked: z.boolean().default(false),
  batchSize: z.number().default(50),
});
export type TestdbConnection = z.infer<typeof testdbConnectionSchema>;

export const testdbOptionsSchema = z.object({
  /** Rows per chunk (one write activity each). */
  chunkSize: z.number().int().positive().default(100),
});
export type TestdbOptions = z.output<typeof testdbOptionsSchema>;

const pools = new Map<string, pg.Pool>();
function pool(url: string): pg.Pool {
  let p = pools.get(url);
  if (!p) {
    p = createPool(url, 4);
    pools.set(url, p);
  }
  return p;
}

export async function closeTestdbPools(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.end()));
  pools.clear();
}

export async function setupTestDestination(url: string): Promise<void> {
  const c = new pg.Client(url);
  await c.connect();
  await c.query(`CREATE SCHEMA IF NOT EXISTS test_dest;
    CREATE TABLE IF NOT EXISTS test_dest.records (id bigserial PRIMARY KEY, object text NOT NULL, key text NOT NULL, token text UNIQUE, "values" jsonb NOT NULL, writes int NOT NULL DEFAULT 1);
    CREATE INDEX IF NOT EXISTS records_object_key ON test_dest.records (object, key);
    CREATE TABLE IF NOT EXISTS test_dest.faults (object text NOT NULL, key text NOT NULL, code text NOT NULL, retryable boolean NOT NULL DEFAULT false, times int NOT NULL DEFAULT 1000000, PRIMARY KEY (object, key));
    CREATE TABLE IF NOT EXISTS test_dest.calls (id bigserial PRIMARY KEY, object text, op text, rows int, at timestamptz DEFAULT now());`);
  await c.end();
}

async function fault(db: pg.PoolClient, object: string, key: string): Promise<{ code: string; retryable: boolean } | null> {
  const r = await db.query(
    `UPDATE test_dest.faults SET times = times - 1 WHERE object = $1 AND key = $2 AND times > 0 RETURNING code, retryable`,
    [object, key],
  );
  return r.rows[0] ?? null;
}

async function writeRow(db: pg.PoolClient, object: string, row: OutRow): Promise<RowResult> {
  const f = await fault(db, object, row.key);
  if (f)
    return {
      key: row.key,
      ok: false,
      code: f.code,
      message: `test destination refused "${row.key}" with ${f.code}`,
      retryable: f.retryable,
    };
  const values = JSON.stringify(row.values);
  if (row.op === 'create') {
    // Idempotent create: the token makes a replayed create find its first record.
    const r = await db.query(
      `INSERT INTO test_dest.records (object, key, token, "values") VALUES ($1, $2, $3, $4)
      ON CONFLICT (token) DO UPDATE SET writes = test_dest.records.writes + 1 RETURNING id`,
      [object, row.key, row.token, values],
    );
    return { key: row.key, ok: true, destinationId: String(r.rows[0].id) };
  }
  if (row.op === 'update') {
    const r = await db.query(
      `UPDATE test_dest.records SET "values" = $3, writes = writes + 1 WHERE object = $1 AND key = $2 RETURNING id`,
      [object, row.key, values],
    );
    if (r.rowCount === 0)
      return { key: row.key, ok: false, code: 'NOT_FOUND', message: `no record with key "${row.key}" to update`, retryable: false };
    return { key: row.key, ok: true, destinationId: String(r.rows[0].id) };
  }
  if (row.op === 'upsert') {
    const u = await db.query(
      `UPDATE test_dest.records SET "values" = $3, writes = writes + 1 WHERE object = $1 AND key = $2 RETURNING id`,
      [object, row.key, values],
    );
    if (u.rowCount) return { key: row.key, ok: true, destinationId: String(u.rows[0].id) };
    const r = await db.query(`INSERT INTO test_dest.records (object, key, "values") VALUES ($1, $2, $3) RETURNING id`, [
      object,
      row.key,
      values,
    ]);
    return { key: row.key, ok: true, destinationId: String(r.rows[0].id) };
  }
  await db.query(`DELETE FROM test_dest.records WHERE object = $1 AND key = $2`, [object, row.key]);
  return { key: row.key, ok: true };
}

export const testdbConnector: DestinationConnector<TestdbConnection, TestdbOptions> = {
  kind: 'testdb',
  connectionSchema: testdbConnectionSchema,
  optionsSchema: testdbOptionsSchema,
  address: { field: 'object', label: 'name of the record set in test_dest.records' },
  modes: STANDARD_MODES,
  methods: { rows: { async: false, description: 'one SQL statement per row, recorded per batch' } },
  async check(ctx) {
    if (ctx.connection.revoked)
      throw new SyncError(
        'AUTH_FAILED',
        `activation "${ctx.activationId}": the test destination refused the credentials of connection "${ctx.destination.connection}"`,
      );
    await setupTestDestination(ctx.connection.url);
    const skippedFields = ctx.fields
      .filter((f) => f.pgType === 'bytea')
      .map((f) => ({ field: f.to, reason: `a bytea column ("${f.from}") cannot be sent` }));
    return { skippedFields, missingAttributes: [], warnings: [] };
  },
  async planWrites(ctx) {
    return { method: 'rows', chunkSize: ctx.options.chunkSize };
  },
  async writeChunk(ctx, chunk) {
    const object = ctx.destination.address;
    const db = await pool(ctx.connection.url).connect();
    try {
      await db.query(`INSERT INTO test_dest.calls (object, op, rows) VALUES ($1, $2, $3)`, [object, chunk.op, chunk.rowCount]);
      for await (const batch of chunk.rows(ctx.connection.batchSize)) {
        if (ctx.connection.delayMs) await new Promise((r) => setTimeout(r, ctx.connection.delayMs));
        const results: RowResult[] = [];
        for (const row of batch) results.push(await writeRow(db, object, row));
        await chunk.record(results);
        ctx.heartbeat();
      }
    } finally {
      db.release();
    }
    return { status: 'done' };
  },
};
