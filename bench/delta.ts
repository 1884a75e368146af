/**
 * `npm run bench -- delta [rows]`: extract + hash + delta + chunk numbering of a 1,000,000-row model
 * (10 mapped columns; 5% added, 5% changed, 5% removed since the last snapshot), through the
 * project's own activities, against a floor measured in the same run: plain SQL that hashes the same
 * rows and does the same anti-joins, with no project code. Then the same with nothing changed.
 * Each figure is the median of 3 alternating repetitions, with the WAL the project's extract and delta
 * wrote (`wal_mb_per_run`: what a replica or a WAL archive receives). Then the commit of the 5% delta, with the
 * per-row change log and without it (SYNCLINE_ROW_LOG_DAYS=0), alternating: what the log costs.
 */
import { sql } from 'kysely';
import { startBenchServices, peakRssMb } from './support';
import { createDb, createPool } from '../db/connect';
import { createConnectionResolver } from '../connectors/connections';
import { testdbConnector } from '../test/support/testdb-connector';
import type { SynclineDeps } from '../activities/deps';
import { prepareRun, checkDestination } from '../activities/prepare';
import { extractModel, stageSpec } from '../activities/extract';
import { computeDelta } from '../activities/delta';
import { commitRun } from '../activities/commit';
import { loadRun, sentFields } from '../activities/run-context';
import { dropWorkTables } from '../activities/work';
import { rowHash } from '../db/delta';
import { parseActivationConfig } from '../common/config';

