/** The Actito connector driven against the in-process emulator (emulators/actito) through test-harness.ts. */
import { QuotaWaitError, SyncError } from '../../common/errors';
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import type { FieldSpec, SyncMode } from '../types';
import { ActitoClient, clientFor } from './client';
import { type ActitoConnection, connectionSchema } from './config';
import { heartbeatTimer } from './heartbeat';
import { actitoConnector as actito } from './index';
import { drive, emulatorAdmin, field, makeContext, memoryChunk, MemoryState, outRow } from './test-harness';
import { LocalLimits } from '../kit/limits';
import { forgetTables, loadTables } from './context';
import { quotaTable, takeImport } from './quota';
import { envName } from '../connections';

let emu: ActitoEmulator;
let conn: ActitoConnection;

const admin = emulatorAdmin(() => emu.url);
const records = async (table = 'orders'): Promise<Array<Record<string, unknown>>> =>
  (await admin('GET', `/tables/${table}/records?limit=10000`)).records;
const requests = async (): Promise<
  Array<{ method: string; path: string; route: string; status: number; at: string; durationMs: number }>
> => (await admin('GET', '/requests')).requests;

const ORDER_FIELDS: FieldSpec[] = [
  field('order_id', 'orderId', 'text', { isKey: true }),
  field('customer_id', 'customerId', 'text'),
  field('status', 'status', 'text'),
  field('quantity', 'quantity', 'int4'),
  field('amount', 'amount', 'numeric'),
  field('paid', 'paid', 'bool'),
  field('ordered_at', 'orderedAt', 'timestamptz'),
];
const PROFILES = { table: 'main', matchAttribute: 'customerId', mode: 'upsert' };
const PROFILE_FIELDS = [field('email', 'profile.emailAddress', 'text'), field('first_name', 'profile.firstName', 'text')];

function ctxFor(
  mode: SyncMode,
  over: {
    fields?: FieldSpec[];
    options?: Record<string, unknown>;
    key?: string;
    table?: string;
    state?: MemoryState;
    limits?: LocalLimits;
    connection?: ActitoConnection;
  } = {},
) {
  return makeContext({
    connection: over.connection ?? conn,
    table: over.table ?? 'orders',
    key: over.key ?? 'orderId',
    mode,
    fields: over.fields ?? ORDER_FIELDS,
    options: over.options,
    state: over.state,
    limits: over.limits,
  });
}

const order = (i: number, extra: Record<string, unknown> = {}) =>
  outRow(`O${i}`, {
    orderId: `O${i}`,
    customerId: `C${i % 3}`,
    status: 'PAID',
    quantity: i,
    amount: `${i}.50`,
    paid: i % 2 === 0,
    orderedAt: new Date(Date.UTC(2024, 0, 1, 10, 0, i % 60)),
    ...extra,
  });
const customer = (i: number) => ({ 'profile.emailAddress': `c${i}@example.com`, 'profile.firstName': `Name${i}` });
const seedProfiles = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) emu.state.profiles.insert({ customerId: `C${i}`, emailAddress: `c${i}@example.com` });
};
const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof SyncError ? e.code : String(e)),
  );

beforeAll(async () => {
  emu = await startActitoEmulator({ callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10 });
  conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  clientFor(conn).backoffMs = 5;
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await admin('POST', '/reset');
});

describe('licence slots', () => {
  it("a request's timeout starts once it holds a slot: waiting behind a slow request for the licence is no timeout", async () => {
    const c = new ActitoClient(connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity, maxInFlight: 1 }));
    const path = `/custom-table-structure/v5/entities/${encodeURIComponent(emu.entity)}/custom-tables`;
    await c.request('GET', path, { kind: 'schema' }); // the token first: the slow fault is for the two calls below
    await admin('POST', '/faults', { slow: { ms: 600, count: 1, path: '/custom-tables' } });
    await admin('DELETE', '/requests');
    const slow = c.request('GET', path, { kind: 'schema', timeoutMs: 5_000 });
    // Sent once (not idempotent: a lost answer is an error), it waits ~600 ms for the only slot, then takes ~ms.
    const queued = c.request('GET', path, { kind: 'schema', timeoutMs: 400, idempotent: false });
    const [a, b] = await Promise.all([slow, queued]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const log = (await admin('GET', '/requests')).requests as Array<{ path: string }>;
    expect(log.filter((r) => r.path.endsWith('/custom-tables'))).toHaveLength(2);
  });
});

describe('one client per connection (clientFor)', () => {
  it('two connections differing only in requestTimeoutMs each keep their own timeout', async () => {
    const base = { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity };
    const patient = ctxFor('upsert', { connection: connectionSchema.parse({ ...base, requestTimeoutMs: 60_000 }) });
    const short = ctxFor('upsert', { connection: connectionSchema.parse({ ...base, requestTimeoutMs: 300 }) });
    clientFor(short.connection).backoffMs = 5;
    // Every structure read takes a second: the connection with a 300 ms timeout must give up on it.
    await admin('POST', '/faults', { slow: { ms: 1000, count: 100, path: '/custom-tables' } });
    expect(await codeOf(actito.check(patient))).toBe('resolved');
    expect(await codeOf(actito.check(short))).toBe('DESTINATION_UNAVAILABLE');
    // Four tries of 300 ms each (and short backoffs), not one of a second that would have answered.
    expect(short.apiCalls.schema).toBe(4);
    // The tries given up on are still being served: let them end, so they count against no later test's limit.
    while ((await admin('GET', '/requests')).inFlight.length > 0) await new Promise((r) => setTimeout(r, 50));
  });

  it('two connections differing only in licence take their request slots on their own licence', async () => {
    const scopes: string[] = [];
    const limits = new LocalLimits();
    const withSlot = limits.withSlot.bind(limits);
    limits.withSlot = ((...args: Parameters<LocalLimits['withSlot']>) => {
      scopes.push(args[0]);
      return withSlot(...args);
    }) as LocalLimits['withSlot'];
    const base = { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity };
    await actito.check(ctxFor('upsert', { connection: connectionSchema.parse({ ...base, licence: 'lic-a' }), limits }));
    scopes.length = 0;
    await actito.check(ctxFor('upsert', { connection: connectionSchema.parse({ ...base, licence: 'lic-b' }), limits }));
    expect(scopes.length).toBeGreaterThan(0);
    expect([...new Set(scopes)]).toEqual(['actito:licence:lic-b']);
  });

  it('one connection (the same settings) shares one client: one token, one in-flight limit', async () => {
    const a = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity, licence: 'lic-a' });
    const b = connectionSchema.parse({ licence: 'lic-a', entity: emu.entity, baseUrl: `${emu.url}/`, apiKey: emu.apiKey });
    expect(clientFor(b)).toBe(clientFor(a));
  });
});

describe('check', () => {
  it('accepts a valid mapping and lists attributes to create', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, field('channel', 'channel', 'varchar'), field('score', 'score', 'float8')] });
    const r = await actito.check(ctx);
    expect(r.missingAttributes).toEqual([
      { field: 'channel', type: 'STRING' },
      { field: 'score', type: 'NUMBER' },
    ]);
    expect(r.skippedFields).toEqual([]);
  });

  it('refuses a key that is not unique, an unknown table, an incompatible type and a bad key', async () => {
    expect(await codeOf(actito.check(ctxFor('upsert', { key: 'customerId' })))).toBe('KEY_INVALID');
    expect(await codeOf(actito.check(ctxFor('upsert', { table: 'nope' })))).toBe('DESTINATION_NOT_FOUND');
    const bad = ORDER_FIELDS.map((f) => (f.to === 'quantity' ? { ...f, pgType: 'text' } : f));
    expect(await codeOf(actito.check(ctxFor('upsert', { fields: bad })))).toBe('FIELD_NOT_WRITABLE');
    const skipped = await actito.check(ctxFor('upsert', { fields: bad, options: { incompatibleFields: 'skip' } }));
    expect(skipped.skippedFields.map((s) => s.field)).toEqual(['quantity']);
    const wrongKey = makeContext({
      connection: connectionSchema.parse({ ...conn, apiKey: 'wrong' }),
      table: 'orders',
      key: 'orderId',
      mode: 'upsert',
      fields: ORDER_FIELDS,
    });
    expect(await codeOf(actito.check(wrongKey))).toBe('AUTH_FAILED');
    // The message names the activation and the connection, and where that connection's key comes from, as
    // Salesforce's does: it said only "Actito refused the API key (…). Check the key, …".
    const refused = await actito.check(wrongKey).then(
      () => null,
      (e: unknown) => (e as Error).message,
    );
    expect(refused).toBe(
      `Activation "${wrongKey.activationId}": Actito refused the API key of connection "${wrongKey.destination.connection}" (invalid or revoked API key). ` +
        `Check the key (${envName(wrongKey.destination.connection)}, or "connections" in the file SYNCLINE_SECRETS_FILE names), and that it belongs to the environment host in the connection.`,
    );
  });

  it('refuses "truncate" on the key: two keys cut to one would write, and Mirror delete, one record', async () => {
    const fields = ORDER_FIELDS.map((f) => (f.isKey ? { ...f, truncate: true } : f));
    await expect(actito.check(ctxFor('mirror', { fields }))).rejects.toMatchObject({
      code: 'KEY_INVALID',
      message: expect.stringMatching(/key "orderId".*truncate/),
    });
  });

  it('refuses "truncate" on the profile match value: two customers cut to one would be one profile, the second written over the first', async () => {
    await admin('POST', '/tables', {
      name: 'visits',
      primaryKeyAttribute: 'visitId',
      attributes: [{ name: 'visitId', valueType: 'STRING', mandatory: true, unique: true }],
    });
    // `main`.customerId takes 50 characters: 'C' x 50 + '1' and + '2' would both match the profile 'C' x 50.
    const fields = [
      field('visit_id', 'visitId', 'text', { isKey: true }),
      field('customer_id', 'profile.customerId', 'text', { truncate: true }),
      field('email', 'profile.emailAddress', 'text'),
    ];
    const ctx = ctxFor('upsert', { table: 'visits', key: 'visitId', fields, options: { profiles: PROFILES } });
    await expect(actito.check(ctx)).rejects.toMatchObject({
      code: 'KEY_INVALID',
      message: expect.stringMatching(/profiles\.matchAttribute "customerId".*"truncate": true on "customer_id"/),
    });
  });

  it('refuses "truncate" on a foreign key to the profiles: a cut value links the record to another customer\'s profile', async () => {
    await admin('POST', '/tables', {
      name: 'buys',
      primaryKeyAttribute: 'buyId',
      attributes: [
        { name: 'buyId', valueType: 'STRING', mandatory: true, unique: true },
        { name: 'customerId', valueType: 'STRING', valueRestriction: { maxLength: 5 } },
      ],
      foreignKeys: [{ attribute: 'customerId', profileAttribute: 'customerId' }],
    });
    // 'ABCDEF' cut to 5 is 'ABCDE', another customer's profile.
    const fields = [field('buy_id', 'buyId', 'text', { isKey: true }), field('customer_id', 'customerId', 'text', { truncate: true })];
    await expect(actito.check(ctxFor('upsert', { table: 'buys', key: 'buyId', fields }))).rejects.toMatchObject({
      code: 'KEY_INVALID',
      message: expect.stringMatching(/"customerId" links each record to a profile.*"truncate": true on "customer_id"/),
    });
  });

  it('a destination table that is the profile table is refused with what to do instead', async () => {
    await expect(actito.check(ctxFor('upsert', { table: 'main', key: 'customerId' }))).rejects.toMatchObject({
      code: 'DESTINATION_NOT_FOUND',
      message: expect.stringMatching(/"main" is a profile table.*destination\.options\.profiles/s),
    });
  });

  it('requires mandatory attributes when records can be created, not for updates', async () => {
    const noCustomer = ORDER_FIELDS.filter((f) => f.to !== 'customerId');
    await expect(actito.check(ctxFor('insert', { fields: noCustomer }))).rejects.toThrow(/mandatory attribute\(s\) customerId/);
    await expect(actito.check(ctxFor('update', { fields: noCustomer }))).resolves.toBeDefined();
  });

  it('validates profile options and fields', async () => {
    const ok = await actito.check(ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { profiles: PROFILES } }));
    expect(ok.missingAttributes).toEqual([]);
    expect(
      await codeOf(
        actito.check(
          ctxFor('upsert', {
            fields: [...ORDER_FIELDS, ...PROFILE_FIELDS],
            options: { profiles: { ...PROFILES, matchAttribute: 'firstName' } },
          }),
        ),
      ),
    ).toBe('KEY_INVALID');
    expect(
      await codeOf(
        actito.check(
          ctxFor('upsert', { fields: [...ORDER_FIELDS, field('x', 'profile.shoeSize', 'text')], options: { profiles: PROFILES } }),
        ),
      ),
    ).toBe('FIELD_UNKNOWN');
    expect(await codeOf(actito.check(ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS] })))).toBe('CONFIG_INVALID');
    // Options are parsed with the declared schema before any call: building the context is part of the check.
    expect(await codeOf((async () => actito.check(ctxFor('upsert', { options: { bulkThreshold: -1 } })))())).toBe('CONFIG_INVALID');
  });
});

