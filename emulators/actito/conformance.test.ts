/**
 * Conformance suite for the Actito emulator: plain HTTP calls against an in-process server, one
 * `describe` per item of the checklist of the Actito API notes (docs/sources/actito-api.md §10).
 * Run: npx jest --selectProjects emulators emulators/actito
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startActitoEmulator, type ActitoEmulator, type ActitoEmulatorOptions } from './server';
import { writeZip } from './zip';

type Res = { status: number; body: any; headers: Headers; ms: number };

let emu: ActitoEmulator | undefined;
const E = (): ActitoEmulator => emu!;

async function start(opts: ActitoEmulatorOptions = {}): Promise<ActitoEmulator> {
  emu = await startActitoEmulator({ port: 0, bulkProcessingDelayMs: 5, ...opts });
  return emu;
}
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function call(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string>; form?: FormData } = {},
): Promise<Res> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | FormData | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  const t0 = Date.now();
  const r = await fetch(`${E().url}${path}`, { method, headers, body });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, headers: r.headers, ms: Date.now() - t0 };
}

async function token(): Promise<string> {
  const r = await call('GET', '/auth/token', { headers: { Authorization: E().apiKey } });
  expect(r.status).toBe(200);
  return r.body.accessToken as string;
}

const props = (o: Record<string, unknown>) => ({ properties: Object.entries(o).map(([name, value]) => ({ name, value })) });
const attrs = (o: Record<string, unknown>) => ({ attributes: Object.entries(o).map(([name, value]) => ({ name, value })) });
const REC = '/v4/entity/demo/customTable/orders/record';
const PROFILE = '/profiles/v4/entity/demo/table/main/profile';

async function seedProfile(tok: string, customerId: string, email = `${customerId.toLowerCase()}@example.com`): Promise<number> {
  const r = await call('POST', `${PROFILE}?allowUpdate=true`, { token: tok, body: attrs({ emailAddress: email, customerId }) });
  expect([200, 201]).toContain(r.status);
  return r.body.profileId as number;
}

function form(file: Buffer, fileName: string, jsonName: string, json: unknown): FormData {
  const f = new FormData();
  f.append('inputFile', new Blob([file]), fileName);
  f.append(jsonName, JSON.stringify(json));
  return f;
}

async function waitForExecution(tok: string, path: string, timeoutMs = 120_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await call('GET', path, { token: tok });
    expect(r.status).toBe(200);
    if (['SUCCESS', 'WITH_ERROR', 'ERROR'].includes(r.body.status)) return r.body;
    if (Date.now() > until) throw new Error(`execution still ${r.body.status}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const V5 = '/mass-imports/v5/entities/demo';
const etl = (mode: string, extra: Record<string, unknown> = {}) => ({
  tableType: 'CUSTOM_TABLE',
  tableId: 'orders',
  mode,
  keyAttribute: 'orderId',
  ...extra,
});

describe('§1 token flow [D S1, S4]', () => {
  it('GET /auth/token with the raw key returns a 15-minute bearer token; bad key → 401', async () => {
    await start();
    const r = await call('GET', '/auth/token', { headers: { Authorization: 'syncline-demo-key' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tokenType: 'bearer', expiresIn: '900s', scope: 'read write' });
    expect(r.body.accessToken.split('.')).toHaveLength(3);
    expect(typeof r.body.jti).toBe('string');
    expect((await call('GET', '/auth/token', { headers: { Authorization: 'wrong' } })).status).toBe(401);
    expect((await call('GET', '/auth/token', { headers: { Authorization: 'Bearer syncline-demo-key' } })).status).toBe(401);
  });

  it('data calls need Bearer <token>; missing, invalid and expired tokens → 401', async () => {
    await start({ tokenTtlMs: 300 });
    expect((await call('GET', '/entities/v5/entities')).status).toBe(401);
    expect((await call('GET', '/entities/v5/entities', { token: 'nope' })).status).toBe(401);
    expect((await call('GET', '/entities/v5/entities', { headers: { Authorization: E().apiKey } })).status).toBe(401);
    const tok = await token();
    const ok = await call('GET', '/entities/v5/entities', { token: tok });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ entities: [{ id: 1, name: 'demo', comment: null }] });
    await new Promise((res) => setTimeout(res, 400));
    const expired = await call('GET', '/entities/v5/entities', { token: tok });
    expect(expired.status).toBe(401);
    expect(expired.body.message).toMatch(/expired/);
    expect((await call('GET', '/entities/v5/entities', { token: await token() })).status).toBe(200);
  });

  it('per-key access rights → 403; a revoked key → 401 for new and existing tokens [D S1]', async () => {
    await start({ extraApiKeys: { 'ro-key': { readOnly: true } } });
    const ro = (await call('GET', '/auth/token', { headers: { Authorization: 'ro-key' } })).body.accessToken;
    expect((await call('GET', '/v5/entities/demo/custom-tables', { token: ro })).status).toBe(200);
    expect((await call('POST', REC, { token: ro, body: props({ orderId: 'X' }) })).status).toBe(403);
    await call('POST', '/__admin/api-keys', { body: { key: 'no-imports', denyPaths: ['/etl-executions'] } });
    const ni = (await call('GET', '/auth/token', { headers: { Authorization: 'no-imports' } })).body.accessToken;
    expect((await call('GET', `${V5}/etl-executions/x`, { token: ni })).status).toBe(403);
    expect((await call('DELETE', '/__admin/api-keys/ro-key')).status).toBe(200);
    expect((await call('GET', '/v5/entities/demo/custom-tables', { token: ro })).status).toBe(401);
    expect((await call('GET', '/auth/token', { headers: { Authorization: 'ro-key' } })).status).toBe(401);
  });

  it('an Accept header that excludes JSON → 406 [D S6]', async () => {
    await start();
    const tok = await token();
    expect((await call('GET', '/entities/v5/entities', { token: tok, headers: { Accept: 'text/html' } })).status).toBe(406);
  });
});

describe('§1 paths: each family under its current category prefix, and the legacy unprefixed form [D S5]', () => {
  it('serves /<category>/v4|v5 and the unprefixed /v4, /v5; unknown entity → 404; wrong method → 405', async () => {
    await start();
    const tok = await token();
    for (const p of ['/v5/entities/demo/custom-tables', '/custom-table-structure/v5/entities/demo/custom-tables']) {
      expect((await call('GET', p, { token: tok })).status).toBe(200);
    }
    expect((await call('GET', '/v4/entity/demo/customTable/orders/record/X', { token: tok })).status).toBe(404);
    expect((await call('GET', '/custom-data/v4/entity/demo/customTable/orders/record?number=1', { token: tok })).status).toBe(200);
    expect((await call('GET', '/v4/entity/demo/customTable/orders/record?number=1', { token: tok })).status).toBe(200);
    expect((await call('GET', '/profile-table-structure/v5/entities/demo/profile-tables', { token: tok })).status).toBe(200);
    expect((await call('GET', '/v5/entities/other/custom-tables', { token: tok })).status).toBe(404);
    expect((await call('DELETE', '/v5/entities/demo/custom-tables', { token: tok })).status).toBe(405);
  });

  it("a route under another family's prefix, or an unknown prefix, is not served (404), so a wrong prefix in the connector shows", async () => {
    await start();
    const tok = await token();
    const wrong = [
      '/custom-tables/v4/entity/demo/customTable/orders/record?number=1',
      '/profiles/v4/entity/demo/customTable/orders/record?number=1',
      '/custom-data/v5/entities/demo/custom-tables',
      '/custom-table-structure/v5/entities/demo/profile-tables',
      '/mass-imports/v5/entities/demo/custom-tables',
    ];
    for (const p of wrong) expect([p, (await call('GET', p, { token: tok })).status]).toEqual([p, 404]);
  });

  it('the v4 mass import, retired by Actito in mid-2025, is no longer served (404) under any prefix', async () => {
    await start();
    const tok = await token();
    for (const p of [
      '/mass-imports/v4/entity/demo/customTable/orders/import',
      '/v4/entity/demo/customTable/orders/import',
      '/mass-imports/v4/entity/demo/table/main/import',
    ]) {
      const r = await call('POST', p, {
        token: tok,
        form: form(gzipSync('orderId,customerId\n'), 'f.csv.gz', 'parameters', { mode: 'CREATE_UPDATE' }),
      });
      expect([p, r.status]).toEqual([p, 404]);
    }
  });
});

describe('§2 table structures (v5) [D S7, S8]', () => {
  it('lists custom tables and reads one by UUID or name with attributes, keys and foreign keys', async () => {
    await start();
    const tok = await token();
    const list = await call('GET', '/custom-table-structure/v5/entities/demo/custom-tables', { token: tok });
    const orders = list.body.customTables.find((t: any) => t.name === 'orders');
    expect(orders).toMatchObject({ type: 'INTERACTIONS', primaryKeyAttribute: 'orderId', bigTable: false });
    expect(orders.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const one = await call('GET', `/custom-table-structure/v5/entities/demo/custom-tables/${orders.id}`, { token: tok });
    expect(one.body).toEqual(orders);
    expect(one.body.attributes.find((a: any) => a.name === 'orderId')).toEqual({
      name: 'orderId',
      valueType: 'STRING',
      mandatory: true,
      indexed: true,
      unique: true,
      valueRestriction: { maxLength: 50 },
    });
    expect(new Set(one.body.attributes.map((a: any) => a.valueType))).toEqual(
      new Set(['STRING', 'INTEGER', 'NUMBER', 'LONG', 'BOOLEAN', 'DATE', 'TIMESTAMP']),
    );
    expect(one.body.foreignKeys).toEqual([
      {
        name: 'fk_customerId',
        attribute: 'customerId',
        reference: { tableType: 'PROFILE_TABLE', tableId: '1', attribute: 'customerId' },
        onDelete: 'CASCADE',
      },
    ]);
    expect((await call('GET', '/custom-table-structure/v5/entities/demo/custom-tables/orders', { token: tok })).body.id).toBe(orders.id);
    expect((await call('GET', '/custom-table-structure/v5/entities/demo/custom-tables/nope', { token: tok })).status).toBe(404);
  });

  it('reads the profile table with semantic types, unique flags and technical attributes', async () => {
    await start();
    const tok = await token();
    const r = await call('GET', '/profile-table-structure/v5/entities/demo/profile-tables/1', { token: tok });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: '1', name: 'main' });
    const byName = Object.fromEntries(r.body.attributes.map((a: any) => [a.name, a]));
    expect(byName.emailAddress).toEqual({ type: 'EMAIL_ADDRESS', name: 'emailAddress', unique: true, mandatory: false });
    expect(byName.customerId).toMatchObject({ type: 'CUSTOM', valueType: 'STRING', unique: true });
    expect(byName.motherLanguage.type).toBe('MOTHER_LANGUAGE');
    expect(byName.profileId).toMatchObject({ unique: true });
    const list = await call('GET', '/profile-table-structure/v5/entities/demo/profile-tables', { token: tok });
    expect(list.body.profileTables).toHaveLength(1);
  });
});

describe('§3 attribute creation [A contract: PATCH/PUT {attributes:[…]}]', () => {
  const path = '/custom-table-structure/v5/entities/demo/custom-tables/orders';

  it('adds an optional attribute, re-adding the same definition is idempotent, a different one → 409', async () => {
    await start();
    const tok = await token();
    const def = { name: 'couponCode', valueType: 'STRING', mandatory: false, indexed: false, unique: false };
    const r = await call('PATCH', path, { token: tok, body: { attributes: [def] } });
    expect(r.status).toBe(200);
    expect(r.body.attributes.find((a: any) => a.name === 'couponCode')).toEqual(def);
    expect((await call('PATCH', path, { token: tok, body: { attributes: [def] } })).status).toBe(200);
    const conflict = await call('PUT', path, { token: tok, body: { attributes: [{ ...def, valueType: 'INTEGER' }] } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.errors[0]).toMatchObject({ field: 'couponCode', code: 'ALREADY_EXISTS' });
    expect(E().state.tables.customTable('orders')!.attribute('couponCode')!.valueType).toBe('STRING');
  });

  it('validates names (≤ 50 chars, letters/digits/_), types, reserved names; all-or-nothing', async () => {
    await start();
    const tok = await token();
    const add = (name: string, valueType = 'STRING') => call('PATCH', path, { token: tok, body: { attributes: [{ name, valueType }] } });
    expect((await add('a'.repeat(50))).status).toBe(200);
    const long = await add('b'.repeat(51));
    expect(long.status).toBe(400);
    expect(long.body.errors[0].message).toMatch(/maximum is 50/);
    expect((await add('has space')).status).toBe(400);
    expect((await add('9lives')).status).toBe(400);
    expect((await add('été')).status).toBe(400);
    expect((await add('creationMoment')).status).toBe(400);
    expect((await add('fine', 'VARCHAR')).status).toBe(400);
    const mixed = await call('PATCH', path, {
      token: tok,
      body: {
        attributes: [
          { name: 'okOne', valueType: 'STRING' },
          { name: 'bad-one', valueType: 'STRING' },
        ],
      },
    });
    expect(mixed.status).toBe(400);
    expect(E().state.tables.customTable('orders')!.attribute('okOne')).toBeUndefined();
  });

  it('refuses a mandatory or unique attribute on a populated table [D S9]; profile table takes CUSTOM attributes', async () => {
    await start();
    const tok = await token();
    expect(
      (await call('PATCH', path, { token: tok, body: { attributes: [{ name: 'req', valueType: 'STRING', mandatory: true }] } })).status,
    ).toBe(200);
    await seedProfile(tok, 'C1');
    await call('POST', REC, { token: tok, body: props({ orderId: 'O1', customerId: 'C1', req: 'x' }) });
    const r = await call('PATCH', path, { token: tok, body: { attributes: [{ name: 'req2', valueType: 'STRING', mandatory: true }] } });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].message).toMatch(/populated/);
    const p = await call('PATCH', '/profile-table-structure/v5/entities/demo/profile-tables/1', {
      token: tok,
      body: { attributes: [{ type: 'CUSTOM', name: 'tier', valueType: 'STRING' }] },
    });
    expect(p.status).toBe(200);
    expect(p.body.attributes.find((a: any) => a.name === 'tier')).toEqual({
      type: 'CUSTOM',
      name: 'tier',
      valueType: 'STRING',
      unique: false,
      mandatory: false,
    });
  });
});

describe('§4.1 records by business key [C C1, C2, C3]', () => {
  it('POST creates (201 + Location + businessKey) then updates (200); GET/PUT/DELETE by key; DELETE absent → 404', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    const created = await call('POST', REC, {
      token: tok,
      body: props({
        orderId: 'A1',
        customerId: 'C1',
        quantity: 2,
        amount: '10.50',
        paid: 'Y',
        orderDate: '2026-01-31',
        orderedAt: '2026-01-31 23:59:00',
        status: 'NEW',
      }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ businessKey: 'A1' });
    expect(created.headers.get('location')).toMatch(/\/record\/A1$/);
    const got = await call('GET', `${REC}/A1`, { token: tok });
    expect(got.body.properties).toEqual([
      { name: 'id', value: 1 },
      { name: 'orderId', value: 'A1' },
      { name: 'customerId', value: 'C1' },
      { name: 'status', value: 'NEW' },
      { name: 'quantity', value: 2 },
      { name: 'amount', value: 10.5 },
      { name: 'paid', value: true },
      { name: 'orderDate', value: '2026-01-31' },
      { name: 'orderedAt', value: '2026-01-31 23:59:00' },
    ]);
    const upd = await call('POST', REC, { token: tok, body: props({ orderId: 'A1', status: 'PAID' }) });
    expect(upd.status).toBe(200);
    expect(E().state.tables.customTable('orders')!.size).toBe(1);
    expect((await call('PUT', `${REC}/A1`, { token: tok, body: props({ status: 'SHIPPED', quantity: 3 }) })).status).toBe(204);
    const after = await call('GET', '/__admin/tables/orders/records');
    expect(after.body.records).toEqual([
      {
        id: 1,
        orderId: 'A1',
        customerId: 'C1',
        status: 'SHIPPED',
        quantity: 3,
        amount: 10.5,
        paid: true,
        orderDate: '2026-01-31',
        orderedAt: '2026-01-31 23:59:00',
      },
    ]);
    expect((await call('GET', `${REC}/1`, { token: tok })).body.properties[1]).toEqual({ name: 'orderId', value: 'A1' });
    expect((await call('PUT', `${REC}/ZZ`, { token: tok, body: props({ status: 'PAID' }) })).status).toBe(404);
    expect((await call('PUT', `${REC}/A1`, { token: tok, body: props({ orderId: 'A2' }) })).body.errors[0].code).toBe('KEY_CHANGE');
    expect((await call('DELETE', `${REC}/A1`, { token: tok })).status).toBe(204);
    expect((await call('GET', `${REC}/A1`, { token: tok })).status).toBe(404);
    const again = await call('DELETE', `${REC}/A1`, { token: tok });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ status: 404, message: expect.stringMatching(/not found/) });
  });

  it('search lists records by field with sort and number [C C1]', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    for (const [id, q] of [
      ['B', 1],
      ['A', 3],
      ['C', 2],
    ] as const)
      await call('POST', REC, { token: tok, body: props({ orderId: id, customerId: 'C1', quantity: q }) });
    const r = await call('GET', `${REC}?searchField=customerId&searchValue=C1&sortedField=quantity&ascending=false&number=2`, {
      token: tok,
    });
    expect(r.body.records.map((x: any) => x.properties.find((p: any) => p.name === 'orderId').value)).toEqual(['A', 'C']);
  });

  it('per-record validation: unknown attribute, type, mandatory, unique, too long, accepted values, FK, technical → 400 {status,message,errors[]}', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    const post = (o: Record<string, unknown>) => call('POST', REC, { token: tok, body: props(o) });
    const codes = async (o: Record<string, unknown>) => {
      const r = await post(o);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ status: 400, message: expect.any(String) });
      return r.body.errors.map((e: any) => `${e.field}:${e.code}`);
    };
    expect(await codes({ orderId: 'V1', customerId: 'C1', colour: 'red' })).toEqual(['colour:UNKNOWN_ATTRIBUTE']);
    expect(
      await codes({
        orderId: 'V1',
        customerId: 'C1',
        quantity: 'three',
        amount: '1,5',
        paid: 'maybe',
        orderDate: '31/01/2026',
        orderedAt: '2026-01-31T10:00:00Z',
      }),
    ).toEqual(['quantity:INVALID_TYPE', 'amount:INVALID_TYPE', 'paid:INVALID_TYPE', 'orderDate:INVALID_TYPE', 'orderedAt:INVALID_TYPE']);
    expect(await codes({ orderId: 'V1' })).toEqual(['customerId:MANDATORY_MISSING']);
    expect(await codes({ orderId: 'V1', customerId: 'C1', note: 'x'.repeat(256) })).toEqual(['note:TOO_LONG']);
    expect(await codes({ orderId: 'x'.repeat(51), customerId: 'C1' })).toEqual(['orderId:TOO_LONG']);
    expect(await codes({ orderId: 'V1', customerId: 'C1', status: 'LOST' })).toEqual(['status:NOT_ACCEPTED_VALUE']);
    expect(await codes({ orderId: 'V1', customerId: 'NOBODY' })).toEqual(['customerId:FOREIGN_KEY_NOT_FOUND']);
    expect(await codes({ orderId: 'V1', customerId: 'C1', creationMoment: '2026-01-01 00:00:00' })).toEqual([
      'creationMoment:TECHNICAL_ATTRIBUTE',
    ]);
    expect(await codes({ customerId: 'C1' })).toEqual(['orderId:MANDATORY_MISSING']);
    expect((await post({ orderId: 'V1', customerId: 'C1', note: 'x'.repeat(255) })).status).toBe(201);
    // unique violation on a non-key unique attribute of a test table
    await call('POST', '/__admin/tables', {
      body: {
        name: 'vouchers',
        primaryKeyAttribute: 'voucherId',
        attributes: [
          { name: 'voucherId', valueType: 'STRING' },
          { name: 'code', valueType: 'STRING', unique: true },
        ],
      },
    });
    const V = '/v4/entity/demo/customTable/vouchers/record';
    expect((await call('POST', V, { token: tok, body: props({ voucherId: 'v1', code: 'SAVE10' }) })).status).toBe(201);
    const dup = await call('POST', V, { token: tok, body: props({ voucherId: 'v2', code: 'SAVE10' }) });
    expect(dup.status).toBe(400);
    expect(dup.body.errors[0]).toMatchObject({ field: 'code', code: 'UNIQUE_VIOLATION' });
  });
});

describe('§5 profiles [D S15, S16; C C2, C3]', () => {
  it('create-only without allowUpdate (existing → 409), upsert with allowUpdate=true, get by id and by attr=value', async () => {
    await start();
    const tok = await token();
    const body = {
      ...attrs({ emailAddress: 'ann@example.com', firstName: 'Ann', motherLanguage: 'fr' }),
      subscriptions: [{ name: 'Newsletter', subscribe: true }],
      dataCollectionInformation: { date: '2026-01-01 10:00:00', source: 'sync', way: 'api' },
    };
    const c = await call('POST', PROFILE, { token: tok, body });
    expect(c.status).toBe(201);
    expect(c.body).toEqual({ profileId: 1 });
    expect((await call('POST', PROFILE, { token: tok, body })).status).toBe(409);
    const u = await call('POST', `${PROFILE}?allowUpdate=true`, {
      token: tok,
      body: attrs({ emailAddress: 'ann@example.com', lastName: 'Lee', customerId: 'C9' }),
    });
    expect(u.status).toBe(200);
    expect(u.body.profileId).toBe(1);
    const byEmail = await call('GET', `${PROFILE}/emailAddress=ann@example.com`, { token: tok });
    expect(byEmail.status).toBe(200);
    expect(byEmail.body.profileId).toBe(1);
    expect(byEmail.body.attributes).toEqual(
      expect.arrayContaining([
        { name: 'firstName', value: 'Ann' },
        { name: 'lastName', value: 'Lee' },
        { name: 'customerId', value: 'C9' },
      ]),
    );
    expect(byEmail.body.subscriptions).toEqual([{ name: 'Newsletter', subscribe: true }]);
    expect((await call('GET', `${PROFILE}/customerId=C9`, { token: tok })).body.profileId).toBe(1);
    expect((await call('GET', `${PROFILE}/1`, { token: tok })).status).toBe(200);
    expect((await call('GET', `${PROFILE}/emailAddress=nobody@example.com`, { token: tok })).status).toBe(404);
    expect((await call('GET', `${PROFILE}/firstName=Ann`, { token: tok })).status).toBe(400);
    const bad = await call('POST', PROFILE, { token: tok, body: attrs({ emailAddress: 'not-an-email', profileId: 4 }) });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.code).sort()).toEqual(['INVALID_VALUE', 'TECHNICAL_ATTRIBUTE']);
  });

  it('deleting a profile cascades to linked custom records [D S7]', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    await seedProfile(tok, 'C2');
    for (const [o, c] of [
      ['O1', 'C1'],
      ['O2', 'C1'],
      ['O3', 'C2'],
    ])
      await call('POST', REC, { token: tok, body: props({ orderId: o, customerId: c }) });
    expect((await call('DELETE', `${PROFILE}/customerId=C1`, { token: tok })).status).toBe(204);
    expect((await call('GET', '/__admin/tables/orders/records')).body.records.map((r: any) => r.orderId)).toEqual(['O3']);
    expect((await call('GET', '/__admin/profiles')).body.count).toBe(1);
  });
});

describe('§2 empty values on update [A: emptyOnUpdate, default keep]', () => {
  // An empty value (JSON null or "", an empty CSV cell) on an existing record or profile.
  async function emptyOnUpdate(opts: ActitoEmulatorOptions): Promise<unknown[]> {
    await start(opts);
    const tok = await token();
    await seedProfile(tok, 'C1');
    await call('POST', `${PROFILE}?allowUpdate=true`, { token: tok, body: attrs({ customerId: 'C1', firstName: 'Ann' }) });
    for (const k of ['E1', 'E2', 'E3'])
      await call('POST', REC, { token: tok, body: props({ orderId: k, customerId: 'C1', note: 'n', quantity: 1 }) });
    expect((await call('PUT', `${REC}/E1`, { token: tok, body: props({ note: null, quantity: '' }) })).status).toBe(204);
    expect((await call('POST', REC, { token: tok, body: props({ orderId: 'E2', note: '', quantity: null }) })).status).toBe(200);
    const r = await call('POST', `${V5}/etl-executions`, {
      token: tok,
      form: form(gzipSync('orderId,note,quantity\nE3,,\n'), 'f.csv.gz', 'definition', etl('UPDATE_ONLY')),
    });
    expect((await waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`)).status).toBe('SUCCESS');
    await call('POST', `${PROFILE}?allowUpdate=true`, { token: tok, body: attrs({ customerId: 'C1', firstName: null }) });
    const rows = (await call('GET', '/__admin/tables/orders/records')).body.records.map((x: any) => [
      x.orderId,
      x.note ?? null,
      x.quantity ?? null,
    ]);
    return [...rows, (await call('GET', '/__admin/profiles')).body.records[0].firstName ?? null];
  }

  it('keep (default): the stored value stays, one by one and in imports', async () => {
    expect(await emptyOnUpdate({})).toEqual([['E1', 'n', 1], ['E2', 'n', 1], ['E3', 'n', 1], 'Ann']);
  });

  it('clear: the stored value is cleared, one by one and in imports', async () => {
    expect(await emptyOnUpdate({ emptyOnUpdate: 'clear' })).toEqual([['E1', null, null], ['E2', null, null], ['E3', null, null], null]);
  });
});

describe('§4.2 bulk imports [D S10, S12, S14; A §9 execution shape]', () => {
  const csv = [
    'orderId,customerId,quantity,amount,paid,orderDate,note',
    'B1,C1,1,9.99,TRUE,2026-02-01,"hello, ""world"""',
    'B2,C1,two,1.00,0,2026-02-01,',
    'B3,NOPE,3,1.00,N,2026-02-01,',
    'B4,C1,4,1.00,1,2026-02-30,',
    'B5,C1,5',
    '"B6",C1,6,6.5,Y,2026-02-06,"multi',
    'line"',
  ].join('\n');

  it('v5 etl-executions with GZIP: async status, per-line errors (line, key, attribute, code, message)', async () => {
    await start({ bulkProcessingDelayMs: 50 });
    const tok = await token();
    await seedProfile(tok, 'C1');
    const r = await call('POST', `${V5}/etl-executions`, {
      token: tok,
      form: form(gzipSync(csv), 'orders.csv.gz', 'definition', etl('CREATE_OR_UPDATE')),
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ id: expect.any(String), status: 'PENDING' });
    expect(r.headers.get('location')).toBe(`${V5}/etl-executions/${r.body.id}`);
    const done = await waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`);
    expect(done).toMatchObject({
      status: 'WITH_ERROR',
      compression: 'GZIP',
      mode: 'CREATE_UPDATE',
      counts: { read: 6, created: 2, updated: 0, rejected: 4 },
    });
    expect(done.errors.map((e: any) => [e.line, e.key, e.attribute, e.code])).toEqual([
      [3, 'B2', 'quantity', 'INVALID_TYPE'],
      [4, 'B3', 'customerId', 'FOREIGN_KEY_NOT_FOUND'],
      [5, 'B4', 'orderDate', 'INVALID_TYPE'],
      [6, 'B5', null, 'COLUMN_COUNT'],
    ]);
    expect(done.errors[0].message).toMatch(/two/);
    const all = await call('GET', `${V5}/etl-executions/${r.body.id}/errors?offset=1&limit=2`, { token: tok });
    expect(all.body).toMatchObject({ total: 4, offset: 1 });
    expect(all.body.errors.map((e: any) => e.key)).toEqual(['B3', 'B4']);
    const rows = (await call('GET', '/__admin/tables/orders/records')).body.records;
    expect(rows).toEqual([
      { id: 1, orderId: 'B1', customerId: 'C1', quantity: 1, amount: 9.99, paid: true, orderDate: '2026-02-01', note: 'hello, "world"' },
      { id: 2, orderId: 'B6', customerId: 'C1', quantity: 6, amount: 6.5, paid: true, orderDate: '2026-02-06', note: 'multi\nline' },
    ]);
  });

  it('v5 execution with ZIP (deflated and stored) and a declared separator: modes CREATE_ONLY, UPDATE_ONLY, CREATE_UPDATE', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    const run = async (body: string, mode: string, method: 'store' | 'deflate' = 'deflate') => {
      const zip = writeZip([{ name: 'orders.csv', data: Buffer.from(body), method }]);
      const def = etl(mode, { file: { compression: 'ZIP', encoding: 'UTF-8', separator: ';', enclosing: '"' } });
      const r = await call('POST', `${V5}/etl-executions`, { token: tok, form: form(zip, 'orders.zip', 'definition', def) });
      expect(r.status).toBe(202);
      return waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`);
    };
    const created = await run('orderId;customerId;quantity\nZ1;C1;1\nZ2;C1;2\n', 'CREATE_ONLY', 'store');
    expect(created).toMatchObject({
      status: 'SUCCESS',
      compression: 'ZIP',
      counts: { read: 2, created: 2, updated: 0, rejected: 0 },
      errors: [],
    });
    const createOnly = await run('orderId;customerId;quantity\nZ1;C1;10\nZ3;C1;3\n', 'CREATE_ONLY');
    expect(createOnly.counts).toEqual({ read: 2, created: 1, updated: 0, rejected: 1 });
    expect(createOnly.errors[0]).toMatchObject({ line: 2, key: 'Z1', code: 'ALREADY_EXISTS' });
    const updateOnly = await run('orderId;quantity\nZ1;11\nZ9;9\n', 'UPDATE_ONLY');
    expect(updateOnly.counts).toEqual({ read: 2, created: 0, updated: 1, rejected: 1 });
    expect(updateOnly.errors[0]).toMatchObject({ line: 3, key: 'Z9', code: 'NOT_FOUND' });
    const upsert = await run('orderId;customerId;quantity\nZ2;C1;22\nZ4;C1;4\n', 'CREATE_UPDATE');
    expect(upsert.counts).toEqual({ read: 2, created: 1, updated: 1, rejected: 0 });
    const q = Object.fromEntries(
      (await call('GET', '/__admin/tables/orders/records')).body.records.map((r: any) => [r.orderId, r.quantity]),
    );
    expect(q).toEqual({ Z1: 11, Z2: 22, Z3: 3, Z4: 4 });
    expect(created.definition).toMatchObject({ mode: 'CREATE_ONLY', keyAttribute: 'orderId' });
  });

  it('profile import by a unique key column (v5 execution on the profile table)', async () => {
    await start();
    const tok = await token();
    const def = { tableType: 'PROFILE_TABLE', tableId: 'main', mode: 'CREATE_UPDATE', keyAttribute: 'emailAddress' };
    const r = await call('POST', `${V5}/etl-executions`, {
      token: tok,
      form: form(gzipSync('emailAddress,firstName,motherLanguage\na@x.io,Al,fr\nb@x.io,Bo,xx1\n'), 'p.csv.gz', 'definition', def),
    });
    expect(r.status).toBe(202);
    const done = await waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`);
    expect(done.counts).toEqual({ read: 2, created: 1, updated: 0, rejected: 1 });
    expect(done.errors[0]).toMatchObject({ line: 3, key: 'b@x.io', attribute: 'motherLanguage' });
  });

  it('file-level errors → 400 and nothing imported: BOM, > size limit, unknown/duplicate header, missing key or mandatory column, bad mode', async () => {
    await start({ maxBulkFileBytes: 2000 });
    const tok = await token();
    const post = (file: Buffer, def: Record<string, unknown> = etl('CREATE_UPDATE')) =>
      call('POST', `${V5}/etl-executions`, { token: tok, form: form(file, 'f.csv.gz', 'definition', def) });
    const bom = await post(gzipSync(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('orderId,customerId\nA,C1\n')])));
    expect(bom.status).toBe(400);
    expect(bom.body.message).toMatch(/BOM/);
    const big = await post(Buffer.alloc(3000, 65));
    expect(big.status).toBe(400);
    expect(big.body.message).toMatch(/maximum/);
    const huge = await post(Buffer.alloc(2 * 1024 * 1024, 65)); // past the body cap: drained, then a clean 400
    expect(huge.status).toBe(400);
    expect((await post(gzipSync('orderId,customerId,colour\nA,C1,red\n'))).body.message).toMatch(/unknown column\(s\) colour/);
    expect((await post(gzipSync('orderId,customerId,orderId\n'))).body.message).toMatch(/duplicate/);
    expect((await post(gzipSync('customerId\nC1\n'))).body.message).toMatch(/key column 'orderId' is missing/);
    expect((await post(gzipSync('orderId\nA\n'))).body.message).toMatch(/mandatory column\(s\) customerId/);
    expect((await post(gzipSync('orderId\nA\n'), etl('UPDATE_ONLY'))).status).toBe(202);
    expect((await post(gzipSync('orderId,customerId\n'), etl('MERGE'))).status).toBe(400);
    expect((await post(gzipSync('orderId,customerId\n'), etl('CREATE_ONLY', { keyAttribute: 'customerId' }))).body.message).toMatch(
      /not a unique attribute/,
    );
    expect((await post(Buffer.from('PK\u0003\u0004garbage'))).status).toBe(400);
    // technical columns id / creationMoment / updateMoment are ignored [D S19]
    const tech = await post(
      gzipSync('id,orderId,customerId,creationMoment\n77,T1,C1,2020-01-01 00:00:00\n'),
      etl('CREATE_UPDATE', { tableId: E().state.tables.customTable('orders')!.id }),
    );
    expect(tech.status).toBe(202);
  });

  it('predefined ETL: create then trigger-execution with only the file [D S13]', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    const created = await call('POST', `${V5}/etls`, {
      token: tok,
      body: etl('CREATE_OR_UPDATE', {
        mapping: [
          { column: 'ref', attribute: 'orderId' },
          { column: 'cust', attribute: 'customerId' },
        ],
      }),
    });
    expect(created.status).toBe(201);
    const f = new FormData();
    f.append('inputFile', new Blob([gzipSync('ref,cust\nM1,C1\n')]), 'x.csv.gz');
    const r = await call('POST', `${V5}/etls/${created.body.id}/trigger-execution`, { token: tok, form: f });
    expect(r.status).toBe(202);
    expect((await waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`)).status).toBe('SUCCESS');
    expect(E().state.tables.customTable('orders')!.findBy('orderId', 'M1')).toBe(0);
  });

  it('posts STARTED and FINISHED ETL webhooks when a target is set [D S18]', async () => {
    const received: any[] = [];
    const hook = createServer((req, res) => {
      let b = '';
      req
        .on('data', (c: Buffer) => (b += c.toString()))
        .on('end', () => {
          received.push(JSON.parse(b));
          res.end();
        });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      await start();
      const tok = await token();
      await seedProfile(tok, 'C1');
      await call('POST', '/__admin/webhooks', { body: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } });
      const r = await call('POST', `${V5}/etl-executions`, {
        token: tok,
        form: form(gzipSync('orderId,customerId\nW1,C1\n'), 'w.csv.gz', 'definition', etl('CREATE_ONLY')),
      });
      await waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`);
      // The notices are sent without waiting (fire and forget): up to 30 s for both to arrive.
      for (let i = 0; i < 1500 && received.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
      expect(received.map((x) => [x.trigger, x.etl.executionId, x.etl.executionStatus])).toEqual([
        ['STARTED', r.body.id, 'RUNNING'],
        ['FINISHED', r.body.id, 'SUCCESS'],
      ]);
      expect(received[1]._links.etlExecution.href).toBe(`${V5}/etl-executions/${r.body.id}`);
    } finally {
      hook.closeAllConnections();
      await new Promise((r) => hook.close(r));
    }
  });

  it('handles 1,000,000 rows in slices while status polls stay responsive', async () => {
    // Built before the server starts: this blocks the event loop for seconds.
    const lines = ['eventId,n,score,ok,day'];
    for (let i = 0; i < 1_000_000; i++) lines.push(`e${i},${i},${i % 100}.5,${i % 2},2026-03-${String((i % 28) + 1).padStart(2, '0')}`);
    const file = gzipSync(lines.join('\n'));
    await start({ bulkProcessingDelayMs: 0 });
    const tok = await token();
    await call('POST', '/__admin/tables', {
      body: {
        name: 'events',
        primaryKeyAttribute: 'eventId',
        attributes: [
          { name: 'eventId', valueType: 'STRING' },
          { name: 'n', valueType: 'INTEGER' },
          { name: 'score', valueType: 'NUMBER' },
          { name: 'ok', valueType: 'BOOLEAN' },
          { name: 'day', valueType: 'DATE' },
        ],
      },
    });
    const r = await call('POST', `${V5}/etl-executions`, {
      token: tok,
      form: form(file, 'events.csv.gz', 'definition', {
        tableType: 'CUSTOM_TABLE',
        tableId: 'events',
        mode: 'CREATE_ONLY',
        keyAttribute: 'eventId',
      }),
    });
    expect(r.status).toBe(202);
    // Polls answered in the middle of the load, each seeing a further part of it read: the load yields to the
    // event loop between slices. (A load done in one go answers no poll until it has read every line.)
    const partial = new Set<number>();
    let done: any;
    for (;;) {
      const s = await call('GET', `${V5}/etl-executions/${r.body.id}`, { token: tok });
      if (s.body.status === 'RUNNING' && s.body.counts.read > 0) partial.add(s.body.counts.read);
      if (s.body.status !== 'PENDING' && s.body.status !== 'RUNNING') {
        done = s.body;
        break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(done).toMatchObject({ status: 'SUCCESS', counts: { read: 1_000_000, created: 1_000_000, rejected: 0 } });
    expect(partial.size).toBeGreaterThanOrEqual(5);
    const events = E().state.tables.customTable('events')!;
    expect(events.size).toBe(1_000_000);
    expect(events.read(events.findBy('eventId', 'e999999')!)).toEqual({
      eventId: 'e999999',
      n: '999999',
      score: '99.5',
      ok: 'true',
      day: '2026-03-08',
    });
  });
});

describe('§7 limits [D S3]', () => {
  it('per-table daily bulk import quota → 429 once used up; /__admin/bulk-quota reports usage', async () => {
    await start({ dailyBulkImportQuota: 2 });
    const tok = await token();
    const post = () =>
      call('POST', `${V5}/etl-executions`, {
        token: tok,
        form: form(gzipSync('orderId,customerId\n'), 'f.csv.gz', 'definition', etl('CREATE_UPDATE')),
      });
    expect((await post()).status).toBe(202);
    expect((await post()).status).toBe(202);
    const third = await post();
    expect(third.status).toBe(429);
    expect(third.body.message).toMatch(/quota/);
    const quota = await call('GET', '/__admin/bulk-quota');
    expect(quota.body).toEqual({ day: new Date().toISOString().slice(0, 10), quota: 2, used: { orders: 2 } });
    // other tables keep their own quota
    const profiles = await call('POST', `${V5}/etl-executions`, {
      token: tok,
      form: form(gzipSync('emailAddress\n'), 'p.csv.gz', 'definition', {
        tableType: 'PROFILE_TABLE',
        tableId: 'main',
        mode: 'CREATE_UPDATE',
        keyAttribute: 'emailAddress',
      }),
    });
    expect(profiles.status).toBe(202);
  });

  /**
   * Sends `held` requests the emulator holds (slow fault), and once it serves them all, one more: the one
   * over the limit. (Sent all at once, they would reach the emulator over as many new connections, some
   * possibly after the first ones ended on a loaded machine.)
   */
  async function overTheLimit(tok: string, held: number): Promise<{ held: Res[]; over: Res }> {
    await call('POST', '/__admin/faults', { body: { slow: { ms: 3000, count: held } } });
    const pending = Array.from({ length: held }, () => call('GET', '/entities/v5/entities', { token: tok }));
    for (let seen = 0; seen < held;) {
      await new Promise((r) => setTimeout(r, 20));
      seen = ((await call('GET', '/__admin/requests')).body.inFlight as unknown[]).length;
    }
    const over = await call('GET', '/entities/v5/entities', { token: tok });
    return { held: await Promise.all(pending), over };
  }

  it('6 concurrent requests → one 429, the other five succeed', async () => {
    await start();
    const tok = await token();
    const { held, over } = await overTheLimit(tok, 5);
    expect(over.status).toBe(429);
    expect(held.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await call('GET', '/entities/v5/entities', { token: tok })).status).toBe(200);
  });

  it('/__admin/requests reports the most requests in flight at once and the 429s for concurrency; DELETE starts them over', async () => {
    await start({ maxConcurrent: 3 });
    const tok = await token();
    const { held, over } = await overTheLimit(tok, 3);
    expect([...held, over].map((r) => r.status)).toEqual([200, 200, 200, 429]);
    const seen = (await call('GET', '/__admin/requests')).body as { concurrency: unknown };
    expect(seen.concurrency).toEqual({ max: 3, inFlight: 0, peak: 3, rejected: 1 });
    await call('DELETE', '/__admin/requests');
    await call('GET', '/entities/v5/entities', { token: tok });
    expect(((await call('GET', '/__admin/requests')).body as { concurrency: unknown }).concurrency).toEqual({
      max: 3,
      inFlight: 0,
      peak: 1,
      rejected: 0,
    });
  });

  it('over callsPerMinute, calls are throttled (added latency), not rejected', async () => {
    await start({ callsPerMinute: 3, throttleDelayMs: 200 });
    const tok = await token();
    await call('DELETE', '/__admin/requests');
    // The token call was the first of the 3 a minute allows.
    for (let i = 0; i < 2; i++) await call('GET', '/entities/v5/entities', { token: tok });
    const slow = await call('GET', '/entities/v5/entities', { token: tok });
    expect(slow.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(190);
    // Which calls were held back, from the emulator's log (the durations of the others depend on the machine's load).
    const log = (await call('GET', '/__admin/requests')).body.requests as Array<{ status: number; throttledMs?: number }>;
    expect(log.map((r) => [r.status, r.throttledMs])).toEqual([
      [200, undefined],
      [200, undefined],
      [200, 200],
    ]);
  });
});

