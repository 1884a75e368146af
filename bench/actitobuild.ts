/**
 * `npm run bench -- actitobuild [rows=200000] [repeats=5] [--baseline <dir>]`
 *
 * The CPU of building one Actito import file from a chunk: the actito bench's model (bench/actito.ts
 * `modelSql`: a text key, two texts, a numeric(10,2), a date, a text) is extracted and put in a delta
 * through the project's own activities (Postgres of its own, the Actito emulator in this process for the
 * table's structure; no Temporal), then the chunk's import file (records, GZIP as by default) is built
 * `repeats` times by `buildImportFile` reading the chunk's pages as `ChunkWrite.rows()` does
 * (activities/write.ts `pendingRows`). Figures: milliseconds per 100,000 rows (median) of wall time and of
 * this process's CPU (the gzip on libuv's pool threads included), and the sha256 of the file's CSV
 * (uncompressed: the bytes Actito reads; it must not change).
 *
 * `--baseline <dir>`: a checkout of another commit (with a `node_modules` link): its `buildImportFile`
 * and `pendingRows` are timed too, alternating with this checkout's in the same process, on the same
 * delta; both CSVs' sha256 are reported. The machine is shared: compare the two in one run, not across runs.
 *
 * The setup, the alternating timing and the RESULT are bench/build-bench.ts's.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { actitoConnector } from '../connectors/actito';
import { startActitoEmulator } from '../emulators/actito/server';
import { buildContext } from '../activities/run-context';
import { loadTables, type Ctx } from '../connectors/actito/context';
import { buildImportFile } from '../connectors/actito/bulk-file';
import { createTable, MAPPINGS, modelSql } from './actito';
import { runBuildBench } from './build-bench';

const ACTITO_TABLE = 'bench_orders';

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  return runBuildBench(
    {
      name: 'actitobuild',
      build: buildImportFile,
      loadBaseline: async (dir) =>
        ((await import(path.join(dir, 'connectors/actito/bulk-file.ts'))) as { buildImportFile: typeof buildImportFile }).buildImportFile,
      connector: actitoConnector,
      startEmulator: () => startActitoEmulator({ port: 0 }),
      connections: (emu) => ({ actito: { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity } }),
      createModel: async (pool, emu, table, rows) => {
        await createTable(emu, ACTITO_TABLE);
        await pool.query(modelSql(table), [rows]);
      },
      activation: (table, rows) => ({
        source: { table, key: 'order_id' },
        // One chunk holds every row.
        destination: { kind: 'actito', connection: 'actito', table: ACTITO_TABLE, key: 'orderId', options: { bulkChunkSize: rows } },
        mappings: MAPPINGS,
      }),
      context: async (deps, run, fields) => {
        const ctx = { ...(buildContext(deps, run, fields) as Ctx), heartbeat: () => undefined } as Ctx;
        return { ctx, tables: await loadTables(ctx, ctx.options) };
      },
      run: (build, { ctx, tables }, chunk) => build(ctx, chunk, ctx.options, tables, 'records'),
      // The file's CSV, uncompressed: the bytes Actito reads.
      digest: async (built) => ({ rows: built.rows, bytes: gunzipSync(await readFile(built.path)), note: `${built.bytes} bytes gzipped` }),
      dispose: (built) => rm(built.path, { force: true }),
    },
    argv,
  );
}