describe('attribute creation', () => {
  it('creates a missing attribute once, optional and non-unique', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, field('channel', 'channel', 'text')] });
    const { missingAttributes } = await actito.check(ctx);
    expect(await actito.ensureAttributes!(ctx, missingAttributes)).toEqual([{ field: 'channel', type: 'STRING', created: true }]);
    expect(await actito.ensureAttributes!(ctx, missingAttributes)).toEqual([{ field: 'channel', type: 'STRING', created: false }]);
    const structure = await admin('GET', '/tables/orders/structure');
    expect(JSON.stringify(structure)).toContain('"channel"');
    expect((await requests()).filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect((await actito.check(ctx)).missingAttributes).toEqual([]);
  });

  it('is created exactly once when two workers race', async () => {
    const fields = [...ORDER_FIELDS, field('channel', 'channel', 'text')];
    const [a, b] = [ctxFor('upsert', { fields }), ctxFor('upsert', { fields })];
    const missing = (await actito.check(a)).missingAttributes;
    const [ra, rb] = await Promise.all([actito.ensureAttributes!(a, missing), actito.ensureAttributes!(b, missing)]);
    expect([...ra!, ...rb!].filter((r) => r.created)).toHaveLength(1);
    expect([...ra!, ...rb!].every((r) => r.field === 'channel' && r.type === 'STRING')).toBe(true);
  });

  it('treats an attribute created by someone else with another definition as existing', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, field('channel', 'channel', 'text')] });
    const missing = (await actito.check(ctx)).missingAttributes;
    emu.state.tables.customTable('orders')!.addAttribute({
      name: 'channel',
      valueType: 'STRING',
      mandatory: false,
      indexed: true,
      unique: false,
      valueRestriction: { maxLength: 20 },
    });
    expect(await actito.ensureAttributes!(ctx, missing)).toEqual([{ field: 'channel', type: 'STRING', created: false }]);
  });

  it('refuses a mapping "type" its column cannot fill, before creating an attribute it could never write', async () => {
    const fields = [...ORDER_FIELDS, field('shipped_at', 'shippedOn', 'timestamptz', { type: 'LONG' })];
    const ctx = ctxFor('upsert', { fields });
    const checked = await actito.check(ctx).then(
      (r) => r.missingAttributes,
      (e: unknown) => e,
    );
    expect(checked).toMatchObject({
      code: 'FIELD_NOT_WRITABLE',
      message: expect.stringMatching(/shippedOn.*LONG.*shipped_at.*timestamptz/),
    });
    expect((await requests()).filter((r) => r.method === 'PATCH')).toEqual([]);
    // A type the column can fill is created as asked.
    const ok = ctxFor('upsert', { fields: [...ORDER_FIELDS, field('shipped_at', 'shippedOn', 'timestamptz', { type: 'STRING' })] });
    expect((await actito.check(ok)).missingAttributes).toEqual([{ field: 'shippedOn', type: 'STRING' }]);
  });

  it('refuses names Actito would refuse', async () => {
    const ctx = ctxFor('upsert');
    await expect(actito.ensureAttributes!(ctx, [{ field: 'x'.repeat(51), type: 'STRING' }])).rejects.toMatchObject({
      code: 'FIELD_UNKNOWN',
    });
    await expect(actito.ensureAttributes!(ctx, [{ field: 'bad-name', type: 'STRING' }])).rejects.toThrow(
      /not a valid Actito attribute name/,
    );
  });
});

describe('one-by-one writes', () => {
  it('upserts with at most 4 requests in flight', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert');
    await actito.check(ctx);
    await admin('POST', '/faults', { slow: { ms: 30, count: 1000, path: '/record' } });
    const rows = Array.from({ length: 24 }, (_, i) => order(i));
    const { method, results } = await drive(actito, ctx, 'upsert', rows);
    expect(method).toBe('single');
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(await records()).toHaveLength(24);
    const log = (await requests()).filter((r) => r.route.includes('/record'));
    expect(log.some((r) => r.status === 429)).toBe(false);
    const spans = log.map((r) => [Date.parse(r.at), Date.parse(r.at) + r.durationMs] as const);
    const peak = Math.max(...spans.map(([s]) => spans.filter(([a, b]) => a <= s && s < b).length));
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
    expect(clientFor(conn).limiter.maxObserved).toBeLessThanOrEqual(4);
  });

  it('reports refused rows by key and writes the others', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert');
    await actito.check(ctx);
    const rows = [order(1), order(2, { status: 'BOGUS' }), order(3, { customerId: 'UNKNOWN' })];
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect(results.get('O1')).toMatchObject({ ok: true });
    expect(results.get('O2')).toMatchObject({ ok: false, code: 'ACTITO_INVALID_VALUE', retryable: false });
    expect(results.get('O3')).toMatchObject({ ok: false, code: 'ACTITO_INVALID_VALUE' });
    expect((results.get('O3') as { message: string }).message).toMatch(/customerId/);
  });

  it('a float8 NaN or Infinity is a row that cannot be sent (not a JSON null reported written), one by one and bulk alike', async () => {
    await seedProfiles();
    const fields = ORDER_FIELDS.map((f) => (f.to === 'amount' ? { ...f, pgType: 'float8' } : f));
    for (const options of [{}, { bulkThreshold: 3, pollAfterMs: 10 }]) {
      await admin('POST', '/reset');
      await seedProfiles();
      const ctx = ctxFor('upsert', { fields, options });
      await actito.check(ctx);
      await drive(actito, ctx, 'upsert', [order(1, { amount: 5.5 }), order(2, { amount: 5.5 }), order(3, { amount: 5.5 })]);
      const { method, results } = await drive(actito, ctx, 'upsert', [
        order(1, { amount: Number.NaN }),
        order(2, { amount: Number.POSITIVE_INFINITY }),
        order(3, { amount: 7.25 }),
      ]);
      const outcome = (k: string) => {
        const r = results.get(k);
        return r?.ok ? 'ok' : r?.code;
      };
      expect({ method, O1: outcome('O1'), O2: outcome('O2'), O3: outcome('O3') }).toEqual({
        method: Object.keys(options).length ? 'bulk' : 'single',
        O1: 'VALUE_NOT_ENCODABLE',
        O2: 'VALUE_NOT_ENCODABLE',
        O3: 'ok',
      });
      expect((results.get('O1') as { message: string }).message).toMatch(/amount: .*NaN/);
      expect((await records()).map((r) => [r.orderId, r.amount]).sort()).toEqual([
        ['O1', 5.5],
        ['O2', 5.5],
        ['O3', 7.25],
      ]);
    }
  });

  it('a text cut to the attribute length ("truncate") is never cut inside a character: no half emoji, no U+FFFD', async () => {
    const fields = [...ORDER_FIELDS, field('note', 'note', 'text', { truncate: true })];
    const long = `${'a'.repeat(254)}😀 and more`; // the emoji takes UTF-16 units 255 and 256
    for (const options of [{}, { bulkThreshold: 2, pollAfterMs: 10 }]) {
      await admin('POST', '/reset');
      await seedProfiles();
      const ctx = ctxFor('upsert', { fields, options });
      await actito.check(ctx);
      const { method, results } = await drive(actito, ctx, 'upsert', [order(1, { note: long }), order(2, { note: 'short' })]);
      expect({ method, ok: [...results.values()].every((r) => r.ok) }).toEqual({
        method: Object.keys(options).length ? 'bulk' : 'single',
        ok: true,
      });
      const note = (await records()).find((r) => r.orderId === 'O1')?.note as string;
      expect({ method, length: note.length, end: [...note.slice(-2)].map((c) => c.codePointAt(0)!.toString(16)) }).toEqual({
        method,
        length: 254,
        end: ['61', '61'],
      });
    }
  });

  it('a date column written to a text attribute is its date, without a time of day, one by one and bulk alike', async () => {
    const fields = [...ORDER_FIELDS, field('order_date', 'note', 'date'), field('order_day', 'orderDate', 'date')];
    for (const options of [{}, { bulkThreshold: 2, pollAfterMs: 10 }]) {
      await admin('POST', '/reset');
      await seedProfiles();
      const ctx = ctxFor('upsert', { fields, options });
      await actito.check(ctx);
      // node-postgres builds a date at local midnight.
      const day = new Date(2024, 0, 5);
      const { results } = await drive(actito, ctx, 'upsert', [order(1, { note: day, orderDate: day }), order(2)]);
      expect([...results.values()].every((r) => r.ok)).toBe(true);
      const rec = (await records()).find((r) => r.orderId === 'O1');
      expect({ options, note: rec?.note, orderDate: rec?.orderDate }).toEqual({ options, note: '2024-01-05', orderDate: '2024-01-05' });
    }
  });

  it('update never creates; insert never overwrites and is idempotent', async () => {
    await seedProfiles();
    const upd = ctxFor('update');
    await actito.check(upd);
    expect((await drive(actito, upd, 'update', [order(1)])).results.get('O1')).toMatchObject({ ok: false, code: 'ACTITO_NOT_FOUND' });
    expect(await records()).toHaveLength(0);

    const ins = ctxFor('insert');
    expect((await drive(actito, ins, 'create', [order(1)])).results.get('O1')).toMatchObject({ ok: true });
    expect((await drive(actito, ins, 'create', [order(1)])).results.get('O1')).toMatchObject({ ok: true }); // our own earlier write
    expect((await drive(actito, ins, 'create', [order(1, { quantity: 99 })])).results.get('O1')).toMatchObject({
      ok: false,
      code: 'ACTITO_ALREADY_EXISTS',
    });
    expect((await records())[0]).toMatchObject({ orderId: 'O1', quantity: 1 });
    expect((await drive(actito, upd, 'update', [order(1, { quantity: 7 })])).results.get('O1')).toMatchObject({ ok: true });
    expect((await records())[0]).toMatchObject({ quantity: 7 });
  });

  it('writes profiles before the records that refer to them', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { profiles: PROFILES } });
    await actito.check(ctx);
    const rows = Array.from({ length: 6 }, (_, i) => order(i, customer(i % 3)));
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    const profiles = (await admin('GET', '/profiles')).records;
    expect(profiles.map((p: any) => p.customerId).sort()).toEqual(['C0', 'C1', 'C2']);
    expect(profiles.find((p: any) => p.customerId === 'C1')).toMatchObject({ emailAddress: 'c1@example.com', firstName: 'Name1' });
    const log = await requests();
    const firstRecord = log.findIndex((r) => r.method === 'POST' && r.route.includes('/record'));
    const lastProfile = log.map((r) => r.route.includes('/profile')).lastIndexOf(true);
    expect(lastProfile).toBeLessThan(firstRecord);
  });

  it('insert-only profiles leave existing profiles untouched', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { profiles: { ...PROFILES, mode: 'insert' } } });
    await actito.check(ctx);
    const { results } = await drive(actito, ctx, 'upsert', [
      order(1, { 'profile.emailAddress': 'c1@example.com', 'profile.firstName': 'Changed' }),
      order(4, customer(4)),
    ]);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    const profiles = (await admin('GET', '/profiles')).records;
    expect(profiles.find((p: any) => p.customerId === 'C1').firstName).toBeUndefined();
  });

  it('Update mode only updates profiles and never creates one (one by one and bulk)', async () => {
    await seedProfiles();
    const up = ctxFor('upsert');
    await actito.check(up);
    await drive(actito, up, 'upsert', [order(1), order(2)]);
    for (const [name, options] of [
      ['One', { profiles: PROFILES }],
      ['Bulk', { profiles: PROFILES, bulkThreshold: 2, pollAfterMs: 10 }],
    ] as const) {
      const ctx = ctxFor('update', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options });
      await actito.check(ctx);
      const rows = [
        order(1, { 'profile.emailAddress': 'c1@example.com', 'profile.firstName': name }),
        order(5, { customerId: 'C9', ...customer(9) }),
      ];
      const { method, results } = await drive(actito, ctx, 'update', rows);
      expect(method).toBe(name === 'Bulk' ? 'bulk' : 'single');
      expect(results.get('O1')).toMatchObject({ ok: true });
      // Listed with Actito's words and the reason: Update mode never creates the record; not retried.
      expect(results.get('O5')).toMatchObject({
        ok: false,
        code: 'ACTITO_NOT_FOUND',
        retryable: false,
        message: expect.stringMatching(
          /O5.*; Update mode never creates records: create the record in Actito table "orders", or sync in Upsert mode$/,
        ),
      });
      const profiles = (await admin('GET', '/profiles')).records;
      expect(profiles.map((p: any) => p.customerId).sort()).toEqual(['C0', 'C1', 'C2']);
      expect(profiles.find((p: any) => p.customerId === 'C1')).toMatchObject({ firstName: name });
    }
    expect((await admin('GET', '/imports')).imports.find((i: any) => i.tableType === 'PROFILE_TABLE')).toMatchObject({
      mode: 'UPDATE_ONLY',
    });
  });
});

