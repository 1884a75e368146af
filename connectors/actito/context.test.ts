/**
 * The cached structure read (context.ts loadTables) answers each activation with its own tables: the
 * writers and the import counters (quota.ts) take the profile table from it.
 *
 *   npx jest --selectProjects emulators --testPathPatterns connectors/actito/context
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import { emulatorAdmin } from '../../test/support/emulator-admin';
import { clientFor } from './client';
import { type ActitoConnection, connectionSchema } from './config';
import { loadTables } from './context';
import { actitoConnector as actito } from './index';
import { quotaTable } from './quota';
import * as routes from './routes';
import { drive, field, makeContext, outRow } from './test-harness';

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

describe('two licences behind one host, with one entity name', () => {
  // Actito's hosts (api3.actito.com…) serve every licence of the environment; the API key says which. Two
  // licences may both name an entity alike: a connection naming its `licence` says they are not one.
  let one: ActitoEmulator;
  let two: ActitoEmulator;
  let proxy: Server;
  let proxyUrl: string;

  beforeAll(async () => {
    [one, two] = await Promise.all([
      startActitoEmulator({ callsPerMinute: 1_000_000, apiKey: 'licence-one-key', entity: 'shop' }),
      startActitoEmulator({ callsPerMinute: 1_000_000, apiKey: 'licence-two-key', entity: 'shop' }),
    ]);
    // The same table name in both, its text attribute 5 characters long in one, 100 in the other.
    for (const [emulator, maxLength] of [
      [one, 5],
      [two, 100],
    ] as const)
      await emulatorAdmin(emulator.url, '/tables', {
        method: 'POST',
        body: JSON.stringify({
          name: 'notes',
          primaryKeyAttribute: 'noteId',
          attributes: [
            { name: 'noteId', valueType: 'STRING', mandatory: true, unique: true },
            { name: 'note', valueType: 'STRING', valueRestriction: { maxLength } },
          ],
        }),
      });
    proxy = licenceProxy({ 'licence-one-key': one.url, 'licence-two-key': two.url });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => proxy?.close(r));
    await Promise.all([one?.close(), two?.close()]);
  });

  const notes = (apiKey: string, licence: string) =>
    makeContext({
      connection: connectionSchema.parse({ apiKey, baseUrl: proxyUrl, entity: 'shop', licence }),
      table: 'notes',
      key: 'noteId',
      mode: 'upsert',
      activationId: `notes-${licence}`,
      fields: [field('note_id', 'noteId', 'text', { isKey: true }), field('note', 'note', 'text', { truncate: true })],
    });

  test("a licence's writes use its own table structure, not the one another licence's check cached last", async () => {
    const mine = notes('licence-two-key', 'two');
    const other = notes('licence-one-key', 'one');
    // Each run checks first (a fresh read), then writes within the minute the structure is cached.
    await actito.check(mine);
    await actito.check(other);
    const { results } = await drive(actito, mine, 'upsert', [outRow('n1', { noteId: 'n1', note: 'abcdefghij' })]);
    expect(results.get('n1')).toMatchObject({ ok: true });
    // Licence two's attribute takes 100 characters: the note arrives whole, not cut to licence one's 5.
    const stored = await emulatorAdmin<{ records: Array<Record<string, unknown>> }>(two.url, '/tables/notes/records');
    expect(stored.records.map((r) => r.note)).toEqual(['abcdefghij']);
  });
});

/** One host for several emulators, each a licence: `/auth/token` goes where its API key belongs, every other call where its token was issued. */
function licenceProxy(byKey: Record<string, string>): Server {
  const tokens = new Map<string, string>();
  return createServer((req, res) => {
    void (async () => {
      const auth = (req.headers.authorization ?? '').trim();
      const isToken = (req.url ?? '').startsWith('/auth/token');
      const target = isToken ? byKey[auth] : tokens.get(auth.replace(/^Bearer\s+/i, ''));
      if (!target) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"unknown key or token"}');
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = { authorization: auth, accept: req.headers.accept ?? 'application/json' };
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      const answer = await fetch(target + (req.url ?? ''), {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const text = await answer.text();
      if (isToken && answer.ok) tokens.set((JSON.parse(text) as { accessToken: string }).accessToken, target);
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text);
    })().catch((err: unknown) => res.writeHead(502).end(String(err)));
  });
}