const COLS = ['email', 'first_name', 'last_name', 'city', 'country', 'score', 'orders', 'vip', 'birthday', 'updated_at'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t) / 1e9, r];
}

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const rows = Number(args[0] ?? 1_000_000);
  const services = await startBenchServices();
  const pool = createPool(services.pg.url, 4);
  const db = createDb(pool);
  try {
    console.log(`building a ${rows}-row model...`);
    await sql`CREATE TABLE public.bench_model AS SELECT g AS id, 'user' || g || '@example.com' AS email, 'First' || (g % 1000) AS first_name,
      'Last' || (g % 5000) AS last_name, 'City' || (g % 300) AS city, 'BE' AS country, (g % 10000) / 7.0 AS score, g % 50 AS orders,
      g % 10 = 0 AS vip, date '1970-01-01' + (g % 15000) AS birthday, timestamptz '2026-01-01' + g * interval '1 second' AS updated_at
      FROM generate_series(1, ${rows}) g`.execute(db);
    // Vacuumed before any timing: otherwise the first timed reader of the model (the floor) sets every
    // row's hint bits, and autovacuum's pass over the new table lands inside whichever measurement it meets.
    await sql`VACUUM ANALYZE public.bench_model`.execute(db);
    const deps: SynclineDeps = {
      pool,
      db,
      stateDbUrl: services.pg.url,
      connectors: new Map([[testdbConnector.kind, testdbConnector]]),
      resolveConnection: createConnectionResolver({ stateDbUrl: services.pg.url, overrides: { bench: { url: services.pg.url } } }),
      client: () => {
        throw new Error('no Temporal client in this benchmark');
      },
    };
    const parsed = parseActivationConfig({
      id: 'bench',
      mode: 'mirror',
      schedule: { manual: true },
      source: { table: 'public.bench_model', key: 'id' },
      destination: { kind: 'testdb', connection: 'bench', object: 'bench', key: 'ext_id', options: { chunkSize: 2000 } },
      mappings: COLS.map((c) => ({ from: c, to: c })),
      deletionGuard: { maxDeletePercent: 50 },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const config = parsed.config;
    let runNumber = 0;
    const newRun = async () => {
      const { runId } = await prepareRun(deps, { activationId: 'bench', runNumber: ++runNumber, trigger: 'manual', full: false, config });
      await checkDestination(deps, { runId });
      return runId;
    };
    // The snapshot "as last synced": 5% of the model missing (added), 5% with another hash (changed), 5% extra keys (removed).
    // The seed run's stage, made against an empty snapshot, holds every model row.
    const seed = await newRun();
    await extractModel(deps, { runId: seed });
    const setSnapshot = async (changes: boolean) => {
      await sql`DELETE FROM syncline.snapshot WHERE activation_id = 'bench'`.execute(db);
      const s = sql.table(`syncline_work.s_${seed}`);
      await sql`INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at)
        SELECT 'bench', __row_key, CASE WHEN ${changes} AND __row_key::int % 20 = 1 THEN md5('old' || __row_key)::uuid ELSE __row_hash END, 'D' || __row_key, now()
        FROM ${s} WHERE NOT (${changes} AND __row_key::int % 20 = 0)`.execute(db);
      if (changes) {
        await sql`INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at)
          SELECT 'bench', (${rows} + g)::text, md5(g::text)::uuid, 'D' || g, now() FROM generate_series(1, ${Math.round(rows / 20)}) g`.execute(
          db,
        );
      }
      await sql`VACUUM ANALYZE syncline.snapshot`.execute(db);
    };
    const run = await loadRun(deps, seed);
    const spec = stageSpec(run, sentFields(run));
    const floorHash = rowHash('m', spec.columns, spec.signature);
    const floor = async () => {
      await sql`DROP TABLE IF EXISTS floor_h`.execute(db);
      const [s] = await timed(async () => {
        await sql`CREATE UNLOGGED TABLE floor_h AS SELECT m.id::text AS k, ${floorHash} AS h FROM public.bench_model m`.execute(db);
        await sql`SELECT count(*) FROM floor_h f LEFT JOIN syncline.snapshot s ON s.activation_id = 'bench' AND s.key = f.k WHERE s.key IS NULL OR s.hash <> f.h`.execute(
          db,
        );
        await sql`SELECT count(*) FROM syncline.snapshot s WHERE s.activation_id = 'bench' AND NOT EXISTS (SELECT 1 FROM floor_h f WHERE f.k = s.key)`.execute(
          db,
        );
      });
      await sql`DROP TABLE floor_h`.execute(db);
      return s;
    };
    // WAL written by the state database while `fn` runs (every session's: the bench is alone on its Postgres).
    const walBytes = async (fn: () => Promise<void>): Promise<number> => {
      const lsn = async () => (await sql<{ l: string }>`SELECT pg_current_wal_insert_lsn()::text AS l`.execute(db)).rows[0]!.l;
      const before = await lsn();
      await fn();
      const after = await lsn();
      return Number(
        (await sql<{ b: string }>`SELECT pg_wal_lsn_diff(${after}::pg_lsn, ${before}::pg_lsn)::bigint AS b`.execute(db)).rows[0]!.b,
      );
    };
    const project = async () => {
      const runId = await newRun();
      let wal = 0;
      const [s, delta] = await timed(async () => {
        let e = 0;
        wal += await walBytes(async () => {
          [e] = await timed(() => extractModel(deps, { runId }));
        });
        let d = 0;
        let r: Awaited<ReturnType<typeof computeDelta>> | undefined;
        wal += await walBytes(async () => {
          [d, r] = await timed(() => computeDelta(deps, { runId }));
        });
        if (process.env.BENCH_VERBOSE) console.log(`  extract ${e.toFixed(2)} s, delta ${d.toFixed(2)} s`);
        return r!;
      });
      await dropWorkTables(deps, runId);
      return { s, delta, wal };
    };
    const measure = async (label: string) => {
      const floors: number[] = [];
      const projects: number[] = [];
      const wals: number[] = [];
      let last: Awaited<ReturnType<typeof project>>['delta'] | undefined;
      for (let i = 0; i < 3; i++) {
        floors.push(await floor());
        const p = await project();
        projects.push(p.s);
        wals.push(p.wal);
        last = p.delta;
        console.log(
          `${label} #${i + 1}: floor ${floors.at(-1)!.toFixed(2)} s, project ${p.s.toFixed(2)} s, delta ${JSON.stringify(p.delta.planned)}, chunks ${p.delta.chunks.length}`,
        );
      }
      return { floor: median(floors), project: median(projects), delta: last!, walMb: median(wals) / 1048576 };
    };
    await setSnapshot(true);
    const changed = await measure('5% added/changed/removed');
    // The commit of that delta (every row acknowledged), with the per-row change log and without it,
    // alternating; the snapshot is set back before each, outside the timing.
    const commits: Record<'log' | 'nolog', number[]> = { log: [], nolog: [] };
    const deltaTimes: number[] = [];
    for (const kind of ['log', 'nolog', 'log', 'nolog', 'log', 'nolog'] as const) {
      await setSnapshot(true);
      const runId = await newRun();
      await extractModel(deps, { runId });
      const [dt] = await timed(() => computeDelta(deps, { runId }));
      deltaTimes.push(dt);
      await sql`UPDATE ${sql.table(`syncline_work.d_${runId}`)} SET status = 'ok' WHERE status = 'pending'`.execute(db);
      process.env.SYNCLINE_ROW_LOG_DAYS = kind === 'log' ? '14' : '0';
      const [ct] = await timed(() => commitRun(deps, { runId }));
      commits[kind].push(ct);
      console.log(
        `commit #${commits[kind].length} ${kind === 'log' ? 'with' : 'without'} the row log: delta ${dt.toFixed(2)} s, commit ${ct.toFixed(2)} s`,
      );
    }
    delete process.env.SYNCLINE_ROW_LOG_DAYS;
    const commitLog = median(commits.log);
    const commitNoLog = median(commits.nolog);
    const deltaMedian = median(deltaTimes);
    await setSnapshot(false);
    const nochange = await measure('no change');
    const planned = changed.delta.planned;
    return {
      rows,
      floor_s: +changed.floor.toFixed(3),
      project_s: +changed.project.toFixed(3),
      ratio_to_floor: +(changed.project / changed.floor).toFixed(3),
      nochange_floor_s: +nochange.floor.toFixed(3),
      nochange_project_s: +nochange.project.toFixed(3),
      nochange_ratio_to_floor: +(nochange.project / nochange.floor).toFixed(3),
      // WAL the state database wrote for extract + delta (median of the repetitions): what a replica receives.
      wal_mb_per_run: +changed.walMb.toFixed(1),
      nochange_wal_mb_per_run: +nochange.walMb.toFixed(1),
      delta_rows: { upsert: planned.upsert ?? 0, delete: planned.delete ?? 0 },
      chunks: changed.delta.chunks.length,
      commit_s: +commitNoLog.toFixed(3),
      commit_with_row_log_s: +commitLog.toFixed(3),
      row_log_overhead_of_delta_and_commit: +((commitLog - commitNoLog) / (deltaMedian + commitNoLog)).toFixed(3),
      peak_rss_mb: peakRssMb(process.pid),
    };
  } finally {
    await db.destroy();
    await services.stop();
  }
}
