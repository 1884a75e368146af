/**
 * `npm run bench -- locks [rows=200000] [parents=50] [batch=10000]`
 *
 * A Bulk 2.0 load of `rows` Contacts over `parents` Accounts (the model deals them out round robin, so in
 * model order every parent is in every part of the job) under the emulator's `lockContention` fault:
 * the job is cut into internal batches of `batch` rows (Salesforce's internal batch is 10,000 records),
 * a parent is held by the first batch that touches it and its rows in other batches fail
 * UNABLE_TO_LOCK_ROW. The connector groups the CSV by parent, so only parents cut by a batch boundary
 * lock; their rows are re-sent within the run.
 *
 * Figures: rows written (run summary, and the emulator's Contacts linked to their Account), rows
 * re-sent (run summary), sends (Bulk jobs created), seconds of the sync. With every parent holding the
 * same number of rows, the grouped CSV puts parent boundaries at the same offsets whatever the parents'
 * order, so the locks of the first send follow from the rule alone (`expected_first_send_locks`).
 *
 * For comparison, `ungrouped`: the same rows in model order (the order syncline's CSV would have without
 * grouping), sent straight to the emulator with jsforce and re-sent the way the runtime does, up to
 * ROW_RETRY_ATTEMPTS sends. Not through syncline: the connector has no switch to turn grouping off.
 */
import { Client, Connection } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { startSalesforceEmulator } from '../emulators/salesforce/server';
import type { RunSummary } from '../common/run';
import { benchPool, startBenchServices, startWorkerProcess, stopProcess, whereTimeGoes } from './support';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../common/names';
import { triggerSyncUpdate } from '../workflows/messages';
import { ROW_RETRY_ATTEMPTS } from '../activities/write';
import { connect } from '../emulators/salesforce/conformance-helpers';

