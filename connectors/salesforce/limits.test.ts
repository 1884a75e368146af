/**
 * The org's limit of concurrent long-running requests (docs/limits.md) against the in-process emulator,
 * which refuses a request above `max` in flight as Salesforce does (403 REQUEST_LIMIT_EXCEEDED). The
 * cluster is played by one SharedLimits handed to several contexts, as the runtime hands one to every
 * activity of a worker; the cross-process proof is test/integration/salesforce-limits.test.ts.
 */
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { QuotaWaitError } from '../../common/errors';
import { LocalLimits } from '../kit/limits';
import type { FieldSpec, OutRow, RowResult } from '../types';
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

// maxConcurrentRequests 1 (the option's lowest value): nothing may hold a slot while it waits for
// another. Bulk jobs (both result files, writeWithoutLink re-sent through Collections, update by lookups)
// and Collections writes with lookups, all at once against an org admitting one request in flight.
const KEY = field('External_Id__c', 'text', { isKey: true, from: 'id' });
const ACCOUNT_KEY: FieldSpec = { from: 'account_key', to: 'Account.External_Id__c', pgType: 'text', isKey: false };
const LINKED: FieldSpec[] = [KEY, field('LastName'), ACCOUNT_KEY];
const contact = (key: string, account: string | null, o: Partial<OutRow> = {}) =>
  outRow(key, { External_Id__c: key, LastName: `L ${key}`, 'Account.External_Id__c': account }, o);

test('maxConcurrentRequests 1: Bulk jobs and Collections writes with lookups all finish, one request in flight at a time', async () => {
  await admin('POST', '/records/Account', [{ Name: 'Acc A1', External_Id__c: 'A1' }]);
  await admin(
    'POST',
    '/records/Contact',
    Array.from({ length: 300 }, (_, i) => ({ External_Id__c: `u${i}`, LastName: 'Old' })),
  );
  await admin('POST', '/faults', { concurrentRequests: { max: 1, latencyMs: 20 } });
  const connection = connectionWith(1);
  const limits = new LocalLimits();
  const ctxFor = (mode: 'upsert' | 'update', options: Record<string, unknown> = {}) => {
    const ctx = makeContext({
      connection,
      object: 'Contact',
      key: 'External_Id__c',
      mode,
      fields: LINKED,
      options: { bulkPollMs: 50, ...options },
    });
    ctx.limits = limits;
    return ctx;
  };
  const withLink = (n: number, p: string) => Array.from({ length: n }, (_, i) => contact(`${p}${i}`, i % 3 === 0 ? 'A9' : 'A1'));
  const updates = Array.from({ length: 300 }, (_, i) => contact(`u${i}`, 'A1', { op: 'update' }));
  const work = [
    // Missing parents (A9): failedResults and successfulResults both read, then the rows re-sent through Collections.
    { ctx: ctxFor('upsert', { missingParent: 'writeWithoutLink' }), chunk: new MemoryChunk('upsert', withLink(300, 'b')), plan: BULK },
    // Missing parents listed as failures (both result files), no re-send.
    { ctx: ctxFor('upsert'), chunk: new MemoryChunk('upsert', withLink(300, 'f')), plan: BULK },
    { ctx: ctxFor('update'), chunk: new MemoryChunk('update', updates.slice(0, 150)), plan: BULK },
    { ctx: ctxFor('update'), chunk: new MemoryChunk('update', updates.slice(150)), plan: COLLECTIONS },
    {
      ctx: ctxFor('upsert', { missingParent: 'writeWithoutLink' }),
      chunk: new MemoryChunk('upsert', withLink(500, 'c')),
      plan: COLLECTIONS,
    },
  ];
  const runs = await Promise.allSettled(work.map((w) => drive(sf, w.ctx, w.chunk, w.plan, 1)));
  expect(runs.filter((r) => r.status === 'rejected')).toEqual([]);
  const seen = await admin('GET', '/requests');
  expect(seen.concurrency).toMatchObject({ max: 1, rejected: 0, peak: 1 });
  expect(limits.peak.get(orgScope(emu.url))).toBe(1);
  const stored = (await admin('GET', '/records/Contact')) as Array<{ External_Id__c: string; LastName: string }>;
  const n = (p: string) => stored.filter((r) => r.External_Id__c.startsWith(p)).length;
  expect([n('b'), n('f'), n('c'), n('u')]).toEqual([300, 200, 500, 300]);
  expect(stored.filter((r) => r.External_Id__c.startsWith('u')).every((r) => r.LastName.startsWith('L u'))).toBe(true);
});

