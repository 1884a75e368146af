/**
 * `…/record/{recordKey}` (GET, PUT, DELETE one by one) takes the table's business key, its primary key attribute
 * (API notes §4.1 [C]), and the create-or-update POST matches on it too. An activation keyed on another unique
 * attribute would address records by a value that is no business key: check refuses it wherever records are
 * addressed by key (Insert, Update, Mirror).
 *
 *   npx jest --selectProjects emulators --testPathPatterns connectors/actito/business-key
 */
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import type { SyncMode } from '../types';
import { clientFor } from './client';
import { type ActitoConnection, connectionSchema } from './config';
import { actitoConnector as actito } from './index';
import { drive, emulatorAdmin, field, makeContext, outRow } from './test-harness';

let emu: ActitoEmulator;
let conn: ActitoConnection;
const admin = emulatorAdmin(() => emu.url);
// Keyed on `email`, a unique attribute; the table's business key is `accountId`.
const FIELDS = [field('email', 'email', 'text', { isKey: true }), field('account_id', 'accountId', 'text'), field('note', 'note', 'text')];
const ctx = (mode: SyncMode) => makeContext({ connection: conn, table: 'accounts', key: 'email', mode, fields: FIELDS });
beforeAll(async () => {
  emu = await startActitoEmulator({ callsPerMinute: 1_000_000 });
  conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  clientFor(conn).backoffMs = 5;
});
afterAll(async () => emu.close());
beforeEach(async () => {
  await admin('POST', '/reset');
  await admin('POST', '/tables', {
    name: 'accounts',
    primaryKeyAttribute: 'accountId',
    attributes: [
      { name: 'accountId', valueType: 'STRING', mandatory: true, unique: true },
      { name: 'email', valueType: 'STRING', unique: true },
      { name: 'note', valueType: 'STRING' },
    ],
  });
  const { results } = await drive(actito, ctx('upsert'), 'upsert', [
    outRow('one@example.com', { email: 'one@example.com', accountId: 'A1', note: 'first' }),
  ]);
  expect(results.get('one@example.com')).toMatchObject({ ok: true });
});

describe('a key that is not the business key', () => {
  // Without the refusal (seen before it): Mirror's DELETE by the e-mail found no business key, 404, and the row was
  // counted deleted while the record stayed; Insert's GET by it 404, then its create-or-update POST overwrote account
  // A1; Update's PUT by it 404, ACTITO_NOT_FOUND while the record exists.
  it('Mirror: is refused by check, so a removed row is never counted deleted while its record stays', async () => {
    await expect(actito.check(ctx('mirror'))).rejects.toMatchObject({
      code: 'KEY_INVALID',
      message: expect.stringMatching(/key "email" is not the business key "accountId"/),
    });
  });

  it('Insert and Update: refused by check (Insert would overwrite account A1, Update never find a record)', async () => {
    for (const mode of ['insert', 'update'] as const) await expect(actito.check(ctx(mode))).rejects.toMatchObject({ code: 'KEY_INVALID' });
  });

  it('Upsert: allowed (its POST and its imports create or update by the values sent)', async () => {
    await expect(actito.check(ctx('upsert'))).resolves.toBeDefined();
  });
});