describe('profiles.mode "update": profiles never created, only existing ones updated (DinMo\'s "Insert mode" off)', () => {
  it('an Upsert activation updates existing profiles and creates none, one by one and in bulk; a record whose profile is missing is a row error', async () => {
    await seedProfiles();
    for (const [name, extra] of [
      ['One', {}],
      ['Bulk', { bulkThreshold: 2, pollAfterMs: 10 }],
    ] as const) {
      const ctx = ctxFor('upsert', {
        fields: [...ORDER_FIELDS, ...PROFILE_FIELDS],
        options: { profiles: { ...PROFILES, mode: 'update' }, ...extra },
      });
      await actito.check(ctx);
      const rows = [
        order(1, { 'profile.emailAddress': 'c1@example.com', 'profile.firstName': name }),
        order(5, { customerId: 'C9', ...customer(9) }),
      ];
      const { method, results } = await drive(actito, ctx, 'upsert', rows);
      expect(method).toBe(name === 'Bulk' ? 'bulk' : 'single');
      expect(results.get('O1')).toMatchObject({ ok: true });
      // The profile stays missing, so Actito refuses the record that refers to it (the emulator's foreign-key check).
      expect(results.get('O5')).toMatchObject({
        ok: false,
        code: 'ACTITO_INVALID_VALUE',
        retryable: false,
        message: expect.stringContaining('C9'),
      });
      const profiles = (await admin('GET', '/profiles')).records;
      expect(profiles.map((p: any) => p.customerId).sort()).toEqual(['C0', 'C1', 'C2']);
      expect(profiles.find((p: any) => p.customerId === 'C1')).toMatchObject({ firstName: name });
      expect((await records()).map((r) => r.orderId)).toEqual(['O1']);
    }
    expect((await admin('GET', '/imports')).imports.find((i: any) => i.tableType === 'PROFILE_TABLE')).toMatchObject({
      mode: 'UPDATE_ONLY',
    });
  });

  it('check counts profile updates as updates: an Insert activation with profiles.mode "update" is checked like one that updates', async () => {
    const ctx = ctxFor('insert', {
      fields: [...ORDER_FIELDS, ...PROFILE_FIELDS],
      options: { profiles: { ...PROFILES, mode: 'update' }, nulls: 'send' },
    });
    await expect(actito.check(ctx)).rejects.toThrow(/emptyOnUpdate/);
    const insertOnly = ctxFor('insert', {
      fields: [...ORDER_FIELDS, ...PROFILE_FIELDS],
      options: { profiles: { ...PROFILES, mode: 'insert' }, nulls: 'send' },
    });
    await expect(actito.check(insertOnly)).resolves.toBeDefined();
  });
});

describe('routes as Actito documents them today (category prefixes of the 2025 URL reorganisation)', () => {
  /** The prefix each route family must be called under by default (README "Routes"). */
  const FAMILIES: Array<[RegExp, string]> = [
    [/^\/v4\/entity\/demo\/customTable\/[^/]+\/record(\/|$)/, '/custom-data'],
    [/^\/v4\/entity\/demo\/table\/[^/]+\/profile(\/|$)/, '/profiles'],
    [/^\/v5\/entities\/demo\/custom-tables(\/|$)/, '/custom-table-structure'],
    [/^\/v5\/entities\/demo\/profile-tables(\/|$)/, '/profile-table-structure'],
    [/^\/v5\/entities\/demo\/etl-executions(\/|$)/, '/mass-imports'],
  ];
  /** Each API call as `<family prefix> <METHOD> <path after the prefix>`; a path of no known family shows as `?`. */
  const calls = async (): Promise<string[]> =>
    (await requests())
      // The reset between tests drops tokens: the first call of a test may be a 401 the client repeats.
      .filter((r) => r.path !== '/auth/token' && r.status !== 401)
      .map((r) => {
        for (const [rest, prefix] of FAMILIES)
          if (r.path.startsWith(prefix) && rest.test(r.path.slice(prefix.length))) return `${prefix} ${r.method}`;
        return `? ${r.method} ${r.path}`;
      });

  it('record routes (one by one: upsert, Insert read-then-create, update, Mirror delete) go to /custom-data/v4', async () => {
    await seedProfiles();
    for (const [mode, op, rows] of [
      ['upsert', 'upsert', [order(1)]],
      ['insert', 'create', [order(2)]],
      ['update', 'update', [order(1, { quantity: 11 })]],
      ['mirror', 'delete', [outRow('O2', { orderId: 'O2' }, 'delete')]],
    ] as const) {
      const ctx = ctxFor(mode);
      const { method, results } = await drive(actito, ctx, op, [...rows]);
      expect([mode, method, [...results.values()].every((r) => r.ok)]).toEqual([mode, 'single', true]);
    }
    const made = await calls();
    expect(made.filter((c) => !c.startsWith('/custom-table-structure'))).toEqual([
      '/custom-data POST',
      '/custom-data GET',
      '/custom-data POST',
      '/custom-data PUT',
      '/custom-data DELETE',
    ]);
    expect((await records()).map((r) => [r.orderId, r.quantity])).toEqual([['O1', 11]]);
  });

  it('structure, attribute creation, profiles and v5 ETL executions go to their category prefixes; the retired v4 import is never called', async () => {
    const ctx = ctxFor('upsert', {
      fields: [...ORDER_FIELDS, ...PROFILE_FIELDS, field('channel', 'channel', 'text')],
      options: { profiles: PROFILES, bulkThreshold: 5, pollAfterMs: 10 },
    });
    const checked = await actito.check(ctx);
    await actito.ensureAttributes!(ctx, checked.missingAttributes);
    const { method, results } = await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 6 }, (_, i) => order(i, { ...customer(i % 3), channel: 'web' })),
    );
    expect(method).toBe('bulk');
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    const one = ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { profiles: PROFILES } });
    expect([...(await drive(actito, one, 'upsert', [order(7, customer(7))])).results.values()].every((r) => r.ok)).toBe(true);
    const made = new Set(await calls());
    expect([...made].filter((c) => c.startsWith('?'))).toEqual([]);
    for (const c of [
      '/custom-table-structure GET',
      '/custom-table-structure PATCH',
      '/profile-table-structure GET',
      '/mass-imports POST',
      '/mass-imports GET',
      '/profiles POST',
      '/custom-data POST',
    ])
      expect(made).toContain(c);
    expect((await requests()).filter((r) => /\/import(\/|$)/.test(r.path))).toEqual([]);
    expect((await records()).map((r) => r.channel)).toContain('web');
  });

  it('a connection that chooses the legacy unprefixed URLs (routePrefix: "") still writes', async () => {
    await seedProfiles();
    const legacy = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity, routePrefix: '' });
    const ctx = ctxFor('upsert', { connection: legacy });
    await actito.check(ctx);
    const { results } = await drive(actito, ctx, 'upsert', [order(1)]);
    expect(results.get('O1')).toMatchObject({ ok: true });
    const paths = (await requests()).filter((r) => r.path !== '/auth/token').map((r) => r.path);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.every((p) => /^\/v[45]\//.test(p))).toBe(true);
    expect((await records()).map((r) => r.orderId)).toEqual(['O1']);
  });
});

