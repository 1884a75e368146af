/**
 * The cached structure read (context.ts loadTables) answers each activation with its own tables: the
 * writers and the import counters (quota.ts) take the profile table from it.
 *
 *   npx jest --selectProjects emulators --testPathPatterns connectors/actito/context
 */
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import { clientFor } from './client';
import { type ActitoConnection, connectionSchema } from './config';
import { loadTables } from './context';
import { quotaTable } from './quota';
import * as routes from './routes';
import { field, makeContext } from './test-harness';

let emu: ActitoEmulator;
let conn: ActitoConnection;

beforeAll(async () => {
  emu = await startActitoEmulator({ callsPerMinute: 1_000_000 });
  conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
  clientFor(conn).backoffMs = 5;
});
afterAll(async () => emu.close());
afterEach(() => jest.restoreAllMocks());

const activation = (id: string, profileTable: string) =>
  makeContext({
    connection: conn,
    table: 'orders',
    key: 'orderId',
    mode: 'upsert',
    activationId: id,
    fields: [field('order_id', 'orderId', 'text', { isKey: true }), field('email', 'profile.emailAddress', 'text')],
    options: { profiles: { table: profileTable, matchAttribute: 'emailAddress', mode: 'upsert' } },
  });

test('two activations on one custom table with different profile tables each get their own profile table from the cache', async () => {
  // The entity has a second profile table, `vip` (id 2), beside `main` (id 1): the emulator seeds one only.
  const list = routes.listProfileTables;
  jest.spyOn(routes, 'listProfileTables').mockImplementation(async (api) => {
    const tables = await list(api);
    return [...tables, { ...tables[0]!, id: '2', name: 'vip' }];
  });
  const a = activation('cache-a', 'main');
  const b = activation('cache-b', 'vip');
  // Each activation's check reads the structure afresh; the writers and planWrites then read the cache.
  expect((await loadTables(a, a.options, true)).profileTable?.name).toBe('main');
  expect((await loadTables(b, b.options, true)).profileTable?.name).toBe('vip');
  const forA = await loadTables(a, a.options);
  const forB = await loadTables(b, b.options);
  expect({ a: forA.profileTable?.name, b: forB.profileTable?.name }).toEqual({ a: 'main', b: 'vip' });
  // Each counts its profile imports on its own table.
  expect([quotaTable(forA, 'profiles').table.id, quotaTable(forB, 'profiles').table.id]).toEqual(['1', '2']);
});
