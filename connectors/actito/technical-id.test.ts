/**
 * `…/record/{recordKey}` takes the business key or, when no record has it, the record's technical id
 * (docs/sources/actito-api.md §4.1 [C]; the emulator does the same). A key of digits whose record is gone (deleted
 * in Actito, or by our own DELETE whose answer was lost) names the record whose technical id it is: another
 * record. The one-by-one calls by key must never act on that record.
 *
 *   npx jest --selectProjects emulators --testPathPatterns connectors/actito/technical-id
 */
import { SyncError } from '../../common/errors';
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import type { ChunkWrite, RowOp, RowResult, SyncMode } from '../types';
import { clientFor } from './client';
import { type ActitoConnection, connectionSchema } from './config';
import { actitoConnector as actito } from './index';
import { emulatorAdmin, field, makeContext, memoryChunk, outRow } from './test-harness';

let emu: ActitoEmulator;
let conn: ActitoConnection;
const admin = emulatorAdmin(() => emu.url);
const FIELDS = [field('item_id', 'itemId', 'text', { isKey: true }), field('note', 'note', 'text')];
const ctx = (mode: SyncMode) => makeContext({ connection: conn, table: 'items', key: 'itemId', mode, fields: FIELDS });
const stored = async (): Promise<Record<string, unknown>> =>
  Object.fromEntries(
    ((await admin('GET', '/tables/items/records?limit=100')).records as Array<Record<string, unknown>>).map((r) => [r.itemId, r.note]),
  );

/** One chunk written one by one, its attempts retried as the runtime retries a retryable failure. */
async function write(mode: SyncMode, op: RowOp, rows: ReturnType<typeof outRow>[]): Promise<Map<string, RowResult>> {
  const c = ctx(mode);
  const chunk: ChunkWrite & { results: Map<string, RowResult> } = memoryChunk(rows, op);
  for (let attempt = 1; ; attempt++) {
    try {
      await actito.writeChunk(c, chunk, { method: 'single', chunkSize: 500 });
      return chunk.results;
    } catch (err) {
      if (!(err instanceof SyncError) || !err.retryable || attempt >= 3) throw err;
    }
  }
}

beforeAll(async () => {
  emu = await startActitoEmulator({ callsPerMinute: 1_000_000 });
  conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  clientFor(conn).backoffMs = 5;
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await admin('POST', '/reset');
  await admin('POST', '/tables', {
    name: 'items',
    primaryKeyAttribute: 'itemId',
    attributes: [
      { name: 'itemId', valueType: 'STRING', mandatory: true, unique: true },
      { name: 'note', valueType: 'STRING' },
    ],
  });
  // Created one at a time, "2" first: technical id 1 is item "2", technical id 2 is item "1".
  for (const k of ['2', '1']) await write('upsert', 'upsert', [outRow(k, { itemId: k, note: `item ${k}` })]);
  expect(await stored()).toEqual({ '2': 'item 2', '1': 'item 1' });
});

