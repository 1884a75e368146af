/**
 * A Salesforce External ID of type Number matches keys by value: '1001.50', '1001.5' and '01001.5' are one record
 * there (and, the field keeping 4 decimals, so is '1001.50001', sent rounded). syncline keeps a model key as text:
 * for it they were different keys. Mirror renaming '1001.50' to '1001.5' (a numeric column's scale changed, a query
 * changed) deleted the record of the row still in the model; two model rows '2001.50' and '2001.5' were both
 * written to one record, the last write winning. Keys are now compared as the destination does (as numbers,
 * rounded to the field's scale): a removed key equal as a number to a model key is kept, not deleted, and two
 * model keys equal as numbers are rejected as a repeated key is.
 *
 *   npx jest --selectProjects integration --testPathPatterns number-key
 */
import { describeRun } from '../../common/run';
import { env, uniqueName } from '../support/harness';
import { directDeps, fullRun, parsed, type DirectDeps } from '../support/runs';
import { salesforceConnector } from '../../connectors/salesforce';
import { emulatorAdmin } from '../support/emulator-admin';
import { salesforceStage } from '../support/salesforce-stage';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';

const stage = salesforceStage('tq_sfnum');
const { sync } = stage;

/** The emulator's Contacts whose LastName starts with `prefix`, by their Number_Key__c. */
async function live(prefix: string): Promise<Array<Record<string, unknown>>> {
  const all = await emulatorAdmin<Array<Record<string, unknown>>>(stage.emu.url, '/records/Contact');
  return all.filter((r) => typeof r.LastName === 'string' && r.LastName.startsWith(prefix));
}

async function start(id: string, table: string, mode: string): Promise<void> {
  const config = {
    id,
    mode,
    schedule: { manual: true },
    source: { table, key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'Number_Key__c', options: { bulkPollMs: 0 } },
    mappings: [
      { from: 'id', to: 'Number_Key__c' },
      { from: 'last_name', to: 'LastName' },
    ],
  };
  await stage.client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: stage.taskQueue,
    workflowId: activationWorkflowId(id),
    args: [{ config }],
  });
}

test.each([
  ['its delete answered after the upsert', true, 1000],
  ['its delete answered first', false, 3000],
])(
  'Mirror, a Number External ID whose key changed its text form only (%s): the record stays, is not deleted',
  async (_order, slowDelete, base) => {
    const rows = 40;
    const id = uniqueName('sf_num');
    const table = `public.${id}`;
    // numeric without a scale keeps the scale of what was stored: 1001.50 is rendered '1001.50'.
    await stage.db.query(`CREATE TABLE ${table} (id numeric, last_name text)`);
    await stage.db.query(`INSERT INTO ${table} SELECT ${base} + g + 0.50, '${id} ' || g FROM generate_series(1, ${rows}) g`);
    await start(id, table, 'mirror');
    expect((await sync(id)).status).toBe('success');
    const before = new Map((await live(id)).map((r) => [Number(r.Number_Key__c), r.Id]));
    expect(before.size).toBe(rows);

    // Three keys lose their trailing zero ('1001.50' → '1001.5'): the same numbers, the rows still in the model.
    const changed = [1, 2, 3].map((g) => base + g + 0.5);
    await stage.db.query(`UPDATE ${table} SET id = trim_scale(id), last_name = last_name || ' v2' WHERE id = ANY($1::numeric[])`, [
      changed,
    ]);
    if (slowDelete)
      await emulatorAdmin(stage.emu.url, '/faults', {
        method: 'POST',
        body: JSON.stringify({ slow: { ms: 1500, count: 1, paths: 'composite .*/composite/sobjects$' } }),
      });
    const r2 = await sync(id);
    await emulatorAdmin(stage.emu.url, '/faults', { method: 'DELETE' });
    expect(r2.status).toBe('success');
    const after = await live(id);
    // Every model row has its record, the same one as before (not deleted, not made again), with the new values.
    expect({
      count: after.length,
      records: changed.map((k) => {
        const r = after.find((x) => Number(x.Number_Key__c) === k);
        return { key: k, id: r?.Id, lastName: r?.LastName };
      }),
    }).toEqual({
      count: rows,
      records: changed.map((k, i) => ({ key: k, id: before.get(k), lastName: `${id} ${i + 1} v2` })),
    });
    // Settled without a call: counted kept, and the row log says why.
    expect(r2.ops.delete).toEqual({ planned: 3, succeeded: 0, failed: 0, skipped: 0, held: 0, kept: 3 });
    expect(describeRun(r2)).toContain('delete 3 (0 ok, 3 kept)');
    const logged = (
      await stage.db.query<{ key: string; outcome: string; message: string }>(
        `SELECT key, outcome, message FROM syncline.row_changes WHERE activation_id = $1 AND run_number = $2 AND op = 'delete' ORDER BY key`,
        [id, r2.runNumber],
      )
    ).rows;
    expect(logged).toEqual(
      changed.map((k) => ({
        key: k.toFixed(2),
        outcome: 'kept',
        message: `not deleted: the model still has key "${k}", the same number for the destination, whose key field is a number (4 decimals): both are one record`,
      })),
    );
    const snap = (
      await stage.db.query<{ key: string; destination_id: string }>(
        `SELECT key, destination_id FROM syncline.snapshot WHERE activation_id = $1 AND key::numeric = ANY($2::numeric[]) ORDER BY key`,
        [id, changed],
      )
    ).rows;
    expect(snap).toEqual(changed.map((k) => ({ key: String(k), destination_id: before.get(k) })));
    // Nothing changed: nothing sent, every record there.
    const r3 = await sync(id);
    expect(Object.values(r3.ops).reduce((n, o) => n + o.planned, 0)).toBe(0);
    expect(await live(id)).toHaveLength(rows);
    // Removed for good: deleted.
    await stage.db.query(`DELETE FROM ${table} WHERE id = ANY($1::numeric[])`, [changed]);
    const r4 = await sync(id);
    expect(r4.ops.delete).toMatchObject({ planned: 3, succeeded: 3, failed: 0 });
    expect(await live(id)).toHaveLength(rows - 3);
  },
  120_000,
);

