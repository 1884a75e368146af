/**
 * The connector against the in-process Salesforce emulator (real HTTP, real jsforce): check errors,
 * Collections and Bulk writes, idempotency under lost responses, row errors, quota and token expiry.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { to18 } from '../../emulators/salesforce/ids';
import { defaultPayloadConverter } from '@temporalio/common';
import { QuotaWaitError, SyncError } from '../../common/errors';
import type { SyncMode } from '../../common/sync-modes';
import type { FieldSpec, OutRow, RowOp } from '../types';
import { salesforceConnector as sf } from './index';
import { getClient, resetClients } from './client';
import { firstPoll, nextPoll, pollInterval } from './bulk';
import type { SalesforceConnection } from './config';
import { drive, field, makeContext, MemoryChunk, outRow } from './test-harness';

type Emu = Awaited<ReturnType<typeof startSalesforceEmulator>>;
let emu: Emu;
let connection: SalesforceConnection;

beforeAll(async () => {
  emu = await startSalesforceEmulator();
  connection = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  resetClients();
  await admin('POST', '/reset');
});

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${emu.url}/__admin${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}
const faults = (spec: Record<string, unknown>) => admin('POST', '/faults', spec);
async function records(object = 'Contact'): Promise<Array<Record<string, any>>> {
  const r = await admin('GET', `/records/${object}`);
  return Array.isArray(r) ? r : (r.records ?? []);
}

const KEY = field('External_Id__c', 'text', { isKey: true, from: 'id' });
const FIELDS: FieldSpec[] = [KEY, field('LastName'), field('Email')];

function ctxFor(mode: SyncMode, o: { key?: string; fields?: FieldSpec[]; options?: Record<string, unknown>; object?: string } = {}) {
  return makeContext({
    connection,
    object: o.object ?? 'Contact',
    key: o.key ?? 'External_Id__c',
    mode,
    fields: o.fields ?? FIELDS,
    options: o.options,
  });
}
const people = (n: number, prefix = 'k') =>
  Array.from({ length: n }, (_, i) =>
    outRow(`${prefix}${i}`, { External_Id__c: `${prefix}${i}`, LastName: `Last ${i}`, Email: `p${i}@example.com` }),
  );
const COLLECTIONS = { method: 'collections', chunkSize: 2000 };
const BULK = { method: 'bulk2', chunkSize: 150000 };

async function write(mode: SyncMode, op: RowOp, rows: OutRow[], o: Parameters<typeof ctxFor>[1] = {}, plan = COLLECTIONS) {
  const ctx = ctxFor(mode, { options: { bulkPollMs: 50 }, ...o });
  const chunk = new MemoryChunk(op, rows);
  const run = await drive(sf, ctx, chunk, plan);
  return { chunk, run, ctx };
}

describe('check', () => {
  it('accepts a valid mapping and warns about skipped fields', async () => {
    const res = await sf.check(ctxFor('upsert', { fields: [...FIELDS, field('Birthdate', 'bool')] }));
    expect(res.skippedFields).toEqual([expect.objectContaining({ field: 'Birthdate' })]);
    expect(res.warnings.map((w) => w.code)).toEqual(['FIELD_SKIPPED']);
  });
  it('says how the key matches: an External ID text ignores case; a Number External ID matches by value, at its scale', async () => {
    const text = await sf.check(ctxFor('mirror'));
    expect({ ignoresCase: text.keyIgnoresCase, number: text.keyNumber }).toEqual({ ignoresCase: true, number: undefined });
    const numberKey = field('Number_Key__c', 'numeric', { isKey: true, from: 'id' });
    const num = await sf.check(ctxFor('mirror', { key: 'Number_Key__c', fields: [numberKey, field('LastName')] }));
    expect({ ignoresCase: num.keyIgnoresCase, number: num.keyNumber }).toEqual({ ignoresCase: false, number: { scale: 4 } });
  });
  it('names unknown fields with suggestions', async () => {
    await expect(sf.check(ctxFor('upsert', { fields: [...FIELDS, field('Emial'), field('LastNam')] }))).rejects.toMatchObject({
      code: 'FIELD_UNKNOWN',
      retryable: false,
      message: expect.stringMatching(
        /"Emial" \(mapping "[^"]+" → "Emial"; did you mean "Email".*"LastNam" \(mapping "[^"]+" → "LastNam"; did you mean "LastName"/,
      ),
    });
  });
  it('enforces key rules per mode', async () => {
    await expect(
      sf.check(ctxFor('upsert', { key: 'Id', fields: [field('Id', 'text', { isKey: true }), field('LastName')] })),
    ).rejects.toMatchObject({ code: 'KEY_INVALID' });
    await expect(
      sf.check(ctxFor('update', { key: 'LastName', fields: [field('LastName', 'text', { isKey: true })] })),
    ).rejects.toMatchObject({ code: 'KEY_INVALID' });
    await expect(
      sf.check(ctxFor('update', { key: 'Id', fields: [field('Id', 'text', { isKey: true }), field('LastName')] })),
    ).resolves.toBeDefined();
    await expect(
      sf.check(ctxFor('mirror', { key: 'Email', fields: [field('Email', 'text', { isKey: true }), field('LastName')] })),
    ).resolves.toBeDefined();
  });
  it('rejects read-only fields, unknown objects and bad credentials', async () => {
    await expect(sf.check(ctxFor('upsert', { fields: [...FIELDS, field('Name')] }))).rejects.toMatchObject({ code: 'FIELD_NOT_WRITABLE' });
    await expect(sf.check(ctxFor('upsert', { object: 'Contakt' }))).rejects.toMatchObject({ code: 'DESTINATION_NOT_FOUND' });
    const bad = makeContext({
      connection: { ...connection, clientSecret: 'wrong' } as SalesforceConnection,
      object: 'Contact',
      key: 'External_Id__c',
      mode: 'upsert',
      fields: FIELDS,
    });
    await expect(sf.check(bad)).rejects.toMatchObject({
      code: 'AUTH_FAILED',
      retryable: false,
      // The connection is named, with where its credentials come from: "the named connection" told no one which.
      message: expect.stringContaining(
        'check the credentials of connection "sf" (SYNCLINE_CONNECTION_SF, or "connections" in the file SYNCLINE_SECRETS_FILE names)',
      ),
    });
  });
  it('skips a money column mapped to a number field, saying to cast it (its values arrive as "$1,234.56")', async () => {
    const res = await sf.check(
      ctxFor('upsert', { object: 'Account', fields: [KEY, field('Name'), field('AnnualRevenue', 'money'), field('Description', 'money')] }),
    );
    expect(res.skippedFields).toEqual([expect.objectContaining({ field: 'AnnualRevenue' })]);
    expect(res.warnings).toEqual([
      expect.objectContaining({ code: 'FIELD_SKIPPED', message: expect.stringContaining('cast it to numeric in the model') }),
    ]);
  });
  it('validates options', async () => {
    // Options are parsed with the declared schema before any call: building the context is part of the check.
    await expect((async () => sf.check(ctxFor('upsert', { options: { bulkThreshold: -1 } })))()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});

describe('planWrites', () => {
  it('uses collections below the threshold and bulk above', async () => {
    const ctx = ctxFor('upsert');
    expect(await sf.planWrites(ctx, 'upsert', 1999)).toEqual({ method: 'collections', chunkSize: 2000 });
    const bulk = await sf.planWrites(ctx, 'upsert', 2000);
    expect(bulk.method).toBe('bulk2');
    expect(bulk.chunkSize).toBe(2000);
    // One job per chunk, sized from the CSV cap, balanced: 1M rows of 3 text fields → 2 jobs of 500k.
    expect((await sf.planWrites(ctx, 'upsert', 1_000_000)).chunkSize).toBe(500_000);
    expect((await sf.planWrites(ctxFor('upsert', { options: { bulkChunkSize: 150_000 } }), 'upsert', 1_000_000)).chunkSize).toBe(142_858);
  });
});

describe('collections', () => {
  it('heartbeats between batches, not after the last one (a quick one-batch chunk sends none: each is a call to Temporal)', async () => {
    const beatsFor = async (n: number) => {
      const ctx = ctxFor('upsert', { options: { bulkPollMs: 50 } });
      const beats: unknown[] = [];
      ctx.heartbeat = (d) => void beats.push(d);
      await drive(sf, ctx, new MemoryChunk('upsert', people(n, `hb${n}_`)), COLLECTIONS);
      return beats;
    };
    expect(await beatsFor(5)).toEqual([]);
    const beats = await beatsFor(450);
    // Batches run concurrently: rows sent so far, in the order they were answered, always short of the chunk.
    expect(beats).toHaveLength(2);
    for (const b of beats) expect((b as { sent: number }).sent).toBeLessThan(450);
    expect(await records()).toHaveLength(455);
  });

  it('upserts, then upserts again without creating duplicates', async () => {
    const { chunk } = await write('upsert', 'upsert', people(450));
    expect([...chunk.results.values()].every((r) => r.ok)).toBe(true);
    expect(await records()).toHaveLength(450);
    const again = await write(
      'upsert',
      'upsert',
      people(450).map((r) => ({ ...r, values: { ...r.values, LastName: 'Changed' } })),
    );
    expect([...again.chunk.results.values()].every((r) => r.ok)).toBe(true);
    const recs = await records();
    expect(recs).toHaveLength(450);
    expect(recs.every((r) => r.LastName === 'Changed')).toBe(true);
    const k7 = recs.find((r) => r.External_Id__c === 'k7')!;
    expect(chunk.results.get('k7')).toEqual({ key: 'k7', ok: true, destinationId: k7.Id });
  });

  it('updates by external id (lookup) and by Id, and never creates', async () => {
    const { chunk } = await write('upsert', 'upsert', people(3));
    const rows = people(3).map((r) => ({ ...r, values: { ...r.values, LastName: 'Updated' } }));
    const missing = outRow('nope', { External_Id__c: 'nope', LastName: 'X', Email: 'x@example.com' });
    const upd = await write('update', 'update', [...rows, missing]);
    expect(upd.chunk.results.get('k0')).toMatchObject({ ok: true });
    expect(upd.chunk.results.get('nope')).toMatchObject({ ok: false, code: 'NOT_FOUND', retryable: false });
    expect(await records()).toHaveLength(3);
    expect((await records()).every((r) => r.LastName === 'Updated')).toBe(true);
    const id = (chunk.results.get('k1') as { destinationId: string }).destinationId;
    const byId = await write('update', 'update', [outRow(id, { Id: id, LastName: 'ById' })], {
      key: 'Id',
      fields: [field('Id', 'text', { isKey: true }), field('LastName')],
    });
    expect(byId.chunk.results.get(id)).toMatchObject({ ok: true });
    expect((await records()).find((r) => r.Id === id)?.LastName).toBe('ById');
  });

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])(
    'via %s: Update mode by a Number External ID finds the record whose number the key is (1001.50 is 1001.5), and deletes by lookup too',
    async (_m, plan) => {
      await admin('POST', '/records/Contact', [
        { LastName: 'A', Number_Key__c: 1001.5 },
        { LastName: 'B', Number_Key__c: 7 },
      ]);
      const numberKey = field('Number_Key__c', 'numeric', { isKey: true, from: 'id' });
      const o = { key: 'Number_Key__c', fields: [numberKey, field('LastName')] };
      const rows = [
        outRow('1001.50', { Number_Key__c: '1001.50', LastName: 'A2' }),
        outRow('7.0', { Number_Key__c: '7.0', LastName: 'B2' }),
      ];
      const upd = await write('update', 'update', rows, o, plan);
      const recs = await records();
      expect({ a: upd.chunk.results.get('1001.50'), b: upd.chunk.results.get('7.0'), names: recs.map((r) => r.LastName).sort() }).toEqual({
        a: expect.objectContaining({ ok: true }),
        b: expect.objectContaining({ ok: true }),
        names: ['A2', 'B2'],
      });
      const nan = await write('update', 'update', [outRow('NaN', { Number_Key__c: 'NaN', LastName: 'X' })], o, plan);
      expect(nan.chunk.results.get('NaN')).toEqual({
        key: 'NaN',
        ok: false,
        code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
        message: 'Number_Key__c: value is not a number',
        retryable: false,
      });
      const del = await write('mirror', 'delete', [outRow('1001.50', {})], o, plan);
      expect(del.chunk.results.get('1001.50')).toMatchObject({ ok: true });
      expect((await records()).map((r) => r.LastName)).toEqual(['B2']);
    },
  );

  it('inserts with the token field and deletes (by destinationId, by lookup, already gone)', async () => {
    const ins = await write('insert', 'create', people(3));
    const recs = await records();
    expect(recs.map((r) => r.Syncline_Token__c).sort()).toEqual(['tok-k0', 'tok-k1', 'tok-k2']);
    const id0 = (ins.chunk.results.get('k0') as { destinationId: string }).destinationId;
    const del = await write('mirror', 'delete', [outRow('k0', {}, { destinationId: id0 }), outRow('k1', {}), outRow('ghost', {})]);
    expect([...del.chunk.results.values()].map((r) => [r.key, r.ok]).sort()).toEqual([
      ['ghost', true],
      ['k0', true],
      ['k1', true],
    ]);
    expect((await records()).map((r) => r.External_Id__c)).toEqual(['k2']);
  });

  it('reports STRING_TOO_LONG per row without sending it', async () => {
    const rows = people(2);
    rows[1]!.values.LastName = 'x'.repeat(81);
    const { chunk } = await write('upsert', 'upsert', rows);
    expect(chunk.results.get('k0')).toMatchObject({ ok: true });
    expect(chunk.results.get('k1')).toMatchObject({ ok: false, code: 'STRING_TOO_LONG', retryable: false });
    expect(await records()).toHaveLength(1);
    const cut = await write('upsert', 'upsert', rows, { fields: [KEY, field('LastName', 'text', { truncate: true }), field('Email')] });
    expect(cut.chunk.results.get('k1')).toMatchObject({ ok: true });
  });

  it('passes Salesforce row errors through with their code', async () => {
    const rows = people(2);
    rows[0]!.values.Email = 'not-an-email';
    const { chunk } = await write('upsert', 'upsert', rows);
    expect(chunk.results.get('k0')).toMatchObject({ ok: false, code: 'INVALID_EMAIL_ADDRESS', retryable: false });
    expect(chunk.results.get('k1')).toMatchObject({ ok: true });
  });

  it('UNABLE_TO_LOCK_ROW is retryable and succeeds on the next attempt', async () => {
    await faults({ lockRows: { values: ['k1'], field: 'External_Id__c', times: 1 } });
    const ctx = ctxFor('upsert');
    const chunk = new MemoryChunk('upsert', people(3));
    await sf.writeChunk(ctx, chunk, COLLECTIONS);
    expect(chunk.results.get('k1')).toMatchObject({ ok: false, code: 'UNABLE_TO_LOCK_ROW', retryable: true });
    expect(chunk.pending().map((r) => r.key)).toEqual(['k1']);
    await sf.writeChunk(ctx, chunk, COLLECTIONS);
    expect(chunk.results.get('k1')).toMatchObject({ ok: true });
    expect(await records()).toHaveLength(3);
  });

  it('429 → retryable RATE_LIMITED (one quick replay, then Temporal retries)', async () => {
    await faults({ rateLimit: { count: 2, paths: 'composite' } });
    const { run } = await write('upsert', 'upsert', people(3));
    expect(run.errors).toEqual([expect.objectContaining({ code: 'RATE_LIMITED', retryable: true })]);
    expect(await records()).toHaveLength(3);
  });

  it('5xx → retryable DESTINATION_UNAVAILABLE, then the retry succeeds', async () => {
    await faults({ serverError: { count: 2, status: 503, paths: 'composite' } });
    const { run } = await write('upsert', 'upsert', people(5));
    expect(run.errors[0]).toMatchObject({ code: 'DESTINATION_UNAVAILABLE', retryable: true });
    expect(await records()).toHaveLength(5);
  });
});

describe('insert idempotency', () => {
  it('no duplicate when the response is lost after commit (collections)', async () => {
    await faults({ dropResponseAfterCommit: { count: 2, paths: 'composite' } });
    const { chunk, run } = await write('insert', 'create', people(5));
    expect(run.errors.length).toBeGreaterThanOrEqual(1);
    expect([...chunk.results.values()].every((r) => r.ok)).toBe(true);
    expect(await records()).toHaveLength(5);
  });

  it('a reset socket on an idempotent write is replayed once', async () => {
    await faults({ socketReset: { count: 1, paths: 'composite' } });
    const { run, chunk } = await write('insert', 'create', people(4));
    expect(run.errors).toEqual([]);
    expect([...chunk.results.values()].every((r) => r.ok)).toBe(true);
    expect(await records()).toHaveLength(4);
  });

  it('without a token field a plain create is never replayed', async () => {
    await faults({ socketReset: { count: 1, paths: 'composite' } });
    const ctx = ctxFor('insert', { options: { insertTokenField: null } });
    const warnings = (await sf.check(ctx)).warnings.map((w) => w.code);
    expect(warnings).toContain('INSERT_NOT_IDEMPOTENT');
    await expect(sf.writeChunk(ctx, new MemoryChunk('create', people(2)), COLLECTIONS)).rejects.toMatchObject({
      code: 'DESTINATION_UNAVAILABLE',
      retryable: true,
    });
  });

  it('no duplicate when a bulk worker dies after upload: the retry re-attaches to the saved job, running or finished', async () => {
    const ctx = ctxFor('insert', { options: { bulkPollMs: 50 } });
    const jobs = async () => (await admin('GET', '/jobs')) as Array<{ id: string; state: string }>;
    // The activity "died" before the workflow saw `pending`: the retry must not start a second job.
    // While the job still runs (held InProgress here), the retry answers pending, on the same job.
    await faults({ bulkJobStuck: true });
    const chunk = new MemoryChunk('create', people(30));
    const first = await sf.writeChunk(ctx, chunk, BULK);
    expect(first.status).toBe('pending');
    const again = await sf.writeChunk(ctx, chunk, BULK);
    expect(again).toMatchObject({ status: 'pending', handle: (first as { handle: string }).handle });
    await faults({ bulkJobStuck: false });
    await drive(sf, ctx, chunk, BULK);
    expect([...chunk.results.values()].filter((r) => r.ok)).toHaveLength(30);
    // Once the job has finished (a 30-row job may well before the retry comes), the retry reads its results.
    const later = new MemoryChunk('create', people(20, 'j'));
    const started = await sf.writeChunk(ctx, later, BULK);
    expect(started.status).toBe('pending');
    const id = (started as { handle: string }).handle;
    for (let i = 0; i < 400 && (await jobs()).find((j) => j.id === id)?.state !== 'JobComplete'; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect((await jobs()).find((j) => j.id === id)?.state).toBe('JobComplete');
    const retried = await sf.writeChunk(ctx, later, BULK);
    expect(retried.status).toBe('done');
    expect([...later.results.values()].filter((r) => r.ok)).toHaveLength(20);
    expect(await jobs()).toHaveLength(2);
    expect(await records()).toHaveLength(50);
  });
});

describe('insert token across runs', () => {
  /**
   * The token as the delta computes it (db/delta.ts): md5(activation '/' key '/' row hash), the row hash a
   * uuid-shaped md5 over the mapping and the mapped values, so it depends on content, not on the run.
   */
  function deltaToken(activationId: string, key: string, values: Record<string, unknown>): string {
    const h = createHash('md5')
      .update(`mapping-signature(${Object.values(values).join(',')})`)
      .digest('hex');
    const hash = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    return createHash('md5').update(`${activationId}/${key}/${hash}`).digest('hex');
  }
  // Insert mode keys on a non-unique field: a changed row becomes a new record carrying the same key.
  const fields: FieldSpec[] = [field('Department', 'text', { isKey: true, from: 'id' }), field('LastName'), field('Title')];
  const A = { Department: 'c1', LastName: 'Alpha', Title: 'A' };
  const B = { Department: 'c1', LastName: 'Beta', Title: 'B' };

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: content A → B → A creates two records and the third run updates the first', async (_name, plan) => {
    const run = async (values: typeof A, destinationId: string | null) => {
      const token = deltaToken('test-activation', 'c1', values);
      const { chunk } = await write(
        'insert',
        'create',
        [outRow('c1', values, { op: 'create', token, destinationId })],
        { key: 'Department', fields },
        plan,
      );
      return { token, result: chunk.results.get('c1') as { ok: boolean; destinationId: string } };
    };
    const first = await run(A, null);
    const second = await run(B, first.result.destinationId);
    expect(second.token).not.toBe(first.token);
    expect(second.result.destinationId).not.toBe(first.result.destinationId);
    // Someone edits the first record in Salesforce between the runs.
    await (
      await getClient(connection, 'test')
    ).updateRecords([{ attributes: { type: 'Contact' }, id: first.result.destinationId, Title: 'Edited in Salesforce' }], {
      where: 'test',
    });
    const third = await run(A, second.result.destinationId);
    expect(third.token).toBe(first.token);
    expect(third.result).toEqual({ key: 'c1', ok: true, destinationId: first.result.destinationId });
    const recs = (await records()).map((r) => ({ Id: r.Id, Syncline_Token__c: r.Syncline_Token__c, LastName: r.LastName, Title: r.Title }));
    expect(recs.sort((x, y) => x.LastName.localeCompare(y.LastName))).toEqual([
      { Id: first.result.destinationId, Syncline_Token__c: first.token, LastName: 'Alpha', Title: 'A' },
      { Id: second.result.destinationId, Syncline_Token__c: second.token, LastName: 'Beta', Title: 'B' },
    ]);
  });
});