describe('a key of digits whose record is gone never names another record by its technical id', () => {
  it('Mirror: a DELETE whose answer was lost is not sent again blindly: item "2" (technical id 1) stays', async () => {
    // The DELETE of item "1" is applied, its answer lost: the client's retry asked for record "1" again.
    await admin('POST', '/faults', { dropResponse: { count: 1, path: '/record/1', method: 'DELETE' } });
    const results = await write('mirror', 'delete', [{ ...outRow('1', {}, 'delete'), destinationId: '1' }]);
    expect(results.get('1')).toMatchObject({ ok: true });
    expect(await stored()).toEqual({ '2': 'item 2' });
  });

  it('Mirror: a DELETE refused with 429 (nothing done) is sent again by the client, as before: one attempt of the chunk deletes the record', async () => {
    // A 429 is a refusal before anything is applied (the import POST, never sent twice, is retried on it too):
    // sending it again cannot name another record. Thrown instead, every 429 cost the chunk one of its
    // activity attempts (8), and a licence busy with other work failed the run's deletions of keys of digits.
    await admin('POST', '/faults', { tooManyRequests: { count: 2, path: '/record/1', method: 'DELETE' } });
    const chunk = memoryChunk([{ ...outRow('1', {}, 'delete'), destinationId: '1' }], 'delete');
    await actito.writeChunk(ctx('mirror'), chunk, { method: 'single', chunkSize: 500 });
    expect(chunk.results.get('1')).toMatchObject({ ok: true });
    expect(await stored()).toEqual({ '2': 'item 2' });
  });

  it('Mirror: a record deleted in Actito meanwhile is gone; item "2" (technical id 1) stays', async () => {
    await admin('POST', '/faults', {}); // no fault
    emu.state.tables.customTable('items')!.delete(1); // item "1", technical id 2, removed in Actito by someone
    await write('upsert', 'upsert', [outRow('3', { itemId: '3', note: 'item 3' })]); // technical id 3
    // Item "1" leaves the model; its record is gone already. Nothing else may go with it.
    const results = await write('mirror', 'delete', [{ ...outRow('1', {}, 'delete'), destinationId: '1' }]);
    expect(results.get('1')).toMatchObject({ ok: true });
    expect(await stored()).toEqual({ '2': 'item 2', '3': 'item 3' });
  });

  it('Insert: item "1" gone, its row is created, not refused as existing because of item "2" (technical id 1)', async () => {
    emu.state.tables.customTable('items')!.delete(1);
    const results = await write('insert', 'create', [outRow('1', { itemId: '1', note: 'new 1' }, 'create')]);
    expect(results.get('1')).toMatchObject({ ok: true });
    expect(await stored()).toEqual({ '2': 'item 2', '1': 'new 1' });
  });

  it('Update: item "1" gone, its row is ACTITO_NOT_FOUND, and item "2" (technical id 1) is untouched', async () => {
    emu.state.tables.customTable('items')!.delete(1);
    const results = await write('update', 'update', [outRow('1', { itemId: '1', note: 'changed' }, 'update')]);
    expect(results.get('1')).toMatchObject({ ok: false, code: 'ACTITO_NOT_FOUND' });
    expect(await stored()).toEqual({ '2': 'item 2' });
  });
});

describe('a record read back without its key attribute is not taken for ours', () => {
  // Item "1" gone: `…/record/1` names item "2" (technical id 1), and its answer does not show whose record it is.
  beforeEach(async () => {
    emu.state.tables.customTable('items')!.delete(1);
    await admin('POST', '/faults', { recordOmits: { attributes: ['itemId'] } });
  });
  const says = (action: string) =>
    new RegExp(
      `^Actito's answer to reading the record of key "1" in table "items" did not show its key attribute "itemId", so it cannot tell whose record it is \\(a key of digits also names a record by its technical id\\): syncline ${action} nothing; check the record of key "1" in Actito`,
    );

  it('Mirror: nothing is deleted, item "2" (technical id 1) stays, and the row fails saying so', async () => {
    const results = await write('mirror', 'delete', [{ ...outRow('1', {}, 'delete'), destinationId: '1' }]);
    expect(await stored()).toEqual({ '2': 'item 2' });
    expect(results.get('1')).toMatchObject({
      ok: false,
      code: 'ACTITO_RECORD_UNIDENTIFIED',
      retryable: false,
      message: expect.stringMatching(says('deleted')),
    });
  });

  it('Update: nothing is updated, item "2" (technical id 1) is untouched, and the row fails saying so', async () => {
    const results = await write('update', 'update', [outRow('1', { itemId: '1', note: 'changed' }, 'update')]);
    expect(await stored()).toEqual({ '2': 'item 2' });
    expect(results.get('1')).toMatchObject({
      ok: false,
      code: 'ACTITO_RECORD_UNIDENTIFIED',
      retryable: false,
      message: expect.stringMatching(says('updated')),
    });
  });

  it('Insert: unchanged, such a record is compared by its values (no key: another value), ACTITO_ALREADY_EXISTS; nothing overwritten', async () => {
    const results = await write('insert', 'create', [outRow('1', { itemId: '1', note: 'new 1' }, 'create')]);
    expect(await stored()).toEqual({ '2': 'item 2' });
    expect(results.get('1')).toMatchObject({ ok: false, code: 'ACTITO_ALREADY_EXISTS' });
  });
});
