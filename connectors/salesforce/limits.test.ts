/**
 * The org's limit of concurrent long-running requests (docs/limits.md) against the in-process emulator,
 * which refuses a request above `max` in flight as Salesforce does (403 REQUEST_LIMIT_EXCEEDED). The
 * cluster is played by one SharedLimits handed to several contexts, as the runtime hands one to every
 * activity of a worker; the cross-process proof is test/integration/salesforce-limits.test.ts.
 */
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { QuotaWaitError } from '../../common/errors';
import { LocalLimits } from '../kit/limits';
import type { OutRow } from '../types';
import { salesforceConnector as sf } from './index';
import { orgScope, resetClients } from './client';
import { connectionSchema, type SalesforceConnection } from './config';
import { toSyncError } from './errors';
import { drive, field, makeContext, MemoryChunk, outRow } from './test-harness';
import { admin as emulatorAdmin } from '../../emulators/salesforce/conformance-helpers';

type Emu = Awaited<ReturnType<typeof startSalesforceEmulator>>;
let emu: Emu;

beforeAll(async () => {
  emu = await startSalesforceEmulator({ bulkProcessingDelayMs: 10 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  resetClients();
  await admin('POST', '/reset');
});

const admin = (method: string, path: string, body?: unknown): Promise<any> => emulatorAdmin(emu, method, path, body);

const connectionWith = (maxConcurrentRequests: number): SalesforceConnection => ({
  auth: 'client_credentials',
  loginUrl: emu.url,
  clientId: 'syncline-demo-client',
  clientSecret: 'syncline-demo-secret',
  maxConcurrentRequests,
});
const FIELDS = [field('External_Id__c', 'text', { isKey: true, from: 'id' }), field('LastName')];
const people = (n: number, prefix: string): OutRow[] =>
  Array.from({ length: n }, (_, i) => outRow(`${prefix}${i}`, { External_Id__c: `${prefix}${i}`, LastName: `Last ${i}` }));
const COLLECTIONS = { method: 'collections', chunkSize: 2000 };
const BULK = { method: 'bulk2', chunkSize: 150000 };

function ctxFor(connection: SalesforceConnection, mode: 'upsert' | 'update', limits?: LocalLimits) {
  const ctx = makeContext({
    connection,
    object: 'Contact',
    key: 'External_Id__c',
    mode,
    fields: FIELDS,
    options: { concurrency: 4, bulkPollMs: 50 },
  });
  if (limits) ctx.limits = limits;
  return ctx;
}

test('four chunks at once (Collections creates, lookups and updates, a Bulk job) keep to maxConcurrentRequests: no refusal, every slot used', async () => {
  await admin(
    'POST',
    '/records/Contact',
    people(400, 'u').map((r) => r.values),
  );
  const MAX = 3;
  // Each call held 50 ms, so calls overlap; 4 Collections requests in flight per chunk would go over.
  await admin('POST', '/faults', { concurrentRequests: { max: MAX, latencyMs: 50 } });
  const limits = new LocalLimits();
  const connection = connectionWith(MAX);
  const updated = people(400, 'u').map((r) => ({ ...r, op: 'update' as const, values: { ...r.values, LastName: 'Updated' } }));
  const work = [
    { ctx: ctxFor(connection, 'upsert', limits), chunk: new MemoryChunk('upsert', people(800, 'a')), plan: COLLECTIONS },
    { ctx: ctxFor(connection, 'upsert', limits), chunk: new MemoryChunk('upsert', people(800, 'b')), plan: COLLECTIONS },
    { ctx: ctxFor(connection, 'upsert', limits), chunk: new MemoryChunk('upsert', people(300, 'c')), plan: BULK },
    { ctx: ctxFor(connection, 'update', limits), chunk: new MemoryChunk('update', updated), plan: COLLECTIONS },
  ];
  // One attempt each: a refusal that got past the client fails its chunk here (all awaited: none writes on after the test).
  const runs = await Promise.allSettled(work.map((w) => drive(sf, w.ctx, w.chunk, w.plan, 1)));
  expect(runs.filter((r) => r.status === 'rejected')).toEqual([]);

  const seen = await admin('GET', '/requests');
  expect(seen.concurrency).toMatchObject({ max: MAX, rejected: 0, peak: MAX });
  expect(seen.requests.filter((r: { status: number }) => r.status === 403)).toEqual([]);
  expect(limits.peak.get(orgScope(emu.url))).toBe(MAX);
  for (const w of work) expect([...w.chunk.results.values()].filter((r) => !r.ok)).toEqual([]);
  const stored = (await admin('GET', '/records/Contact')) as Array<{ External_Id__c: string; LastName: string }>;
  const byPrefix = (p: string) => stored.filter((r) => r.External_Id__c.startsWith(p));
  expect([byPrefix('a').length, byPrefix('b').length, byPrefix('c').length, byPrefix('u').length]).toEqual([800, 800, 300, 400]);
  expect(byPrefix('u').every((r) => r.LastName === 'Updated')).toBe(true);
});

test('a concurrency refusal (another integration holds the org) is a retried RATE_LIMITED, never a quota wait', async () => {
  // The org admits one request at a time; syncline believes it has two: refusals come.
  await admin('POST', '/faults', { concurrentRequests: { max: 1, latencyMs: 100 } });
  const ctx = ctxFor(connectionWith(2), 'upsert', new LocalLimits());
  const chunk = new MemoryChunk('upsert', people(1000, 'r'));
  const run = await drive(sf, ctx, chunk, COLLECTIONS, 10);
  expect((await admin('GET', '/requests')).concurrency.rejected).toBeGreaterThan(0);
  // The client's one replay may absorb every refusal (then no attempt failed): the next test makes one
  // get past it. Any that did must be RATE_LIMITED (a quota wait is not retryable: drive would have thrown).
  for (const e of run.errors) {
    expect(e).not.toBeInstanceOf(QuotaWaitError);
    expect(e).toMatchObject({ code: 'RATE_LIMITED', retryable: true });
  }
  expect(((await admin('GET', '/records/Contact')) as unknown[]).length).toBe(1000);
});

test('a concurrency refusal that the replay does not get past fails the attempt as RATE_LIMITED, and the retry writes every row', async () => {
  // The org refuses the next two Collections requests (with the message REST mostly answers): one chunk of
  // ≤ 200 rows is one request, so they are that request and its replay.
  await admin('POST', '/faults', { rateLimit: { count: 2, kind: 'concurrency', paths: 'composite' } });
  const ctx = ctxFor(connectionWith(2), 'upsert', new LocalLimits());
  const run = await drive(sf, ctx, new MemoryChunk('upsert', people(150, 'q')), COLLECTIONS, 3);
  const refused = ((await admin('GET', '/requests')).requests as Array<{ status: number }>).filter((r) => r.status === 403);
  expect(refused).toHaveLength(2);
  expect(run.errors).toHaveLength(1);
  expect(run.errors[0]).not.toBeInstanceOf(QuotaWaitError);
  expect(run.errors[0]).toMatchObject({ code: 'RATE_LIMITED', retryable: true });
  expect(((await admin('GET', '/records/Contact')) as unknown[]).length).toBe(150);
});

test("Salesforce's concurrency message is a transient RATE_LIMITED; the daily one a quota wait", () => {
  const err = (message: string) =>
    Object.assign(new Error(message), { errorCode: 'REQUEST_LIMIT_EXCEEDED', name: 'REQUEST_LIMIT_EXCEEDED' });
  const concurrent = toSyncError(err('ConcurrentRequests (Concurrent API Requests) Limit exceeded.'), 'w');
  expect(concurrent).not.toBeInstanceOf(QuotaWaitError);
  expect(concurrent).toMatchObject({ code: 'RATE_LIMITED', retryable: true });
  expect(toSyncError(err('TotalRequests Limit exceeded.'), 'w')).toBeInstanceOf(QuotaWaitError);
});

test('maxConcurrentRequests: 1 to 25, an error naming the option and the org limit', () => {
  const base = { auth: 'client_credentials', loginUrl: 'https://login.salesforce.com', clientId: 'c', clientSecret: 's' };
  expect(connectionSchema.parse(base).maxConcurrentRequests).toBeUndefined();
  expect(connectionSchema.parse({ ...base, maxConcurrentRequests: 25 }).maxConcurrentRequests).toBe(25);
  for (const bad of [0, 26, 2.5, '5']) {
    const r = connectionSchema.safeParse({ ...base, maxConcurrentRequests: bad });
    expect(r.success).toBe(false);
    expect(r.error?.issues).toHaveLength(1);
    expect(r.error?.issues[0]?.path).toEqual(['maxConcurrentRequests']);
    // What to set and why, whichever way the value is wrong: the org's limit, and the smaller one of Developer and Trial orgs.
    expect(r.error?.issues[0]?.message).toMatch(/a whole number from 1 to 25/);
    expect(r.error?.issues[0]?.message).toMatch(/25 concurrent long-running requests per org/);
    expect(r.error?.issues[0]?.message).toMatch(/5 or less in Developer and Trial orgs/);
  }
});