describe('a record route this licence does not serve (routePrefixes.records)', () => {
  it('a 404 to create-or-update fails the chunk naming the route option, not every row as a missing record', async () => {
    await seedProfiles();
    const wrong = connectionSchema.parse({
      apiKey: emu.apiKey,
      baseUrl: emu.url,
      entity: emu.entity,
      routePrefixes: { records: '/records-x' },
    });
    for (const [mode, op] of [
      ['upsert', 'upsert'],
      ['insert', 'create'],
    ] as const) {
      const ctx = ctxFor(mode, { connection: wrong });
      await actito.check(ctx);
      const chunk = memoryChunk([order(1), order(2)], op);
      const err = await actito.writeChunk(ctx, chunk, await actito.planWrites(ctx, op, 2)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ mode, err, results: [...chunk.results.values()] }).toMatchObject({
        mode,
        err: { code: 'DESTINATION_NOT_FOUND', message: expect.stringMatching(/routePrefixes\.records/) },
        results: [],
      });
    }
    expect(await records()).toEqual([]);
  });

  it('Update (PUT) and Mirror (DELETE) answered 404 under it fail the chunk DESTINATION_NOT_FOUND: no row ACTITO_NOT_FOUND, no deletion counted done, the records untouched', async () => {
    await seedProfiles();
    await drive(actito, ctxFor('upsert'), 'upsert', [order(1), order(2)]);
    const wrong = connectionSchema.parse({
      apiKey: emu.apiKey,
      baseUrl: emu.url,
      entity: emu.entity,
      routePrefixes: { records: '/records-x' },
    });
    for (const [mode, op, rows] of [
      ['update', 'update', [order(1, { quantity: 11 }), order(9)]],
      ['mirror', 'delete', [outRow('O1', { orderId: 'O1' }, 'delete'), outRow('O2', { orderId: 'O2' }, 'delete')]],
    ] as const) {
      const ctx = ctxFor(mode, { connection: wrong });
      await actito.check(ctx);
      const chunk = memoryChunk([...rows], op);
      const err = await actito.writeChunk(ctx, chunk, await actito.planWrites(ctx, op, rows.length)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ mode, err, results: [...chunk.results.values()] }).toMatchObject({
        mode,
        err: { code: 'DESTINATION_NOT_FOUND', message: expect.stringMatching(/routePrefixes\.records/) },
        results: [],
      });
    }
    expect((await records()).map((r) => [r.orderId, r.quantity])).toEqual([
      ['O1', 1],
      ['O2', 2],
    ]);
  });

  it('under the right prefix a 404 stays a missing record (Update: ACTITO_NOT_FOUND; Mirror: already gone), told apart with one look at the table per batch of calls', async () => {
    await seedProfiles();
    await drive(actito, ctxFor('upsert'), 'upsert', [order(1)]);
    const upd = await drive(actito, ctxFor('update'), 'update', [order(1, { quantity: 11 }), order(7), order(8), order(9)]);
    expect([...upd.results.entries()].map(([k, r]) => [k, r.ok ? 'ok' : r.code])).toEqual([
      ['O1', 'ok'],
      ['O7', 'ACTITO_NOT_FOUND'],
      ['O8', 'ACTITO_NOT_FOUND'],
      ['O9', 'ACTITO_NOT_FOUND'],
    ]);
    const del = await drive(actito, ctxFor('mirror'), 'delete', [
      outRow('O1', { orderId: 'O1' }, 'delete'),
      outRow('O7', { orderId: 'O7' }, 'delete'),
      outRow('O8', { orderId: 'O8' }, 'delete'),
    ]);
    expect([...del.results.values()].every((r) => r.ok)).toBe(true);
    expect(await records()).toEqual([]);
    // One list read of the table per chunk that met a 404, never one per row.
    const lists = (await requests()).filter((r) => r.method === 'GET' && /\/customTable\/orders\/record$/.test(r.path));
    expect(lists.map((r) => [r.path, r.status])).toEqual([
      ['/custom-data/v4/entity/demo/customTable/orders/record', 200],
      ['/custom-data/v4/entity/demo/customTable/orders/record', 200],
    ]);
  });
});

describe('the record-list look of a 404 failing transiently (rev19)', () => {
  it('fails the chunk retryable; the rows answered before are kept and not sent again; the retry decides the 404 (Update: ACTITO_NOT_FOUND; Mirror: already gone)', async () => {
    await seedProfiles();
    await drive(actito, ctxFor('upsert'), 'upsert', [order(1), order(2)]);
    for (const [mode, op, rows, want] of [
      ['update', 'update', [order(1, { quantity: 11 }), order(9), order(2, { quantity: 22 })], 'ACTITO_NOT_FOUND'],
      ['mirror', 'delete', [outRow('O1', { orderId: 'O1' }, 'delete'), outRow('O9', { orderId: 'O9' }, 'delete')], 'ok'],
    ] as const) {
      const ctx = ctxFor(mode);
      await actito.check(ctx);
      const chunk = memoryChunk([...rows], op);
      const plan = await actito.planWrites(ctx, op, rows.length);
      await admin('DELETE', '/requests');
      await admin('POST', '/faults', { serverError: { count: 50, status: 503, path: '/record', method: 'GET' } });
      const err = await actito.writeChunk(ctx, chunk, plan).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ mode, err, keys: [...chunk.results.keys()].sort() }).toMatchObject({
        mode,
        err: { retryable: true },
        keys: rows.map((r) => r.key).filter((k) => k !== 'O9'),
      });
      await admin('DELETE', '/faults');
      expect(await actito.writeChunk(ctx, chunk, plan)).toEqual({ status: 'done' });
      expect([...chunk.results.entries()].map(([k, r]) => [k, r.ok ? 'ok' : r.code]).sort()).toEqual(
        rows.map((r) => [r.key, r.key === 'O9' ? want : 'ok']).sort(),
      );
      // Only O9 went again: each other row was sent once.
      const writes = (await requests()).filter((r) => r.method !== 'GET' && /\/record\//.test(r.path));
      expect(writes.map((r) => r.path.split('/').pop()).sort()).toEqual([...rows.map((r) => r.key), 'O9'].sort());
    }
    expect((await records()).map((r) => [r.orderId, r.quantity])).toEqual([['O2', 22]]);
  });
});

describe('a profile route this licence does not serve (routePrefixes.profiles)', () => {
  const wrongProfiles = () =>
    connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity, routePrefixes: { profiles: '/profiles-x' } });
  const failure = async (ctx: ReturnType<typeof ctxFor>, op: 'upsert' | 'create' | 'update', rows: ReturnType<typeof order>[]) => {
    await actito.check(ctx);
    const chunk = memoryChunk([...rows], op);
    const err = await actito.writeChunk(ctx, chunk, await actito.planWrites(ctx, op, rows.length)).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, results: [...chunk.results.values()] };
  };

  it('profiles.mode "update": a PUT answered 404 under it fails the chunk DESTINATION_NOT_FOUND, no profile silently taken for missing, nothing written', async () => {
    await seedProfiles();
    for (const [mode, op, profiles] of [
      ['upsert', 'upsert', { ...PROFILES, mode: 'update' }],
      ['update', 'update', PROFILES], // the sync mode Update only updates profiles
    ] as const) {
      const ctx = ctxFor(mode, { connection: wrongProfiles(), fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { profiles } });
      const rows = [order(1, { 'profile.emailAddress': 'c1@example.com', 'profile.firstName': 'New' }), order(2, customer(2))];
      expect({ mode, ...(await failure(ctx, op, rows)) }).toMatchObject({
        mode,
        err: { code: 'DESTINATION_NOT_FOUND', message: expect.stringMatching(/routePrefixes\.profiles/) },
        results: [],
      });
    }
    const profiles = (await admin('GET', '/profiles')).records;
    expect(profiles.map((p: any) => [p.customerId, p.firstName ?? null])).toEqual([
      ['C0', null],
      ['C1', null],
      ['C2', null],
    ]);
    expect(await records()).toEqual([]);
  });

  it('profiles.mode "upsert" and "insert": a create answered 404 under it fails the chunk DESTINATION_NOT_FOUND, not every row ACTITO_PROFILE_FAILED', async () => {
    for (const [mode, op, profiles] of [
      ['upsert', 'upsert', PROFILES],
      ['insert', 'create', { ...PROFILES, mode: 'insert' }],
    ] as const) {
      const ctx = ctxFor(mode, { connection: wrongProfiles(), fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { profiles } });
      expect({ mode, ...(await failure(ctx, op, [order(1, customer(1)), order(2, customer(2))])) }).toMatchObject({
        mode,
        err: { code: 'DESTINATION_NOT_FOUND', message: expect.stringMatching(/routePrefixes\.profiles/) },
        results: [],
      });
    }
    expect((await admin('GET', '/profiles')).records).toEqual([]);
    expect(await records()).toEqual([]);
  });

  it('under the right prefix a profile PUT answered 404 stays a missing profile (the record decides the row), told apart with one look at the profile table per batch', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', {
      fields: [...ORDER_FIELDS, ...PROFILE_FIELDS],
      options: { profiles: { ...PROFILES, mode: 'update' } },
    });
    await actito.check(ctx);
    const rows = [
      order(1, { 'profile.emailAddress': 'c1@example.com', 'profile.firstName': 'New' }),
      order(5, { customerId: 'C9', ...customer(9) }),
      order(6, { customerId: 'C8', ...customer(8) }),
    ];
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect([...results.entries()].map(([k, r]) => [k, r.ok ? 'ok' : r.code])).toEqual([
      ['O1', 'ok'],
      ['O5', 'ACTITO_INVALID_VALUE'],
      ['O6', 'ACTITO_INVALID_VALUE'],
    ]);
    const profiles = (await admin('GET', '/profiles')).records;
    expect(profiles.map((p: any) => [p.customerId, p.firstName ?? null])).toEqual([
      ['C0', null],
      ['C1', 'New'],
      ['C2', null],
    ]);
    expect((await records()).map((r) => r.orderId)).toEqual(['O1']);
    const lists = (await requests()).filter((r) => r.method === 'GET' && /\/table\/main\/profile$/.test(r.path));
    expect(lists.map((r) => [r.path, r.status])).toEqual([['/profiles/v4/entity/demo/table/main/profile', 200]]);
  });
});