describe('bulk 2.0', () => {
  it('upserts, maps shuffled results back by key, reports bad rows', async () => {
    const rows = people(120);
    rows[5]!.values.Email = 'bad-email';
    rows[77]!.values.LastName = null;
    const { chunk, run } = await write('upsert', 'upsert', rows, {}, BULK);
    expect(run.outcomes[0]).toMatchObject({ status: 'pending' });
    expect(chunk.results.get('k5')).toMatchObject({ ok: false, code: 'INVALID_EMAIL_ADDRESS', retryable: false });
    expect(chunk.results.get('k77')).toMatchObject({ ok: false, code: 'REQUIRED_FIELD_MISSING', retryable: false });
    const recs = await records();
    expect(recs).toHaveLength(118);
    for (const r of recs) expect(chunk.results.get(r.External_Id__c)).toEqual({ key: r.External_Id__c, ok: true, destinationId: r.Id });
  });

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: an update whose key has no record is NOT_FOUND, not retried, saying Update never creates', async (_name, plan) => {
    await write('upsert', 'upsert', people(2));
    const rows = [...people(2), outRow('nope', { External_Id__c: 'nope', LastName: 'X', Email: 'x@example.com' })];
    const { chunk } = await write('update', 'update', rows, {}, plan);
    expect(chunk.results.get('nope')).toEqual({
      key: 'nope',
      ok: false,
      code: 'NOT_FOUND',
      retryable: false,
      message:
        'no Contact has External_Id__c = "nope"; Update mode never creates records (create the record in Salesforce, or use Upsert mode)',
    });
    expect(await records()).toHaveLength(2);
  });

  it('update and delete through bulk', async () => {
    await write('upsert', 'upsert', people(20), {}, BULK);
    const upd = await write(
      'update',
      'update',
      people(20).map((r) => ({ ...r, values: { ...r.values, LastName: 'B' } })),
      {},
      BULK,
    );
    expect([...upd.chunk.results.values()].every((r) => r.ok)).toBe(true);
    expect((await records()).every((r) => r.LastName === 'B')).toBe(true);
    const del = await write('mirror', 'delete', people(20).slice(0, 15), {}, BULK);
    expect([...del.chunk.results.values()].filter((r) => r.ok)).toHaveLength(15);
    expect(await records()).toHaveLength(5);
  });

  it('splits a chunk whose CSV exceeds maxCsvBytes into follow-up jobs', async () => {
    const { chunk, run } = await write('upsert', 'upsert', people(40), { options: { bulkPollMs: 50, maxCsvBytes: 600 } }, BULK);
    const handles = new Set(run.outcomes.flatMap((o) => (o.status === 'pending' ? [o.handle] : [])));
    expect(handles.size).toBeGreaterThan(1);
    expect([...chunk.results.values()].filter((r) => r.ok)).toHaveLength(40);
    expect(await records()).toHaveLength(40);
  });

  it('a clean job reads only its successful results; a job with failures also reads failedResults', async () => {
    const ingest = () =>
      emu.state.requests
        .filter((r) => r.path.includes('/jobs/ingest/'))
        .map((r) => `${r.method} ${r.path.replace(/^.*\/jobs\/ingest\/[^/]+/, '')}`)
        .filter((r) => r !== 'GET ');
    emu.state.requests = [];
    await write('upsert', 'upsert', people(30), {}, BULK);
    expect(ingest()).toEqual(['PUT /batches', 'PATCH ', 'GET /successfulResults']);
    emu.state.requests = [];
    const rows = people(30);
    rows[3]!.values.Email = 'bad-email';
    const { chunk } = await write('upsert', 'upsert', rows, {}, BULK);
    expect(ingest()).toEqual(['PUT /batches', 'PATCH ', 'GET /successfulResults', 'GET /failedResults']);
    expect(chunk.results.get('k3')).toMatchObject({ ok: false, code: 'INVALID_EMAIL_ADDRESS' });
  });

  it('results survive an expired session (refresh, streamed download) and a failed download (retried)', async () => {
    const ctx = ctxFor('upsert', { options: { bulkPollMs: 50 } });
    const chunk = new MemoryChunk('upsert', people(25));
    const first = await sf.writeChunk(ctx, chunk, BULK);
    expect(first.status).toBe('pending');
    await faults({ expireTokens: true, serverError: { count: 1, status: 503, paths: 'successfulResults' } });
    await drive(sf, ctx, chunk, BULK);
    const recs = await records();
    expect(recs).toHaveLength(25);
    for (const r of recs) expect(chunk.results.get(r.External_Id__c)).toEqual({ key: r.External_Id__c, ok: true, destinationId: r.Id });
  });

  it('streamed requests (fetch) refresh an expired session once and map errors like jsforce calls', async () => {
    const client = await getClient(connection, 'test');
    await client.describe('Contact', 'test');
    await faults({ expireTokens: true });
    const res = await client.fetchRaw('GET', '/sobjects/Contact/describe', undefined, { where: 'test' });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    await expect(client.fetchRaw('GET', '/jobs/ingest/750000000000000AAA', undefined, { where: 'test' })).rejects.toMatchObject({
      code: 'DESTINATION_NOT_FOUND',
    });
    await faults({ serverError: { count: 1, status: 503, paths: 'describe' } });
    await expect(client.fetchRaw('GET', '/sobjects/Contact/describe', undefined, { where: 'test' })).rejects.toMatchObject({
      code: 'DESTINATION_UNAVAILABLE',
      retryable: true,
    });
  });

  it('a large job polls later than a small one', () => {
    expect(pollInterval(15_000, 2_000)).toBe(3_000);
    expect(pollInterval(15_000, 50_000)).toBe(15_000);
    expect(pollInterval(15_000, 500_000)).toBe(120_000);
    expect(pollInterval(15_000, undefined)).toBe(15_000);
  });

  it('polls a job by its progress: soon after closing, then when the rate seen says the rest is done', () => {
    // First poll: a fifth of bulkPollMs (at least a second), never later than the size-based interval.
    expect(firstPoll(15_000, 500_000)).toBe(3_000);
    expect(firstPoll(15_000, 2_000)).toBe(3_000);
    expect(firstPoll(0, 500_000)).toBe(0);
    const closedAt = 1_000_000;
    // 100,000 rows in the last 10 s: 200,000 left at 10,000/s is 20 s, plus a tenth.
    expect(
      nextPoll(15_000, 500_000, closedAt, { at: closedAt + 30_000, processed: 200_000 }, { at: closedAt + 40_000, processed: 300_000 }),
    ).toBe(22_000);
    // A rate read over the first seconds is a poor guess (a job speeds up once under way): never wait
    // longer than the job has run. 10,000 rows in 3 s says 147 s more: read again after 3 s.
    expect(nextPoll(15_000, 500_000, closedAt, { at: closedAt, processed: 0 }, { at: closedAt + 3_000, processed: 10_000 })).toBe(3_000);
    // Seen in the benchmark: 52,000 of 200,000 rows after 3.6 s said 11.2 s more; the job was done 3 s later.
    expect(nextPoll(15_000, 200_000, closedAt, { at: closedAt, processed: 0 }, { at: closedAt + 3_571, processed: 52_000 })).toBe(3_571);
    // Nearly done: not sooner than an eighth of the time the job has run.
    expect(
      nextPoll(15_000, 500_000, closedAt, { at: closedAt + 20_000, processed: 400_000 }, { at: closedAt + 40_000, processed: 499_990 }),
    ).toBe(5_000);
    // Queued (no progress): twice the last wait, but no longer than the job has run (so the waits double).
    expect(nextPoll(15_000, 500_000, closedAt, { at: closedAt + 3_000, processed: 0 }, { at: closedAt + 6_000, processed: 0 })).toBe(6_000);
    expect(nextPoll(15_000, 500_000, closedAt, { at: closedAt, processed: 0 }, { at: closedAt + 3_000, processed: 0 })).toBe(3_000);
    // Up to the size-based interval.
    expect(nextPoll(15_000, 500_000, closedAt, { at: closedAt, processed: 0 }, { at: closedAt + 200_000, processed: 0 })).toBe(120_000);
    // A slow rate never polls later than that interval either; unknown progress polls at it.
    expect(nextPoll(15_000, 500_000, closedAt, { at: closedAt, processed: 0 }, { at: closedAt + 150_000, processed: 1 })).toBe(120_000);
    expect(nextPoll(15_000, 500_000, undefined, undefined, { at: closedAt, processed: 10 })).toBe(120_000);
  });

  it('heartbeats while a slow upload is in flight', async () => {
    // Only the upload is slowed; a heartbeat sent while the job is Open without data is one sent during it.
    await faults({ slow: { ms: 1500, count: 1, paths: 'bulk .*/batches$' } });
    const ctx = ctxFor('upsert', { options: { bulkPollMs: 50, heartbeatMs: 20 } });
    const duringUpload: unknown[] = [];
    const beat = ctx.heartbeat;
    ctx.heartbeat = (d) => {
      const jobs = [...emu.state.jobs.values()];
      if (jobs.length === 1 && jobs[0]!.state === 'Open' && jobs[0]!.upload === undefined) duringUpload.push(d);
      beat(d);
    };
    const chunk = new MemoryChunk('upsert', people(30));
    await drive(sf, ctx, chunk, BULK);
    expect(duringUpload.length).toBeGreaterThan(0);
    expect(await records()).toHaveLength(30);
  });

  it('a job that fails for a platform reason is resubmitted', async () => {
    await faults({ bulkJobFails: { count: 1 } });
    const { chunk } = await write('upsert', 'upsert', people(10), {}, BULK);
    expect([...chunk.results.values()].every((r) => r.ok)).toBe(true);
    expect(await records()).toHaveLength(10);
  });
});

