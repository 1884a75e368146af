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
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startPostgres } from '../scripts/services/postgres';
import { migrateToLatest } from '../db/migrate';
import { createDb, createPool } from '../db/connect';
import { createConnectionResolver } from '../connectors/connections';
import { actitoConnector } from '../connectors/actito';
import { startActitoEmulator } from '../emulators/actito/server';
import type { SynclineDeps } from '../activities/deps';
import { prepareRun, checkDestination } from '../activities/prepare';
import { extractModel } from '../activities/extract';
import { computeDelta } from '../activities/delta';
import { buildContext, loadRun, sentFields } from '../activities/run-context';
import { pendingRows } from '../activities/write';
import { claimChunk } from '../db/chunks';
import { parseActivationConfig } from '../common/config';
import { loadTables, type Ctx } from '../connectors/actito/context';
import { buildImportFile } from '../connectors/actito/bulk-file';
import type { ChunkWrite } from '../connectors/types';
import type { ChunkRange } from '../db/delta';
import { createTable, MAPPINGS, modelSql } from './actito';

const log = (msg: string) => console.log(`[bench actitobuild ${new Date().toISOString().slice(11, 19)}] ${msg}`);

interface Impl {
  name: string;
  buildImportFile: typeof buildImportFile;
  pendingRows: typeof pendingRows;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function main(argv: string[]): Promise<Record<string, unknown>> {
  const at = argv.indexOf('--baseline');
  const baselineDir = at >= 0 ? path.resolve(argv[at + 1]!) : null;
  const args = argv.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
  const rows = Number(args[0] ?? 200_000);
  const repeats = Number(args[1] ?? 5);
  const impls: Impl[] = [{ name: 'this', buildImportFile, pendingRows }];
  if (baselineDir) {
    const b = (await import(path.join(baselineDir, 'connectors/actito/bulk-file.ts'))) as { buildImportFile: typeof buildImportFile };
    const w = (await import(path.join(baselineDir, 'activities/write.ts'))) as { pendingRows: typeof pendingRows };
    impls.unshift({ name: 'baseline', buildImportFile: b.buildImportFile, pendingRows: w.pendingRows });
  }

  const dataDir = path.resolve(__dirname, `../.data/pg-bench-${process.pid}`);
  const pg = await startPostgres({ dataDir, fresh: true, noFsync: true });
  const emu = await startActitoEmulator({ port: 0 });
  await migrateToLatest(pg.url);
  const pool = createPool(pg.url, 4);
  const db = createDb(pool);
  try {
    const table = 'public.bench_actitobuild';
    const actitoTable = 'bench_orders';
    log(`building a ${rows}-row model`);
    await createTable(emu, actitoTable);
    await pool.query(modelSql(table), [rows]);
    await pool.query(`VACUUM ANALYZE ${table}`);
    const deps: SynclineDeps = {
      pool,
      db,
      stateDbUrl: pg.url,
      connectors: new Map([[actitoConnector.kind, actitoConnector]]),
      resolveConnection: createConnectionResolver({
        stateDbUrl: pg.url,
        overrides: { actito: { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity } },
      }),
      client: () => {
        throw new Error('no Temporal client in this benchmark');
      },
    };
    const parsed = parseActivationConfig({
      id: 'bench_actitobuild',
      mode: 'upsert',
      schedule: { manual: true },
      source: { table, key: 'order_id' },
      // One chunk holds every row.
      destination: { kind: 'actito', connection: 'actito', table: actitoTable, key: 'orderId', options: { bulkChunkSize: rows } },
      mappings: MAPPINGS,
      thresholds: { deltaPercent: 100, modelDropPercent: 100 },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const { runId } = await prepareRun(deps, {
      activationId: 'bench_actitobuild',
      runNumber: 1,
      trigger: 'manual',
      full: false,
      config: parsed.config,
    });
    await checkDestination(deps, { runId });
    await extractModel(deps, { runId });
    const delta = await computeDelta(deps, { runId });
    log(`delta ${JSON.stringify(delta.planned)}, chunks ${delta.chunks.length}`);
    const run = await loadRun(deps, runId);
    const fields = sentFields(run);
    const ctx = { ...(buildContext(deps, run, fields) as Ctx), heartbeat: () => undefined } as Ctx;
    const tables = await loadTables(ctx, ctx.options);
    const chunkRow = (await claimChunk(db, runId, delta.chunks[0]!))!;
    const range: ChunkRange = { op: 'upsert', from: chunkRow.seq_from, to: chunkRow.seq_to };

    const once = async (impl: Impl) => {
      const chunk = {
        chunkId: `bench/1/${chunkRow.chunk}`,
        chunk: chunkRow.chunk,
        op: 'upsert',
        rowCount: chunkRow.row_count,
        rows: (batchSize = 500) => impl.pendingRows(deps, run, range, fields, batchSize),
        record: async (r: unknown[]) => {
          if (r.length) throw new Error(`a row failed locally: ${JSON.stringify(r[0])}`);
        },
      } as unknown as ChunkWrite;
      const cpu = process.cpuUsage();
      const t = process.hrtime.bigint();
      const built = await impl.buildImportFile(ctx, chunk, ctx.options, tables, 'records');
      const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
      const c = process.cpuUsage(cpu);
      const sha = createHash('sha256')
        .update(gunzipSync(await readFile(built.path)))
        .digest('hex');
      await rm(built.path, { force: true });
      return { wallMs, cpuMs: (c.user + c.system) / 1000, sha, rows: built.rows, bytes: built.bytes };
    };
    const per100k = (ms: number, n: number) => Math.round((ms / n) * 100_000);
    const out: Record<string, { wall_ms_per_100k: number[]; cpu_ms_per_100k: number[]; sha256: Set<string>; rows: number }> = {};
    // One untimed build each first (JIT warm-up, the delta's pages in Postgres's cache).
    for (const impl of impls) await once(impl);
    for (let i = 0; i < repeats; i++) {
      for (const impl of i % 2 === 0 ? impls : [...impls].reverse()) {
        const r = await once(impl);
        const o = (out[impl.name] ??= { wall_ms_per_100k: [], cpu_ms_per_100k: [], sha256: new Set(), rows: r.rows });
        o.wall_ms_per_100k.push(per100k(r.wallMs, r.rows));
        o.cpu_ms_per_100k.push(per100k(r.cpuMs, r.rows));
        o.sha256.add(r.sha);
        log(
          `${impl.name} #${i + 1}: ${r.rows} rows, ${r.bytes} bytes gzipped, ${r.wallMs.toFixed(0)} ms wall, ${r.cpuMs.toFixed(0)} ms CPU, sha256 ${r.sha.slice(0, 16)}…`,
        );
      }
    }
    const result: Record<string, unknown> = { rows, repeats };
    for (const [name, o] of Object.entries(out))
      result[name] = {
        rows: o.rows,
        wall_ms_per_100k: median(o.wall_ms_per_100k),
        cpu_ms_per_100k: median(o.cpu_ms_per_100k),
        all_wall: o.wall_ms_per_100k,
        all_cpu: o.cpu_ms_per_100k,
        sha256: [...o.sha256],
      };
    if (baselineDir) {
      const [a, b] = [out.baseline!, out.this!];
      result.same_csv = a.sha256.size === 1 && b.sha256.size === 1 && [...a.sha256][0] === [...b.sha256][0];
      result.cpu_ratio = Math.round((median(b.cpu_ms_per_100k) / median(a.cpu_ms_per_100k)) * 100) / 100;
      result.wall_ratio = Math.round((median(b.wall_ms_per_100k) / median(a.wall_ms_per_100k)) * 100) / 100;
    }
    return result;
  } finally {
    await db.destroy();
    await emu.close();
    await pg.stop();
    const fs = await import('node:fs');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
