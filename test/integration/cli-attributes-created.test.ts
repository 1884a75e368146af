/**
 * `syncline sync` names the attributes its run created in the destination. An Actito mapping to an
 * attribute the table lacks creates it (connectors/actito/README.md, `ensureAttributes`): a typo in "to"
 * ("firstNam") adds a permanent attribute to the customer's table. The run summary carries the names
 * (`attributesCreated`), but the command printed only "success · upsert 3 (3 ok)": nothing said that the
 * destination's table had changed, nor what to do if the name was wrong.
 *
 *   npx jest --selectProjects integration --testPathPatterns cli-attributes-created
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import { emulatorAdmin } from '../support/emulator-admin';
import { env, sqlClient, startWorker, uniqueName, type RunningWorker } from '../support/harness';
import { runCli, type CliResult } from '../support/cli';

const TQ = uniqueName('tq_cli_attr');
let emu: ActitoEmulator;
let worker: RunningWorker;
let db: pg.Pool;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-cli-attr-'));

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

test('sync names the attribute its run created, and says what to do if the name is wrong; the next sync says nothing of it', async () => {
  const id = uniqueName('attr');
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
  await db.query(`CREATE TABLE public.${id} (customer_id text, email text, first_name text)`);
  await db.query(`INSERT INTO public.${id} VALUES ('C1', 'a@x.com', 'Ann'), ('C2', 'b@x.com', 'Bob'), ('C3', 'c@x.com', 'Cy')`);
  const file = path.join(tmp, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      source: { table: `public.${id}`, key: 'customer_id' },
      destination: { kind: 'actito', connection: 'actito', table, key: 'customerId' },
      mode: 'upsert',
      mappings: [
        { from: 'email', to: 'email' },
        { from: 'first_name', to: 'firstNam' },
      ],
    }),
  );
  const started = await cli('activation', 'start', '--file', file);
  expect(started.code).toBe(0);

  const first = await cli('sync', id);
  expect(first.code).toBe(0);
  expect(first.stdout.split('\n')[0]).toMatch(/ · success · upsert 3 \(3 ok\)$/);
  expect(first.stdout).toContain(
    `run 1 of "${id}" created 1 attribute in the destination: "firstNam". syncline never removes an attribute: if a name is wrong, fix "to" in "mappings" ("syncline activation update --file ${id}.json") and delete the attribute in the destination`,
  );
  // The state left in the destination: the attribute is there, with the rows' values.
  const structure = await emulatorAdmin<{ attributes: Array<{ name: string }> }>(emu.url, `/tables/${table}/structure`);
  expect(structure.attributes.map((a) => a.name)).toContain('firstNam');

  const json = await cli('sync', id, '--json');
  expect(JSON.parse(json.stdout)).toMatchObject({ runNumber: 2, attributesCreated: [] });
  await db.query(`UPDATE public.${id} SET email = 'a2@x.com' WHERE customer_id = 'C1'`);
  const third = await cli('sync', id);
  expect(third.code).toBe(0);
  expect(third.stdout).not.toContain('attribute');
});

test('plan says which attributes applying it creates, and creates none itself; apply then names them', async () => {
  const id = uniqueName('attrplan');
  const table = `t_${id}`;
  await emulatorAdmin(emu.url, '/tables', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: table,
      primaryKeyAttribute: 'customerId',
      attributes: [{ name: 'customerId', valueType: 'STRING', mandatory: true, unique: true }],
    }),
  });
  await db.query(`CREATE TABLE public.${id} (customer_id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} VALUES ('C1', 'Ann'), ('C2', 'Bob')`);
  const file = path.join(tmp, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      source: { table: `public.${id}`, key: 'customer_id' },
      destination: { kind: 'actito', connection: 'actito', table, key: 'customerId' },
      mode: 'upsert',
      mappings: [{ from: 'last_name', to: 'lastName' }],
    }),
  );
  expect((await cli('activation', 'start', '--file', file)).code).toBe(0);

  const plan = await cli('plan', id);
  expect(plan.code).toBe(0);
  expect(plan.stdout).toContain(
    'applying it creates 1 attribute in the destination: "lastName" (STRING). syncline never removes an attribute: if a name is wrong, fix "to" in "mappings" before applying',
  );
  const attributes = async (): Promise<string[]> =>
    (await emulatorAdmin<{ attributes: Array<{ name: string }> }>(emu.url, `/tables/${table}/structure`)).attributes.map((a) => a.name);
  expect(await attributes()).toEqual(['customerId']);
  expect(JSON.parse((await cli('plan', id, '--json')).stdout)).toMatchObject({
    attributesToCreate: [{ field: 'lastName', type: 'STRING' }],
  });

  // The --json plan above is plan 2 (plan 1 is stale): apply it.
  const applied = await cli('apply', id, '2');
  expect(applied.code).toBe(0);
  expect(applied.stdout).toContain(`run 2 of "${id}" created 1 attribute in the destination: "lastName".`);
  expect(await attributes()).toEqual(['customerId', 'lastName']);
});
