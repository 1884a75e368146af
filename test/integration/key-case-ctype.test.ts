/**
 * Keys that differ only in non-ASCII case ('ÉTÉ-1', 'été-1') are one record where the destination's key ignores
 * case (a Salesforce External ID), whatever the state database's ctype. Postgres `lower()` follows the ctype: in a
 * database created with LC_CTYPE 'C', `lower('É')` is 'É'. Comparing keys with it, Mirror took 'ÉTÉ-1' renamed
 * 'été-1' for two records: it upserted the new key and deleted the old one by key, the same record: gone.
 * syncline folds keys with `syncline.fold_key` (the database's own lower() where it folds 'É', else a Unicode-aware
 * collation the migration chose).
 *
 *   npx jest --selectProjects integration --testPathPatterns key-case-ctype
 */
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { env, sqlClient, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, type DirectDeps } from '../support/runs';
import { salesforceConnector } from '../../connectors/salesforce';
import { emulatorAdmin } from '../support/emulator-admin';
import { migrateToLatest } from '../../db/migrate';
import { createClient } from '../../db/connect';

let emu: SalesforceEmulator;
let db: pg.Pool;
const dbName = uniqueName('ctype_c');
beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  db = sqlClient();
});
afterAll(async () => {
  await db?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
  await db?.end();
  await emu?.close();
});

test('a state database with ctype C: a key renamed in non-ASCII case only keeps its record; spellings are repeats', async () => {
  await db.query(`CREATE DATABASE ${dbName} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  const url = new URL(env().databaseUrl);
  url.pathname = `/${dbName}`;
  await migrateToLatest(url.toString());
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  const d: DirectDeps = await directDeps(url.toString(), { connections: { sf } });
  d.deps.connectors.set(salesforceConnector.kind, salesforceConnector);
  const c = createClient({ connectionString: url.toString() });
  await c.connect();
  try {
    // The premise: this database's own lower() does not fold non-ASCII case.
    expect((await c.query(`SELECT lower('É') AS l`)).rows[0].l).toBe('É');
    const id = uniqueName('sf_ctype');
    const table = `public.${id}`;
    await c.query(`CREATE TABLE ${table} (id text, last_name text)`);
    await c.query(`INSERT INTO ${table} SELECT 'ÉTÉ-${id}-' || g, 'Last ' || g FROM generate_series(1, 40) g`);
    const cfg = parsed({
      id,
      mode: 'mirror',
      schedule: { manual: true },
      source: { table, key: 'id' },
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
      ],
    });
    expect((await fullRun(d.deps, cfg, 1)).summary.status).toBe('success');
    const k1 = `ÉTÉ-${id}-1`;
    const records = () => emulatorAdmin<Array<Record<string, unknown>>>(emu.url, '/records/Contact');
    const recordId = String((await records()).find((r) => r.External_Id__c === k1)?.Id);

    // Renamed in case only: one record, kept (not deleted), written under the new spelling.
    await c.query(`UPDATE ${table} SET id = $2, last_name = 'Renamed' WHERE id = $1`, [k1, `été-${id}-1`]);
    const r2 = (await fullRun(d.deps, cfg, 2)).summary;
    const rec = (await records()).find((r) => r.Id === recordId);
    expect({ upsert: r2.ops.upsert, delete: r2.ops.delete, lastName: rec?.LastName }).toEqual({
      upsert: expect.objectContaining({ planned: 1, succeeded: 1, failed: 0 }),
      delete: expect.objectContaining({ planned: 1, succeeded: 0, failed: 0, kept: 1 }),
      lastName: 'Renamed',
    });

    // Two spellings of one key in the model: both rejected, neither sent.
    await c.query(`INSERT INTO ${table} VALUES ($1, 'Variant')`, [`été-${id}-2`]);
    const r3 = (await fullRun(d.deps, cfg, 3)).summary;
    expect({ rejected: r3.rejected, planned: Object.values(r3.ops).reduce((n, o) => n + o.planned, 0) }).toEqual({
      rejected: 2,
      planned: 0,
    });
    expect((await records()).filter((r) => String(r.External_Id__c).endsWith(`-${id}-2`)).map((r) => r.LastName)).toEqual(['Last 2']);

    // The migration chose a Unicode-aware collation here, so no warning; a fold_key that folds A-Z only (what the
    // migration leaves where the server has neither "pg_c_utf8" nor ICU) is named by the check.
    expect((await c.query(`SELECT prosrc FROM pg_proc WHERE proname = 'fold_key'`)).rows[0].prosrc).toContain('pg_c_utf8');
    expect(r3.warnings.map((w) => w.code)).not.toContain('KEY_FOLDING_ASCII_ONLY');
    await c.query(
      `CREATE OR REPLACE FUNCTION syncline.fold_key(k text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT lower(k)'`,
    );
    const r4 = (await fullRun(d.deps, cfg, 4)).summary;
    expect(r4.warnings.find((w) => w.code === 'KEY_FOLDING_ASCII_ONLY')).toMatchObject({ level: 'warning' });
  } finally {
    await c.end();
    await d.close();
  }
}, 120_000);

test("a state database whose own lower() folds 'É' keeps it: the migration adds no collation there (rev26)", async () => {
  // Such a database never had the defect above: its folding stays the one syncline compared keys with before,
  // letter for letter (ICU's full mapping, or Unicode's simple one, differ from a libc locale for some letters: 'İ').
  const name = uniqueName('ctype_utf8');
  await db.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'`);
  const url = new URL(env().databaseUrl);
  url.pathname = `/${name}`;
  const c = createClient({ connectionString: url.toString() });
  try {
    await migrateToLatest(url.toString());
    await c.connect();
    expect((await c.query(`SELECT lower('É') AS l`)).rows[0].l).toBe('é');
    const { prosrc } = (await c.query(`SELECT prosrc FROM pg_proc WHERE proname = 'fold_key'`)).rows[0];
    expect(prosrc).toBe('SELECT pg_catalog.lower(k)');
    expect((await c.query(`SELECT syncline.fold_key('ÉTÉ-1') AS f`)).rows[0].f).toBe('été-1');
  } finally {
    await c.end().catch(() => undefined);
    await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
  }
}, 60_000);