describe('quota and auth', () => {
  it('daily quota exhausted → QuotaWaitError', async () => {
    await sf.check(ctxFor('upsert'));
    await faults({ dailyQuotaExhausted: true });
    await expect(write('upsert', 'upsert', people(2), { options: { quotaWaitMs: 1234 } })).rejects.toMatchObject({
      code: 'QUOTA_RESERVE_REACHED',
      waitMs: 1234,
    });
  });

  it('reserve reached → QuotaWaitError before writing; quota() reports usage', async () => {
    const ctx = ctxFor('upsert', { options: { quotaReservePercent: 100 } });
    const err = await sf.writeChunk(ctx, new MemoryChunk('upsert', people(2)), COLLECTIONS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuotaWaitError);
    expect(await records()).toHaveLength(0);
    const q = await sf.quota!(ctx);
    expect(q!.max).toBeGreaterThan(0);
    expect(q!.used).toBeGreaterThan(0);
  });

  it('quota() answers figures the checkQuota activity can return through Temporal', async () => {
    const ctx = ctxFor('upsert');
    await sf.check(ctx); // a call made: the figures come from its Sforce-Limit-Info header
    const q = await sf.quota!(ctx);
    // The activity's result is converted to a payload: anything more than figures (a client) fails it.
    expect(defaultPayloadConverter.fromPayload(defaultPayloadConverter.toPayload(q))).toEqual(q);
    expect(q).toEqual({ used: expect.any(Number), max: expect.any(Number) });
  });

  it('authenticates with the JWT bearer flow', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwt: SalesforceConnection = {
      auth: 'jwt',
      loginUrl: emu.url,
      clientId: 'syncline-demo-client',
      username: 'integration@syncline.demo',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const ctx = makeContext({ connection: jwt, object: 'Contact', key: 'External_Id__c', mode: 'upsert', fields: FIELDS });
    await expect(sf.check(ctx)).resolves.toMatchObject({ warnings: [] });
  });

  it('a fixed access token works until it expires, then AUTH_FAILED (nothing to refresh with)', async () => {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'syncline-demo-client',
      client_secret: 'syncline-demo-secret',
    });
    const tok = (await (await fetch(`${emu.url}/services/oauth2/token`, { method: 'POST', body: form })).json()) as {
      access_token: string;
      instance_url: string;
    };
    const ctx = makeContext({
      connection: { auth: 'token', instanceUrl: tok.instance_url, accessToken: tok.access_token },
      object: 'Contact',
      key: 'External_Id__c',
      mode: 'upsert',
      fields: FIELDS,
    });
    await sf.check(ctx);
    await faults({ expireTokens: true });
    await expect(sf.check(ctx)).rejects.toMatchObject({ code: 'AUTH_FAILED', retryable: false });
  });

  it('tokens refused right after refresh end in AUTH_FAILED, not an endless refresh loop', async () => {
    await write('upsert', 'upsert', people(1));
    const tokens = emu.state.tokens as { check: (t: string) => unknown };
    const original = tokens.check;
    tokens.check = () => undefined; // every bearer token is refused
    try {
      const ctx = ctxFor('upsert');
      await expect(sf.writeChunk(ctx, new MemoryChunk('upsert', people(2)), COLLECTIONS)).rejects.toMatchObject({
        code: 'AUTH_FAILED',
        retryable: false,
      });
    } finally {
      tokens.check = original;
    }
    const log = (await admin('GET', '/requests')).requests as Array<{ path: string }>;
    expect(log.filter((r) => r.path === '/services/oauth2/token').length).toBeLessThanOrEqual(5);
  });

  it('an expired token is refreshed once and the request replayed', async () => {
    await write('upsert', 'upsert', people(1));
    await faults({ expireTokens: true });
    const before = (await admin('GET', '/requests')).requests.length;
    const { run } = await write('upsert', 'upsert', people(3));
    expect(run.errors).toEqual([]);
    const log = ((await admin('GET', '/requests')).requests as Array<{ method: string; path: string; status: number }>).slice(before);
    expect(log.map((r) => `${r.method} ${r.path.replace(/^\/services\/data\/v62\.0/, '')} ${r.status}`)).toEqual([
      'PATCH /composite/sobjects/Contact/External_Id__c 401',
      'POST /services/oauth2/token 200',
      'PATCH /composite/sobjects/Contact/External_Id__c 200',
    ]);
    expect(await records()).toHaveLength(3);
  });
});

