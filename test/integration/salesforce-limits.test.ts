/**
 * The org's limit of concurrent requests across the cluster (docs/limits.md): three worker processes on one
 * Temporal dev server and one state Postgres run five Salesforce activations at once (four through sObject
 * Collections, four requests in flight per chunk; one through a Bulk 2.0 job) against an emulator that
 * refuses a request above MAX in flight with Salesforce's 403 REQUEST_LIMIT_EXCEEDED and holds each one a
 * while, so requests overlap. With `maxConcurrentRequests: MAX` on the connection: no refusal, the emulator
 * saw exactly MAX in flight at its busiest (the slots are used, not wasted), every row is in the org.
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns salesforce-limits
 */
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { uniqueName } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { chunkWriters, clusterStage, startActivations, syncAllAtOnce } from '../support/worker-cluster';

/** The org's limit in this test (25 in a production org); syncline is given all of it. */
const MAX = 4;

describe('three workers, one Salesforce org', () => {
  let emu: SalesforceEmulator;
  const stage = clusterStage('tq_sflimits', 3, async () => {
    emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
    const sf = {
      auth: 'client_credentials',
      loginUrl: emu.url,
      clientId: 'syncline-demo-client',
      clientSecret: 'syncline-demo-secret',
      maxConcurrentRequests: MAX,
    };
    return { connections: { sf }, close: () => emu.close() };
  });

  const admin = <T>(p: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, p, init);

  test('five activations at once: no concurrency refusal, the emulator sees exactly the limit in flight, every row written', async () => {
    const { client, db, taskQueue: TQ } = stage;
    const ROWS = 1600;
    const BULK_ROWS = 300;
    const ids = [1, 2, 3, 4, 5].map((i) => uniqueName(`sflim${i}`));
    const bulk = ids[4]!;
    for (const id of ids) {
      const rows = id === bulk ? BULK_ROWS : ROWS;
      await db.query(
        `CREATE TABLE public.${id} AS SELECT '${id}-' || g AS id, 'Last ' || g AS last_name FROM generate_series(1, ${rows}) g`,
      );
      await startActivations(client, TQ, [
        {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'id' },
          // Collections: 800-row chunks sent as four 200-record requests at once, so every worker has
          // more requests ready than the org admits. Bulk: one job (create, upload, close, polls, results).
          destination: {
            kind: 'salesforce',
            connection: 'sf',
            object: 'Contact',
            key: 'External_Id__c',
            options:
              id === bulk ? { bulkThreshold: 1, bulkPollMs: 0 } : { bulkThreshold: 100_000, collectionsChunkSize: 800, concurrency: 4 },
          },
          mappings: [
            { from: 'id', to: 'External_Id__c' },
            { from: 'last_name', to: 'LastName' },
          ],
        },
      ]);
    }
    // Each request held 40 ms: the requests of the three workers overlap.
    await admin('/faults', { method: 'POST', body: JSON.stringify({ concurrentRequests: { max: MAX, latencyMs: 40 } }) });
    await admin('/requests', { method: 'DELETE' });

    const summaries = await syncAllAtOnce(client, ids);

    expect(summaries.map((s) => s.status)).toEqual(ids.map(() => 'success'));
    const log = await admin<{
      requests: Array<{ status: number; path: string }>;
      concurrency: { peak: number; rejected: number; max: number };
    }>('/requests');
    expect(log.requests.filter((r) => r.status === 403)).toEqual([]);
    expect(log.concurrency).toMatchObject({ max: MAX, rejected: 0, peak: MAX });
    const contacts = await admin<Array<{ External_Id__c: string; LastName: string }>>('/records/Contact');
    for (const id of ids) {
      const rows = id === bulk ? BULK_ROWS : ROWS;
      const got = contacts
        .filter((c) => c.External_Id__c.startsWith(`${id}-`))
        .map((c) => `${c.External_Id__c}=${c.LastName}`)
        .sort();
      const want = Array.from({ length: rows }, (_, i) => `${id}-${i + 1}=Last ${i + 1}`).sort();
      expect({ id, records: got }).toEqual({ id, records: want });
    }

    // The writes were spread over the three processes (else this would prove nothing about a cluster).
    expect((await chunkWriters(client, ids)).size).toBeGreaterThanOrEqual(2);
  }, 300_000);
});
