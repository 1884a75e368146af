/**
 * A row the destination refused with a permanent code is not sent again until it changes: the next runs
 * count it `skipped`. `syncline rows` listed it `skipped` with an empty CODE and no message, so nothing
 * there said why it was not sent, nor what would send it. The row log now keeps the standing error's code
 * and says what sends the row again.
 *
 *   npx jest --selectProjects integration --testPathPatterns rows-skipped-code
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startSalesforceEmulator, DEMO_CREDENTIALS, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { env, sqlClient, startWorker, uniqueName, type RunningWorker } from '../support/harness';
import { runCli, type CliResult } from '../support/cli';

const TQ = uniqueName('tq_rows_skip');
let emu: SalesforceEmulator;
let worker: RunningWorker;
let db: pg.Pool;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-rows-skip-'));

function cli(...args: string[]): Promise<CliResult> {
  const { address, databaseUrl } = env();
  return runCli(args, { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: TQ });
}

beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0 });
  worker = await startWorker({
    taskQueue: TQ,
    connections: {
      sf: {
        auth: 'client_credentials',
        loginUrl: emu.url,
        clientId: DEMO_CREDENTIALS.clientId,
        clientSecret: DEMO_CREDENTIALS.clientSecret,
      },
    },
  });
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await emu?.close();
});

test('rows names the standing error of a row skipped for it, and what sends it again', async () => {
  const id = uniqueName('skip');
  await db.query(`CREATE TABLE public.${id} (customer_id text, email text, last_name text)`);
  await db.query(`INSERT INTO public.${id} VALUES ('S1', 'ok@x.com', 'One'), ('S2', 'not-an-email', 'Two')`);
  const file = path.join(tmp, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      source: { table: `public.${id}`, key: 'customer_id' },
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
      mode: 'upsert',
      mappings: [
        { from: 'email', to: 'Email' },
        { from: 'last_name', to: 'LastName' },
      ],
    }),
  );
  expect((await cli('activation', 'start', '--file', file)).code).toBe(0);
  const first = await cli('sync', id);
  expect(first.stdout.split('\n')[0]).toMatch(/ · partial · upsert 2 \(1 ok, 1 failed\)$/);

  await db.query(`UPDATE public.${id} SET last_name = 'One v2' WHERE customer_id = 'S1'`);
  const second = await cli('sync', id);
  expect(second.stdout.split('\n')[0]).toMatch(/ · success · upsert 2 \(1 ok, 1 skipped\)$/);

  const rows = await cli('rows', id, '--run', '2');
  expect(rows.code).toBe(0);
  const line = rows.stdout.split('\n').find((l) => l.startsWith('2    S2'));
  expect(line).toMatch(/^2 {4}S2 {2,}upsert {2,}skipped {2,}INVALID_EMAIL_ADDRESS {2,}\d{4}-/);
  const json = JSON.parse((await cli('rows', id, '--key', 'S2', '--json')).stdout) as Array<{
    runNumber: number;
    code: string | null;
    message: string | null;
  }>;
  expect(json.find((r) => r.runNumber === 2)).toMatchObject({
    code: 'INVALID_EMAIL_ADDRESS',
    message:
      'not sent: the destination refused this row with INVALID_EMAIL_ADDRESS (a permanent error) and the row has not changed since; change it in the model to send it again ("syncline errors" has the message)',
  });
  // The state left: the refused row's record was never made, the row error stands.
  const errors = await db.query(`SELECT code FROM syncline.row_errors WHERE activation_id = $1 AND key = 'S2'`, [id]);
  expect(errors.rows).toEqual([{ code: 'INVALID_EMAIL_ADDRESS' }]);
});