test('maxConcurrentRequests 1: a results recorder that fails after its first batch gives the download slot back', async () => {
  await admin('POST', '/faults', { concurrentRequests: { max: 1, latencyMs: 0 } });
  const connection = connectionWith(1);
  const limits = new LocalLimits();
  const ctx = makeContext({
    connection,
    object: 'Contact',
    key: 'External_Id__c',
    mode: 'upsert',
    fields: [KEY, field('LastName')],
    options: { bulkPollMs: 50 },
  });
  ctx.limits = limits;
  let failed = 0;
  class FailingChunk extends MemoryChunk {
    override async recordStream(results: AsyncIterable<RowResult[]>): Promise<number> {
      // Stops after the first batch of a 5000-row results file: the download is left half read.
      for await (const _ of results) {
        failed++;
        throw new Error('state database lost');
      }
      return 0;
    }
  }
  const rows = Array.from({ length: 5000 }, (_, i) => outRow(`h${i}`, { External_Id__c: `h${i}`, LastName: `L ${i}` }));
  await expect(drive(sf, ctx, new FailingChunk('upsert', rows), BULK, 1)).rejects.toThrow(/state database lost/);
  expect(failed).toBe(1);
  // The next request needs the one slot: it would wait for the abandoned download's 30-minute timer.
  const next = new MemoryChunk('upsert', [outRow('n1', { External_Id__c: 'n1', LastName: 'N' })]);
  await drive(sf, ctx, next, COLLECTIONS, 1);
  expect(next.results.get('n1')).toMatchObject({ ok: true });
}, 30_000);

test('an activity cancelled while it waits for a slot sends nothing once the slot comes', async () => {
  const connection = connectionWith(1);
  const limits = new LocalLimits();
  const cancel = new AbortController();
  const ctx = makeContext({ connection, object: 'Contact', key: 'External_Id__c', mode: 'upsert', fields: [KEY, field('LastName')] });
  ctx.limits = limits;
  ctx.signal = cancel.signal;
  const rows = [outRow('w1', { External_Id__c: 'w1', LastName: 'Late' })];
  // Warm up (token, describe) so that the write is the only request left to wait.
  await sf.check(ctx);
  // Another activity holds the org's one slot (a long upload elsewhere in the cluster).
  let free!: () => void;
  const held = limits.withSlot(orgScope(emu.url), 1, () => new Promise<void>((r) => (free = r)), {});
  // The write's request has asked for a slot (and waits: the one slot is held).
  let asked!: () => void;
  const waiting = new Promise<void>((r) => (asked = r));
  ctx.limits = {
    withSlot: (scope, max, fn, o) => (asked(), limits.withSlot(scope, max, fn, o)),
    take: (...a) => limits.take(...a),
    used: (...a) => limits.used(...a),
    raise: (...a) => limits.raise(...a),
  };
  const write = drive(sf, ctx, new MemoryChunk('upsert', rows), COLLECTIONS, 1).catch((e: unknown) => e);
  await waiting;
  // Temporal cancels the activity (run cancelled, or the attempt timed out and another was started).
  cancel.abort(new Error('activity cancelled'));
  free();
  await held;
  await write;
  const stored = (await admin('GET', '/records/Contact')) as Array<{ External_Id__c: string }>;
  expect(stored.filter((r) => r.External_Id__c === 'w1')).toEqual([]);
});

describe('the daily API figure shared across the cluster (ctx.limits.shareFigure)', () => {
  const write = async (limits: LocalLimits & { shareFigure(): Promise<never> }, prefix: string) => {
    const ctx = ctxFor(connectionWith(10), 'upsert', limits);
    await drive(sf, ctx, new MemoryChunk('upsert', people(3, prefix)), COLLECTIONS, 1);
    return ctx;
  };

  test.each([
    ['fails (Postgres down)', () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'))],
    ['does not answer (a pool waiting for a connection)', () => new Promise<never>(() => undefined)],
  ])("a store that %s never fails a write: it goes on on the worker's own figure, with one warning", async (_, answer) => {
    const limits = Object.assign(new LocalLimits(), { shareFigure: jest.fn(answer) });
    const first = await write(limits, 'x');
    const second = await write(limits, 'y');
    const stored = (await admin('GET', '/records/Contact')) as Array<{ External_Id__c: string }>;
    expect(stored.map((r) => r.External_Id__c).sort()).toEqual(['x0', 'x1', 'x2', 'y0', 'y1', 'y2']);
    const warnings = [...first.logs, ...second.logs].filter(
      (l) => l.startsWith('warn') && l.includes('shared Salesforce daily API figure'),
    );
    expect(warnings).toHaveLength(1);
    // Left alone after the failure: not asked again for each decision.
    expect(limits.shareFigure).toHaveBeenCalledTimes(1);
  });
});
