/**
 * `syncline resume` of an activation that paused itself on a configuration error (CONFIG_BROKEN) runs it at
 * once, whatever its schedule (workflows/activation.ts resume, resumeWithCatchUp): a manual activation too.
 * The command said only "resumed (it was paused: …)", so a user who had not fixed anything yet, or who
 * expected nothing to run on a manual schedule, was not told a run had started nor where to see it.
 *
 *   npx jest --selectProjects integration --testPathPatterns cli-resume-config-broken
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startSalesforceEmulator, DEMO_CREDENTIALS, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { env, sqlClient, startWorker, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { runCli, type CliResult } from '../support/cli';

const TQ = uniqueName('tq_resume');
let emu: SalesforceEmulator;
let worker: RunningWorker;
let db: pg.Pool;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-resume-'));

function cli(...args: string[]): Promise<CliResult> {
  const { address, databaseUrl } = env();
  return runCli(args, { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: TQ });
}

beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0 });
  worker = await startWorker({
    taskQueue: TQ,
    connections: { sfbad: { auth: 'client_credentials', loginUrl: emu.url, clientId: DEMO_CREDENTIALS.clientId, clientSecret: 'wrong' } },
  });
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await emu?.close();
});

test('resume after a configuration error says a run starts now and where to see it; an operator pause resumed says nothing of a run', async () => {
  const id = uniqueName('resume');
  await db.query(`CREATE TABLE public.${id} (customer_id text, email text, last_name text)`);
  await db.query(`INSERT INTO public.${id} VALUES ('R1', 'r1@x.com', 'One')`);
  const file = path.join(tmp, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      source: { table: `public.${id}`, key: 'customer_id' },
      destination: { kind: 'salesforce', connection: 'sfbad', object: 'Contact', key: 'External_Id__c' },
      mode: 'upsert',
      mappings: [{ from: 'last_name', to: 'LastName' }],
    }),
  );
  expect((await cli('activation', 'start', '--file', file)).code).toBe(0);
  const failed = await cli('sync', id);
  expect(failed.code).toBe(1);
  expect(failed.stdout).toContain(`activation "${id}" is now paused (CONFIG_BROKEN)`);

  const resumed = await cli('resume', id);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout.trim()).toMatch(
    new RegExp(
      `^activation "${id}" resumed \\(it was paused: paused after a configuration error in run 1: .*\\): a run starts now to check the destination again and send what waited \\("syncline status ${id}" shows it; if it fails the same way, the activation pauses again\\)$`,
    ),
  );
  // The run it announced: run 2, recorded in Postgres (it fails again: the connection is still wrong).
  await waitFor(`run 2 of ${id} recorded failed`, async () => {
    const r = await db.query(`SELECT status FROM syncline.runs WHERE activation_id = $1 AND run_number = 2`, [id]);
    return r.rows[0]?.status === 'failed' ? true : undefined;
  });

  // An operator's pause of a manual activation: resume runs nothing, and says nothing of a run.
  expect((await cli('pause', id, '--reason', 'maintenance')).code).toBe(0);
  const plain = await cli('resume', id);
  expect(plain.stdout.trim()).toBe(`activation "${id}" resumed (it was paused: maintenance)`);
});