describe('mirror deletes', () => {
  it('deletes by business key; a record already gone is ok', async () => {
    await seedProfiles();
    const ctx = ctxFor('mirror');
    await actito.check(ctx);
    await drive(actito, ctx, 'upsert', [order(1), order(2)]);
    const del = [outRow('O1', { orderId: 'O1' }, 'delete'), outRow('O2', {}, 'delete'), outRow('O9', { orderId: 'O9' }, 'delete')];
    const { method, results } = await drive(actito, ctx, 'delete', del);
    expect(method).toBe('single');
    expect([...results.values()].map((r) => r.ok)).toEqual([true, true, true]);
    expect(await records()).toHaveLength(0);
  });
});

describe('bulk imports', () => {
  const bulkOpts = { bulkThreshold: 10, pollAfterMs: 10 };

  it('upserts through an import and maps per-line errors to row keys', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { ...bulkOpts, profiles: PROFILES } });
    await actito.check(ctx);
    const rows = Array.from({ length: 30 }, (_, i) =>
      order(i, { ...customer(i % 3), ...(i === 7 ? { status: 'BOGUS' } : {}), ...(i === 12 ? { quantity: 'many' } : {}) }),
    );
    const { method, results } = await drive(actito, ctx, 'upsert', rows);
    expect(method).toBe('bulk');
    expect(results.size).toBe(30);
    const failed = [...results.values()].filter((r) => !r.ok);
    expect(failed.map((r) => r.key).sort()).toEqual(['O12', 'O7']);
    expect(failed[0]).toMatchObject({ code: 'ACTITO_INVALID_VALUE', retryable: false });
    expect(await records()).toHaveLength(28);
    const imports = (await admin('GET', '/imports')).imports;
    expect(imports.map((i: any) => [i.tableType, i.mode])).toEqual([
      ['PROFILE_TABLE', 'CREATE_UPDATE'],
      ['CUSTOM_TABLE', 'CREATE_UPDATE'],
    ]);
    expect((await requests()).some((r) => r.route.includes('/record'))).toBe(false);
    expect(await actito.quota!(ctx)).toEqual({ used: 1, max: 22 });
  });

  it('quota() after a run makes no call to Actito: on a worker that did not run it (nothing cached), Actito slow, it answers at once', async () => {
    await seedProfiles();
    const state = new MemoryState();
    const limits = new LocalLimits();
    const run = ctxFor('upsert', { options: bulkOpts, state, limits });
    await actito.check(run);
    const { method } = await drive(
      actito,
      run,
      'upsert',
      Array.from({ length: 12 }, (_, i) => order(i)),
    );
    expect(method).toBe('bulk');
    // The activation's quota read (a local activity) on another worker, or more than a minute later: the
    // table structure is not in this process's cache, and Actito takes 3 s to answer a structure read.
    forgetTables(run);
    await admin('POST', '/faults', { slow: { ms: 3000, count: 100, path: '/custom-tables' } });
    const after = ctxFor('upsert', { options: bulkOpts, state, limits });
    const total = (log: { counts: Record<string, number> }): number => Object.values(log.counts).reduce((a, b) => a + b, 0);
    const before = total(await admin('GET', '/requests'));
    expect(await actito.quota!(after)).toEqual({ used: 1, max: 22 });
    expect(after.apiCalls).toEqual({});
    // Nothing reached Actito either (its own log), in flight or answered.
    const log = await admin('GET', '/requests');
    expect([total(log) - before, log.inFlight.length]).toEqual([0, 0]);

    // An activation no check has resolved the table of (nothing kept in its state): no figure is made up,
    // and none is fetched either; the read fails, so the activation keeps its QUOTA_LOW as it was.
    const unchecked = ctxFor('upsert', { options: bulkOpts, limits });
    const err = await actito.quota!(unchecked).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ retryable: false });
    expect((err as Error).message).toMatch(/not known yet/);
    expect(unchecked.apiCalls).toEqual({});
  });

  it('settles a clean import in Postgres without reading the rows back, unless the key is not sent verbatim', async () => {
    await seedProfiles();
    const passes = async (fields: FieldSpec[]): Promise<{ reads: number; results: Map<string, unknown> }> => {
      const ctx = ctxFor('upsert', { fields, options: bulkOpts });
      await actito.check(ctx);
      const chunk = memoryChunk(
        Array.from({ length: 15 }, (_, i) => order(i)),
        'upsert',
      );
      let reads = 0;
      const rows = chunk.rows.bind(chunk);
      chunk.rows = (n?: number) => {
        reads++;
        return rows(n);
      };
      let outcome = await actito.writeChunk(ctx, chunk, await actito.planWrites(ctx, 'upsert', 15));
      for (let polls = 0; outcome.status === 'pending' && polls < 200; polls++) {
        await new Promise((r) => setTimeout(r, 20));
        outcome = await actito.pollChunk!(ctx, chunk, outcome.handle);
      }
      expect(outcome.status).toBe('done');
      return { reads, results: chunk.results };
    };
    const text = await passes(ORDER_FIELDS);
    expect(text.reads).toBe(1); // the file was built from the rows; the outcome was settled without them
    expect(text.results.get('O4')).toEqual({ key: 'O4', ok: true, destinationId: 'O4' });
    expect(text.results.size).toBe(15);
    // An int4 key's text in the delta need not be the value sent: the rows are read back and matched.
    const numeric = await passes([field('order_id', 'orderId', 'int4', { isKey: true }), ...ORDER_FIELDS.slice(1)]);
    expect(numeric.reads).toBe(2);
    expect([...numeric.results.values()].every((r) => (r as { ok: boolean }).ok)).toBe(true);
    expect(await records()).toHaveLength(15);
  });

  it('imports one profile per match value, the latest row of the chunk winning', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { ...bulkOpts, profiles: PROFILES } });
    await actito.check(ctx);
    // 24 orders of 3 customers; each customer's first name changes from order to order.
    const rows = Array.from({ length: 24 }, (_, i) =>
      order(i, { 'profile.emailAddress': `c${i % 3}@example.com`, 'profile.firstName': `Name${i}` }),
    );
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
    const profileImport = (await admin('GET', '/imports')).imports.find((i: any) => i.tableType === 'PROFILE_TABLE');
    expect(profileImport.counts.read).toBe(3);
    const profiles = (await admin('GET', '/profiles')).records;
    expect(profiles.map((p: any) => [p.customerId, p.firstName]).sort()).toEqual([
      ['C0', 'Name21'],
      ['C1', 'Name22'],
      ['C2', 'Name23'],
    ]);
  });

  it('leaves out of the profile file an attribute that no winning row sends (nulls: skip)', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { ...bulkOpts, profiles: PROFILES } });
    await actito.check(ctx);
    // Earlier orders name the customers; the latest order of each has no first name.
    const rows = Array.from({ length: 12 }, (_, i) =>
      order(i, { 'profile.emailAddress': `c${i % 3}@example.com`, 'profile.firstName': i < 9 ? `Name${i}` : null }),
    );
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
    const profileImport = (await admin('GET', '/imports')).imports.find((i: any) => i.tableType === 'PROFILE_TABLE');
    expect(profileImport.definition.mapping.map((m: any) => m.attribute)).toEqual(['customerId', 'emailAddress']);
  });

  it('with nulls sent, the profile file has every profile column and a winning null leaves the attribute empty', async () => {
    // Nulls are sent by default where the connection says an empty value clears (the profiles are created here).
    const ctx = ctxFor('upsert', {
      connection: { ...conn, emptyOnUpdate: 'clear' },
      fields: [...ORDER_FIELDS, ...PROFILE_FIELDS],
      options: { ...bulkOpts, profiles: PROFILES },
    });
    await actito.check(ctx);
    const rows = Array.from({ length: 12 }, (_, i) =>
      order(i, { 'profile.emailAddress': `c${i % 3}@example.com`, 'profile.firstName': i < 9 ? `Name${i}` : null }),
    );
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
    const profileImport = (await admin('GET', '/imports')).imports.find((i: any) => i.tableType === 'PROFILE_TABLE');
    expect(profileImport.definition.mapping.map((m: any) => m.attribute)).toEqual(['customerId', 'emailAddress', 'firstName']);
    const profiles = (await admin('GET', '/profiles')).records;
    expect(profiles.map((p: any) => [p.customerId, p.firstName ?? null]).sort()).toEqual([
      ['C0', null],
      ['C1', null],
      ['C2', null],
    ]);
  });

  it('uses CREATE_ONLY for inserts and re-attaches instead of importing twice', async () => {
    await seedProfiles();
    const ctx = ctxFor('insert', { options: bulkOpts });
    await actito.check(ctx);
    const plan = await actito.planWrites(ctx, 'create', 20);
    const store = { saved: null as unknown };
    const rows = Array.from({ length: 20 }, (_, i) => order(i));
    const first = await actito.writeChunk(ctx, memoryChunk(rows, 'create', 0, store), plan);
    const again = await actito.writeChunk(ctx, memoryChunk(rows, 'create', 0, store), plan);
    expect(first.status).toBe('pending');
    expect(again).toEqual(first);
    const imports = (await admin('GET', '/imports')).imports;
    expect(imports).toHaveLength(1);
    expect(imports[0].mode).toBe('CREATE_ONLY');
  });

  it('sends ZIP files too', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', {
      fields: [...ORDER_FIELDS, field('note', 'note', 'text')],
      options: { ...bulkOpts, compression: 'ZIP' },
    });
    await actito.check(ctx);
    const { method, results } = await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 11 }, (_, i) => order(i, { note: 'comma, "quote"\nnewline' })),
    );
    expect(method).toBe('bulk');
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect((await records()).find((r) => r.orderId === 'O3')).toMatchObject({ note: 'comma, "quote"\nnewline' });
    expect((await admin('GET', '/imports')).imports[0].compression).toBe('ZIP');
  });

  it('starts a whole-failed import once more', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { options: bulkOpts });
    await actito.check(ctx);
    await admin('POST', '/faults', { bulkImportFails: { count: 1 } });
    const { results } = await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 12 }, (_, i) => order(i)),
    );
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect((await admin('GET', '/imports')).imports.map((i: any) => i.status)).toEqual(['ERROR', 'SUCCESS']);
  });

  it('falls back to one-by-one writes when the daily quota is used up', async () => {
    await seedProfiles();
    const limits = new LocalLimits();
    const ctx = ctxFor('upsert', { options: { ...bulkOpts, bulkImportsPerDay: 3, bulkImportsReserve: 1 }, limits });
    // Another activation (on any worker) already started today's two imports of the table.
    const other = ctxFor('upsert', { options: { ...bulkOpts, bulkImportsPerDay: 3, bulkImportsReserve: 1 }, limits });
    const orders = quotaTable(await loadTables(other, other.options), 'records');
    expect(await takeImport(other, orders, other.options)).toBe(true);
    expect(await takeImport(other, orders, other.options)).toBe(true);
    await actito.check(ctx);
    const { method, results } = await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 12 }, (_, i) => order(i)),
    );
    expect(method).toBe('single');
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect(ctx.logs.some((l) => l.level === 'warn' && /quota/.test(l.message))).toBe(true);

    const wait = ctxFor('upsert', {
      options: { ...bulkOpts, bulkImportsPerDay: 3, bulkImportsReserve: 1, onQuotaExhausted: 'wait' },
      limits,
    });
    await actito.check(wait);
    const plan = await actito.planWrites(wait, 'upsert', 12);
    expect(plan.method).toBe('bulk');
    const err = await actito.writeChunk(wait, memoryChunk([order(1)], 'upsert'), plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuotaWaitError);
    expect((err as QuotaWaitError).waitMs).toBeGreaterThan(0);
  });

  it('falls back when Actito itself answers that the quota is used up', async () => {
    const other = await startActitoEmulator({ callsPerMinute: 1_000_000, dailyBulkImportQuota: 0 });
    try {
      const c = connectionSchema.parse({ apiKey: other.apiKey, baseUrl: other.url, entity: other.entity });
      for (let i = 0; i < 3; i++) other.state.profiles.insert({ customerId: `C${i}` });
      const ctx = ctxFor('upsert', { connection: c, options: bulkOpts });
      await actito.check(ctx);
      const { method, results } = await drive(
        actito,
        ctx,
        'upsert',
        Array.from({ length: 12 }, (_, i) => order(i)),
      );
      expect(method).toBe('bulk');
      expect([...results.values()].every((r) => r.ok)).toBe(true);
      expect(other.state.tables.customTable('orders')!.size).toBe(12);
      expect((await actito.planWrites(ctx, 'upsert', 12)).method).toBe('single');
    } finally {
      await other.close();
    }
  });
});

