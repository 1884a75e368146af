/**
 * The destination contract suite (connectors/kit/testing/contract.ts) against the test destination,
 * whose records live in the real Postgres the integration project starts (DATABASE_URL).
 */
import pg from 'pg';
import { describeDestinationContract } from '../../connectors/kit/testing/contract';
import type { FieldSpec } from '../../connectors/types';
import {
  closeTestdbPools,
  setupTestDestination,
  testdbConnectionSchema,
  testdbConnector,
  type TestdbConnection,
  type TestdbOptions,
} from '../support/testdb-connector';

const OBJECT = `contract_${process.pid}`;
let db: pg.Pool;
const url = () => process.env.DATABASE_URL!;
const spec = (from: string, to: string, pgType = 'text', isKey = false): FieldSpec => ({ from, to, pgType, isKey });

describeDestinationContract<TestdbConnection, TestdbOptions>({
  connector: testdbConnector,
  start: async () => {
    await setupTestDestination(url());
    db = new pg.Pool({ connectionString: url(), max: 2 });
  },
  stop: async () => {
    await db.end();
    await closeTestdbPools();
  },
  reset: async () => {
    await db.query('DELETE FROM test_dest.records WHERE object = $1', [OBJECT]);
    await db.query('DELETE FROM test_dest.faults WHERE object = $1', [OBJECT]);
  },
  connection: () => testdbConnectionSchema.parse({ url: url() }),
  refusedConnection: () => testdbConnectionSchema.parse({ url: url(), revoked: true }),
  address: OBJECT,
  mapping: () => ({ key: 'ext_id', fields: [spec('id', 'ext_id', 'text', true), spec('name', 'name')] }),
  values: (_mode, key, version) => ({ ext_id: key, name: `v${version}` }),
  records: async () =>
    (
      await db.query<{ key: string; name: string }>(`SELECT key, "values"->>'name' AS name FROM test_dest.records WHERE object = $1`, [
        OBJECT,
      ])
    ).rows.map((r) => ({ key: r.key, version: Number(r.name.slice(1)) })),
  fieldItCannotTake: spec('photo', 'photo', 'bytea'),
  optionsFor: () => ({ chunkSize: 2 }),
  refuse: async (_mode, key) => {
    await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable) VALUES ($1, $2, 'INVALID_VALUE', false)`, [OBJECT, key]);
    return { ext_id: key, name: 'v1' };
  },
  // A retryable refusal of one row, once: the runtime's re-send round writes it.
  failOnce: async (_method, key) => {
    await db.query(`INSERT INTO test_dest.faults (object, key, code, retryable, times) VALUES ($1, $2, 'UNABLE_TO_LOCK_ROW', true, 1)`, [
      OBJECT,
      key,
    ]);
  },
  armed: async () =>
    Number(
      (await db.query(`SELECT coalesce(sum(times), 0) AS n FROM test_dest.faults WHERE object = $1 AND retryable`, [OBJECT])).rows[0].n,
    ),
  invalidOption: { name: 'chunkSize', value: 0 },
});