describe('API calls counted for the metric (ctx.apiCall)', () => {
  /** The emulator's coarse request categories (its own reading of the paths), by our call kinds. */
  const CATEGORY: Record<string, string> = {
    auth: 'auth',
    describe: 'describe',
    query: 'query',
    limits: 'limits',
    collections: 'composite',
    bulk_job: 'bulk',
    bulk_upload: 'bulk',
    bulk_poll: 'bulk',
    bulk_results: 'bulk',
  };

  it('every request the emulator saw is counted once under its kind: token refreshes, replays and bulk polls included', async () => {
    const ctx = ctxFor('upsert', { options: { bulkPollMs: 50 } });
    await sf.check(ctx);
    await drive(sf, ctx, new MemoryChunk('upsert', people(5)), COLLECTIONS);
    // A 503 the client replays once, and an expired token jsforce refreshes before sending again.
    await faults({ serverError: { count: 1, status: 503, paths: '^composite ' } });
    await drive(sf, ctx, new MemoryChunk('upsert', people(5, 'r')), COLLECTIONS);
    await faults({ expireTokens: true });
    await drive(sf, ctx, new MemoryChunk('upsert', people(40, 'b')), BULK);
    expect(await sf.quota!(ctx)).not.toBeNull();

    const { requests, counts } = (await admin('GET', '/requests')) as {
      requests: Array<{ method: string; path: string; status: number }>;
      counts: { byCategory: Record<string, number> };
    };
    const byCategory: Record<string, number> = {};
    for (const [kind, n] of Object.entries(ctx.apiCalls))
      byCategory[CATEGORY[kind] ?? `unexpected kind ${kind}`] = (byCategory[CATEGORY[kind] ?? `unexpected kind ${kind}`] ?? 0) + n;
    expect(byCategory).toEqual(counts.byCategory);
    const seen = (method: string, re: RegExp) => requests.filter((r) => r.method === method && re.test(r.path.replace(/\?.*$/, ''))).length;
    const expected = {
      auth: seen('POST', /\/oauth2\/token$/),
      describe: seen('GET', /\/describe$/),
      limits: seen('GET', /\/limits$/),
      collections: seen('PATCH', /\/composite\/sobjects\//),
      bulk_job: seen('POST', /\/jobs\/ingest$/) + seen('PATCH', /\/jobs\/ingest\/\w+$/),
      bulk_upload: seen('PUT', /\/batches$/),
      bulk_poll: seen('GET', /\/jobs\/ingest\/\w+$/),
      bulk_results: seen('GET', /\/jobs\/ingest\/\w+\/\w+$/),
    };
    expect(ctx.apiCalls).toEqual(Object.fromEntries(Object.entries(expected).filter(([, n]) => n > 0)));
    // What the faults caused is in the counts: two token requests (the first and the refresh), a replayed write, 401s.
    expect(ctx.apiCalls.auth).toBe(2);
    expect(requests.filter((r) => r.status === 503)).toHaveLength(1);
    expect(requests.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(1);
  });
});

describe('tricky values round trip', () => {
  const tricky = ['comma, here', 'quote " here', 'multi\nline\r\nvalue', 'tab\there', 'ünïcødé 日本語', 'emoji 😀👍🏽', ' padded ', '#hash'];
  const fields: FieldSpec[] = [
    KEY,
    field('LastName'),
    field('Description'),
    field('Title'),
    field('Birthdate', 'date'),
    field('Last_Purchase_At__c', 'timestamptz'),
    field('Lifetime_Value__c', 'numeric'),
    field('Interests__c', '_text'),
    field('HasOptedOutOfEmail', 'bool'),
  ];
  const rows = () =>
    tricky.map((t, i) =>
      outRow(`t${i}`, {
        External_Id__c: `t${i}`,
        LastName: t,
        Description: t,
        Title: i % 2 ? '' : null,
        Birthdate: new Date(2024, 2, 31),
        Last_Purchase_At__c: new Date(Date.UTC(2024, 9, 27, 0, 59, 59, 999) + i * 1000),
        Lifetime_Value__c: '1234.567',
        Interests__c: ['Music', 'Travel'],
        HasOptedOutOfEmail: i % 2 === 0,
      }),
    );

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s', async (name, plan) => {
    const { chunk } = await write('upsert', 'upsert', rows(), { fields }, plan);
    expect([...chunk.results.values()].filter((r) => !r.ok)).toEqual([]);
    const recs = await records();
    tricky.forEach((t, i) => {
      const r = recs.find((x) => x.External_Id__c === `t${i}`)!;
      expect(r.LastName).toBe(t);
      expect(r.Description).toBe(t);
      expect(r.Birthdate).toBe('2024-03-31');
      expect(new Date(r.Last_Purchase_At__c).getTime()).toBe(Date.UTC(2024, 9, 27, 0, 59, 59, 999) + i * 1000);
      expect(Number(r.Lifetime_Value__c)).toBe(1234.57);
      expect(r.Interests__c).toBe('Music;Travel');
      expect(r.HasOptedOutOfEmail).toBe(i % 2 === 0);
      // Null clears, and so does an empty string: Salesforce keeps no empty text. REST gets "", Bulk CSV
      // #N/A (an empty cell there would mean "unchanged"); both read back null.
      expect(r.Title).toBeNull();
    });
  });

  it('null clears a field (collections and bulk)', async () => {
    await write(
      'upsert',
      'upsert',
      people(2).map((r) => ({ ...r, values: { ...r.values, Email: 'a@b.co' } })),
    );
    await write('upsert', 'upsert', [outRow('k0', { External_Id__c: 'k0', LastName: 'L', Email: null })]);
    await write('upsert', 'upsert', [outRow('k1', { External_Id__c: 'k1', LastName: 'L', Email: null })], {}, BULK);
    const recs = await records();
    expect(recs.map((r) => r.Email ?? null)).toEqual([null, null]);
  });
});

