/**
 * Model keys are whatever the model's text holds: an escape sequence or a line break in a key reached the
 * terminal raw through `syncline errors` and `syncline rows` (ESC[31m turned the rest of the table red, a
 * line break split a row of `rows` in two, and "A\nB" printed like "A B"). Text tables now show such
 * characters escaped (\x1b, \n, \t), as --json does.
 *
 *   npx jest --selectProjects integration --testPathPatterns cli-control-chars
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import { emulatorAdmin } from '../support/emulator-admin';
import { env, sqlClient, startWorker, uniqueName, type RunningWorker } from '../support/harness';
import { runCli, type CliResult } from '../support/cli';

const TQ = uniqueName('tq_cli_ctl');
let emu: ActitoEmulator;
let worker: RunningWorker;
let db: pg.Pool;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-cli-ctl-'));

function cli(...args: string[]): Promise<CliResult> {
  const { address, databaseUrl } = env();
  return runCli(args, { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: TQ });
}

beforeAll(async () => {
  emu = await startActitoEmulator({ port: 0 });
  worker = await startWorker({ taskQueue: TQ, connections: { actito: { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity } } });
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await emu?.close();
});

// C0 controls but the line break that ends each line, DEL and C1 controls: nothing a terminal acts on.
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

test('errors and rows show keys with control characters escaped, one table line per row', async () => {
  const id = uniqueName('ctl');
  const table = `t_${id}`;
  await emulatorAdmin(emu.url, '/tables', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: table,
      primaryKeyAttribute: 'customerId',
      attributes: [
        { name: 'customerId', valueType: 'STRING', mandatory: true, unique: true },
        { name: 'email', valueType: 'STRING' },
      ],
    }),
  });
  await db.query(`CREATE TABLE public.${id} (customer_id text, email text)`);
  // A duplicated key holding ESC[31m and a line break (rejected, listed), and a key with a tab (written).
  await db.query(
    `INSERT INTO public.${id} VALUES (E'K\\x1b[31mRED\\nX', 'a@x.com'), (E'K\\x1b[31mRED\\nX', 'b@x.com'), (E'T\\tab', 'c@x.com'), ('C1', 'd@x.com')`,
  );
  const file = path.join(tmp, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      source: { table: `public.${id}`, key: 'customer_id' },
      destination: { kind: 'actito', connection: 'actito', table, key: 'customerId' },
      mode: 'upsert',
      mappings: [{ from: 'email', to: 'email' }],
    }),
  );
  expect((await cli('activation', 'start', '--file', file)).code).toBe(0);
  expect((await cli('sync', id)).code).toBe(0);
  // The destination has the written rows' keys as they are.
  const records = await emulatorAdmin<{ records: Array<{ customerId: string }> }>(emu.url, `/tables/${table}/records`);
  expect(records.records.map((r) => r.customerId).sort()).toEqual(['C1', 'T\tab']);

  const errors = await cli('errors', id);
  expect(errors.code).toBe(0);
  expect(errors.stdout).not.toMatch(RAW_CONTROL);
  const errorLines = errors.stdout.trimEnd().split('\n');
  expect(errorLines).toHaveLength(2); // header, one row error
  expect(errorLines[1]).toMatch(/^K\\u001b\[31mRED\\nX {2,}duplicate_key {2,}MODEL_DUPLICATE_KEY/);
  expect(errorLines[1]).toContain('key "K\\u001b[31mRED');

  const rows = await cli('rows', id, '--run', '1');
  expect(rows.code).toBe(0);
  expect(rows.stdout).not.toMatch(RAW_CONTROL);
  const rowLines = rows.stdout.trimEnd().split('\n');
  expect(rowLines).toHaveLength(1 + 3); // header, C1, T\tab, the duplicate key listed once
  expect(rowLines.some((l) => /^1 {2,}K\\u001b\[31mRED\\nX {2,}duplicate_key {2,}rejected/.test(l))).toBe(true);
  expect(rowLines.some((l) => /^1 {2,}T\\tab {2,}upsert {2,}ok/.test(l))).toBe(true);
});
