/**
 * Keys "." and "..": a URL path cannot carry them as a segment (WHATWG URL parsing, which fetch uses, removes
 * a dot segment, its percent-encoded spellings `%2e` / `%2E%2e` too), so a call by key `…/record/..` would
 * reach `…/customTable/{t}` instead of the record. Such rows fail VALUE_NOT_ENCODABLE in the modes that call by
 * key (Insert, Update, Mirror) instead of being counted deleted, overwritten, or reported missing.
 *
 *   npx jest --selectProjects emulators --testPathPatterns connectors/actito/dot-keys
 */
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import { clientFor } from './client';
import { type ActitoConnection, connectionSchema } from './config';
import { actitoConnector as actito } from './index';
import { drive, emulatorAdmin, field, makeContext, outRow } from './test-harness';

let emu: ActitoEmulator;
let conn: ActitoConnection;
const admin = emulatorAdmin(() => emu.url);
const keys = async (): Promise<string[]> =>
  ((await admin('GET', '/tables/orders/records?limit=10000')).records as Array<Record<string, unknown>>).map((r) => String(r.orderId));

const FIELDS = [
  field('order_id', 'orderId', 'text', { isKey: true }),
  field('customer_id', 'customerId', 'text'),
  field('note', 'note', 'text'),
];
const ctx = (mode: 'upsert' | 'mirror' | 'update' | 'insert') =>
  makeContext({ connection: conn, table: 'orders', key: 'orderId', mode, fields: FIELDS });

beforeAll(async () => {
  emu = await startActitoEmulator({ callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10 });
  conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  clientFor(conn).backoffMs = 5;
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await admin('POST', '/reset');
  emu.state.profiles.insert({ customerId: 'C1', emailAddress: 'c1@example.com' });
});

describe('keys a URL path cannot address ("." and "..")', () => {
  const seed = async (note: string): Promise<void> => {
    const rows = ['..', '.', 'ok'].map((k) => outRow(k, { orderId: k, customerId: 'C1', note }));
    const { results } = await drive(actito, ctx('upsert'), 'upsert', rows);
    // Created by the create-or-update POST, which carries the key in its body: no path holds it.
    expect([...results.values()].every((r) => r.ok)).toBe(true);
  };
  const stored = async (): Promise<Record<string, unknown>> =>
    Object.fromEntries(
      ((await admin('GET', '/tables/orders/records?limit=100')).records as Array<Record<string, unknown>>).map((r) => [r.orderId, r.note]),
    );

  it('Mirror: a record keyed ".." or "." is never reported deleted while it stays in Actito', async () => {
    await seed('a');
    const removed = ['..', '.', 'ok'].map((k) => ({ ...outRow(k, {}, 'delete'), destinationId: k }));
    const { results } = await drive(actito, ctx('mirror'), 'delete', removed);
    expect(await keys()).toEqual(expect.arrayContaining(['..', '.']));
    expect(await keys()).not.toContain('ok');
    expect(results.get('ok')).toMatchObject({ ok: true });
    for (const k of ['..', '.']) expect({ k, ...results.get(k) }).toMatchObject({ k, ok: false, code: 'VALUE_NOT_ENCODABLE' });
    expect(results.get('..')).toMatchObject({ message: expect.stringMatching(/cannot be addressed.*delete it in Actito/) });
  });

  it('Insert: an existing record keyed ".." with other values is not overwritten, nor reported written', async () => {
    await seed('a');
    const rows = ['..', '.'].map((k) => outRow(k, { orderId: k, customerId: 'C1', note: 'c' }, 'create'));
    const { results } = await drive(actito, ctx('insert'), 'create', rows);
    expect(await stored()).toEqual({ '..': 'a', '.': 'a', ok: 'a' });
    for (const k of ['..', '.']) expect({ k, ...results.get(k) }).toMatchObject({ k, ok: false, code: 'VALUE_NOT_ENCODABLE' });
  });

  it('Update: a record keyed ".." is not reported missing (ACTITO_NOT_FOUND) while it exists', async () => {
    await seed('a');
    const rows = ['..', '.', 'ok'].map((k) => outRow(k, { orderId: k, customerId: 'C1', note: 'b' }, 'update'));
    const { results } = await drive(actito, ctx('update'), 'update', rows);
    expect(await stored()).toEqual({ '..': 'a', '.': 'a', ok: 'b' });
    for (const k of ['..', '.']) expect({ k, ...results.get(k) }).toMatchObject({ k, ok: false, code: 'VALUE_NOT_ENCODABLE' });
  });
});