describe('int8 and numeric values beyond a double arrive digit for digit', () => {
  const fields: FieldSpec[] = [KEY, field('Name'), field('AnnualRevenue', 'int8')];
  // AnnualRevenue is currency(18, 0): 18 integer digits.
  const values: Record<string, string> = {
    b0: '123456789012345678',
    b1: '999999999999999999',
    b2: '-123456789012345678',
    b3: '9007199254740993', // 2^53 + 1, the first integer a double cannot hold
    b4: '1000000000000000000', // 19 digits
  };
  const rows = () => Object.entries(values).map(([k, v]) => outRow(k, { External_Id__c: k, Name: `Big ${k}`, AnnualRevenue: v }));

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: the record holds the exact digits; 19 digits fail the row locally', async (_name, plan) => {
    const { chunk } = await write('upsert', 'upsert', rows(), { fields, object: 'Account' }, plan);
    expect(chunk.results.get('b4')).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE', retryable: false });
    const recs = await records('Account');
    expect(Object.fromEntries(recs.map((r) => [r.External_Id__c, String(r.AnnualRevenue)]))).toEqual({
      b0: '123456789012345678',
      b1: '999999999999999999',
      b2: '-123456789012345678',
      b3: '9007199254740993',
    });
    for (const k of ['b0', 'b1', 'b2', 'b3']) expect(chunk.results.get(k)).toMatchObject({ ok: true });
  });

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: a numeric with 16 significant digits into a double(16, 2) is exact', async (_name, plan) => {
    const f: FieldSpec[] = [KEY, field('LastName'), field('Lifetime_Value__c', 'numeric')];
    const { chunk } = await write(
      'upsert',
      'upsert',
      [
        outRow('n0', { External_Id__c: 'n0', LastName: 'N', Lifetime_Value__c: '12345678901234.56' }),
        outRow('n1', { External_Id__c: 'n1', LastName: 'N', Lifetime_Value__c: '-99999999999999.994' }),
      ],
      { fields: f },
      plan,
    );
    expect([...chunk.results.values()].filter((r) => !r.ok)).toEqual([]);
    const recs = await records();
    expect(Object.fromEntries(recs.map((r) => [r.External_Id__c, String(r.Lifetime_Value__c)]))).toEqual({
      n0: '12345678901234.56',
      n1: '-99999999999999.99',
    });
  });
});

describe('a stored destination id that went stale', () => {
  const client = () => getClient(connection, 'test');
  const KEYS = ['k0', 'k1', 'k2', 'k3'];
  /**
   * k0..k3 synced; then k0 deleted and recreated (new Id), k1 deleted for good, and k3's stored Id one that
   * never existed in this org (e.g. carried over from before a sandbox refresh). k2 is untouched.
   */
  async function staleState() {
    const { chunk } = await write('upsert', 'upsert', people(4));
    const stored = Object.fromEntries(KEYS.map((k) => [k, (chunk.results.get(k) as { destinationId: string }).destinationId]));
    await (await client()).deleteRecords([stored.k0!, stored.k1!], { where: 'test' });
    const recreated = (await admin('POST', '/records/Contact', { External_Id__c: 'k0', LastName: 'Recreated' })).ids[0] as string;
    const current: Record<string, string> = { ...stored, k0: recreated };
    stored.k3 = to18('003Hp0000ZZZZZZ');
    return { stored, current };
  }
  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: update finds the record by its key, lands on it and returns its new Id', async (_name, plan) => {
    const { stored, current } = await staleState();
    const rows = people(4).map((r) => ({ ...r, values: { ...r.values, LastName: 'Updated' }, destinationId: stored[r.key]! }));
    const { chunk } = await write('update', 'update', rows, {}, plan);
    for (const k of ['k0', 'k2', 'k3']) expect(chunk.results.get(k)).toEqual({ key: k, ok: true, destinationId: current[k] });
    expect(chunk.results.get('k1')).toMatchObject({
      ok: false,
      code: 'NOT_FOUND',
      retryable: false,
      message: expect.stringMatching(new RegExp(`${stored.k1} .*no longer exists.*External_Id__c = "k1".*Update mode never creates`)),
    });
    const recs = await records();
    expect(recs.map((r) => [r.External_Id__c, r.Id, r.LastName]).sort()).toEqual(['k0', 'k2', 'k3'].map((k) => [k, current[k], 'Updated']));
  });

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: a Mirror delete by a stale Id deletes the record that now carries the key', async (_name, plan) => {
    const { stored } = await staleState();
    const rows = KEYS.map((k) => outRow(k, {}, { destinationId: stored[k]! }));
    const { chunk } = await write('mirror', 'delete', rows, {}, plan);
    expect([...chunk.results.values()].map((r) => [r.key, r.ok]).sort()).toEqual(KEYS.map((k) => [k, true]));
    expect(await records()).toEqual([]);
  });
});

describe('char(n) columns: the padding node-postgres returns is not sent', () => {
  // node-postgres hands char(n) values over padded to n; the key syncline keeps is their text form (no padding).
  const CHAR_KEY = field('External_Id__c', 'bpchar', { isKey: true, from: 'id' });
  const CHAR_FIELDS = [CHAR_KEY, field('LastName', 'bpchar'), field('Email')];
  const row = (key: string, last: string) =>
    outRow(key, { External_Id__c: key.padEnd(10, ' '), LastName: last.padEnd(100, ' '), Email: `${key.toLowerCase()}@example.com` });
  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: an upsert lands on the record that has the key, and Mirror deletes it by that key', async (_name, plan) => {
    const existing = (await admin('POST', '/records/Contact', { External_Id__c: 'AB', LastName: 'Before' })).ids[0] as string;
    const { chunk } = await write('upsert', 'upsert', [row('AB', 'Smith'), row('CD', 'Jones')], { fields: CHAR_FIELDS }, plan);
    expect(chunk.results.get('AB')).toEqual({ key: 'AB', ok: true, destinationId: existing });
    expect(chunk.results.get('CD')).toMatchObject({ ok: true });
    const recs = await records();
    expect(recs.map((r) => [r.External_Id__c, r.LastName]).sort()).toEqual([
      ['AB', 'Smith'],
      ['CD', 'Jones'],
    ]);
    // No stored Id (e.g. a record synced before): the delete looks the record up by the key.
    const gone = await write('mirror', 'delete', [outRow('AB', {}), outRow('CD', {})], { fields: CHAR_FIELDS }, plan);
    expect([...gone.chunk.results.values()].map((r) => [r.key, r.ok]).sort()).toEqual([
      ['AB', true],
      ['CD', true],
    ]);
    expect(await records()).toEqual([]);
  });
});

describe('values a Bulk CSV would change: both paths store the same thing', () => {
  const fields: FieldSpec[] = [KEY, field('LastName'), field('Description'), field('Title'), field('AccountId')];
  // #N/A is Bulk CSV's null token, quoted or not; the variants and look-alikes must arrive as they are too.
  const texts = ['#N/A', '#n/a', ' #N/A', '#N/A\n', '"#N/A"', ' ', '\n', '""'];
  const rows = () =>
    texts.map((t, i) => outRow(`v${i}`, { External_Id__c: `v${i}`, LastName: i === 0 ? '#N/A' : `L${i}`, Description: t, Title: 'T' }));

  it.each([
    ['collections', 'upsert', 'upsert', COLLECTIONS],
    ['bulk2', 'upsert', 'upsert', BULK],
    ['bulk2', 'insert', 'create', BULK],
    ['bulk2', 'update', 'update', BULK],
  ] as Array<[string, SyncMode, RowOp, typeof BULK]>)(
    'via %s (%s): a text value "#N/A" is stored as it is',
    async (_name, mode, op, plan) => {
      if (op === 'update')
        await write(
          'upsert',
          'upsert',
          rows().map((r) => ({ ...r, values: { ...r.values, LastName: 'before', Description: 'before' } })),
        );
      const { chunk } = await write(mode, op, rows(), { fields }, plan);
      expect([...chunk.results.values()].filter((r) => !r.ok)).toEqual([]);
      const recs = await records();
      expect(recs).toHaveLength(texts.length);
      texts.forEach((t, i) => {
        const r = recs.find((x) => x.External_Id__c === `v${i}`)!;
        expect(r.Description).toBe(t);
        expect(r.LastName).toBe(i === 0 ? '#N/A' : `L${i}`);
        expect(chunk.results.get(`v${i}`)).toEqual({ key: `v${i}`, ok: true, destinationId: r.Id });
      });
    },
  );

  it.each([
    ['collections', COLLECTIONS],
    ['bulk2', BULK],
  ])('via %s: an empty string clears any field, a lookup included', async (_name, plan) => {
    const account = (await admin('POST', '/records/Account', { Name: 'Acme' })).ids[0] as string;
    await write('upsert', 'upsert', [outRow('e0', { External_Id__c: 'e0', LastName: 'L', Title: 'T', AccountId: account })], { fields });
    expect((await records())[0]).toMatchObject({ Title: 'T', AccountId: account });
    const { chunk } = await write(
      'upsert',
      'upsert',
      [outRow('e0', { External_Id__c: 'e0', LastName: 'L', Title: '', AccountId: '' })],
      { fields },
      plan,
    );
    expect(chunk.results.get('e0')).toMatchObject({ ok: true });
    expect((await records())[0]).toMatchObject({ Title: null, AccountId: null });
  });
});

it('throws SyncError subclasses only', () => {
  expect(new QuotaWaitError('x', 1)).toBeInstanceOf(SyncError);
});

