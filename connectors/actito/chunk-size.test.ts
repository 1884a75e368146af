/**
 * Rows per bulk import sized by the bytes per row the activation's import files compressed to, driven
 * against the in-process emulator (emulators/actito) through test-harness.ts.
 */
import { createHash } from 'node:crypto';
import { SyncError } from '../../common/errors';
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import { LocalLimits } from '../kit/limits';
import { sampleInMemory } from '../kit/testing/memory-chunk';
import type { FieldSpec, OutRow, RowOp } from '../types';
import { buildImportFile } from './bulk-file';
import {
  bulkChunkFor,
  columnsFingerprint,
  importFileLimit,
  MAX_BULK_CHUNK,
  MIN_BULK_CHUNK,
  MIN_SAMPLE_ROWS,
  SAMPLE_MARGIN,
  SAMPLE_ROWS,
} from './chunk-size';
import { clientFor } from './client';
import { quotaTable, takeImport } from './quota';
import { loadTables } from './context';
import { type ActitoConnection, connectionSchema } from './config';
import { actitoConnector as actito } from './index';
import { drive, emulatorAdmin, field, makeContext, memoryChunk, MemoryState, outRow } from './test-harness';

let emu: ActitoEmulator;
let conn: ActitoConnection;

const admin = emulatorAdmin(() => emu.url);
const requests = async (): Promise<Array<{ method: string; path: string; route: string; status: number }>> =>
  (await admin('GET', '/requests')).requests;

// Two columns keep a 200,000-row model cheap to build and import.
const FIELDS: FieldSpec[] = [field('order_id', 'orderId', 'text', { isKey: true }), field('customer_id', 'customerId', 'text')];
const orders = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => outRow(`O${from + i}`, { orderId: `O${from + i}`, customerId: `C${(from + i) % 3}` }));
const MB = 1024 * 1024;
const LIMIT = 100 * MB;
/** Where the connector keeps what the activation's records imports of table "orders" compressed to. */
const SEEN = 'actito.bulkFile.records.orders';

beforeAll(async () => {
  emu = await startActitoEmulator({ callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10 });
  conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  clientFor(conn).backoffMs = 5;
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await admin('POST', '/reset');
  for (let i = 0; i < 3; i++) emu.state.profiles.insert({ customerId: `C${i}` });
});

describe('rows per import sized by bytes (bulkChunkSize not set)', () => {
  it("a model needing more 200,000-row imports than today's quota leaves is written in bulk within it once an import was seen", async () => {
    const state = new MemoryState();
    const limits = new LocalLimits();
    // Two imports a day on the table; the first run takes one.
    const options = { bulkThreshold: 10, pollAfterMs: 10, bulkImportsPerDay: 2, bulkImportsReserve: 0 };
    const ctx = makeContext({ connection: conn, table: 'orders', key: 'orderId', mode: 'upsert', fields: FIELDS, options, state, limits });
    await actito.check(ctx);

    const first = await drive(actito, ctx, 'upsert', orders(0, 2_000));
    expect(first.method).toBe('bulk');
    expect([...first.results.values()].every((r) => r.ok)).toBe(true);

    // 200,001 rows: two imports at 200,000 rows each, one left today.
    await admin('DELETE', '/requests');
    const second = await drive(actito, ctx, 'upsert', orders(0, 200_001));
    expect(second.method).toBe('bulk');
    expect(second.chunks.map((c) => c.rowCount)).toEqual([200_001]);
    expect(second.results.size).toBe(200_001);
    expect([...second.results.values()].every((r) => r.ok)).toBe(true);
    const log = await requests();
    expect(log.filter((r) => r.method === 'POST' && /\/etl-executions$/.test(r.path))).toHaveLength(1);
    expect(log.some((r) => /\/record/.test(r.path))).toBe(false);
    // In Actito: every row once, in two imports in all (the day's quota).
    expect(emu.state.tables.customTable('orders')!.size).toBe(200_001);
    const imports = (await admin('GET', '/imports')).imports as Array<{ status: string; counts: { read: number } }>;
    expect(imports.map((i) => [i.status, i.counts.read])).toEqual([
      ['SUCCESS', 2_000],
      ['SUCCESS', 200_001],
    ]);
    expect(await actito.quota!(ctx)).toEqual({ used: 2, max: 2 });
    expect(ctx.logs.some((l) => /quota/.test(l.message))).toBe(false);
    // The last file seen is kept for the next plan.
    const seen = await state.get<{ bytes: number; lines: number }>(SEEN);
    expect(seen).toMatchObject({ lines: 200_001, rows: 200_001, columns: columnsFingerprint(ctx, 'records') });
    expect(seen!.bytes).toBeGreaterThan(0);
    expect(seen!.bytes).toBeLessThan(200_001 * 20);
  });
});

