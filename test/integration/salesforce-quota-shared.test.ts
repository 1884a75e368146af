/**
 * The org's daily API request figure shared across workers through the state Postgres (docs/limits.md,
 * "Salesforce"): the freshest figure any worker observed wins, a lower fresher one included (the org's
 * rolling count dropped). Two workers are played by two coordinators on the same database, each with its
 * own client (own jsforce connection, own Sforce-Limit-Info figure) of one emulated org.
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns salesforce-quota-shared
 */
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { admin as emulatorAdmin } from '../../emulators/salesforce/conformance-helpers';
import { createWorkerDeps } from '../../client/plugin';
import { PostgresLimits } from '../../activities/destination-limits';
import { QuotaWaitError } from '../../common/errors';
import { salesforceConnector as sf } from '../../connectors/salesforce/index';
import { resetClients } from '../../connectors/salesforce/client';
import type { SalesforceConnection } from '../../connectors/salesforce/config';
import { drive, field, makeContext, MemoryChunk, outRow } from '../../connectors/salesforce/test-harness';
import { env } from '../support/harness';

const FIELDS = [field('External_Id__c', 'text', { isKey: true, from: 'id' }), field('LastName')];
const people = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => outRow(`${prefix}${i}`, { External_Id__c: `${prefix}${i}`, LastName: `L ${i}` }));
const COLLECTIONS = { method: 'collections', chunkSize: 2000 };

/**
 * One emulated org (10,000 calls a day, `used` of them spent) and the state database. `workerFor(n)`
 * plays a worker: a client of its own (own jsforce connection and Sforce-Limit-Info figure: a connection
 * with `maxConcurrentRequests` n) and a coordinator of its own; each call gives a context of it.
 */
async function org(used: number, quotaWaitMs: number) {
  const emu = await startSalesforceEmulator({ bulkProcessingDelayMs: 10 });
  const worker = createWorkerDeps({ databaseUrl: env().databaseUrl, poolSize: 2, migrate: false });
  const admin = (method: string, path: string, body?: unknown): Promise<any> => emulatorAdmin(emu, method, path, body);
  resetClients();
  await admin('POST', '/config', { dailyApiLimit: 10_000 });
  await admin('POST', '/quota', { used });
  const workerFor = (maxConcurrentRequests: number) => {
    const connection: SalesforceConnection = {
      auth: 'client_credentials',
      loginUrl: emu.url,
      clientId: 'syncline-demo-client',
      clientSecret: 'syncline-demo-secret',
      maxConcurrentRequests,
    };
    const limits = new PostgresLimits(worker.deps.db);
    return () => {
      const ctx = makeContext({
        connection,
        object: 'Contact',
        key: 'External_Id__c',
        mode: 'upsert',
        fields: FIELDS,
        options: { quotaWaitMs },
      });
      ctx.limits = limits;
      return ctx;
    };
  };
  const close = async () => {
    await worker.close().catch(() => undefined);
    await emu.close();
  };
  return { admin, workerFor, close };
}

test('a worker decides on the freshest daily API figure of the cluster: it waits on a high one another worker saw, and proceeds once that worker saw the org reset', async () => {
  // The harness does not sleep through a quota wait; the test waits out B's 1 s before A's low figure.
  const { admin, workerFor, close } = await org(100, 1000);
  try {
    const [A, B, C] = [workerFor(10), workerFor(9), workerFor(8)];
    // B writes while the org is far from its reserve: its own figure is low.
    const b1 = B();
    await drive(sf, b1, new MemoryChunk('upsert', people('b1-', 3)), COLLECTIONS, 1);

    // Meanwhile the org's usage went up (other integrations): A sees it, 9 500 of 10 000 with a 10 % reserve.
    await admin('POST', '/quota', { used: 9_500 });
    const a1 = A();
    await sf.check(a1); // a call: A's own figure
    const seenByA = await sf.quota!(a1);
    expect(seenByA!.used).toBeGreaterThanOrEqual(9_500);

    // B's own figure is older and low; the cluster's is A's: B waits instead of writing.
    const b2 = B();
    const waited = await drive(sf, b2, new MemoryChunk('upsert', people('b2-', 3)), COLLECTIONS, 1).catch((err: unknown) => err);
    expect(waited).toBeInstanceOf(QuotaWaitError);
    expect(waited).toMatchObject({ code: 'QUOTA_RESERVE_REACHED' });
    let contacts = (await admin('GET', '/records/Contact')) as Array<{ External_Id__c: string }>;
    expect(contacts.map((c) => c.External_Id__c).sort()).toEqual(['b1-0', 'b1-1', 'b1-2']);

    // A worker with no figure of its own (C: its quota check) takes the cluster's instead of calling GET /limits.
    const c1 = C();
    const seenByC = await sf.quota!(c1);
    expect(seenByC!.used).toBe(seenByA!.used);
    expect(c1.apiCalls.limits ?? 0).toBe(0);

    // B's wait (quotaWaitMs: 1 s) ends; the org's rolling count drops (a reset); A observes the low figure
    // after the end of B's wait, which is fresher: B proceeds on it.
    await new Promise((r) => setTimeout(r, 1_100));
    await admin('POST', '/quota', { used: 200 });
    const a2 = A();
    await sf.check(a2); // a call: A's own figure, now low
    await drive(sf, a2, new MemoryChunk('upsert', people('a2-', 2)), COLLECTIONS, 1);
    const b3 = B();
    await drive(sf, b3, new MemoryChunk('upsert', people('b3-', 3)), COLLECTIONS, 1);
    // B's own figure was stale after its wait; A's fresher one after the wait served instead of GET /limits.
    expect(b3.apiCalls.limits ?? 0).toBe(0);
    contacts = (await admin('GET', '/records/Contact')) as Array<{ External_Id__c: string }>;
    expect(contacts.map((c) => c.External_Id__c).sort()).toEqual(['a2-0', 'a2-1', 'b1-0', 'b1-1', 'b1-2', 'b3-0', 'b3-1', 'b3-2']);
  } finally {
    await close();
  }
}, 90_000);

