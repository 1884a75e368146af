/**
 * `npm run bench -- csvbuild [rows=200000] [repeats=5] [--baseline <dir>]`
 *
 * The CPU of building one Salesforce Bulk CSV from a chunk: the salesforce bench's model shape (a text
 * key, three texts, a numeric(12,2)) is extracted and put in a delta through the project's own
 * activities (Postgres of its own, the Salesforce emulator in this process for the describe; no
 * Temporal), then the chunk's CSV is built `repeats` times by `buildCsv` reading the chunk's pages as
 * `ChunkWrite.rows()` does (activities/write.ts `pendingRows`). Figures: milliseconds per 100,000 rows
 * (median) of wall time and of this process's CPU, and the CSV's sha256 (it must not change).
 *
 * `--baseline <dir>`: a checkout of another commit (with a `node_modules` link): its `buildCsv` and
 * `pendingRows` are timed too, alternating with this checkout's in the same process, on the same delta;
 * both CSVs' sha256 are reported. The machine is shared: compare the two in one run, not across runs.
 *
 * The setup, the alternating timing and the RESULT are bench/build-bench.ts's.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { salesforceConnector } from '../connectors/salesforce';
import { startSalesforceEmulator } from '../emulators/salesforce/server';
import { buildContext } from '../activities/run-context';
import { openSession, type SfContext, type Session } from '../connectors/salesforce/context';
import { buildCsv, jobSpec, type JobSpec } from '../connectors/salesforce/bulk-csv';
import { createModel, MAPPINGS } from './salesforce';
import { runBuildBench } from './build-bench';

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  return runBuildBench(
    {
      name: 'csvbuild',
      build: buildCsv,
      loadBaseline: async (dir) =>
        ((await import(path.join(dir, 'connectors/salesforce/bulk-csv.ts'))) as { buildCsv: typeof buildCsv }).buildCsv,
      connector: salesforceConnector,
      startEmulator: () => startSalesforceEmulator({ port: 0 }),
      connections: (emu) => ({
        sf: { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' },
      }),
      createModel: (pool, _emu, table, rows) => createModel(pool, table, rows),
      activation: (table) => ({
        source: { table, key: 'id' },
        destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
        mappings: MAPPINGS,
      }),
      context: async (deps, run, fields) => {
        const ctx = buildContext(deps, run, fields) as SfContext;
        const session: Session = { ...(await openSession(ctx)), heartbeat: () => undefined };
        const spec: JobSpec = jobSpec(session.model, 'upsert');
        return { session, spec };
      },
      run: (build, { session, spec }, chunk) => build(session, chunk, spec),
      // The CSV as sent.
      digest: async (built) => ({ rows: built.rows, bytes: await readFile(built.file.path) }),
      dispose: (built) => built.file.dispose(),
    },
    argv,
  );
}
