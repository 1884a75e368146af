/** Insert mode's "is this record ours" when an int8 value is past a double's precision (emulator). */
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import type { FieldSpec } from '../types';
import { clientFor } from './client';
import { type ActitoConnection, connectionSchema } from './config';
import { actitoConnector as actito } from './index';
import { drive, emulatorAdmin, field, makeContext, outRow } from './test-harness';

let emu: ActitoEmulator;
let conn: ActitoConnection;
const admin = emulatorAdmin(() => emu.url);

const FIELDS: FieldSpec[] = [
  field('order_id', 'orderId', 'text', { isKey: true }),
  field('customer_id', 'customerId', 'text'),
  field('status', 'status', 'text'),
  field('big_count', 'bigCount', 'int8'),
];

beforeAll(async () => {
  emu = await startActitoEmulator({ callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10 });
  conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  clientFor(conn).backoffMs = 5;
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await admin('POST', '/reset');
});

it('Insert mode: a record our earlier write created with an int8 past 2^53 is ours (written), not ACTITO_ALREADY_EXISTS', async () => {
  for (let i = 0; i < 3; i++) emu.state.profiles.insert({ customerId: `C${i}`, emailAddress: `c${i}@example.com` });
  const ctx = makeContext({ connection: conn, table: 'orders', key: 'orderId', mode: 'insert', fields: FIELDS });
  const { missingAttributes } = await actito.check(ctx);
  expect(await actito.ensureAttributes!(ctx, missingAttributes)).toEqual([{ field: 'bigCount', type: 'LONG', created: true }]);
  const row = () => outRow('O1', { orderId: 'O1', customerId: 'C1', status: 'PAID', bigCount: '123456789012345678' });
  expect((await drive(actito, ctx, 'create', [row()])).results.get('O1')).toMatchObject({ ok: true });
  // The emulator keeps a LONG digit for digit (its answers write it as a JSON number).
  const table = emu.state.tables.customTable('orders')!;
  expect(table.read(table.findBy('orderId', 'O1')!)).toMatchObject({ bigCount: '123456789012345678' });
  // The same row sent again (its answer lost): the table holds exactly the values sent.
  expect((await drive(actito, ctx, 'create', [row()])).results.get('O1')).toMatchObject({ ok: true });
});