const log = (msg: string) => console.log(`[bench locks ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Rows of the first send that lock, by the fault's rule, for a CSV grouped by parent with `perParent` rows each. */
export function lockedWhenGrouped(parents: number, perParent: number, batch: number): number {
  let locked = 0;
  for (let p = 0; p < parents; p++) {
    const first = p * perParent;
    const last = first + perParent - 1;
    // Rows past the end of the batch holding the parent's first row.
    const end = (Math.floor(first / batch) + 1) * batch;
    if (last >= end) locked += last - end + 1;
  }
  return locked;
}

/**
 * A reset socket (seen once, creating the fourth job of a full-size run) starts the send again and is
 * logged. Upserts by External ID: a row a lost job wrote stays one record when the send repeats it.
 */
async function withResetRetry<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (e) {
      if (attempt >= 3 || (e as { code?: string }).code !== 'ECONNRESET') throw e;
      log(`ungrouped send: socket reset (${(e as Error).message}); sending again`);
    }
  }
}

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const rows = Number(args[0] ?? 200_000);
  const parents = Number(args[1] ?? 50);
  const batch = Number(args[2] ?? 10_000);
  if (!(rows > 0 && parents > 0 && rows % parents === 0 && batch > 0))
    throw new Error(`rows (${rows}) must be a positive multiple of parents (${parents}), and batch (${batch}) positive`);
  log('starting Temporal dev server, Postgres and the Salesforce emulator');
  const services = await startBenchServices();
  const emu = await startSalesforceEmulator({ port: 0, dailyApiLimit: 100_000_000 });
  const connection = await Connection.connect({ address: services.temporal.address });
  const client = new Client({ connection });
  const db = benchPool(services.pg.url);
  const admin = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${emu.url}/__admin${path}`, { ...init, headers: { 'Content-Type': 'application/json' } });
    if (!res.ok) throw new Error(`admin ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const id = `bench_locks_${Date.now().toString(36)}`;
  const table = `public.${id}`;
  const taskQueue = 'bench-locks';
  let worker: ChildProcess | undefined;
  try {
    await admin('/records/Account', {
      method: 'POST',
      body: JSON.stringify(Array.from({ length: parents }, (_, i) => ({ Name: `Parent ${i}`, External_Id__c: `P${i}` }))),
    });
    log(`building a ${rows}-row model over ${parents} parents`);
    await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, last_name text, account_key text)`);
    await db.query(`INSERT INTO ${table} SELECT 'C' || g, 'Last ' || g, 'P' || (g % $2) FROM generate_series(0, $1 - 1) g`, [
      rows,
      parents,
    ]);
    await db.query(`ANALYZE ${table}`);
    await admin('/faults', {
      method: 'POST',
      body: JSON.stringify({ lockContention: { column: 'Account.External_Id__c', batchSize: batch } }),
    });

    worker = await startWorkerProcess({
      address: services.temporal.address,
      databaseUrl: services.pg.url,
      taskQueue,
      connections: {
        sf: { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' },
      },
    });
    const config = {
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table, key: 'id' },
      // Polls every second: the figure is the load and its re-sends, not the default poll pacing (15 s base).
      destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 1000 } },
      mappings: [
        { from: 'id', to: 'External_Id__c' },
        { from: 'last_name', to: 'LastName' },
        { from: 'account_key', to: 'Account.External_Id__c' },
      ],
      thresholds: { deltaPercent: 100, modelDropPercent: 100 },
    };
    await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: activationWorkflowId(id), args: [{ config }] });
    emu.state.requests = [];
    log(`sync: ${rows} upserts under lockContention (batches of ${batch})`);
    const t = Date.now();
    const run: RunSummary = await client.workflow
      .getHandle(activationWorkflowId(id))
      .executeUpdate(triggerSyncUpdate, { args: [{ full: false }] });
    const seconds = (Date.now() - t) / 1000;
    const sends = emu.state.requests.filter((r) => r.method === 'POST' && /\/jobs\/ingest\/?$/.test(r.path.replace(/\?.*$/, ''))).length;
    const where = await whereTimeGoes(client, runWorkflowId(id, run.runNumber));

    // What Salesforce holds: every Contact once, linked to the Account its model row names.
    const accountKey = new Map((await admin<Array<Record<string, unknown>>>('/records/Account')).map((a) => [a.Id, a.External_Id__c]));
    const contacts = (await admin<Array<Record<string, unknown>>>('/records/Contact')).filter((c) =>
      String(c.External_Id__c).startsWith('C'),
    );
    const distinct = new Set(contacts.map((c) => c.External_Id__c)).size;
    const linked = contacts.filter((c) => accountKey.get(c.AccountId) === `P${Number(String(c.External_Id__c).slice(1)) % parents}`).length;

    const upsert = run.ops.upsert;
    const resent = Object.values(run.resent ?? {}).reduce((a, n) => a + n, 0);
    const expected = lockedWhenGrouped(parents, rows / parents, batch);
    log(
      `run ${run.status} in ${seconds.toFixed(1)} s: ${upsert?.succeeded ?? 0}/${rows} written, ${upsert?.failed ?? 0} failed; ` +
        `re-sent ${JSON.stringify(run.resent ?? {})}; ${sends} Bulk jobs; emulator: ${contacts.length} Contacts (${distinct} distinct, ${linked} linked to their Account)`,
    );
    log(`first send locks by the fault's rule: ${expected}; DAG tasks (s) ${JSON.stringify(where.tasks_s)}`);

    // The same load ungrouped: model order, each send a Bulk job of the rows still locked.
    const conn = await connect(emu);
    let left = Array.from({ length: rows }, (_, g) => `U${g},Last ${g},P${g % parents}`);
    const writtenPerSend: number[] = [];
    const sentPerSend: number[] = [];
    const tu = Date.now();
    while (left.length && writtenPerSend.length < ROW_RETRY_ATTEMPTS) {
      sentPerSend.push(left.length);
      const input = ['External_Id__c,LastName,Account.External_Id__c', ...left].join('\n') + '\n';
      const res = await withResetRetry(() =>
        conn.bulk2.loadAndWaitForResults({
          object: 'Contact',
          operation: 'upsert',
          externalIdFieldName: 'External_Id__c',
          input,
          pollInterval: 1000,
          pollTimeout: 3_600_000,
        }),
      );
      const failed = new Set(res.failedResults.map((r) => String((r as Record<string, unknown>).External_Id__c)));
      writtenPerSend.push(left.length - failed.size);
      left = left.filter((line) => failed.has(line.slice(0, line.indexOf(','))));
      log(`ungrouped send ${writtenPerSend.length}: ${writtenPerSend.at(-1)} written, ${left.length} locked`);
    }
    const ungrouped = {
      sends: writtenPerSend.length,
      written_per_send: writtenPerSend,
      rows_written: rows - left.length,
      rows_resent: sentPerSend.slice(1).reduce((a, n) => a + n, 0),
      rows_still_locked: left.length,
      seconds: Math.round((Date.now() - tu) / 100) / 10,
    };
    return {
      rows,
      parents,
      batch,
      status: run.status,
      rows_written: upsert?.succeeded ?? 0,
      rows_failed: upsert?.failed ?? 0,
      rows_resent: resent,
      resent_by_code: run.resent ?? {},
      sends,
      seconds: Math.round(seconds * 10) / 10,
      expected_first_send_locks: expected,
      emulator: { contacts: contacts.length, distinct, linked_to_their_account: linked },
      ungrouped,
      where_time_goes: where,
    };
  } finally {
    if (worker) await stopProcess(worker);
    await db.end();
    await connection.close();
    await emu.close();
    await services.stop();
  }
}