const why = (key: string, others: string[], rows: number) =>
  `key "${key}" is the same number as ${others.map((o) => `"${o}"`).join(', ')} in the model (column "id"), and the destination's key ` +
  `field "Number_Key__c" is a number (4 decimals): these ${rows} rows would write one record; none of them was sent. Make the key unique as a number.`;

test('two model keys equal as numbers (2001.50 and 2001.5, 2020.00001 and 2020): neither is sent, both are listed MODEL_DUPLICATE_KEY; the record synced under one keeps its values', async () => {
  const rows = 10;
  const id = uniqueName('sf_numdup');
  const table = `public.${id}`;
  await stage.db.query(`CREATE TABLE ${table} (id numeric, last_name text)`);
  await stage.db.query(`INSERT INTO ${table} SELECT 2000 + g + 0.50, '${id} ' || g FROM generate_series(1, ${rows}) g`);
  await start(id, table, 'mirror');
  expect((await sync(id)).status).toBe('success');
  const before = new Map((await live(id)).map((r) => [Number(r.Number_Key__c), { id: r.Id, lastName: r.LastName }]));
  expect(before.size).toBe(rows);

  // The model gains '2001.5' beside the synced '2001.50', and a new pair '2020.00001' / '2020' (one number at 4 decimals).
  await stage.db.query(`INSERT INTO ${table} VALUES (2001.5, '${id} other'), (2020.00001, '${id} x'), (2020, '${id} y')`);
  const r2 = await sync(id);
  expect({ rejected: r2.rejected, upsert: r2.ops.upsert?.planned ?? 0, delete: r2.ops.delete?.planned ?? 0 }).toEqual({
    rejected: 4,
    upsert: 0,
    delete: 0,
  });
  const errors = (
    await stage.db.query(`SELECT key, code, message FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key COLLATE "C"`, [id])
  ).rows;
  expect(errors).toEqual([
    { key: '2001.5', code: 'MODEL_DUPLICATE_KEY', message: why('2001.5', ['2001.50'], 2) },
    { key: '2001.50', code: 'MODEL_DUPLICATE_KEY', message: why('2001.50', ['2001.5'], 2) },
    { key: '2020', code: 'MODEL_DUPLICATE_KEY', message: why('2020', ['2020.00001'], 2) },
    { key: '2020.00001', code: 'MODEL_DUPLICATE_KEY', message: why('2020.00001', ['2020'], 2) },
  ]);
  const after = await live(id);
  expect(after).toHaveLength(rows);
  expect(after.find((r) => Number(r.Number_Key__c) === 2001.5)).toMatchObject({ Id: before.get(2001.5)?.id, LastName: `${id} 1` });
  // Nothing changed: still rejected, already reported, nothing sent.
  const r3 = await sync(id);
  expect({ rejected: r3.rejected, unchanged: r3.rejectedUnchanged, upsert: r3.ops.upsert?.planned ?? 0 }).toEqual({
    rejected: 4,
    unchanged: 4,
    upsert: 0,
  });
  // The model fixed ('2001.50' dropped, '2020' dropped): the ones left are sent; the record keeps its Id.
  await stage.db.query(`DELETE FROM ${table} WHERE id::text IN ('2001.50', '2020')`);
  const r4 = await sync(id);
  expect(r4.status).toBe('success');
  // '2001.50' left the model: its record is '2001.5''s, kept, not deleted.
  expect(r4.ops.delete).toMatchObject({ planned: 1, succeeded: 0, kept: 1 });
  const fixed = await live(id);
  expect(fixed).toHaveLength(rows + 1);
  expect(fixed.find((r) => Number(r.Number_Key__c) === 2001.5)).toMatchObject({ Id: before.get(2001.5)?.id, LastName: `${id} other` });
  expect(fixed.find((r) => Number(r.Number_Key__c) === 2020)).toMatchObject({ LastName: `${id} x` });
  expect((await stage.db.query(`SELECT count(*)::int AS n FROM syncline.row_errors WHERE activation_id = $1`, [id])).rows[0].n).toBe(0);
}, 120_000);