describe('parent lookups by External ID (Account.External_Id__c)', () => {
  const ACCOUNT_KEY: FieldSpec = { from: 'account_key', to: 'Account.External_Id__c', pgType: 'text', isKey: false };
  const LINKED: FieldSpec[] = [KEY, field('LastName'), ACCOUNT_KEY];
  const contact = (key: string, account: string | null) =>
    outRow(key, { External_Id__c: key, LastName: `L ${key}`, 'Account.External_Id__c': account });
  const seedAccounts = (...keys: string[]) =>
    admin(
      'POST',
      '/records/Account',
      keys.map((k) => ({ Name: `Acc ${k}`, External_Id__c: k })),
    );
  const accountIds = async () => Object.fromEntries((await records('Account')).map((a) => [a.External_Id__c, a.Id]));
  const linkOf = async () => Object.fromEntries((await records()).map((c) => [c.External_Id__c, c.AccountId ?? null]));

  it('check() validates the relationship, the parent External ID and the lookup, naming the mapping', async () => {
    await expect(sf.check(ctxFor('upsert', { fields: LINKED }))).resolves.toMatchObject({ warnings: [] });
    await expect(sf.check(ctxFor('upsert', { fields: [KEY, { ...ACCOUNT_KEY, to: 'Account.Name' }] }))).rejects.toMatchObject({
      code: 'FIELD_UNKNOWN',
      retryable: false,
      message: expect.stringMatching(
        /activation "test-activation".*mapping "account_key" → "Account.Name": Account.Name is not an External ID field/,
      ),
    });
    await expect(sf.check(ctxFor('upsert', { fields: [KEY, { ...ACCOUNT_KEY, to: 'Acount.External_Id__c' }] }))).rejects.toMatchObject({
      code: 'FIELD_UNKNOWN',
      message: expect.stringMatching(/Contact has no relationship "Acount" \(did you mean "Account"/),
    });
    await expect(sf.check(ctxFor('upsert', { fields: [KEY, { ...ACCOUNT_KEY, to: 'Account.Owner.Email' }] }))).rejects.toMatchObject({
      code: 'FIELD_UNKNOWN',
      message: expect.stringMatching(/one level deep/),
    });
    // The emulator does not model User: a parent the integration user cannot see.
    await expect(sf.check(ctxFor('upsert', { fields: [KEY, { ...ACCOUNT_KEY, to: 'Owner.Email' }] }))).rejects.toMatchObject({
      code: 'FIELD_UNKNOWN',
      retryable: false,
      message: expect.stringMatching(/a parent lookup points to User, which does not exist or is not visible/),
    });
  });

  for (const [path, plan] of [
    ['collections', COLLECTIONS],
    ['bulk', BULK],
  ] as const) {
    it(`${path}: links by the parent's key, lists a missing parent with its key, clears the link on a null key`, async () => {
      await seedAccounts('A1', 'A2');
      const ids = await accountIds();
      const rows = [contact('c1', 'A1'), contact('c2', 'a2'), contact('c3', 'A9'), contact('c4', null)];
      const { chunk } = await write('upsert', 'upsert', rows, { fields: LINKED }, plan);
      expect(chunk.results.get('c3')).toMatchObject({
        ok: false,
        code: 'INVALID_FIELD',
        retryable: false,
        message: expect.stringMatching(
          /^Foreign key external ID: A9 not found for field External_Id__c in entity Account \(mapping "account_key" → "Account.External_Id__c"\): no Account has External_Id__c = "A9".*retry-failed/,
        ),
      });
      expect(await linkOf()).toEqual({ c1: ids.A1, c2: ids.A2, c4: null });
      // The parent appears; the failed row sent again links it; a linked row whose parent key turns null is unlinked.
      await seedAccounts('A9');
      const again = await write('upsert', 'upsert', [contact('c3', 'A9'), contact('c1', null)], { fields: LINKED }, plan);
      expect([...again.chunk.results.values()].every((r) => r.ok)).toBe(true);
      expect(await linkOf()).toEqual({ c1: null, c2: ids.A2, c3: (await accountIds()).A9, c4: null });
    });

    it(`${path}: Update by the model's External ID moves a record to another parent`, async () => {
      await seedAccounts('A1', 'A2');
      await write('upsert', 'upsert', [contact('c1', 'A1')], { fields: LINKED }, plan);
      const { chunk } = await write('update', 'update', [contact('c1', 'A2'), contact('c2', 'A1')], { fields: LINKED }, plan);
      expect(chunk.results.get('c1')).toMatchObject({ ok: true });
      expect(chunk.results.get('c2')).toMatchObject({ ok: false, code: 'NOT_FOUND' });
      expect(await linkOf()).toEqual({ c1: (await accountIds()).A2 });
    });
  }
});

describe('missingParent: "writeWithoutLink" (a row whose parent is not found is written without its link)', () => {
  const ACCOUNT_KEY: FieldSpec = { from: 'account_key', to: 'Account.External_Id__c', pgType: 'text', isKey: false };
  const LINKED: FieldSpec[] = [KEY, field('LastName'), ACCOUNT_KEY];
  const WITHOUT_LINK = { bulkPollMs: 50, missingParent: 'writeWithoutLink' };
  const contact = (key: string, account: string | null, o: Partial<OutRow> = {}) =>
    outRow(key, { External_Id__c: key, LastName: `L ${key}`, 'Account.External_Id__c': account }, o);
  const seedAccounts = (...keys: string[]) =>
    admin(
      'POST',
      '/records/Account',
      keys.map((k) => ({ Name: `Acc ${k}`, External_Id__c: k })),
    );
  const accountIds = async () => Object.fromEntries((await records('Account')).map((a) => [a.External_Id__c, a.Id]));
  const contacts = async () => (await records()).map((c) => ({ key: c.External_Id__c, id: c.Id, account: c.AccountId ?? null }));

  it('check(): Insert without a token field would create a second record at each re-send: CONFIG_INVALID', async () => {
    await expect(
      sf.check(ctxFor('insert', { fields: LINKED, options: { missingParent: 'writeWithoutLink', insertTokenField: null } })),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      retryable: false,
      message: expect.stringMatching(/missingParent.*insertTokenField/),
    });
    await expect(sf.check(ctxFor('upsert', { fields: LINKED, options: { missingParent: 'writeWithoutLink' } }))).resolves.toBeTruthy();
    expect(() => ctxFor('upsert', { fields: LINKED, options: { missingParent: 'sometimes' } })).toThrow(/missingParent/);
  });

  for (const [path, plan] of [
    ['collections', COLLECTIONS],
    ['bulk', BULK],
  ] as const) {
    for (const [mode, op] of [
      ['upsert', 'upsert'],
      ['insert', 'create'],
    ] as const) {
      it(`${path}, ${mode}: the row is written without AccountId and answered incomplete; sent again it updates the same record, linked once the parent exists`, async () => {
        await seedAccounts('A1');
        const ids = await accountIds();
        const rows = [contact('c1', 'A1', { op }), contact('c3', 'A9', { op })];
        const { chunk } = await write(mode, op, rows, { fields: LINKED, options: WITHOUT_LINK }, plan);
        expect(chunk.results.get('c1')).toEqual({ key: 'c1', ok: true, destinationId: expect.any(String) });
        const c3 = chunk.results.get('c3');
        expect(c3).toMatchObject({
          ok: true,
          destinationId: expect.any(String),
          incomplete: {
            code: 'WRITTEN_WITHOUT_LINK',
            message: expect.stringMatching(
              /^written without its link AccountId to Account: no Account has External_Id__c = "A9" \(mapping "account_key" → "Account.External_Id__c"\)\. Create that Account/,
            ),
          },
        });
        const first = await contacts();
        expect(first).toEqual(
          expect.arrayContaining([
            { key: 'c1', id: expect.any(String), account: ids.A1 },
            { key: 'c3', id: c3!.ok ? c3!.destinationId : '', account: null },
          ]),
        );
        expect(first).toHaveLength(2);
        // Sent again by the next run (same content, same token, the Id the snapshot keeps): still no parent.
        const resend = contact('c3', 'A9', { op, destinationId: c3!.ok ? (c3!.destinationId ?? null) : null });
        const again = await write(mode, op, [resend], { fields: LINKED, options: WITHOUT_LINK }, plan);
        expect(again.chunk.results.get('c3')).toMatchObject({ ok: true, incomplete: { code: 'WRITTEN_WITHOUT_LINK' } });
        expect(await contacts()).toHaveLength(2);
        await seedAccounts('A9');
        const linked = await write(mode, op, [resend], { fields: LINKED, options: WITHOUT_LINK }, plan);
        expect(linked.chunk.results.get('c3')).toEqual({ key: 'c3', ok: true, destinationId: c3!.ok ? c3!.destinationId : '' });
        const last = await contacts();
        expect(last).toHaveLength(2);
        expect(last.find((c) => c.key === 'c3')).toEqual({
          key: 'c3',
          id: c3!.ok ? c3!.destinationId : '',
          account: (await accountIds()).A9,
        });
      });
    }

    it(`${path}, insert: the worker dies after the row went out without its link, before its answer was recorded: the retried activity finds the same record`, async () => {
      await seedAccounts('A1');
      const ctx = ctxFor('insert', { fields: LINKED, options: WITHOUT_LINK });
      // The answer to the write without the link is lost once (the activity fails after Salesforce wrote it).
      class DyingChunk extends MemoryChunk {
        died = false;
        override async record(results: Parameters<MemoryChunk['record']>[0]) {
          if (!this.died && results.some((r) => r.ok && r.incomplete)) {
            this.died = true;
            throw new SyncError('DESTINATION_UNAVAILABLE', 'worker lost', { retryable: true });
          }
          return super.record(results);
        }
      }
      const chunk = new DyingChunk('create', [contact('c1', 'A1', { op: 'create' }), contact('c3', 'A9', { op: 'create' })]);
      const run = await drive(sf, ctx, chunk, plan);
      expect(chunk.died).toBe(true);
      expect(run.errors).toHaveLength(1);
      const c3 = chunk.results.get('c3');
      expect(c3).toMatchObject({ ok: true, incomplete: { code: 'WRITTEN_WITHOUT_LINK' } });
      const all = await contacts();
      expect(all).toHaveLength(2);
      expect(all.find((c) => c.key === 'c3')).toEqual({ key: 'c3', id: c3!.ok ? c3!.destinationId : '', account: null });
    });

    it(`${path}: Update clears the old link when the new parent is missing (not left pointing at the old parent)`, async () => {
      await seedAccounts('A1');
      await write('upsert', 'upsert', [contact('c1', 'A1')], { fields: LINKED }, plan);
      const { chunk } = await write(
        'update',
        'update',
        [contact('c1', 'A9', { op: 'update' })],
        { fields: LINKED, options: WITHOUT_LINK },
        plan,
      );
      expect(chunk.results.get('c1')).toMatchObject({ ok: true, incomplete: { code: 'WRITTEN_WITHOUT_LINK' } });
      expect(await contacts()).toEqual([{ key: 'c1', id: expect.any(String), account: null }]);
    });

    it(`${path}: without the option a missing parent is still a row error and nothing is written`, async () => {
      const { chunk } = await write('upsert', 'upsert', [contact('c3', 'A9')], { fields: LINKED }, plan);
      expect(chunk.results.get('c3')).toMatchObject({ ok: false, code: 'INVALID_FIELD' });
      expect(await records()).toEqual([]);
    });

    // Sent again with the same token, the create finds its record and is refused for the create-only field
    // (INVALID_FIELD_FOR_INSERT_UPDATE): the record is updated without it, still without the missing link.
    it(`${path}, insert with a create-only field: the row written without its link is sent again (still incomplete), then linked; its create-only value kept`, async () => {
      await seedAccounts('A1');
      const fields = [...LINKED, field('First_Touch__c')];
      const row = (o: Partial<OutRow> = {}) =>
        outRow(
          'c3',
          { External_Id__c: 'c3', LastName: 'L c3', 'Account.External_Id__c': 'A9', First_Touch__c: 'web' },
          { op: 'create', ...o },
        );
      const first = await write('insert', 'create', [row()], { fields, options: WITHOUT_LINK }, plan);
      const c3 = first.chunk.results.get('c3');
      expect(c3).toMatchObject({ ok: true, destinationId: expect.any(String), incomplete: { code: 'WRITTEN_WITHOUT_LINK' } });
      const id = c3!.ok ? c3!.destinationId : null;
      const state = async () =>
        (await records()).map((c) => ({ key: c.External_Id__c, id: c.Id, account: c.AccountId ?? null, first: c.First_Touch__c }));
      expect(await state()).toEqual([{ key: 'c3', id, account: null, first: 'web' }]);
      const again = await write('insert', 'create', [row({ destinationId: id })], { fields, options: WITHOUT_LINK }, plan);
      expect(again.chunk.results.get('c3')).toMatchObject({ ok: true, destinationId: id, incomplete: { code: 'WRITTEN_WITHOUT_LINK' } });
      await seedAccounts('A9');
      const linked = await write('insert', 'create', [row({ destinationId: id })], { fields, options: WITHOUT_LINK }, plan);
      expect(linked.chunk.results.get('c3')).toEqual({ key: 'c3', ok: true, destinationId: id });
      expect(await state()).toEqual([{ key: 'c3', id, account: (await accountIds()).A9, first: 'web' }]);
    });
  }
});