describe('failures of the API', () => {
  it('re-authenticates once on 401', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert');
    await actito.check(ctx);
    await admin('POST', '/faults', { expireTokens: true });
    const { results } = await drive(actito, ctx, 'upsert', [order(1)]);
    expect(results.get('O1')).toMatchObject({ ok: true });
    const log = await requests();
    expect(log.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(1);
    expect(log.filter((r) => r.path === '/auth/token').length).toBeGreaterThanOrEqual(1);
  });

  it('keeps one token for many calls and fails for good on a revoked key', async () => {
    await seedProfiles();
    await admin('POST', '/api-keys', { key: 'second-key' });
    const c2 = connectionSchema.parse({ ...conn, apiKey: 'second-key' });
    const ctx = ctxFor('upsert', { connection: c2 });
    await actito.check(ctx);
    await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 10 }, (_, i) => order(i)),
    );
    expect((await requests()).filter((r) => r.path === '/auth/token')).toHaveLength(1);
    await admin('DELETE', '/api-keys/second-key');
    const err = await actito
      .writeChunk(ctx, memoryChunk([order(1)], 'upsert'), await actito.planWrites(ctx, 'upsert', 1))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'AUTH_FAILED', retryable: false });
    expect((err as Error).message).not.toContain('second-key');
  });

  it('reports a key without write rights as AUTH_FAILED', async () => {
    await seedProfiles();
    await admin('POST', '/api-keys', { key: 'read-only-key', readOnly: true });
    const ctx = ctxFor('upsert', { connection: connectionSchema.parse({ ...conn, apiKey: 'read-only-key' }) });
    await actito.check(ctx);
    await expect(drive(actito, ctx, 'upsert', [order(1)])).rejects.toMatchObject({ code: 'AUTH_FAILED', retryable: false });
  });

  it('turns 5xx and 429 into retryable errors and resumes on retry', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert');
    await actito.check(ctx);
    const rows = [order(1), order(2)];
    const chunk = memoryChunk(rows, 'upsert');
    const plan = await actito.planWrites(ctx, 'upsert', 2);
    await admin('POST', '/faults', { serverError: { count: 50, status: 503, path: '/record' } });
    await expect(actito.writeChunk(ctx, chunk, plan)).rejects.toMatchObject({ code: 'DESTINATION_UNAVAILABLE', retryable: true });
    await admin('DELETE', '/faults');
    await admin('POST', '/faults', { tooManyRequests: { count: 50, path: '/record' } });
    await expect(actito.writeChunk(ctx, chunk, plan)).rejects.toMatchObject({ code: 'RATE_LIMITED', retryable: true });
    await admin('DELETE', '/faults');
    await admin('POST', '/faults', { serverError: { count: 2, status: 500, path: '/record' } });
    expect(await actito.writeChunk(ctx, chunk, plan)).toEqual({ status: 'done' });
    expect([...chunk.results.values()].every((r) => r.ok)).toBe(true);
  });

  it('stays idempotent when responses are dropped after the write', async () => {
    await seedProfiles();
    const ins = ctxFor('insert');
    await actito.check(ins);
    await admin('POST', '/faults', { dropResponse: { count: 2, path: '/record' } });
    const { results } = await drive(actito, ins, 'create', [order(1), order(2), order(3)]);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect((await records()).map((r) => r.orderId).sort()).toEqual(['O1', 'O2', 'O3']);
    expect((await requests()).filter((r) => r.status === 0)).toHaveLength(2);
  });

  it('re-sends a bulk file whose upload answer was lost, without failing created rows', async () => {
    await seedProfiles();
    const ctx = ctxFor('insert', { options: { bulkThreshold: 10, pollAfterMs: 10 } });
    await actito.check(ctx);
    await admin('POST', '/faults', { dropResponse: { count: 1, path: 'etl-executions' } });
    const rows = Array.from({ length: 12 }, (_, i) => order(i));
    const plan = await actito.planWrites(ctx, 'create', 12);
    const store = { saved: null as unknown };
    await expect(actito.writeChunk(ctx, memoryChunk(rows, 'create', 0, store), plan)).rejects.toMatchObject({ retryable: true });
    await new Promise((r) => setTimeout(r, 200)); // the lost import finishes meanwhile
    const chunk = memoryChunk(rows, 'create', 0, store);
    let outcome = await actito.writeChunk(ctx, chunk, plan);
    while (outcome.status === 'pending') {
      await new Promise((r) => setTimeout(r, 20));
      outcome = await actito.pollChunk!(ctx, chunk, outcome.handle);
    }
    expect([...chunk.results.values()].filter((r) => !r.ok)).toEqual([]);
    expect(chunk.results.size).toBe(12);
    expect(await records()).toHaveLength(12);
    expect((await admin('GET', '/imports')).imports).toHaveLength(2);
  });
});

describe('bulk imports: exactness under faults', () => {
  const bulkOpts = { bulkThreshold: 10, pollAfterMs: 10 };
  const untilDone = async (
    ctx: ReturnType<typeof ctxFor>,
    chunk: ReturnType<typeof memoryChunk>,
    outcome: Awaited<ReturnType<typeof actito.writeChunk>>,
  ) => {
    for (let polls = 0; outcome.status === 'pending'; polls++) {
      if (polls > 200) throw new Error('still pending');
      await new Promise((r) => setTimeout(r, 20));
      outcome = await actito.pollChunk!(ctx, chunk, outcome.handle);
    }
    return outcome;
  };
  const refuseNextImportStart = () =>
    admin('POST', '/faults', { serverError: { count: 1, status: 503, path: '/etl-executions', method: 'POST' } });

  it('a records import whose start failed after the profiles import is started again, never settled from the profiles import', async () => {
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, ...PROFILE_FIELDS], options: { ...bulkOpts, profiles: PROFILES } });
    await actito.check(ctx);
    const rows = Array.from({ length: 12 }, (_, i) => order(i, customer(i % 3)));
    const store = { saved: null as unknown };
    const chunk = memoryChunk(rows, 'upsert', 0, store);
    const first = await actito.writeChunk(ctx, chunk, await actito.planWrites(ctx, 'upsert', 12));
    expect(first.status).toBe('pending');
    const profilesHandle = (first as { handle: string }).handle;
    await refuseNextImportStart();
    // The poll that sees the profiles import finished starts the records import, which is refused.
    let err: unknown;
    for (let polls = 0; !err && polls < 200; polls++) {
      await new Promise((r) => setTimeout(r, 20));
      err = await actito.pollChunk!(ctx, chunk, profilesHandle).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(err).toMatchObject({ code: 'DESTINATION_UNAVAILABLE', retryable: true });
    expect(chunk.results.size).toBe(0);
    // Temporal retries the activity with the handle it had: the profiles import's id.
    const retried = memoryChunk(rows, 'upsert', 0, store);
    expect(await untilDone(ctx, retried, await actito.pollChunk!(ctx, retried, profilesHandle))).toEqual({ status: 'done' });
    expect([...retried.results.values()].filter((r) => !r.ok)).toEqual([]);
    expect(retried.results.size).toBe(12);
    expect((await records()).map((r) => r.orderId).sort()).toEqual(rows.map((r) => r.key).sort());
    const imports = (await admin('GET', '/imports')).imports;
    expect(imports.map((i: any) => [i.tableType, i.status])).toEqual([
      ['PROFILE_TABLE', 'SUCCESS'],
      ['CUSTOM_TABLE', 'SUCCESS'],
    ]);
  });

  it('a restart of a whole-failed import whose start failed is started again, never settled from the failed import', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { options: bulkOpts });
    await actito.check(ctx);
    const rows = Array.from({ length: 12 }, (_, i) => order(i));
    const store = { saved: null as unknown };
    const chunk = memoryChunk(rows, 'upsert', 0, store);
    await admin('POST', '/faults', { bulkImportFails: { count: 1 } });
    const first = await actito.writeChunk(ctx, chunk, await actito.planWrites(ctx, 'upsert', 12));
    const failedHandle = (first as { handle: string }).handle;
    await refuseNextImportStart();
    let err: unknown;
    for (let polls = 0; !err && polls < 200; polls++) {
      await new Promise((r) => setTimeout(r, 20));
      err = await actito.pollChunk!(ctx, chunk, failedHandle).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(err).toMatchObject({ code: 'DESTINATION_UNAVAILABLE', retryable: true });
    const retried = memoryChunk(rows, 'upsert', 0, store);
    expect(await untilDone(ctx, retried, await actito.pollChunk!(ctx, retried, failedHandle))).toEqual({ status: 'done' });
    expect([...retried.results.values()].filter((r) => !r.ok)).toEqual([]);
    expect(retried.results.size).toBe(12);
    expect(await records()).toHaveLength(12);
    expect((await admin('GET', '/imports')).imports.map((i: any) => i.status)).toEqual(['ERROR', 'SUCCESS']);
  });
});