describe('what an import file compressed to, kept per phase', () => {
  it('keeps the profile file by the rows whose profiles it holds, and sizes by the larger of the two files', async () => {
    const state = new MemoryState();
    const ctx = makeContext({
      connection: conn,
      table: 'orders',
      key: 'orderId',
      mode: 'upsert',
      fields: [...FIELDS, field('email', 'profile.emailAddress', 'text')],
      options: { bulkThreshold: 10, pollAfterMs: 10, profiles: { table: 'main', matchAttribute: 'customerId', mode: 'upsert' } },
      state,
    });
    await actito.check(ctx);
    const rows = orders(0, 1_200).map((r) => ({
      ...r,
      values: { ...r.values, 'profile.emailAddress': `${String(r.values.customerId)}@example.com` },
    }));
    const { results } = await drive(actito, ctx, 'upsert', rows);
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    const imports = (await admin('GET', '/imports')).imports as Array<{ tableType: string; counts: { read: number } }>;
    expect(imports.map((i) => [i.tableType, i.counts.read])).toEqual([
      ['PROFILE_TABLE', 3],
      ['CUSTOM_TABLE', 1_200],
    ]);
    const records = await state.get<{ bytes: number; lines: number; rows: number }>(SEEN);
    const profiles = await state.get<{ bytes: number; lines: number; rows: number }>('actito.bulkFile.profiles.main');
    expect(records).toMatchObject({ lines: 1_200, rows: 1_200 });
    expect(profiles).toMatchObject({ lines: 3, rows: 1_200 });
    // Both phases feed the same chunk: its rows per import come from the larger bytes per row.
    const plan = (rows: number) => actito.planWrites(ctx, 'upsert', rows);
    const byRecords = bulkChunkFor({ rows: 10_000_000, left: 21, bytesPerRow: records!.bytes / records!.rows, limitBytes: LIMIT });
    expect((await plan(10_000_000)).chunkSize).toBe(byRecords.chunkSize);
    await state.set('actito.bulkFile.profiles.main', { ...profiles, bytes: 100 * profiles!.rows });
    expect((await plan(10_000_000)).chunkSize).toBe(524_288);
  });
});

describe('bulkChunkFor: rows per import from bytes per row', () => {
  const size = (bytesPerRow: number | null, rows = 1_000_000, left = 22, limitBytes = LIMIT) =>
    bulkChunkFor({ rows, left, bytesPerRow, limitBytes });

  it('is 200,000 rows before any file was seen', () => {
    expect(size(null)).toEqual({ chunkSize: MIN_BULK_CHUNK, bytesPerRow: null, grown: false });
  });

  it('aims a file at half the limit, between 200,000 and 5,000,000 rows', () => {
    expect(size(12).chunkSize).toBe(Math.floor((50 * MB) / 12)); // the bench's rows: 4,369,066
    expect(size(100).chunkSize).toBe(524_288);
    expect(size(1).chunkSize).toBe(MAX_BULK_CHUNK);
    // 300 bytes a row: 174,762 rows would be half the limit; 200,000 rows (57 MB) still fit.
    expect(size(300).chunkSize).toBe(MIN_BULK_CHUNK);
  });

  it('goes under 200,000 rows only when 200,000 would come to more than four fifths of the limit', () => {
    // 600 bytes a row: 200,000 rows are 114 MB; four fifths of the limit is 139,810 rows.
    expect(size(600).chunkSize).toBe(Math.floor((80 * MB) / 600));
    expect(size(600).chunkSize * 600).toBeLessThanOrEqual(0.8 * LIMIT);
  });

  it("grows to cover the rows with today's imports while the file stays within four fifths of the limit", () => {
    // 3,000,000 rows of 100 bytes: 6 imports of 524,288; 4 left: 750,000 rows (72 MB) each.
    expect(size(100, 3_000_000, 4)).toEqual({ chunkSize: 750_000, bytesPerRow: 100, grown: true });
    // 5,000,000 rows would need 1,250,000 rows (119 MB) a file: not grown, later chunks fall back.
    expect(size(100, 5_000_000, 4)).toEqual({ chunkSize: 524_288, bytesPerRow: 100, grown: false });
    // Nor past 5,000,000 rows, however small the rows.
    expect(size(2, 30_000_000, 5)).toEqual({ chunkSize: MAX_BULK_CHUNK, bytesPerRow: 2, grown: false });
    // No import left: nothing to grow into.
    expect(size(100, 3_000_000, 0).grown).toBe(false);
    // Covered already: not grown.
    expect(size(100, 2_000_000, 4)).toEqual({ chunkSize: 524_288, bytesPerRow: 100, grown: false });
  });
});