describe('Insert with a create-only field (describe: createable, not updateable)', () => {
  const FIELDS_CO: FieldSpec[] = [KEY, field('LastName'), field('First_Touch__c')];
  const row = (key: string) => outRow(key, { External_Id__c: key, LastName: `L ${key}`, First_Touch__c: 'web' }, { op: 'create' });

  it('a create refused for it while no record carries the token keeps its refusal: nothing is written without the field', async () => {
    const ctx = ctxFor('insert', { fields: FIELDS_CO, options: { bulkPollMs: 50 } });
    const first = new MemoryChunk('create', [row('a')]);
    await drive(sf, ctx, first, COLLECTIONS);
    expect(first.results.get('a')).toMatchObject({ ok: true });
    // The field stops being createable after the connector read describe (cached): the org now refuses the create.
    const def = emu.state.registry.get('Contact')!;
    const i = def.index.get('first_touch__c')!;
    const was = def.fields[i]!;
    def.fields[i] = { ...was, createable: false };
    try {
      const chunk = new MemoryChunk('create', [row('b')]);
      await drive(sf, ctx, chunk, COLLECTIONS);
      expect(chunk.results.get('b')).toMatchObject({
        ok: false,
        code: 'INVALID_FIELD_FOR_INSERT_UPDATE',
        message: expect.stringMatching(/^Unable to create\/update fields: First_Touch__c\./),
      });
    } finally {
      def.fields[i] = was;
    }
    expect((await records()).map((c) => [c.External_Id__c, c.First_Touch__c])).toEqual([['a', 'web']]);
  });
});

describe('Update by the Salesforce Id carried by the model', () => {
  const BY_ID: FieldSpec[] = [field('Id', 'text', { isKey: true, from: 'sf_id' }), field('LastName')];
  const row = (id: string, last: string) => outRow(id, { Id: id, LastName: last });
  const dataWrites = () =>
    emu.state.requests.filter((r) => r.method !== 'GET' && (r.category === 'composite' || r.category === 'bulk')).length;

  for (const [path, plan] of [
    ['collections', COLLECTIONS],
    ['bulk', BULK],
  ] as const) {
    it(`${path}: 15 and 18 character Ids are updated; malformed, wrong-checksum and Account Ids are row errors, never sent`, async () => {
      const { ids } = (await admin('POST', '/records/Contact', [{ LastName: 'one' }, { LastName: 'two' }])) as { ids: string[] };
      const [
        {
          ids: [accountId],
        },
      ] = [(await admin('POST', '/records/Account', [{ Name: 'Acme' }])) as { ids: string[] }];
      const [id18, other] = ids as [string, string];
      const id15 = other.slice(0, 15);
      const badSum = `${id18.slice(0, 15)}${id18.slice(15) === 'AAA' ? 'AAB' : 'AAA'}`;
      const rejected = [row('003xyz', 'short'), row(badSum, 'bad checksum'), row(accountId!, 'an Account')];
      emu.state.requests = [];
      const only = await write('update', 'update', rejected, { key: 'Id', fields: BY_ID }, plan);
      expect(dataWrites()).toBe(0);
      for (const r of rejected) expect(only.chunk.results.get(r.key)).toMatchObject({ ok: false, code: 'MALFORMED_ID', retryable: false });
      expect(only.chunk.results.get(accountId!)).toMatchObject({
        message: expect.stringMatching(/Contact Ids start with "003", this one with "001"/),
      });
      const { chunk } = await write(
        'update',
        'update',
        [row(id18, 'ONE'), row(id15, 'TWO'), ...rejected],
        { key: 'Id', fields: BY_ID },
        plan,
      );
      expect(chunk.results.get(id18)).toMatchObject({ ok: true, destinationId: id18 });
      expect(chunk.results.get(id15)).toMatchObject({ ok: true });
      expect(chunk.results.get(badSum)).toMatchObject({ ok: false, code: 'MALFORMED_ID' });
      // Well formed, of the right object, but no such record: Salesforce's own answer, and nothing created.
      const ghost = to18('003Hp0000ZZZZZZ');
      const gone = await write('update', 'update', [row(ghost, 'ghost')], { key: 'Id', fields: BY_ID }, plan);
      expect(gone.chunk.results.get(ghost)).toMatchObject({ ok: false, code: 'INVALID_CROSS_REFERENCE_KEY', retryable: false });
      expect((await records()).map((r) => r.LastName).sort()).toEqual(['ONE', 'TWO']);
      expect((await records('Account')).map((r) => r.Name)).toEqual(['Acme']);
    });
  }

  it('Upsert and Mirror cannot key on Id: check() says to use Update', async () => {
    for (const mode of ['upsert', 'mirror'] as const) {
      await expect(sf.check(ctxFor(mode, { key: 'Id', fields: BY_ID }))).rejects.toMatchObject({
        code: 'KEY_INVALID',
        message: expect.stringMatching(/use Update mode with key "Id"/),
      });
    }
  });
});

describe('record types by developer name', () => {
  const KIND: FieldSpec = { from: 'kind', to: 'RecordType.DeveloperName', pgType: 'text', isKey: false };
  let types: Record<string, string>;
  beforeAll(async () => {
    const made = (await admin('POST', '/recordTypes/Contact', [
      { developerName: 'Partner' },
      { developerName: 'Customer' },
      { developerName: 'Retired', active: false },
      { developerName: 'Hidden', available: false },
    ])) as Array<{ id: string; developerName: string }>;
    types = Object.fromEntries(made.map((r) => [r.developerName, r.id]));
  });
  const typeOf = async () => Object.fromEntries((await records()).map((c) => [c.External_Id__c, c.RecordTypeId ?? null]));

  it('check(): an unknown, inactive or unavailable name is CONFIG_INVALID naming the valid ones; an object without record types too', async () => {
    await expect(sf.check(ctxFor('upsert', { options: { recordType: 'Partner' } }))).resolves.toMatchObject({ warnings: [] });
    for (const [name, why] of [
      ['Partnr', /Contact has no record type "Partnr"/],
      ['Retired', /"Retired" of Contact is inactive/],
      ['Hidden', /"Hidden" of Contact is not available to the integration user/],
      ['Master', /master record type/],
    ] as const) {
      await expect(sf.check(ctxFor('upsert', { options: { recordType: name } }))).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        retryable: false,
        message: expect.stringMatching(why),
      });
    }
    await expect(sf.check(ctxFor('upsert', { options: { recordType: 'Partnr' } }))).rejects.toMatchObject({
      message: expect.stringMatching(
        /activation "test-activation".*option "recordType": "Partnr".*valid developer names: "Partner", "Customer"$/,
      ),
    });
    const lead = [field('External_Id__c', 'text', { isKey: true, from: 'id' }), field('LastName'), field('Company')];
    await expect(sf.check(ctxFor('upsert', { object: 'Lead', fields: lead, options: { recordType: 'Partner' } }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/Lead has no record types/),
    });
    await expect(sf.check(ctxFor('upsert', { fields: [...FIELDS, KIND], options: { recordType: 'Partner' } }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/given twice/),
    });
  });

  for (const [path, plan] of [
    ['collections', COLLECTIONS],
    ['bulk', BULK],
  ] as const) {
    it(`${path}: option recordType sets RecordTypeId on every record written (create and upsert)`, async () => {
      const { chunk } = await write('upsert', 'upsert', people(3), { options: { bulkPollMs: 50, recordType: 'partner' } }, plan);
      expect([...chunk.results.values()].every((r) => r.ok)).toBe(true);
      expect(await typeOf()).toEqual({ k0: types.Partner, k1: types.Partner, k2: types.Partner });
      const inserted = await write('insert', 'create', people(2, 'n'), { options: { bulkPollMs: 50, recordType: 'Customer' } }, plan);
      expect([...inserted.chunk.results.values()].every((r) => r.ok)).toBe(true);
      expect(await typeOf()).toMatchObject({ n0: types.Customer, n1: types.Customer });
    });

    it(`${path}: a per-row developer name; an unknown one is a row error naming the valid ones, never sent`, async () => {
      const row = (k: string, kind: string | null) =>
        outRow(k, { External_Id__c: k, LastName: k, Email: `${k}@example.com`, 'RecordType.DeveloperName': kind });
      emu.state.requests = [];
      const { chunk } = await write(
        'upsert',
        'upsert',
        [row('r1', 'Partner'), row('r2', 'CUSTOMER'), row('r3', 'Retired'), row('r4', null)],
        { fields: [...FIELDS, KIND] },
        plan,
      );
      expect(chunk.results.get('r3')).toMatchObject({
        ok: false,
        code: 'RECORD_TYPE_UNKNOWN',
        retryable: false,
        message: expect.stringMatching(/^kind: "Retired" is not an active record type.*valid developer names: "Partner", "Customer"/),
      });
      expect(await typeOf()).toEqual({ r1: types.Partner, r2: types.Customer, r4: null });
    });
  }
});