describe('bulk imports: Insert mode judges a line that already exists as one by one does', () => {
  const bulkOpts = { bulkThreshold: 10, pollAfterMs: 10 };
  const rows = () => Array.from({ length: 12 }, (_, i) => order(i));
  const plan = (ctx: ReturnType<typeof ctxFor>) => actito.planWrites(ctx, 'create', 12);
  const settle = async (ctx: ReturnType<typeof ctxFor>, chunk: ReturnType<typeof memoryChunk>) => {
    let outcome = await actito.writeChunk(ctx, chunk, await plan(ctx));
    for (let polls = 0; outcome.status === 'pending'; polls++) {
      if (polls > 200) throw new Error('still pending');
      await new Promise((r) => setTimeout(r, 20));
      outcome = await actito.pollChunk!(ctx, chunk, outcome.handle);
    }
    return chunk.results;
  };
  /** Lets every import started so far finish, its report never read (the run that started it lost its state). */
  const importsFinished = async () => {
    for (let i = 0; i < 200; i++) {
      const imports = (await admin('GET', '/imports')).imports as Array<{ status: string }>;
      if (imports.every((x) => !['PENDING', 'RUNNING'].includes(x.status))) return imports.map((x) => x.status);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('imports still running');
  };
  const recordCalls = async () => (await requests()).filter((r) => r.route.includes('/record'));
  const notOverwritten = (key: string) => ({
    key,
    ok: false,
    code: 'ACTITO_ALREADY_EXISTS',
    retryable: false,
    message: expect.stringMatching(new RegExp(`"${key}".*Insert mode does not overwrite`)),
  });

  it('a chunk sent again after its first import created every record: every row ok, read back once, nothing rewritten', async () => {
    await seedProfiles();
    const ctx = ctxFor('insert', { options: bulkOpts });
    await actito.check(ctx);
    expect(await actito.writeChunk(ctx, memoryChunk(rows(), 'create'), await plan(ctx))).toMatchObject({ status: 'pending' });
    expect(await importsFinished()).toEqual(['SUCCESS']);
    const before = await records();
    expect(before).toHaveLength(12);
    await admin('DELETE', '/requests');
    // A fresh chunk state: the rows are sent in a new import, without the re-sent-upload flag.
    const results = await settle(ctx, memoryChunk(rows(), 'create'));
    expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
    expect(results.size).toBe(12);
    expect(await records()).toEqual(before);
    expect(await importsFinished()).toEqual(['SUCCESS', 'WITH_ERROR']);
    // Only the lines reported as existing are read, one GET each, and nothing is written one by one.
    const calls = await recordCalls();
    expect(calls.filter((r) => r.method === 'GET')).toHaveLength(12);
    expect(calls.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('a record changed in Actito by someone else in between: that row fails ACTITO_ALREADY_EXISTS, the others are ok', async () => {
    await seedProfiles();
    const ctx = ctxFor('insert', { options: bulkOpts });
    await actito.check(ctx);
    await actito.writeChunk(ctx, memoryChunk(rows(), 'create'), await plan(ctx));
    await importsFinished();
    const table = emu.state.tables.customTable('orders')!;
    table.update(table.findBy('orderId', 'O4')!, { quantity: '99' });
    const results = await settle(ctx, memoryChunk(rows(), 'create'));
    expect(results.get('O4')).toEqual(notOverwritten('O4'));
    expect(
      [...results.values()]
        .filter((r) => r.ok)
        .map((r) => r.key)
        .sort(),
    ).toEqual(
      rows()
        .map((r) => r.key)
        .filter((k) => k !== 'O4')
        .sort(),
    );
    expect(await records()).toHaveLength(12);
    expect((await records()).find((r) => r.orderId === 'O4')).toMatchObject({ quantity: 99 });
  });

  it('after a re-sent upload, a line that hits a record someone else created with other values is an error, not ok', async () => {
    await seedProfiles();
    const other = ctxFor('upsert');
    await actito.check(other);
    expect((await drive(actito, other, 'upsert', [order(5, { status: 'NEW', quantity: 77 })])).results.get('O5')).toMatchObject({
      ok: true,
    });
    const ctx = ctxFor('insert', { options: bulkOpts });
    await actito.check(ctx);
    await admin('POST', '/faults', { dropResponse: { count: 1, path: 'etl-executions' } });
    const store = { saved: null as unknown };
    await expect(actito.writeChunk(ctx, memoryChunk(rows(), 'create', 0, store), await plan(ctx))).rejects.toMatchObject({
      retryable: true,
    });
    await importsFinished(); // the lost import created every record but O5
    const chunk = memoryChunk(rows(), 'create', 0, store);
    const results = await settle(ctx, chunk);
    expect(chunk.saves[0]).toMatchObject({ phase: 'records', reuploaded: true });
    expect(results.get('O5')).toEqual(notOverwritten('O5'));
    expect([...results.values()].filter((r) => !r.ok).map((r) => r.key)).toEqual(['O5']);
    expect(results.size).toBe(12);
    expect(await records()).toHaveLength(12);
    expect((await records()).find((r) => r.orderId === 'O5')).toMatchObject({ status: 'NEW', quantity: 77 });
  });

  it('a poll stopped while reading back resumes with the rows not yet judged: each line read once, none left unconfirmed', async () => {
    await seedProfiles();
    const ctx = ctxFor('insert', { options: bulkOpts });
    await actito.check(ctx);
    const many = Array.from({ length: 150 }, (_, i) => order(i));
    const plan150 = await actito.planWrites(ctx, 'create', 150);
    await actito.writeChunk(ctx, memoryChunk(many, 'create'), plan150);
    await importsFinished();
    await admin('DELETE', '/requests');
    const store = { saved: null as unknown };
    const chunk = memoryChunk(many, 'create', 0, store);
    const record = chunk.record.bind(chunk);
    // The worker dies right after the first group of rows read back is recorded.
    chunk.record = async (rs) => {
      await record(rs);
      throw new Error('worker lost');
    };
    const started = await actito.writeChunk(ctx, chunk, plan150);
    expect(started.status).toBe('pending');
    const handle = (started as { handle: string }).handle;
    let err: unknown;
    for (let polls = 0; !err && polls < 200; polls++) {
      await new Promise((r) => setTimeout(r, 20));
      err = await actito.pollChunk!(ctx, chunk, handle).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(err).toMatchObject({ message: 'worker lost' });
    expect(chunk.results.size).toBe(100);
    const retried = memoryChunk(many, 'create', 0, store);
    for (const [k, r] of chunk.results) retried.results.set(k, r);
    let outcome = await actito.pollChunk!(ctx, retried, handle);
    for (let polls = 0; outcome.status === 'pending' && polls < 200; polls++) outcome = await actito.pollChunk!(ctx, retried, handle);
    expect(outcome).toEqual({ status: 'done' });
    expect([...retried.results.values()].filter((r) => !r.ok)).toEqual([]);
    expect(retried.results.size).toBe(150);
    expect((await recordCalls()).map((r) => r.method)).toEqual(Array(150).fill('GET'));
    expect(await importsFinished()).toEqual(['SUCCESS', 'WITH_ERROR']);
  });
});

describe('bulk imports: a report that cannot account for every line fails closed', () => {
  const bulkOpts = { bulkThreshold: 10, pollAfterMs: 10 };
  const rowsWithTwoBad = () => Array.from({ length: 12 }, (_, i) => order(i, i === 3 || i === 7 ? { status: 'BOGUS' } : {}));
  const unconfirmed = (r: unknown) =>
    expect(r).toMatchObject({
      ok: false,
      code: 'ACTITO_IMPORT_UNCONFIRMED',
      retryable: true,
      message: expect.stringMatching(/Actito import \S+ \(records, table "orders"\)/),
    });

  it('errors that name neither a line nor a key: no row is counted as imported', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { options: bulkOpts });
    await actito.check(ctx);
    await admin('POST', '/faults', { reportOmits: { fields: ['line', 'key'] } });
    const { results } = await drive(actito, ctx, 'upsert', rowsWithTwoBad());
    expect(results.size).toBe(12);
    expect(results.get('O7')).toMatchObject({ ok: false });
    expect(results.get('O3')).toMatchObject({ ok: false });
    for (const r of results.values()) unconfirmed(r);
    expect((results.get('O1') as { message: string }).message).toMatch(/2 errors? name neither a line nor a key/);
  });

  it('an import that ended with errors but lists none: no row is counted as imported', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { options: bulkOpts });
    await actito.check(ctx);
    for (const fields of [['errors'], ['errors', 'counts', 'errorCount']]) {
      await admin('POST', '/faults', { reportOmits: { fields } });
      const { results } = await drive(actito, ctx, 'upsert', rowsWithTwoBad());
      expect({ fields, bad: results.get('O7')?.ok }).toEqual({ fields, bad: false });
      for (const r of results.values()) unconfirmed(r);
    }
  });

  it('errors named only by line are matched to rows by physical line, past cells holding line breaks', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { fields: [...ORDER_FIELDS, field('note', 'note', 'text')], options: bulkOpts });
    await actito.check(ctx);
    await admin('POST', '/faults', { reportOmits: { fields: ['key'] } });
    const rows = Array.from({ length: 12 }, (_, i) =>
      order(i, { note: i === 2 ? 'two\nlines\r\nthree' : `n${i}`, ...(i === 7 ? { status: 'BOGUS' } : {}) }),
    );
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect([...results.values()].filter((r) => !r.ok).map((r) => r.key)).toEqual(['O7']);
    expect((await records()).map((r) => r.orderId).sort()).toEqual(
      rows
        .filter((r) => r.key !== 'O7')
        .map((r) => r.key)
        .sort(),
    );
  });

  it('a poll stopped after recording some rows: errors named only by line are not pinned on the rows left', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { options: { ...bulkOpts, bulkChunkSize: 5000 } });
    await actito.check(ctx);
    await admin('POST', '/faults', { reportOmits: { fields: ['key'] } });
    // Lines 5 and 2502 are refused; the report names them by line only.
    const many = Array.from({ length: 4600 }, (_, i) => order(i, i === 3 || i === 2500 ? { status: 'BOGUS' } : {}));
    const store = { saved: null as unknown };
    const chunk = memoryChunk(many, 'upsert', 0, store);
    const record = chunk.record.bind(chunk);
    // The worker dies right after the report's first batch of rows is recorded.
    chunk.record = async (rs) => {
      await record(rs);
      throw new Error('worker lost');
    };
    const plan = await actito.planWrites(ctx, 'upsert', many.length);
    const started = await actito.writeChunk(ctx, chunk, plan);
    const handle = (started as { handle: string }).handle;
    let err: unknown;
    for (let polls = 0; !err && polls < 200; polls++) {
      await new Promise((r) => setTimeout(r, 20));
      err = await actito.pollChunk!(ctx, chunk, handle).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(err).toMatchObject({ message: 'worker lost' });
    expect(chunk.results.size).toBe(2000);
    const retried = memoryChunk(many, 'upsert', 0, store);
    for (const [k, r] of chunk.results) retried.results.set(k, r);
    let outcome = await actito.pollChunk!(ctx, retried, handle);
    for (let polls = 0; outcome.status === 'pending' && polls < 200; polls++) outcome = await actito.pollChunk!(ctx, retried, handle);
    expect(outcome).toEqual({ status: 'done' });
    const stored = new Set((await records()).map((r) => r.orderId));
    expect(stored.has('O2500')).toBe(false);
    // Every row the retried poll settled: never written if Actito does not hold it, never failed for another row's error.
    const wrong = [...retried.results.values()]
      .filter((r) => !chunk.results.has(r.key))
      .filter((r) => (r.ok ? !stored.has(r.key) : !r.retryable && r.key !== 'O2500'))
      .map((r) => `${r.key}: ${r.ok ? 'ok' : (r as { message: string }).message}`);
    expect(wrong).toEqual([]);
    expect(retried.results.get('O2500')).toMatchObject({ ok: false });
  });

  it('past 10,000 errors without a total, every error page is read and every failed row reported', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { options: bulkOpts });
    await actito.check(ctx);
    await admin('POST', '/faults', { reportOmits: { fields: ['total'] } });
    const bad = 10_050;
    const rows = Array.from({ length: bad + 10 }, (_, i) => order(i, i < bad ? { status: 'BOGUS' } : {}));
    const { results } = await drive(actito, ctx, 'upsert', rows);
    const failed = [...results.values()].filter((r) => !r.ok);
    expect(failed).toHaveLength(bad);
    expect(failed.every((r) => (r as { code: string }).code === 'ACTITO_INVALID_VALUE')).toBe(true);
    expect(
      [...results.values()]
        .filter((r) => r.ok)
        .map((r) => r.key)
        .sort(),
    ).toEqual(
      rows
        .slice(bad)
        .map((r) => r.key)
        .sort(),
    );
    expect(await records()).toHaveLength(10);
  });
});