describe('planWrites with and without bulkChunkSize', () => {
  const planCtx = (options: Record<string, unknown>, state = new MemoryState()) =>
    makeContext({
      connection: conn,
      table: 'orders',
      key: 'orderId',
      mode: 'upsert',
      fields: FIELDS,
      options: { bulkImportsPerDay: 3, bulkImportsReserve: 0, ...options },
      state,
    });
  const seen100 = async (): Promise<MemoryState> => {
    const state = new MemoryState();
    await state.set(SEEN, { bytes: 100_000_000, lines: 1_000_000, rows: 1_000_000, at: '2026-12-01T00:00:00.000Z' });
    return state;
  };

  it('sizes from the file seen, growing to fit the imports left today', async () => {
    expect((await actito.planWrites(planCtx({}), 'upsert', 1_000_000)).chunkSize).toBe(MIN_BULK_CHUNK);
    expect(await actito.planWrites(planCtx({}, await seen100()), 'upsert', 1_000_000)).toEqual({ method: 'bulk', chunkSize: 524_288 });
    // 2,000,000 rows: 4 imports of 524,288, 3 left: 666,667 rows each.
    const ctx = planCtx({}, await seen100());
    expect((await actito.planWrites(ctx, 'upsert', 2_000_000)).chunkSize).toBe(666_667);
    expect(ctx.logs.some((l) => l.level === 'warn')).toBe(false);
  });

  it('grows to fit the imports left on the profile table too, when each chunk also imports profiles', async () => {
    // Every bulk chunk of an operation that writes profiles spends an import on the profile table as well
    // as on the records table: the plan must fit the table with fewer left.
    const profiles = { table: 'main', matchAttribute: 'customerId', mode: 'upsert' };
    const limits = new LocalLimits();
    const state = await seen100();
    await state.set(`actito.bulkFile.profiles.main`, {
      bytes: 100_000_000,
      lines: 1_000_000,
      rows: 1_000_000,
      at: new Date().toISOString(),
    });
    const ctx = makeContext({
      connection: conn,
      table: 'orders',
      key: 'orderId',
      mode: 'upsert',
      fields: FIELDS,
      options: { bulkImportsPerDay: 4, bulkImportsReserve: 0, profiles },
      state,
      limits,
    });
    // Another activation took two of the profile table's four imports today: 2 left there, 4 on "orders".
    const main = quotaTable(await loadTables(ctx, ctx.options), 'profiles');
    expect(await takeImport(ctx, main, ctx.options)).toBe(true);
    expect(await takeImport(ctx, main, ctx.options)).toBe(true);
    // 1,500,000 rows of 100 bytes: 3 imports of 524,288; 2 left on the profile table: 750,000 rows each.
    expect(await actito.planWrites(ctx, 'upsert', 1_500_000)).toEqual({ method: 'bulk', chunkSize: 750_000 });
    // An operation that writes no profile (Update with insert-only profiles) is planned on the records table alone.
    const noProfiles = makeContext({
      connection: conn,
      table: 'orders',
      key: 'orderId',
      mode: 'update',
      fields: FIELDS,
      options: { bulkImportsPerDay: 4, bulkImportsReserve: 0, profiles: { ...profiles, mode: 'insert' } },
      state,
      limits,
    });
    expect(await actito.planWrites(noProfiles, 'update', 1_500_000)).toEqual({ method: 'bulk', chunkSize: 524_288 });
  });

  it('ignores a file kept for other columns: after a mapping adds a column, the plan is sized as before any file was seen', async () => {
    const state = new MemoryState();
    const ctx = planCtx({ bulkThreshold: 10, pollAfterMs: 10 }, state);
    await actito.check(ctx);
    const { results } = await drive(actito, ctx, 'upsert', orders(0, 2_000));
    expect([...results.values()].every((r) => r.ok)).toBe(true);
    // Two short columns compress to a few bytes a row: the most rows an import takes.
    expect((await actito.planWrites(ctx, 'upsert', 1_000_000)).chunkSize).toBe(MAX_BULK_CHUNK);
    // The same activation once its mapping sends a free-text column too: that file says nothing of these rows.
    const wider = makeContext({
      connection: conn,
      table: 'orders',
      key: 'orderId',
      mode: 'upsert',
      fields: [...FIELDS, field('note', 'note', 'text')],
      options: { bulkImportsPerDay: 3, bulkImportsReserve: 0 },
      state,
    });
    expect((await actito.planWrites(wider, 'upsert', 1_000_000)).chunkSize).toBe(MIN_BULK_CHUNK);
    // A figure kept before the columns were (no fingerprint) still counts.
    expect((await actito.planWrites(planCtx({}, await seen100()), 'upsert', 1_000_000)).chunkSize).toBe(524_288);
  });

  it('sizes from a refused file for a week, even when a narrower file came after it', async () => {
    const day = 24 * 3600 * 1000;
    const state = await seen100();
    const refused = (ageMs: number) => ({
      bytes: 300_000_000,
      lines: 1_000_000,
      rows: 1_000_000,
      at: new Date(Date.now() - ageMs).toISOString(),
    });
    await state.set(`${SEEN}.refused`, refused(6 * day));
    // 300 bytes a row: 200,000 rows (57 MB) fit, 524,288 would not.
    expect((await actito.planWrites(planCtx({}, state), 'upsert', 1_000_000)).chunkSize).toBe(MIN_BULK_CHUNK);
    await state.set(`${SEEN}.refused`, refused(8 * day));
    expect((await actito.planWrites(planCtx({}, state), 'upsert', 1_000_000)).chunkSize).toBe(524_288);
  });

  it('obeys an explicit bulkChunkSize whatever was seen, warning as before when the quota will not cover it', async () => {
    const ctx = planCtx({ bulkChunkSize: 150_000 }, await seen100());
    expect(await actito.planWrites(ctx, 'upsert', 1_000_000)).toEqual({ method: 'bulk', chunkSize: 150_000 });
    expect(ctx.logs.some((l) => l.level === 'warn' && /will not cover/.test(l.message))).toBe(true);
  });
});