describe('Mirror hardDelete', () => {
  const grant = (on: boolean) => admin('POST', '/userPermissions', { PermissionsBulkApiHardDelete: on });
  afterEach(() => grant(false));
  const HARD = { bulkPollMs: 50, hardDelete: true };
  /** Every Contact still stored, live or in the recycle bin: [key, IsDeleted]. */
  const inBin = async () =>
    ((await admin('GET', '/records/Contact?includeDeleted=true')) as Array<Record<string, any>>)
      .map((r) => [r.External_Id__c, r.IsDeleted])
      .sort();
  async function synced(n: number) {
    const { chunk } = await write('upsert', 'upsert', people(n));
    return [...chunk.results.values()].map((r) => (r.ok ? r.destinationId : null));
  }

  it('check(): without "Bulk API Hard Delete" a clear CONFIG_INVALID; with it, fine; ignored outside Mirror', async () => {
    await expect(sf.check(ctxFor('mirror', { options: { hardDelete: true } }))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      retryable: false,
      message: expect.stringMatching(
        /activation "test-activation".*option "hardDelete" needs the "Bulk API Hard Delete" system permission.*nothing was deleted.*remove "hardDelete" to delete into the recycle bin/,
      ),
    });
    await expect(sf.check(ctxFor('upsert', { options: { hardDelete: true } }))).resolves.toMatchObject({ warnings: [] });
    await grant(true);
    await expect(sf.check(ctxFor('mirror', { options: { hardDelete: true } }))).resolves.toMatchObject({ warnings: [] });
  });

  it('deletes go through a Bulk hardDelete job whatever the row count: gone from the recycle bin too; without the option, soft', async () => {
    await grant(true);
    const ids = await synced(4);
    const ctx = ctxFor('mirror', { options: HARD });
    const plan = await sf.planWrites(ctx, 'delete', 2);
    expect(plan.method).toBe('bulk2');
    const rows = ['k0', 'k1'].map((k, i) => outRow(k, {}, { op: 'delete', destinationId: ids[i]! }));
    const { chunk } = await write('mirror', 'delete', rows, { options: HARD }, plan);
    expect([...chunk.results.values()].every((r) => r.ok)).toBe(true);
    expect(emu.state.jobs.size).toBe(1);
    expect([...emu.state.jobs.values()][0]!.operation).toBe('hardDelete');
    const soft = await write(
      'mirror',
      'delete',
      [outRow('k2', {}, { op: 'delete', destinationId: ids[2]! })],
      { options: { bulkPollMs: 50 } },
      await sf.planWrites(ctxFor('mirror'), 'delete', 1),
    );
    expect([...soft.chunk.results.values()].every((r) => r.ok)).toBe(true);
    expect(await inBin()).toEqual([
      ['k2', true],
      ['k3', false],
    ]);
  });

  it('the permission taken away after check(): the write stops with CONFIG_INVALID before any job, nothing deleted', async () => {
    const ids = await synced(2);
    emu.state.requests = [];
    const rows = ['k0', 'k1'].map((k, i) => outRow(k, {}, { op: 'delete', destinationId: ids[i]! }));
    await expect(write('mirror', 'delete', rows, { options: HARD }, BULK)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/Bulk API Hard Delete/),
    });
    expect(emu.state.jobs.size).toBe(0);
    expect(emu.state.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(await inBin()).toEqual([
      ['k0', false],
      ['k1', false],
    ]);
  });

  it('a stored Id gone: done when no record has the key; a record recreated with the key is listed, not deleted', async () => {
    await grant(true);
    const ids = await synced(2);
    // Both records deleted by a person (into the recycle bin); k1 recreated with the same key.
    const store = emu.state.store(emu.state.registry.get('Contact')!);
    for (const id of ids) store.softDelete(store.get(id!)!);
    const {
      ids: [again],
    } = (await admin('POST', '/records/Contact', [{ LastName: 'Again', External_Id__c: 'k1' }])) as { ids: string[] };
    const rows = ['k0', 'k1'].map((k, i) => outRow(k, {}, { op: 'delete', destinationId: ids[i]! }));
    const { chunk } = await write('mirror', 'delete', rows, { options: HARD }, BULK);
    expect(chunk.results.get('k0')).toMatchObject({ ok: true });
    expect(chunk.results.get('k1')).toMatchObject({
      ok: false,
      code: 'RECORD_RECREATED',
      retryable: false,
      message: expect.stringMatching(new RegExp(`another record, ${again}, now carries its key; it was not hard-deleted`)),
    });
    expect((await records()).map((r) => [r.Id, r.External_Id__c])).toEqual([[again, 'k1']]);
  });
});

describe('duplicate rules', () => {
  const ALLOW = { allowSave: true };
  async function setup(action: 'alert' | 'block' = 'alert') {
    await faults({ duplicateRule: { object: 'Contact', field: 'Email', name: 'Contact_Email_Rule', action } });
    const {
      ids: [existing],
    } = (await admin('POST', '/records/Contact', [{ LastName: 'Existing', Email: 'p1@example.com' }])) as { ids: string[] };
    return existing!;
  }
  const mine = async () =>
    (await records())
      .filter((r) => r.External_Id__c)
      .map((r) => r.External_Id__c)
      .sort();

  for (const [path, plan] of [
    ['collections', COLLECTIONS],
    ['bulk', BULK],
  ] as const) {
    it(`${path}: DUPLICATES_DETECTED is a row error naming the rule and what to do; with allowSave the row is saved`, async () => {
      const existing = await setup();
      const { chunk } = await write('upsert', 'upsert', people(3), {}, plan);
      const err = chunk.results.get('k1');
      expect(err).toMatchObject({ ok: false, code: 'DUPLICATES_DETECTED', retryable: false });
      expect(err && !err.ok && err.message).toMatch(
        path === 'collections'
          ? new RegExp(
              `^duplicate rule "Contact_Email_Rule" \\(Contact\\) refused this row as a duplicate matching ${existing} \\("Use one of these records\\?"\\); nothing was written for this row\\. To save such rows anyway, set "duplicateRuleHeader": \\{"allowSave": true\\}`,
            )
          : /^a duplicate rule refused this row as a duplicate \("Use one of these records\?"\); nothing was written.*"duplicateRuleHeader": \{"allowSave": true\}.*retry-failed test-activation/,
      );
      expect(await mine()).toEqual(['k0', 'k2']);
      emu.state.requests = [];
      const again = await write('upsert', 'upsert', [people(3)[1]!], { options: { bulkPollMs: 50, duplicateRuleHeader: ALLOW } }, plan);
      expect(again.chunk.results.get('k1')).toMatchObject({ ok: true });
      // Bulk takes no header: the job refuses the row, which then goes through Collections with the header.
      const used = new Set(emu.state.requests.filter((r) => r.method !== 'GET').map((r) => r.category));
      expect([...used].sort()).toEqual(path === 'bulk' ? ['bulk', 'composite'] : ['composite']);
      expect(await mine()).toEqual(['k0', 'k1', 'k2']);
    });
  }

  it('a Block rule refuses the row even with allowSave, and the message says the header cannot override it', async () => {
    await setup('block');
    const { chunk } = await write('upsert', 'upsert', people(2), { options: { bulkPollMs: 50, duplicateRuleHeader: ALLOW } });
    const err = chunk.results.get('k1');
    expect(err).toMatchObject({
      ok: false,
      code: 'DUPLICATES_DETECTED',
      message: expect.stringMatching(
        /duplicate rule "Contact_Email_Rule".*blocks duplicates, which the allowSave header cannot override: change the rule's action/,
      ),
    });
    expect(await mine()).toEqual(['k0']);
  });
});

describe('lock-safe bulk: rows grouped by parent', () => {
  const ACCOUNT_KEY: FieldSpec = { from: 'account_key', to: 'Account.External_Id__c', pgType: 'text', isKey: false };
  const LINKED: FieldSpec[] = [KEY, field('LastName'), ACCOUNT_KEY];

  it("the CSV holds each parent's rows together; lock failures (only where a parent straddles a batch) are retried until every row is written", async () => {
    await admin(
      'POST',
      '/records/Account',
      Array.from({ length: 50 }, (_, i) => ({ Name: `P${i}`, External_Id__c: `P${i}` })),
    );
    // 1000 Contacts spread round robin over 50 Accounts, P0 with 50 more: uneven groups straddle batch boundaries.
    const parentOf = (i: number) => (i < 950 ? `P${i % 50}` : 'P0');
    const rows = Array.from({ length: 1000 }, (_, i) =>
      outRow(`c${i}`, { External_Id__c: `c${i}`, LastName: `L${i}`, 'Account.External_Id__c': parentOf(i) }),
    );
    await faults({ lockContention: { column: 'Account.External_Id__c', batchSize: 100 }, bulkJobStuck: true });
    const ctx = ctxFor('upsert', { fields: LINKED, options: { bulkPollMs: 50 } });
    const chunk = new MemoryChunk('upsert', rows);
    const first = await sf.writeChunk(ctx, chunk, BULK);
    expect(first.status).toBe('pending');
    const job = [...emu.state.jobs.values()][0]!;
    const csv = job
      .upload!.toString('utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[2]!);
    expect(csv).toHaveLength(1000);
    const runs = csv.filter((p, i) => i === 0 || p !== csv[i - 1]);
    expect(runs).toHaveLength(50); // one run per parent: no parent appears in two places
    expect(new Set(runs).size).toBe(50);
    await faults({ bulkJobStuck: false });
    await drive(sf, ctx, chunk, BULK);
    // The first job: only parents cut by an internal batch boundary lock (round robin would lock 900 rows).
    const locked = [...chunk.results.values()].filter((r) => !r.ok && r.code === 'UNABLE_TO_LOCK_ROW');
    expect(locked.length).toBeGreaterThan(0);
    expect(locked.length).toBeLessThan(9 * 70);
    expect(locked.every((r) => !r.ok && r.retryable)).toBe(true);
    // The runtime's row-retry loop: a fresh connector state sends the retryable rows again in a new job.
    let retries = 0;
    while ([...chunk.results.values()].some((r) => !r.ok && r.retryable) && retries < 3) {
      retries++;
      await chunk.save(null);
      await drive(sf, ctx, chunk, BULK);
    }
    expect([...chunk.results.values()].filter((r) => !r.ok)).toEqual([]);
    const accountOf = new Map((await records('Account')).map((a) => [a.Id, a.External_Id__c]));
    const linked = Object.fromEntries((await records()).map((c) => [c.External_Id__c, accountOf.get(c.AccountId)]));
    expect(Object.keys(linked)).toHaveLength(1000);
    rows.forEach((r, i) => expect(linked[r.key]).toBe(parentOf(i)));
  });
});