test('syncline.number_key: a decimal text as its number (rounded to the scale given), any other text as it is, never an error', async () => {
  const cases: Array<[string, number | null, string]> = [
    ['1001.50', 4, '1001.5'],
    ['01001.5', 4, '1001.5'],
    ['1.0015e3', 4, '1001.5'],
    ['1001.50001', 4, '1001.5'],
    ['1001.50005', 4, '1001.5001'],
    ['-0', 4, '0'],
    ['-0.00001', 4, '0'],
    ['+7', 4, '7'],
    // Spaces, tabs and line breaks at the ends are the connector's too (decimal.ts parse): ' 7' is sent as 7 (rev30).
    [' 7 ', 4, '7'],
    ['\t7.50\r\n', 4, '7.5'],
    ['7 5', 4, '7 5'],
    ['1e0004', 4, '10000'],
    ['7' + '0'.repeat(1000), null, '7' + '0'.repeat(1000)],
    ['.5', 4, '0.5'],
    ['5.', 4, '5'],
    ['1e+21', 4, '1000000000000000000000'],
    ['1.5', 0, '2'],
    ['-1.5', 0, '-2'],
    ['1.0', null, '1'],
    ['1.5', null, '1.5'],
    ['NaN', 4, 'NaN'],
    ['Infinity', 4, 'Infinity'],
    ['-Infinity', null, '-Infinity'],
    ['abc', 4, 'abc'],
    ['1e99999', 4, '1e99999'],
    ['1_000', 4, '1_000'],
    ['', 4, ''],
  ];
  const got = (
    await stage.db.query<{ k: string; scale: number | null; v: string }>(
      `SELECT k, scale, syncline.number_key(k, scale) AS v FROM unnest($1::text[], $2::int[]) AS t(k, scale)`,
      [cases.map((c) => c[0]), cases.map((c) => c[1])],
    )
  ).rows.map((r) => [r.k, r.scale, r.v]);
  expect(got).toEqual(cases);
});

// Upsert and Update delete nothing: '3001.50' renamed '3001.5' keeps its snapshot row while '3001.5''s write goes to
// its record. Renamed back with its old values, it must be sent again (the record holds '3001.5''s values now).
test.each(['upsert', 'update'])(
  '%s: a number key renamed in its text form only, then renamed back: its values are sent again',
  async (mode) => {
    const sf = {
      auth: 'client_credentials',
      loginUrl: stage.emu.url,
      clientId: 'syncline-demo-client',
      clientSecret: 'syncline-demo-secret',
    };
    const d: DirectDeps = await directDeps(env().databaseUrl, { connections: { sf } });
    d.deps.connectors.set(salesforceConnector.kind, salesforceConnector);
    try {
      const id = uniqueName(`sf_num_back_${mode}`);
      const table = `public.${id}`;
      const base = mode === 'upsert' ? 5000 : 6000;
      await stage.db.query(`CREATE TABLE ${table} (id numeric, last_name text)`);
      await stage.db.query(`INSERT INTO ${table} VALUES (${base}.50, '${id} 1'), (${base + 1}, '${id} 2')`);
      const cfg = (m: string) =>
        parsed({
          id,
          mode: m,
          schedule: { manual: true },
          source: { table, key: 'id' },
          destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'Number_Key__c', options: { bulkPollMs: 0 } },
          mappings: [
            { from: 'id', to: 'Number_Key__c' },
            { from: 'last_name', to: 'LastName' },
          ],
        });
      expect((await fullRun(d.deps, cfg('upsert'), 1)).summary.status).toBe('success');
      const recordId = String((await live(id)).find((r) => Number(r.Number_Key__c) === base + 0.5)?.Id);
      await stage.db.query(`UPDATE ${table} SET id = trim_scale(id), last_name = '${id} other' WHERE id = ${base}.5`);
      expect((await fullRun(d.deps, cfg(mode), 2)).summary.status).toBe('success');
      expect((await live(id)).find((r) => r.Id === recordId)).toMatchObject({ LastName: `${id} other` });
      await stage.db.query(`UPDATE ${table} SET id = ${base}.50, last_name = '${id} 1' WHERE id = ${base}.5`);
      expect((await fullRun(d.deps, cfg(mode), 3)).summary.status).toBe('success');
      const after = await live(id);
      expect(after).toHaveLength(2);
      expect(after.find((r) => r.Id === recordId)).toMatchObject({ LastName: `${id} 1` });
    } finally {
      await d.close();
    }
  },
  120_000,
);