describe('an import file over the limit', () => {
  const options = { bulkThreshold: 10, pollAfterMs: 10 };
  const saved = importFileLimit.bytes;
  afterEach(() => {
    importFileLimit.bytes = saved;
  });

  it('is refused before upload with what to do, its size kept: the next plan is smaller and every row arrives once', async () => {
    // A lowered limit reaches this path without building 100 MB.
    importFileLimit.bytes = 16 * 1024;
    const state = new MemoryState();
    const ctx = makeContext({ connection: conn, table: 'orders', key: 'orderId', mode: 'upsert', fields: FIELDS, options, state });
    await actito.check(ctx);
    const rows = orders(0, 10_000);
    const plan = await actito.planWrites(ctx, 'upsert', rows.length);
    expect(plan).toEqual({ method: 'bulk', chunkSize: MIN_BULK_CHUNK });
    const chunk = memoryChunk(rows, 'upsert');
    const err = await actito.writeChunk(ctx, chunk, plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    // Not a configuration error (that would pause the activation), and not retried (the same file again).
    expect((err as SyncError).code).toBe('INTERNAL');
    expect((err as SyncError).retryable).toBe(false);
    expect((err as SyncError).message).toMatch(
      /chunk 0 .*over Actito's 16 KB limit, so it was not uploaded \(no import spent\)\. The next run sends these rows again/,
    );
    expect((err as SyncError).message).toMatch(/set destination\.options\.bulkChunkSize, e\.g\. to \d+/);
    // Nothing reached Actito and no row is settled: the runtime lists them as not acknowledged.
    expect(chunk.results.size).toBe(0);
    expect((await requests()).some((r) => r.method === 'POST' && /\/etl-executions$/.test(r.path))).toBe(false);
    expect(emu.state.tables.customTable('orders')!.size).toBe(0);
    expect(await actito.quota!(ctx)).toEqual({ used: 0, max: 22 });
    const seen = await state.get<{ bytes: number; rows: number }>(SEEN);
    expect(seen?.rows).toBe(10_000);
    expect(seen!.bytes).toBeGreaterThan(importFileLimit.bytes);

    // The next run: imports sized from that file, each within the limit.
    const next = await drive(actito, ctx, 'upsert', rows);
    expect(next.method).toBe('bulk');
    const size = next.chunks[0]!.rowCount;
    expect(size).toBeLessThan(10_000);
    expect(size).toBe(Math.floor((importFileLimit.bytes * 0.8) / (seen!.bytes / seen!.rows)));
    expect(next.results.size).toBe(10_000);
    expect([...next.results.values()].every((r) => r.ok)).toBe(true);
    expect(emu.state.tables.customTable('orders')!.size).toBe(10_000);
    const imports = (await admin('GET', '/imports')).imports as Array<{ status: string; counts: { read: number } }>;
    expect(imports).toHaveLength(Math.ceil(10_000 / size));
    expect(imports.every((i) => i.status === 'SUCCESS')).toBe(true);
    expect(imports.reduce((n, i) => n + i.counts.read, 0)).toBe(10_000);
    const last = await state.get<{ bytes: number }>(SEEN);
    expect(last!.bytes).toBeLessThanOrEqual(importFileLimit.bytes);
  });

  it("keeps a refused file's size for the next plan when a later, narrower file of the same run succeeds", async () => {
    // Rows of one model vary: here the first chunk's rows compress to far more bytes than the second's.
    // The first file is refused and measured; the second is written and measured after it. The message
    // promised that the next run sends the refused rows in imports sized from the refused file.
    importFileLimit.bytes = 16 * 1024;
    const state = new MemoryState();
    const ctx = makeContext({ connection: conn, table: 'orders', key: 'orderId', mode: 'upsert', fields: FIELDS, options, state });
    await actito.check(ctx);
    const wide = Array.from({ length: 5_000 }, (_, i) => {
      const id = `W${i}-${createHash('sha256').update(String(i)).digest('hex').slice(0, 40)}`; // 50 characters at most
      return outRow(id, { orderId: id, customerId: `C${i % 3}` });
    });
    const plan = await actito.planWrites(ctx, 'upsert', 7_000);
    const refused = await actito.writeChunk(ctx, memoryChunk(wide, 'upsert'), plan).catch((e: unknown) => e);
    expect((refused as SyncError).code).toBe('INTERNAL');
    const promised = Number(/about (\d+) rows each/.exec((refused as SyncError).message)![1]);
    // The run's next chunk, of the same plan.
    const narrow = memoryChunk(orders(0, 2_000), 'upsert', 1);
    let outcome = await actito.writeChunk(ctx, narrow, plan);
    while (outcome.status === 'pending') {
      await new Promise((r) => setTimeout(r, 20));
      outcome = await actito.pollChunk!(ctx, narrow, outcome.handle);
    }
    expect([...narrow.results.values()].filter((r) => r.ok)).toHaveLength(2_000);

    // The next run: the refused rows again.
    const next = await actito.planWrites(ctx, 'upsert', wide.length);
    expect(next.chunkSize).toBeLessThanOrEqual(promised);
    const again = await drive(actito, ctx, 'upsert', wide).catch((e: unknown) => e);
    expect(again).not.toBeInstanceOf(Error);
    expect(emu.state.tables.customTable('orders')!.size).toBe(2_000 + wide.length);
  });

  it('with bulkChunkSize set, says to lower it', async () => {
    importFileLimit.bytes = 16 * 1024;
    const ctx = makeContext({
      connection: conn,
      table: 'orders',
      key: 'orderId',
      mode: 'upsert',
      fields: FIELDS,
      options: { ...options, bulkChunkSize: 10_000 },
    });
    await actito.check(ctx);
    const chunk = memoryChunk(orders(0, 10_000), 'upsert');
    const err = await actito.writeChunk(ctx, chunk, await actito.planWrites(ctx, 'upsert', 10_000)).catch((e: unknown) => e);
    expect((err as SyncError).code).toBe('CONFIG_INVALID');
    expect((err as SyncError).message).toMatch(/Lower destination\.options\.bulkChunkSize \(10000\), e\.g\. to \d+/);
    expect(chunk.results.size).toBe(0);
  });
});

describe('a first bulk run sized from a sample of its own rows (no file seen yet)', () => {
  const saved = importFileLimit.bytes;
  afterEach(() => {
    importFileLimit.bytes = saved;
  });
  /** A sample as the runtime reads one (connectors/kit/sample.ts runs over `rows`), counting the calls. */
  const sampler = (rows: OutRow[] | (() => Promise<OutRow[]>)) => {
    const calls: Array<[string, number]> = [];
    const read = Array.isArray(rows) ? sampleInMemory(rows) : async () => rows();
    return {
      calls,
      sampleRows: async (op: RowOp, limit: number) => {
        calls.push([op, limit]);
        return read(op, limit);
      },
    };
  };
  const planCtx = (options: Record<string, unknown> = {}, state = new MemoryState(), fields = FIELDS) =>
    makeContext({ connection: conn, table: 'orders', key: 'orderId', mode: 'upsert', fields, options, state });
  const sizedLog = (ctx: ReturnType<typeof planCtx>) => ctx.logs.find((l) => /^Actito rows per import sized/.test(l.message))!;
  /** Rows whose ids compress to far more bytes than orders()'s: 50 characters, a hash in each. */
  const wide = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const id = `W${from + i}-${createHash('sha256')
        .update(String(from + i))
        .digest('hex')
        .slice(0, 40)}`;
      return outRow(id, { orderId: id, customerId: `C${(from + i) % 3}` });
    });

  it("sizes from what a sample of the operation's rows compresses to in an import file, with a margin, and keeps nothing", async () => {
    const state = new MemoryState();
    const ctx = planCtx({}, state);
    const s = sampler(orders(0, 1_000_000));
    const plan = await actito.planWrites({ ...ctx, sampleRows: s.sampleRows }, 'upsert', 1_000_000);
    expect(s.calls).toEqual([['upsert', SAMPLE_ROWS]]);
    const meta = sizedLog(ctx).meta!;
    expect(meta).toMatchObject({ source: 'sample', sampleRows: SAMPLE_ROWS, margin: SAMPLE_MARGIN });
    // The sample's file measured as a chunk's is: the same rows through buildImportFile.
    const sample = await s.sampleRows('upsert', SAMPLE_ROWS);
    const file = await buildImportFile(ctx, memoryChunk(sample, 'upsert'), ctx.options, await loadTables(ctx, ctx.options), 'records');
    await file.dispose();
    expect(meta.sampleBytesPerRow).toBeCloseTo(file.bytes / file.rows, 1);
    const expected = bulkChunkFor({ rows: 1_000_000, left: 22, bytesPerRow: (file.bytes / file.rows) * SAMPLE_MARGIN, limitBytes: LIMIT });
    expect(plan).toEqual({ method: 'bulk', chunkSize: expected.chunkSize });
    expect(plan.chunkSize).toBeGreaterThan(MIN_BULK_CHUNK);
    // Not kept as a file seen: the first real file's figure stands for the model.
    expect(state.data.size).toBe(0);
  });

  it('reads no sample when a kept figure counts, for 200,000 rows or fewer, or outside the runtime', async () => {
    const state = new MemoryState();
    await state.set(SEEN, { bytes: 100_000_000, lines: 1_000_000, rows: 1_000_000, at: '2026-12-01T00:00:00.000Z' });
    const s = sampler(orders(0, 300_000));
    const kept = planCtx({}, state);
    expect((await actito.planWrites({ ...kept, sampleRows: s.sampleRows }, 'upsert', 1_000_000)).chunkSize).toBe(524_288);
    expect(sizedLog(kept).meta).toMatchObject({ source: 'file', bytesPerRow: 100 });
    const few = planCtx();
    expect((await actito.planWrites({ ...few, sampleRows: s.sampleRows }, 'upsert', MIN_BULK_CHUNK)).chunkSize).toBe(MIN_BULK_CHUNK);
    expect(sizedLog(few).meta).toMatchObject({ source: null, bytesPerRow: null });
    expect(s.calls).toEqual([]);
    expect((await actito.planWrites(planCtx(), 'upsert', 1_000_000)).chunkSize).toBe(MIN_BULK_CHUNK);
  });

  it('keeps 200,000 rows when the sample is under MIN_SAMPLE_ROWS rows, or cannot be read (logged, the plan does not fail)', async () => {
    const small = planCtx();
    const s = sampler(orders(0, MIN_SAMPLE_ROWS - 1));
    expect((await actito.planWrites({ ...small, sampleRows: s.sampleRows }, 'upsert', 1_000_000)).chunkSize).toBe(MIN_BULK_CHUNK);
    expect(s.calls).toHaveLength(1);
    expect(sizedLog(small).meta).toMatchObject({ source: null, bytesPerRow: null });
    const broken = planCtx();
    const failing = sampler(() => Promise.reject(new Error('connection terminated')));
    expect((await actito.planWrites({ ...broken, sampleRows: failing.sampleRows }, 'upsert', 1_000_000)).chunkSize).toBe(MIN_BULK_CHUNK);
    expect(broken.logs.some((l) => l.level === 'warn' && /sample/.test(l.message) && l.meta?.error === 'connection terminated')).toBe(true);
  });

  it('goes under 200,000 rows when the sampled rows would not fit 200,000 to a file', async () => {
    importFileLimit.bytes = 1024 * 1024;
    const ctx = planCtx();
    const s = sampler(wide(0, 300_000));
    const plan = await actito.planWrites({ ...ctx, sampleRows: s.sampleRows }, 'upsert', 300_000);
    const file = await buildImportFile(
      ctx,
      memoryChunk(await s.sampleRows('upsert', SAMPLE_ROWS), 'upsert'),
      ctx.options,
      await loadTables(ctx, ctx.options),
      'records',
    );
    await file.dispose();
    const bpr = (file.bytes / file.rows) * SAMPLE_MARGIN;
    // 200,000 of these rows would come to more than four fifths of the limit: four fifths it is.
    expect(MIN_BULK_CHUNK * bpr).toBeGreaterThan(0.8 * importFileLimit.bytes);
    expect(plan.chunkSize).toBe(Math.floor((0.8 * importFileLimit.bytes) / bpr));
    expect(plan.chunkSize).toBeLessThan(MIN_BULK_CHUNK);
  });

  it('sizes by the larger of the profile and record files of the sample, as a kept figure does', async () => {
    const fields = [...FIELDS, field('email', 'profile.emailAddress', 'text')];
    const options = { profiles: { table: 'main', matchAttribute: 'customerId', mode: 'upsert' } };
    const ctx = planCtx(options, new MemoryState(), fields);
    await actito.check(ctx);
    // Every row its own profile with a long address: the profile file is the wider per row.
    const rows = orders(0, 300_000).map((r, i) => ({
      ...r,
      values: {
        ...r.values,
        customerId: `C${i}`,
        'profile.emailAddress': `customer-${i}-${createHash('md5').update(String(i)).digest('hex')}@example.com`,
      },
    }));
    const s = sampler(rows);
    await actito.planWrites({ ...ctx, sampleRows: s.sampleRows }, 'upsert', rows.length);
    const sample = await s.sampleRows('upsert', SAMPLE_ROWS);
    const tables = await loadTables(ctx, ctx.options);
    const perRow = async (phase: 'profiles' | 'records') => {
      const file = await buildImportFile(ctx, memoryChunk(sample, 'upsert'), ctx.options, tables, phase);
      await file.dispose();
      return file.bytes / file.rows;
    };
    const [profiles, records] = [await perRow('profiles'), await perRow('records')];
    expect(profiles).toBeGreaterThan(records);
    expect(sizedLog(ctx).meta!.sampleBytesPerRow).toBeCloseTo(profiles, 1);
  });

  it('a first run of 450,000 narrow rows: fewer imports than 200,000 rows each would take, every row in Actito once', async () => {
    const state = new MemoryState();
    const ctx = planCtx({ bulkThreshold: 10, pollAfterMs: 10 }, state);
    await actito.check(ctx);
    const rows = orders(0, 450_000);
    const run = await drive(actito, ctx, 'upsert', rows);
    expect(run.method).toBe('bulk');
    expect(sizedLog(ctx).meta).toMatchObject({ source: 'sample' });
    expect(run.chunks.length).toBeLessThan(Math.ceil(rows.length / MIN_BULK_CHUNK));
    expect(run.results.size).toBe(rows.length);
    expect([...run.results.values()].every((r) => r.ok)).toBe(true);
    // In Actito: every row once, in as many imports as chunks.
    const table = emu.state.tables.customTable('orders')!;
    expect(table.size).toBe(rows.length);
    const imports = (await admin('GET', '/imports')).imports as Array<{ status: string; counts: { read: number } }>;
    expect(imports).toHaveLength(run.chunks.length);
    expect(imports.every((i) => i.status === 'SUCCESS')).toBe(true);
    expect(imports.reduce((n, i) => n + i.counts.read, 0)).toBe(rows.length);
    // The real file's figure is kept, not the sample's.
    expect(await state.get(SEEN)).toMatchObject({ rows: run.chunks[0]!.rowCount, lines: run.chunks[0]!.rowCount });
  });

  it('a chunk sized from a sample that missed wider rows is refused before upload, and the next plan is sized from the refused file', async () => {
    importFileLimit.bytes = 256 * 1024;
    const state = new MemoryState();
    const ctx = planCtx({ bulkThreshold: 10, pollAfterMs: 10 }, state);
    await actito.check(ctx);
    // The sample saw narrow rows only; the first chunk's rows are wide.
    const narrow = sampler(orders(0, 300_000));
    const plan = await actito.planWrites({ ...ctx, sampleRows: narrow.sampleRows }, 'upsert', 300_000);
    expect(sizedLog(ctx).meta).toMatchObject({ source: 'sample' });
    const rows = wide(0, plan.chunkSize);
    const chunk = memoryChunk(rows, 'upsert');
    const err = await actito.writeChunk(ctx, chunk, plan).catch((e: unknown) => e);
    expect((err as SyncError).code).toBe('INTERNAL');
    expect((err as SyncError).message).toMatch(/over Actito's 256 KB limit, so it was not uploaded \(no import spent\)/);
    expect(chunk.results.size).toBe(0);
    expect((await admin('GET', '/imports')).imports).toHaveLength(0);
    const refused = (await state.get<{ bytes: number; rows: number }>(`${SEEN}.refused`))!;
    expect(refused.rows).toBe(rows.length);
    expect(refused.bytes).toBeGreaterThan(importFileLimit.bytes);

    // The next run: sized from the refused file, no sample read; those rows arrive once, each file within the limit.
    ctx.logs.length = 0;
    const next = sampler(rows);
    const again = await actito.planWrites({ ...ctx, sampleRows: next.sampleRows }, 'upsert', rows.length);
    expect(next.calls).toEqual([]);
    expect(sizedLog(ctx).meta).toMatchObject({ source: 'file' });
    const fromRefused = bulkChunkFor({
      rows: rows.length,
      left: 22,
      bytesPerRow: refused.bytes / refused.rows,
      limitBytes: importFileLimit.bytes,
    });
    expect(again.chunkSize).toBe(fromRefused.chunkSize);
    const run = await drive(actito, ctx, 'upsert', rows);
    expect(run.chunks.map((c) => c.rowCount)[0]).toBe(again.chunkSize);
    expect([...run.results.values()].filter((r) => r.ok)).toHaveLength(rows.length);
    expect(emu.state.tables.customTable('orders')!.size).toBe(rows.length);
    expect((await state.get<{ bytes: number }>(SEEN))!.bytes).toBeLessThanOrEqual(importFileLimit.bytes);
  });
});
