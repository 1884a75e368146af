/**
 * Shared by the file-build CPU benches (bench/csvbuild.ts, bench/actitobuild.ts): a Postgres of its own
 * and the destination's emulator in this process (no Temporal), a model table put in a delta through the
 * project's own activities (prepareRun, checkDestination, extractModel, computeDelta), the first chunk
 * claimed; then the chunk's file built `repeats` times after one untimed build, read as
 * `ChunkWrite.rows()` reads it (activities/write.ts `pendingRows`), with wall time and this process's CPU
 * per 100,000 rows (median; `all_*` each build) and the sha256 the bench computes of the file.
 *
 * `--baseline <dir>`: a checkout of another commit (with a `node_modules` link): its build function and
 * `pendingRows` are timed too, alternating with this checkout's in the same process on the same delta;
 * `same_csv`, `cpu_ratio` and `wall_ratio` compare the two.
 *
 * A bench gives what differs: the model, the connector and its emulator, the activation's source,
 * destination and mappings, the context its build call needs, the build call, and the hash input.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { startPostgres } from '../scripts/services/postgres';
import { migrateToLatest } from '../db/migrate';
import { createDb, createPool } from '../db/connect';
import { createConnectionResolver, type ConnectionMap } from '../connectors/connections';
import type { SynclineDeps } from '../activities/deps';
import { prepareRun, checkDestination } from '../activities/prepare';
import { extractModel } from '../activities/extract';
import { computeDelta } from '../activities/delta';
import { loadRun, sentFields, type LoadedRun } from '../activities/run-context';
import { pendingRows } from '../activities/write';
import { claimChunk } from '../db/chunks';
import { parseActivationConfig } from '../common/config';
import type { ChunkWrite, DestinationConnector, FieldSpec } from '../connectors/types';
import type { ChunkRange } from '../db/delta';

/** One build function under test: this checkout's or the baseline's, with its `pendingRows`. */
export interface Impl<B> {
  name: 'this' | 'baseline';
  build: B;
  pendingRows: typeof pendingRows;
}

/** What a bench hands back of one built file: its row count, the bytes to hash, a note for the log. */
export interface Digest {
  rows: number;
  bytes: Buffer;
  /** Put in the log line after the row count, e.g. `1234 bytes gzipped`. */
  note?: string;
}

export interface BuildBench<E extends { close(): Promise<void> }, B, C, F> {
  /** The bench's name: the log prefix, the model table `public.bench_<name>` and the activation id. */
  name: string;
  /** This checkout's build function. */
  build: B;
  /** The same function from a checkout of another commit (`dir`, absolute). */
  loadBaseline(dir: string): Promise<B>;
  connector: DestinationConnector<any>;
  startEmulator(): Promise<E>;
  /** The connections the activation names, pointing at the emulator. */
  connections(emu: E): ConnectionMap;
  /** Creates and fills the model table (`rows` rows), and whatever the emulator must hold first. */
  createModel(pool: pg.Pool, emu: E, table: string, rows: number): Promise<void>;
  /** The activation's source, destination and mappings (upsert, manual, thresholds at 100 are added). */
  activation(table: string, rows: number): { source: unknown; destination: unknown; mappings: unknown };
  /** The context the build call needs, made once from the loaded run. */
  context(deps: SynclineDeps, run: LoadedRun, fields: FieldSpec[]): Promise<C>;
  /** The timed call: builds the chunk's file. */
  run(build: B, ctx: C, chunk: ChunkWrite): Promise<F>;
  /** After the timing: the file's bytes to hash (the file is removed after). */
  digest(file: F): Promise<Digest>;
  dispose(file: F): Promise<void>;
}

