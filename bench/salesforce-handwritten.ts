/**
 * `npm run bench -- salesforce-handwritten <salesforceUrl> <databaseUrl> <table> <rows>`
 *
 * The floor bench/salesforce.ts compares syncline with, in a process of its own (as a person's script
 * would run; in the benchmark's process it would share one thread with the emulator): what one writes
 * by hand with jsforce 3. The model is streamed out of Postgres with COPY as CSV straight into one Bulk
 * 2.0 job (`bulk2.loadAndWaitForResults`, polled every second), and its results are read back into
 * memory, as jsforce does. Nothing is recorded, retried or resumable.
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
  const pool = createPool(databaseUrl, 1);
  const client = await pool.connect();
  try {
    const csv = client.query(
      copyTo(
        `COPY (SELECT id AS "External_Id__c", last_name AS "LastName", first_name AS "FirstName", email AS "Email", ltv AS "Lifetime_Value__c" FROM ${table}) TO STDOUT WITH (FORMAT csv, HEADER)`,
      ),
    );
    const r = await conn.bulk2.loadAndWaitForResults({
      object: 'Contact',
      operation: 'upsert',
      externalIdFieldName: 'External_Id__c',
      input: csv,
      pollInterval: 1000,
      pollTimeout: 30 * 60_000,
    });
    if (r.successfulResults.length !== rows) throw new Error(`handwritten: ${r.successfulResults.length} of ${rows} rows succeeded`);
    return {
      seconds: Math.round(((Date.now() - t) / 1000) * 10) / 10,
      results: r.successfulResults.length + r.failedResults.length + r.unprocessedRecords.length,
    };
  } finally {
    client.release();
    await pool.end();
  }
}