describe('fault switches (/__admin/faults)', () => {
  it('serverError and tooManyRequests answer N times, then normal service resumes; never on /__admin', async () => {
    await start();
    const tok = await token();
    await call('POST', '/__admin/faults', { body: { serverError: { count: 2, status: 503 }, tooManyRequests: { count: 1 } } });
    expect((await call('GET', '/__admin/faults')).status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('GET', '/entities/v5/entities', { token: tok })).status);
    expect(statuses).toEqual([429, 503, 503, 200]);
  });

  it('path narrows a fault; dropResponse applies the write then destroys the socket', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    await call('POST', '/__admin/faults', { body: { dropResponse: { count: 1, path: '/record' } } });
    expect((await call('GET', '/entities/v5/entities', { token: tok })).status).toBe(200);
    await expect(call('POST', REC, { token: tok, body: props({ orderId: 'D1', customerId: 'C1' }) })).rejects.toThrow();
    expect(E().state.tables.customTable('orders')!.findBy('orderId', 'D1')).toBe(0);
    const log = await call('GET', '/__admin/requests');
    expect(log.body.requests.at(-1)).toMatchObject({
      method: 'POST',
      status: 0,
      route: `POST ${REC.replace('demo', ':entity').replace('orders', ':table')}`,
    });
  });

  it('expireTokens makes current tokens 401; slow delays; DELETE clears; bulkImportFails → ERROR', async () => {
    await start();
    const tok = await token();
    await call('POST', '/__admin/faults', { body: { expireTokens: true } });
    expect((await call('GET', '/entities/v5/entities', { token: tok })).status).toBe(401);
    const tok2 = await token();
    expect((await call('GET', '/entities/v5/entities', { token: tok2 })).status).toBe(200);
    await call('POST', '/__admin/faults', { body: { slow: { ms: 250, count: 1 }, serverError: { count: 5 } } });
    await call('DELETE', '/__admin/faults');
    expect((await call('GET', '/entities/v5/entities', { token: tok2 })).status).toBe(200);
    await call('POST', '/__admin/faults', { body: { slow: { ms: 250, count: 1 } } });
    expect((await call('GET', '/entities/v5/entities', { token: tok2 })).ms).toBeGreaterThanOrEqual(240);
    await call('POST', '/__admin/faults', { body: { bulkImportFails: { count: 1 } } });
    const r = await call('POST', `${V5}/etl-executions`, {
      token: tok2,
      form: form(gzipSync('orderId,customerId\nA,C1\n'), 'f.csv.gz', 'definition', etl('CREATE_UPDATE')),
    });
    const done = await waitForExecution(tok2, `${V5}/etl-executions/${r.body.id}`);
    expect(done.status).toBe('ERROR');
    expect(done.message).toMatch(/injected/);
    expect((await call('POST', '/__admin/faults', { body: { explode: true } })).status).toBe(400);
  });

  it('socketReset destroys the socket before the write; bulkImportStuck holds executions until cleared; bulkQuotaExhausted refuses imports', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    await call('POST', '/__admin/faults', { body: { socketReset: { count: 1, path: '/record' } } });
    await expect(call('POST', REC, { token: tok, body: props({ orderId: 'R1', customerId: 'C1' }) })).rejects.toThrow();
    expect(E().state.tables.customTable('orders')!.findBy('orderId', 'R1')).toBeUndefined();
    expect((await call('POST', REC, { token: tok, body: props({ orderId: 'R1', customerId: 'C1' }) })).status).toBe(201);

    await call('POST', '/__admin/faults', { body: { bulkImportStuck: true } });
    const r = await call('POST', `${V5}/etl-executions`, {
      token: tok,
      form: form(gzipSync('orderId,customerId\nS1,C1\n'), 'f.csv.gz', 'definition', etl('CREATE_UPDATE')),
    });
    expect(r.status).toBe(202);
    await new Promise((res) => setTimeout(res, 300));
    expect((await call('GET', `${V5}/etl-executions/${r.body.id}`, { token: tok })).body.status).toBe('RUNNING');
    expect(E().state.tables.customTable('orders')!.findBy('orderId', 'S1')).toBeUndefined();
    await call('DELETE', '/__admin/faults');
    expect((await waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`)).status).toBe('SUCCESS');
    expect(E().state.tables.customTable('orders')!.findBy('orderId', 'S1')).toBeDefined();

    await call('POST', '/__admin/faults', { body: { bulkQuotaExhausted: true } });
    const refused = await call('POST', `${V5}/etl-executions`, {
      token: tok,
      form: form(gzipSync('orderId,customerId\nS2,C1\n'), 'f.csv.gz', 'definition', etl('CREATE_UPDATE')),
    });
    expect([refused.status, refused.body.message]).toEqual([429, expect.stringMatching(/quota/)]);
    expect((await call('POST', '/__admin/faults', { body: { bulkImportStuck: 'yes' } })).status).toBe(400);
  });

  it('the journal lists every record write in order, only when asked for', async () => {
    await start({ journal: true });
    const tok = await token();
    await seedProfile(tok, 'C1');
    await call('POST', REC, { token: tok, body: props({ orderId: 'J1', customerId: 'C1', amount: 1.5 }) });
    await call('POST', REC, { token: tok, body: props({ orderId: 'J1', customerId: 'C1', amount: 2 }) });
    await call('DELETE', `${REC}/J1`, { token: tok });
    const j = (await call('GET', '/__admin/journal')).body;
    expect(j.enabled).toBe(true);
    expect(j.entries.filter((e: any) => e.table === 'orders').map((e: any) => [e.op, e.key, e.values.amount])).toEqual([
      ['create', 'J1', 1.5],
      ['update', 'J1', 2],
      ['delete', 'J1', 2],
    ]);
    expect(j.entries.map((e: any) => e.seq)).toEqual(j.entries.map((_: unknown, i: number) => i + 1));
    await E().close();
    await start();
    expect((await call('GET', '/__admin/journal')).body).toEqual({ enabled: false, entries: [] });
  });

  it('method narrows a fault; reportOmits strips report parts; the log shows requests in flight', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    await call('POST', '/__admin/faults', { body: { serverError: { count: 1, status: 503, path: '/etl-executions', method: 'POST' } } });
    const file = () => form(gzipSync('orderId,customerId,status\nA,C1,NEW\nB,C1,BOGUS\n'), 'f.csv.gz', 'definition', etl('CREATE_UPDATE'));
    expect((await call('GET', `${V5}/etl-executions/nope`, { token: tok })).status).toBe(404); // a GET is not hit
    expect((await call('POST', `${V5}/etl-executions`, { token: tok, form: file() })).status).toBe(503);
    expect(E().state.imports.executions.size).toBe(0);
    // Held 3 s: long enough for a poll to see it in flight on a loaded machine.
    await call('POST', '/__admin/faults', { body: { slow: { ms: 3000, count: 1, path: '/etl-executions', method: 'POST' } } });
    const posting = call('POST', `${V5}/etl-executions`, { token: tok, form: file() });
    let inFlight: unknown[] = [];
    for (let i = 0; i < 1000 && inFlight.length === 0; i++) inFlight = (await call('GET', '/__admin/requests')).body.inFlight;
    expect(inFlight).toEqual([expect.objectContaining({ method: 'POST', path: `${V5}/etl-executions` })]);
    const r = await posting;
    expect(r.status).toBe(202);
    expect((await call('GET', '/__admin/requests')).body.inFlight).toEqual([]);
    const full = await waitForExecution(tok, `${V5}/etl-executions/${r.body.id}`);
    expect(full).toMatchObject({
      status: 'WITH_ERROR',
      errorCount: 1,
      counts: { read: 2, created: 1, rejected: 1 },
      errors: [{ line: 3, key: 'B' }],
    });

    await call('POST', '/__admin/faults', { body: { reportOmits: { fields: ['line', 'key', 'total'] } } });
    const stripped = await call('GET', `${V5}/etl-executions/${r.body.id}`, { token: tok });
    expect(stripped.body.errors).toEqual([{ attribute: 'status', code: 'NOT_ACCEPTED_VALUE', message: expect.any(String) }]);
    expect(stripped.body.counts).toBeDefined();
    const page = await call('GET', `${V5}/etl-executions/${r.body.id}/errors`, { token: tok });
    expect(page.body.total).toBeUndefined();
    await call('POST', '/__admin/faults', { body: { reportOmits: { fields: ['errors', 'counts', 'errorCount'] } } });
    const bare = (await call('GET', `${V5}/etl-executions/${r.body.id}`, { token: tok })).body;
    expect([bare.status, bare.errors, bare.counts, bare.errorCount]).toEqual(['WITH_ERROR', undefined, undefined, undefined]);
    expect((await call('GET', '/__admin/imports')).body.imports[0].counts).toMatchObject({ rejected: 1 }); // admin views are never faulted
    expect((await call('POST', '/__admin/faults', { body: { reportOmits: { fields: ['nope'] } } })).status).toBe(400);
  });

  it('recordOmits leaves attributes out of a one-record GET answer only, until cleared', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    expect((await call('POST', REC, { token: tok, body: props({ orderId: 'A1', customerId: 'C1', status: 'NEW' }) })).status).toBe(201);
    await call('POST', '/__admin/faults', { body: { recordOmits: { attributes: ['orderId', 'id'] } } });
    const full = [
      { name: 'id', value: 1 },
      { name: 'orderId', value: 'A1' },
      { name: 'customerId', value: 'C1' },
      { name: 'status', value: 'NEW' },
    ];
    const bare = full.filter((p) => p.name !== 'orderId' && p.name !== 'id');
    // By business key and by technical id alike; a second GET is stripped too (a switch, not counted).
    expect((await call('GET', `${REC}/A1`, { token: tok })).body.properties).toEqual(bare);
    expect((await call('GET', `${REC}/1`, { token: tok })).body.properties).toEqual(bare);
    // The search list and the admin views are not affected; a missing record is still a 404.
    expect((await call('GET', `${REC}?searchField=orderId&searchValue=A1`, { token: tok })).body.records[0].properties).toEqual(full);
    expect((await call('GET', '/__admin/tables/orders/records')).body.records[0]).toMatchObject({ id: 1, orderId: 'A1' });
    expect((await call('GET', `${REC}/ZZ`, { token: tok })).status).toBe(404);
    expect((await call('POST', '/__admin/faults', { body: { recordOmits: { attributes: 'orderId' } } })).status).toBe(400);
    await call('DELETE', '/__admin/faults');
    expect((await call('GET', `${REC}/A1`, { token: tok })).body.properties).toEqual(full);
  });

  it('request log counts per route; reset restores the seeded state', async () => {
    await start();
    const tok = await token();
    await seedProfile(tok, 'C1');
    await call('GET', `${REC}/nope`, { token: tok });
    const log = await call('GET', '/__admin/requests');
    expect(log.body.counts).toEqual({
      'GET /auth/token': 1,
      'POST /v4/entity/:entity/table/:table/profile': 1,
      'GET /v4/entity/:entity/customTable/:table/record/:key': 1,
    });
    expect(log.body.requests.map((r: any) => r.status)).toEqual([200, 201, 404]);
    await call('POST', '/__admin/tables', { body: { name: 'extra', attributes: [{ name: 'k', valueType: 'STRING' }] } });
    expect((await call('GET', '/__admin/tables/extra/structure')).body.primaryKeyAttribute).toBe('k');
    await call('POST', '/__admin/reset');
    expect((await call('GET', '/__admin/profiles')).body.count).toBe(0);
    expect((await call('GET', '/__admin/tables/extra/structure')).status).toBe(404);
    expect((await call('GET', '/__admin/requests')).body.requests).toEqual([]);
    expect((await call('GET', '/entities/v5/entities', { token: tok })).status).toBe(401);
  });
});