interface Series {
  wall_ms_per_100k: number[];
  cpu_ms_per_100k: number[];
  sha256: Set<string>;
  rows: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const per100k = (ms: number, n: number) => Math.round((ms / n) * 100_000);

/** `[rows=200000] [repeats=5] [--baseline <dir>]`. */
export function parseBuildArgs(argv: string[]): { rows: number; repeats: number; baselineDir: string | null } {
  const at = argv.indexOf('--baseline');
  const baselineDir = at >= 0 ? path.resolve(argv[at + 1]!) : null;
  const args = argv.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
  return { rows: Number(args[0] ?? 200_000), repeats: Number(args[1] ?? 5), baselineDir };
}

export async function runBuildBench<E extends { close(): Promise<void> }, B, C, F>(
  bench: BuildBench<E, B, C, F>,
  argv: string[],
): Promise<Record<string, unknown>> {
  const log = (msg: string) => console.log(`[bench ${bench.name} ${new Date().toISOString().slice(11, 19)}] ${msg}`);
  const { rows, repeats, baselineDir } = parseBuildArgs(argv);
  const impls: Impl<B>[] = [{ name: 'this', build: bench.build, pendingRows }];
  if (baselineDir) {
    const build = await bench.loadBaseline(baselineDir);
    const w = (await import(path.join(baselineDir, 'activities/write.ts'))) as { pendingRows: typeof pendingRows };
    impls.unshift({ name: 'baseline', build, pendingRows: w.pendingRows });
  }

  const dataDir = path.resolve(__dirname, `../.data/pg-bench-${process.pid}`);
  const pg = await startPostgres({ dataDir, fresh: true, noFsync: true });
  const emu = await bench.startEmulator();
  await migrateToLatest(pg.url);
  const pool = createPool(pg.url, 4);
  const db = createDb(pool);
  try {
    const table = `public.bench_${bench.name}`;
    log(`building a ${rows}-row model`);
    await bench.createModel(pool, emu, table, rows);
    await pool.query(`VACUUM ANALYZE ${table}`);
    const deps: SynclineDeps = {
      pool,
      db,
      stateDbUrl: pg.url,
      connectors: new Map([[bench.connector.kind, bench.connector]]),
      resolveConnection: createConnectionResolver({ stateDbUrl: pg.url, overrides: bench.connections(emu) }),
      client: () => {
        throw new Error('no Temporal client in this benchmark');
      },
    };
    const activationId = `bench_${bench.name}`;
    const parsed = parseActivationConfig({
      id: activationId,
      mode: 'upsert',
      schedule: { manual: true },
      ...bench.activation(table, rows),
      thresholds: { deltaPercent: 100, modelDropPercent: 100 },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const { runId } = await prepareRun(deps, { activationId, runNumber: 1, trigger: 'manual', full: false, config: parsed.config });
    await checkDestination(deps, { runId });
    await extractModel(deps, { runId });
    const delta = await computeDelta(deps, { runId });
    log(`delta ${JSON.stringify(delta.planned)}, chunks ${delta.chunks.length}`);
    const run = await loadRun(deps, runId);
    const fields = sentFields(run);
    const ctx = await bench.context(deps, run, fields);
    const chunkRow = (await claimChunk(db, runId, delta.chunks[0]!))!;
    const range: ChunkRange = { op: 'upsert', from: chunkRow.seq_from, to: chunkRow.seq_to };

    const once = async (impl: Impl<B>) => {
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
      const file = await bench.run(impl.build, ctx, chunk);
      const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
      const c = process.cpuUsage(cpu);
      const d = await bench.digest(file);
      await bench.dispose(file);
      const sha = createHash('sha256').update(d.bytes).digest('hex');
      return { wallMs, cpuMs: (c.user + c.system) / 1000, sha, rows: d.rows, note: d.note };
    };
    const out: Record<string, Series> = {};
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
          `${impl.name} #${i + 1}: ${r.rows} rows, ${r.note ? `${r.note}, ` : ''}${r.wallMs.toFixed(0)} ms wall, ${r.cpuMs.toFixed(0)} ms CPU, sha256 ${r.sha.slice(0, 16)}…`,
        );
      }
    }
    return buildResult(rows, repeats, out, baselineDir !== null);
  } finally {
    await db.destroy();
    await emu.close();
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The RESULT: `rows`, `repeats`, per implementation its medians, and with a baseline the comparison. */
function buildResult(rows: number, repeats: number, out: Record<string, Series>, withBaseline: boolean): Record<string, unknown> {
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
  if (withBaseline) {
    const [a, b] = [out.baseline!, out.this!];
    result.same_csv = a.sha256.size === 1 && b.sha256.size === 1 && [...a.sha256][0] === [...b.sha256][0];
    result.cpu_ratio = Math.round((median(b.cpu_ms_per_100k) / median(a.cpu_ms_per_100k)) * 100) / 100;
    result.wall_ratio = Math.round((median(b.wall_ms_per_100k) / median(a.wall_ms_per_100k)) * 100) / 100;
  }
  return result;
}
