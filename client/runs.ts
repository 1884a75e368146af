/**
 * Run records and row errors as the client reads them from syncline's Postgres (plain
 * functions taking the db first), and the one place that decides which Postgres the CLI uses.
 */
import { startPostgres } from '../scripts/services/postgres';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database';
import type { OpCounts, RunStatus, RunSummary, RunTrigger, RunWarning } from '../common/run';
import type { RowOp } from '../common/sync-modes';
import { LISTING_ERROR_CODES } from '../db/delta';

/** One row of syncline.runs, counts unpacked. */
export interface RunRecord {
  activationId: string;
  runNumber: number;
  trigger: RunTrigger | string;
  full: boolean;
  status: RunStatus | string;
  startedAt: string;
  finishedAt: string | null;
  modelRows: number | null;
  /** Per operation; empty while the run is still running. */
  ops: Partial<Record<RowOp, OpCounts>>;
  rejected: number;
  /** Of `rejected`, rows rejected again unchanged, as already reported (see RunSummary). */
  rejectedUnchanged: number;
  heldDeletes: number;
  /** Rows re-sent within the run, by code (see RunSummary); absent when none. */
  resent?: Record<string, number>;
  warnings: RunWarning[];
  error: string | null;
}

/** The latest failed write of one row (syncline.row_errors keeps one per key). */
export interface RowErrorRecord {
  activationId: string;
  key: string;
  op: string;
  code: string;
  message: string;
  retryable: boolean;
  attempts: number;
  runNumber: number;
  firstSeen: string;
  lastSeen: string;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const parseJson = <T>(v: unknown, fallback: T): T =>
  v === null || v === undefined ? fallback : typeof v === 'string' ? (JSON.parse(v) as T) : (v as T);

/** The newest runs first. */
export async function listRuns(db: Kysely<Database>, activationId: string, limit = 20): Promise<RunRecord[]> {
  const rows = await db
    .selectFrom('syncline.runs')
    .select([
      'activation_id',
      'run_number',
      'trigger',
      'full_resync',
      'status',
      'started_at',
      'finished_at',
      'model_rows',
      'counts',
      'warnings',
      'error',
    ])
    .where('activation_id', '=', activationId)
    .orderBy('run_number', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => {
    const counts = parseJson<{
      ops?: RunRecord['ops'];
      rejected?: number;
      rejectedUnchanged?: number;
      heldDeletes?: number;
      resent?: Record<string, number>;
    }>(r.counts, {});
    return {
      activationId: r.activation_id,
      runNumber: r.run_number,
      trigger: r.trigger,
      full: r.full_resync,
      status: r.status,
      startedAt: iso(r.started_at)!,
      finishedAt: iso(r.finished_at),
      modelRows: r.model_rows === null ? null : Number(r.model_rows),
      ops: counts.ops ?? {},
      rejected: counts.rejected ?? 0,
      rejectedUnchanged: counts.rejectedUnchanged ?? 0,
      heldDeletes: counts.heldDeletes ?? 0,
      ...(counts.resent ? { resent: counts.resent } : {}),
      warnings: parseJson<RunWarning[]>(r.warnings, []),
      error: r.error,
    };
  });
}

/** Row errors, most recently seen first; `run` keeps those last seen in that run. */
export async function listRowErrors(
  db: Kysely<Database>,
  activationId: string,
  opts: { run?: number; limit?: number } = {},
): Promise<RowErrorRecord[]> {
  let q = db.selectFrom('syncline.row_errors').selectAll().where('activation_id', '=', activationId);
  if (opts.run !== undefined) q = q.where('run_number', '=', opts.run);
  const rows = await q
    .orderBy('last_seen', 'desc')
    .orderBy('key')
    .limit(opts.limit ?? 50)
    .execute();
  return rows.map((r) => ({
    activationId: r.activation_id,
    // A listing (a long key's, or the one of the rows without a key) is stored padded with spaces so no model
    // key can be it (db/delta.ts longKeyListing, NULL_KEY): shown, in JSON too, as its text.
    key: LISTING_ERROR_CODES.includes(r.code) ? r.key.trimEnd() : r.key,
    op: r.op,
    code: r.code,
    message: r.message,
    retryable: r.retryable,
    attempts: r.attempts,
    runNumber: r.run_number,
    firstSeen: iso(r.first_seen)!,
    lastSeen: iso(r.last_seen)!,
  }));
}

/** A run summary (workflow result, status query) in the shape of a run record, for one table format. */
export function runRecordFromSummary(s: RunSummary): RunRecord {
  return {
    activationId: s.activationId,
    runNumber: s.runNumber,
    trigger: s.trigger,
    full: s.full,
    status: s.status,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt ?? null,
    modelRows: s.modelRows ?? null,
    ops: s.ops,
    rejected: s.rejected,
    rejectedUnchanged: s.rejectedUnchanged ?? 0,
    heldDeletes: s.heldDeletes,
    ...(s.resent ? { resent: s.resent } : {}),
    warnings: s.warnings,
    error: s.error ? `${s.error.type}: ${s.error.message}` : null,
  };
}

export interface StateDatabase {
  url: string;
  close(): Promise<void>;
}

/**
 * DATABASE_URL when set; else the embedded Postgres in .data/pg: shared when `npm run services` or a
 * worker already runs it, otherwise started for the command (never fresh: nothing is wiped) and
 * stopped on close.
 */
export async function openStateDatabase(): Promise<StateDatabase> {
  const pg = await startPostgres();
  return { url: pg.url, close: () => pg.stop() };
}
