/**
 * One Actito table has one daily import allowance, and one licence one set of request slots, however the
 * activations name them (connectors/actito/README.md "Daily quota", docs/limits.md): real Postgres shared
 * limits (PostgresLimits, as the workers use) and the Actito emulator over HTTP.
 *
 * 1. Two activations write the custom table `orders` (and the profile table `main`), one naming both by
 *    name, the other by id on a connection whose base URL is spelled differently: together they start no
 *    more imports a day than the allowance.
 * 2. Imports counted before the upgrade under the old scopes (the table as configured: by name, by id) still
 *    count today.
 * 3. Two connections to one licence, base URL spelled differently: together at most `maxInFlight` in flight.
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns actito-quota-scope
 */
import type pg from 'pg';
import { PostgresLimits } from '../../activities/destination-limits';
import { ActitoClient } from '../../connectors/actito/client';
import { type ActitoConnection, connectionSchema } from '../../connectors/actito/config';
import { actitoConnector as actito } from '../../connectors/actito/index';
import { drive, emulatorAdmin, field, makeContext, outRow } from '../../connectors/actito/test-harness';
import type { FieldSpec } from '../../connectors/types';
import { createDb, createPool } from '../../db/connect';
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import { env, uniqueName } from '../support/harness';

const FIELDS: FieldSpec[] = [
  field('order_id', 'orderId', 'text', { isKey: true }),
  field('customer_id', 'customerId', 'text'),
  field('status', 'status', 'text'),
  field('email', 'profile.emailAddress', 'text'),
];
const order = (p: string, i: number) =>
  outRow(`${p}${i}`, { orderId: `${p}${i}`, customerId: `C${i % 3}`, status: 'PAID', 'profile.emailAddress': `c${i % 3}@example.com` });
const today = (): string => new Date().toISOString().slice(0, 10);

let pool: pg.Pool;
let limits: PostgresLimits;
const emus: ActitoEmulator[] = [];

beforeAll(() => {
  pool = createPool(env().databaseUrl, 4);
  limits = new PostgresLimits(createDb(pool), { pollMs: 10 });
});
afterAll(async () => {
  limits.close();
  await Promise.all(emus.map((e) => e.close()));
  await pool.end();
});

async function emulator(opts: Parameters<typeof startActitoEmulator>[0] = {}): Promise<ActitoEmulator> {
  // A fresh entity: the counters of one test are not another's.
  const emu = await startActitoEmulator({ callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10, entity: uniqueName('ent'), ...opts });
  emus.push(emu);
  for (let i = 0; i < 3; i++) emu.state.profiles.insert({ customerId: `C${i}`, emailAddress: `c${i}@example.com` });
  return emu;
}

/** The same address spelled otherwise (upper-case scheme and host, a trailing slash): the same Actito. The emulator listens on an IP, whose case does not change; unit.test.ts has the host name case and the default port. */
const respelled = (url: string): string => url.replace(/^http:\/\/([^/]+)/, (_, host: string) => `HTTP://${host.toUpperCase()}/`);

function activation(conn: ActitoConnection, table: string, profileTable: string, id: string) {
  const ctx = makeContext({
    connection: conn,
    table,
    key: 'orderId',
    mode: 'upsert',
    fields: FIELDS,
    activationId: id,
    // Allowance 3 a day: 4 per day, 1 kept in reserve for other tools. 10 rows per import.
    options: {
      bulkThreshold: 10,
      pollAfterMs: 10,
      bulkChunkSize: 10,
      bulkImportsPerDay: 4,
      bulkImportsReserve: 1,
      profiles: { table: profileTable, matchAttribute: 'customerId', mode: 'upsert' },
    },
  });
  return { ...ctx, limits };
}

test('two activations naming one table (and one profile table) differently start no more imports a day than the allowance together', async () => {
  const emu = await emulator();
  const admin = emulatorAdmin(() => emu.url);
  const byName = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  const byId = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: respelled(emu.url), entity: emu.entity });
  const a = activation(byName, 'orders', 'main', 'act-by-name');
  const b = activation(byId, emu.state.tables.customTable('orders')!.id, emu.state.profiles.id, 'act-by-id');

  for (const [ctx, p] of [
    [a, 'A'],
    [b, 'B'],
  ] as const) {
    await actito.check(ctx);
    const { results } = await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 20 }, (_, i) => order(p, i)),
    );
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
  }

  // Every row is in Actito; the imports the emulator started: 3 on each table (the rest went one by one).
  expect(emu.state.tables.customTable('orders')!.size).toBe(40);
  const quota = (await admin('GET', '/bulk-quota')) as { used: Record<string, number> };
  expect({ orders: quota.used.orders, main: quota.used.main }).toEqual({ orders: 3, main: 3 });
  expect(await actito.quota!(a)).toEqual({ used: 3, max: 3 });
  expect(await actito.quota!(b)).toEqual({ used: 3, max: 3 });
});

test('imports counted today under the old scopes (the table as configured: by name, by id) still count', async () => {
  const emu = await emulator();
  const conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  const id = emu.state.tables.customTable('orders')!.id;
  // The release before counted per configured spelling: one import by an activation naming the table, one by
  // an activation naming its id, and one on the profile table by name.
  const old = (t: string): string => `actito:imports:${conn.baseUrl}/${conn.entity}/${t}`;
  expect(await limits.take(old('orders'), today(), 1, 24)).toBe(true);
  expect(await limits.take(old(id), today(), 1, 24)).toBe(true);
  expect(await limits.take(old('main'), today(), 1, 24)).toBe(true);

  const a = activation(conn, 'orders', 'main', 'act-upgraded');
  await actito.check(a);
  expect(await actito.quota!(a)).toEqual({ used: 2, max: 3 });
  const { results } = await drive(
    actito,
    a,
    'upsert',
    Array.from({ length: 30 }, (_, i) => order('U', i)),
  );
  expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
  // One import left on `orders` (3 - 2), two on `main` (3 - 1): the profile phase of a chunk whose records
  // cannot be imported still imports, so `main` gets two, `orders` one.
  const quota = (await emulatorAdmin(() => emu.url)('GET', '/bulk-quota')) as { used: Record<string, number> };
  expect({ orders: quota.used.orders ?? 0, main: quota.used.main ?? 0 }).toEqual({ orders: 1, main: 2 });
  expect(await actito.quota!(a)).toEqual({ used: 3, max: 3 });
});

test('two connections to one licence, base URL spelled differently, keep together to maxInFlight', async () => {
  const emu = await emulator({ maxConcurrent: 3, callsPerMinute: 0, throttleDelayMs: 30 });
  const admin = emulatorAdmin(() => emu.url);
  const clients = [emu.url, respelled(emu.url)].map((baseUrl) => {
    const c = new ActitoClient(connectionSchema.parse({ apiKey: emu.apiKey, baseUrl, entity: emu.entity, maxInFlight: 3 }));
    c.limits = limits;
    c.backoffMs = 5;
    return c;
  });
  const path = `/custom-table-structure/v5/entities/${encodeURIComponent(emu.entity)}/custom-tables`;
  for (const c of clients) await c.request('GET', path, { kind: 'schema' }); // tokens first
  await admin('DELETE', '/requests');
  const settled = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => clients[i % 2]!.request('GET', path, { kind: 'schema' })));
  // No 429 for going over the licence's 3 (a 429 is retried, so the emulator's count is the check), and the slots are used.
  const log = (await admin('GET', '/requests')) as { concurrency: { rejected: number; peak: number } };
  expect(log.concurrency).toMatchObject({ rejected: 0, peak: 3 });
  expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
});