describe('bulk imports: liveness', () => {
  afterEach(() => {
    heartbeatTimer.everyMs = 10_000;
  });

  it('heartbeats while the import file is being uploaded', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { options: { bulkThreshold: 10, pollAfterMs: 10 } });
    await actito.check(ctx);
    heartbeatTimer.everyMs = 10;
    let beats = 0;
    let beatsDuringUpload = 0;
    ctx.heartbeat = () => {
      beats++;
      if ([...emu.state.requests.inFlight].some((r) => r.method === 'POST' && r.path.endsWith('/etl-executions'))) beatsDuringUpload++;
    };
    await admin('POST', '/faults', { slow: { ms: 300, count: 1, path: '/etl-executions', method: 'POST' } });
    const { results } = await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 12 }, (_, i) => order(i)),
    );
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect((await admin('GET', '/faults')).faults.slow.count).toBe(0); // the upload was slowed
    expect(beats).toBeGreaterThan(0);
    expect(beatsDuringUpload).toBeGreaterThanOrEqual(1);
  });

  it('heartbeats while a one-by-one write is in flight (a slow call is not taken for a dead worker)', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', {});
    await actito.check(ctx);
    heartbeatTimer.everyMs = 10;
    let beatsDuringWrite = 0;
    ctx.heartbeat = () => {
      if ([...emu.state.requests.inFlight].some((r) => r.method !== 'GET')) beatsDuringWrite++;
    };
    await admin('POST', '/faults', { slow: { ms: 300, count: 1 } });
    const { method, results } = await drive(actito, ctx, 'upsert', [order(1)]);
    expect({ method, ok: [...results.values()].every((r) => r.ok) }).toEqual({ method: 'single', ok: true });
    expect((await admin('GET', '/faults')).faults.slow.count).toBe(0);
    expect(beatsDuringWrite).toBeGreaterThanOrEqual(1);
  });

  it('a quick one-by-one chunk beats not after its last rows (an attempt’s first beat is a call to Temporal at once)', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', {});
    await actito.check(ctx);
    let beats = 0;
    ctx.heartbeat = () => void beats++;
    const { method, results } = await drive(actito, ctx, 'upsert', [order(1), order(2), order(3)]);
    expect({ method, ok: [...results.values()].every((r) => r.ok), beats }).toEqual({ method: 'single', ok: true, beats: 0 });
    expect(await records()).toHaveLength(3);
  });
});

describe('clearing a value (NULL or empty text in the model)', () => {
  const fields = [...ORDER_FIELDS, field('note', 'note', 'text'), ...PROFILE_FIELDS];
  const filled = (i: number) => order(i, { note: `note ${i}`, quantity: i + 1, ...customer(i % 3) });
  // Every other row clears its note with NULL, the rest with ''; every row clears its quantity and its profile's first name.
  const cleared = (i: number) =>
    order(i, {
      note: i % 2 ? null : '',
      quantity: null,
      'profile.emailAddress': `c${i % 3}@example.com`,
      'profile.firstName': i % 2 ? '' : null,
    });

  it('is refused at check when the connection says Actito keeps a stored value on an empty one (nothing would clear)', async () => {
    await seedProfiles();
    for (const mode of ['upsert', 'update', 'mirror'] as const) {
      const ctx = ctxFor(mode, { fields, options: { nulls: 'send', profiles: PROFILES } });
      await expect(actito.check(ctx)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/"nulls": "send".*emptyOnUpdate/s),
      });
    }
    // Insert updates profiles with profiles.mode "upsert", else nothing: nothing to clear, nothing refused.
    await expect(actito.check(ctxFor('insert', { fields, options: { nulls: 'send', profiles: PROFILES } }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(
      actito.check(ctxFor('insert', { fields, options: { nulls: 'send', profiles: { ...PROFILES, mode: 'insert' } } })),
    ).resolves.toBeDefined();
  });

  it('with the default (nulls skipped), a cleared model value leaves the stored value, NULL and empty text alike', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', { fields, options: { profiles: PROFILES } });
    await actito.check(ctx);
    await drive(actito, ctx, 'upsert', [filled(1), filled(2)]);
    const { results } = await drive(actito, ctx, 'upsert', [cleared(1), cleared(2)]);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    expect((await records()).map((r) => [r.orderId, r.note, r.quantity])).toEqual([
      ['O1', 'note 1', 2],
      ['O2', 'note 2', 3],
    ]);
  });

  describe('when Actito clears an attribute sent empty (connection emptyOnUpdate: "clear")', () => {
    let clearing: ActitoEmulator;
    let c: ActitoConnection;
    beforeAll(async () => {
      clearing = await startActitoEmulator({ callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10, emptyOnUpdate: 'clear' });
      c = connectionSchema.parse({ apiKey: clearing.apiKey, baseUrl: clearing.url, entity: clearing.entity, emptyOnUpdate: 'clear' });
      clientFor(c).backoffMs = 5;
    });
    afterAll(async () => clearing.close());
    beforeEach(() => clearing.state.reset());
    const stored = () => [...clearing.state.tables.customTable('orders')!.entries()].map(([, v]) => [v.orderId, v.note, v.quantity]);
    const firstNames = () => [...clearing.state.profiles.entries()].map(([, v]) => [v.customerId, v.firstName]).sort();

    for (const [path, options] of [
      ['one by one', {}],
      ['bulk (full re-sync)', { bulkThreshold: 2, pollAfterMs: 10 }],
    ] as const) {
      it(`clears the attribute in Actito, ${path}`, async () => {
        const ctx = ctxFor('upsert', { connection: c, fields, options: { ...options, profiles: PROFILES } });
        await actito.check(ctx);
        const first = await drive(actito, ctx, 'upsert', [0, 1, 2, 3].map(filled));
        expect([...first.results.values()].every((r) => r.ok)).toBe(true);
        expect(stored()).toEqual([
          ['O0', 'note 0', '1'],
          ['O1', 'note 1', '2'],
          ['O2', 'note 2', '3'],
          ['O3', 'note 3', '4'],
        ]);
        expect(firstNames()).toEqual([
          ['C0', 'Name0'],
          ['C1', 'Name1'],
          ['C2', 'Name2'],
        ]);
        const { method, results } = await drive(actito, ctx, 'upsert', [0, 1, 2, 3].map(cleared));
        expect(method).toBe(path === 'one by one' ? 'single' : 'bulk');
        expect([...results.values()].filter((r) => !r.ok)).toEqual([]);
        expect(stored()).toEqual([
          ['O0', null, null],
          ['O1', null, null],
          ['O2', null, null],
          ['O3', null, null],
        ]);
        expect(firstNames()).toEqual([
          ['C0', null],
          ['C1', null],
          ['C2', null],
        ]);
      });
    }

    it('refuses nulls "skip" for modes that update: an import cell left empty would clear the attribute anyway', async () => {
      await expect(
        actito.check(ctxFor('upsert', { connection: c, fields, options: { nulls: 'skip', profiles: PROFILES } })),
      ).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/"nulls": "skip"/) });
    });
  });
});

describe('API calls counted for the metric (ctx.apiCall)', () => {
  /** Our call kind of each route the emulator logged (its route patterns, read independently of routes.ts). */
  const kindOfRoute = (route: string): string => {
    if (route === 'GET /auth/token') return 'auth';
    if (/custom-tables|profile-tables/.test(route)) return 'schema';
    if (route.includes('/customTable/')) return 'record';
    if (route.includes('/profile')) return 'profile';
    if (route.endsWith('/errors')) return 'import_errors';
    if (route.startsWith('POST ') && route.endsWith('/etl-executions')) return 'import';
    if (route.startsWith('GET ') && route.includes('/etl-executions/')) return 'import_status';
    return `unexpected route ${route}`;
  };

  it('every request the emulator saw is counted once under its kind: token requests, 401s and retries included', async () => {
    await seedProfiles();
    const ctx = ctxFor('upsert', {
      fields: [...ORDER_FIELDS, ...PROFILE_FIELDS],
      options: { bulkThreshold: 10, pollAfterMs: 10, profiles: PROFILES },
    });
    await actito.check(ctx);
    // An import with a rejected line, then rows one by one: a 503 the client retries, an expired token it renews.
    await drive(
      actito,
      ctx,
      'upsert',
      Array.from({ length: 20 }, (_, i) => order(i, { ...customer(i % 3), ...(i === 7 ? { status: 'BOGUS' } : {}) })),
    );
    await admin('POST', '/faults', { serverError: { count: 1, status: 503, path: '/record' } });
    await drive(actito, ctx, 'upsert', [order(30, customer(0)), order(31, customer(1))]);
    await admin('POST', '/faults', { expireTokens: true });
    await drive(actito, ctx, 'upsert', [order(32, customer(2))]);

    const { counts } = (await admin('GET', '/requests')) as { counts: Record<string, number> };
    const expected: Record<string, number> = {};
    for (const [route, n] of Object.entries(counts)) expected[kindOfRoute(route)] = (expected[kindOfRoute(route)] ?? 0) + n;
    expect(ctx.apiCalls).toEqual(expected);
    expect(Object.keys(ctx.apiCalls).sort()).toEqual(['auth', 'import', 'import_status', 'profile', 'record', 'schema']);
    expect(ctx.apiCalls.auth).toBeGreaterThanOrEqual(2);
    expect((await requests()).filter((r) => r.status === 503 || r.status === 401).length).toBeGreaterThanOrEqual(2);
  });
});
