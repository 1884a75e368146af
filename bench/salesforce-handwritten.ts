/**
 * `npm run bench -- salesforce-handwritten <salesforceUrl> <databaseUrl> <table> <rows>`
 *
 * The floor bench/salesforce.ts compares syncline with, in a process of its own (as a person's script
 * would run; in the benchmark's process it would share one thread with the emulator): what one writes
 * by hand with jsforce 3. The model is streamed out of Postgres with COPY as CSV straight into one Bulk
 * 2.0 job (`bulk2.loadAndWaitForResults`, polled every second; above a million rows, one job per million
 * at once, as one job takes at most 100 MB), and its results are read back into memory, as jsforce does. Nothing is recorded, retried or resumable.
 */
import { Connection } from 'jsforce';
import { to as copyTo } from 'pg-copy-streams';
import { createPool } from '../db/connect';
import { API_VERSION } from '../connectors/salesforce/config';

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const [url, databaseUrl, table, rowsText] = args;
  if (!url || !databaseUrl || !table || !rowsText)
    throw new Error('usage: salesforce-handwritten <salesforceUrl> <databaseUrl> <table> <rows>');
  const rows = Number(rowsText);
  const t = Date.now();
  const conn = new Connection({
    loginUrl: url,
    version: API_VERSION,
    oauth2: { loginUrl: url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' },
  });
  await conn.authorize({ grant_type: 'client_credentials' });
  // One job takes at most 100 MB of CSV (Salesforce refuses more: "split the data into several jobs"), about
  // 1.6 million of these rows: a person's script splits the model into jobs of at most a million rows,
  // run at once, each streamed by a COPY of its share (by a hash of the key).
  const jobs = Math.max(1, Math.ceil(rows / 1_000_000));
  const pool = createPool(databaseUrl, jobs);
  const clients = await Promise.all(Array.from({ length: jobs }, () => pool.connect()));
  try {
    const results = await Promise.all(
      clients.map(async (client, j) => {
        const share = jobs === 1 ? '' : ` WHERE abs(hashtext(id)) % ${jobs} = ${j}`;
        const csv = client.query(
          copyTo(
            `COPY (SELECT id AS "External_Id__c", last_name AS "LastName", first_name AS "FirstName", email AS "Email", ltv AS "Lifetime_Value__c" FROM ${table}${share}) TO STDOUT WITH (FORMAT csv, HEADER)`,
          ),
        );
        return conn.bulk2.loadAndWaitForResults({
          object: 'Contact',
          operation: 'upsert',
          externalIdFieldName: 'External_Id__c',
          input: csv,
          pollInterval: 1000,
          pollTimeout: 30 * 60_000,
        });
      }),
    );
    const ok = results.reduce((n, r) => n + r.successfulResults.length, 0);
    if (ok !== rows) throw new Error(`handwritten: ${ok} of ${rows} rows succeeded`);
    return {
      seconds: Math.round(((Date.now() - t) / 1000) * 10) / 10,
      jobs,
      results: results.reduce((n, r) => n + r.successfulResults.length + r.failedResults.length + r.unprocessedRecords.length, 0),
    };
  } finally {
    for (const c of clients) c.release();
    await pool.end();
  }
}