test('the shared store keeps the later observation, on its own clock: a fresher lower figure replaces a higher one, an older one never does', async () => {
  const worker = createWorkerDeps({ databaseUrl: env().databaseUrl, poolSize: 1, migrate: false });
  const scope = `salesforce:org:https://store-${Math.random().toString(36).slice(2)}.example.com:daily-api-requests`;
  try {
    const store = new PostgresLimits(worker.deps.db);
    expect(await store.shareFigure(scope, null)).toBeNull();
    expect(await store.shareFigure(scope, { used: 9_500, max: 10_000, ageMs: 60_000 })).toMatchObject({ used: 9_500, max: 10_000 });
    // Seen 10 s ago, after the 9 500 seen 60 s ago: the org's count dropped.
    const reset = await store.shareFigure(scope, { used: 200, max: 10_000, ageMs: 10_000 });
    expect(reset).toMatchObject({ used: 200, max: 10_000 });
    expect(reset!.ageMs).toBeGreaterThanOrEqual(10_000);
    // Seen 30 s ago: older than the stored 200, so it stays out whatever its value; the answer is the stored one.
    expect(await store.shareFigure(scope, { used: 9_900, max: 10_000, ageMs: 30_000 })).toMatchObject({ used: 200 });
    expect(await store.shareFigure(scope, { used: 5, max: 10_000, ageMs: 20_000 })).toMatchObject({ used: 200 });
    const row = await worker.deps.db
      .selectFrom('syncline.destination_figures')
      .selectAll()
      .where('scope', '=', scope)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ used: 200, max: 10_000 });
  } finally {
    await worker.close().catch(() => undefined);
  }
});

test('after a quota wait, a figure another worker saw while this one waited does not decide: the next chunk reads GET /limits and writes', async () => {
  const { admin, workerFor, close } = await org(9_500, 3_600_000);
  try {
    const [A, B] = [workerFor(10), workerFor(9)];
    // B reaches the reserve and starts its (one hour) wait.
    const b1 = B();
    await sf.check(b1);
    expect(await drive(sf, b1, new MemoryChunk('upsert', people('b1-', 3)), COLLECTIONS, 1).catch((e: unknown) => e)).toBeInstanceOf(
      QuotaWaitError,
    );
    // During B's wait, A sees the org still near its reserve (and waits too): it publishes that figure.
    const a1 = A();
    await sf.check(a1);
    expect(await drive(sf, a1, new MemoryChunk('upsert', people('a1-', 3)), COLLECTIONS, 1).catch((e: unknown) => e)).toBeInstanceOf(
      QuotaWaitError,
    );
    // The hour passes; the org's rolling count has dropped. B's wait ends first.
    await admin('POST', '/quota', { used: 100 });
    const b2 = B();
    const outcome = await drive(sf, b2, new MemoryChunk('upsert', people('b2-', 3)), COLLECTIONS, 1).then(
      () => 'written',
      (e: unknown) => (e instanceof QuotaWaitError ? `waited again: ${e.message}` : String(e)),
    );
    expect({ outcome, limitsCalls: b2.apiCalls.limits ?? 0 }).toEqual({ outcome: 'written', limitsCalls: 1 });
    const contacts = (await admin('GET', '/records/Contact')) as Array<{ External_Id__c: string }>;
    expect(contacts.map((c) => c.External_Id__c).sort()).toEqual(['b2-0', 'b2-1', 'b2-2']);
  } finally {
    await close();
  }
}, 90_000);
