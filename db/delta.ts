/**
 * Delta SQL builders (STYLE.md 12: functions returning `sql` templates, so tests can read the SQL and
 * run it). All the work happens in Postgres: rows never pass through Node to be compared.
 *
 * Pipeline: stage (model rows + key + hash) -> delta (one row per key that must be acted on) ->
 * chunk numbering -> per-chunk reads -> commit into the snapshot.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Change, RowOp } from '../common/sync-modes';
import { deltaTable, stageTable, STAGE_HASH, STAGE_KEY } from './work-tables';

export interface StageSpec {
  runId: string;
  /** `(SELECT ...)` text of the model, or a table name. */
  model: { sql?: string; table?: string };
  keyColumn: string;
  /** Mapped model columns, in hash order (sorted by destination field). */
  columns: string[];
  /** Text that identifies the mapping: part of every hash, so a mapping change re-sends rows. */
  signature: string;
}

function modelFrom(model: StageSpec['model']): RawBuilder<unknown> {
  if (model.sql !== undefined) return sql`(${sql.raw(model.sql.trim().replace(/;\s*$/, ''))})`;
  return sql.table(model.table as string);
}

/** The per-row hash over the mapped fields only (the key is the row's identity, not part of its content). */
export function rowHash(alias: string, columns: string[], signature: string): RawBuilder<unknown> {
  const cols = sql.join(columns.map((c) => sql.ref(`${alias}.${c}`)));
  return sql`md5(${sql.lit(signature)} || row(${cols})::text)::uuid`;
}

/** The SELECT that produces stage rows from the model; used as is (same database) or inside COPY (other database). */
export function stageSelect(spec: StageSpec): RawBuilder<unknown> {
  const uniq = [...new Set(spec.columns)];
  return sql`SELECT (m.${sql.id(spec.keyColumn)})::text AS ${sql.id(STAGE_KEY)}, ${rowHash('m', spec.columns, spec.signature)} AS ${sql.id(STAGE_HASH)}, ${sql.join(uniq.map((c) => sql`m.${sql.id(c)}`))} FROM ${modelFrom(spec.model)} AS m`;
}

/** Same database: the model is copied into the stage by Postgres itself, with no round trip through Node. */
export function createStageAs(spec: StageSpec): RawBuilder<unknown> {
  return sql`CREATE UNLOGGED TABLE ${stageTable(spec.runId)} AS ${stageSelect(spec)}`;
}

export interface DeltaSpec {
  runId: string;
  activationId: string;
  /** (change, op) pairs of the mode table (common/sync-modes.ts). */
  modeRows: Array<{ change: Change; op: RowOp }>;
  /** Full re-sync: stored hashes are ignored, every model row is sent again. */
  full: boolean;
  /** Retry-failed run: only keys whose last write failed. */
  onlyFailed: boolean;
}

/**
 * One row per key to act on. `change` is added | changed | removed, or null_key | duplicate_key for
 * model rows that are rejected (never last-wins). Rows whose last write failed permanently with the
 * same data are `skipped` until their data changes (or a full re-sync / retry-failed run).
 */
export function createDelta(spec: DeltaSpec): RawBuilder<unknown> {
  const modes = sql.join(spec.modeRows.map((m) => sql`(${m.change}, ${m.op})`));
  const full = sql.lit(spec.full);
  const retrying = sql.lit(spec.full || spec.onlyFailed);
  const onlyFailed = spec.onlyFailed
    ? sql`AND EXISTS (SELECT 1 FROM syncline.row_errors f WHERE f.activation_id = ${spec.activationId} AND f.key = j.key)`
    : sql``;
  return sql`CREATE UNLOGGED TABLE ${deltaTable(spec.runId)} AS
WITH g AS (
  SELECT ${sql.id(STAGE_KEY)} AS key, count(*) AS n, any_value(${sql.id(STAGE_HASH)}) AS hash, max(ctid) AS tid
  FROM ${stageTable(spec.runId)} GROUP BY ${sql.id(STAGE_KEY)}
), s AS (
  SELECT key, hash, destination_id FROM syncline.snapshot WHERE activation_id = ${spec.activationId}
), j AS (
  SELECT CASE WHEN g.n IS NULL THEN s.key ELSE g.key END AS key,
    CASE WHEN g.n IS NOT NULL AND g.key IS NULL THEN 'null_key'
         WHEN g.n > 1 THEN 'duplicate_key'
         WHEN g.n IS NULL THEN 'removed'
         WHEN s.key IS NULL THEN 'added'
         ELSE 'changed' END AS change,
    g.n, g.hash, g.tid, s.destination_id
  FROM g FULL JOIN s ON s.key = g.key
  WHERE g.n IS NULL OR g.key IS NULL OR s.key IS NULL OR g.n > 1 OR s.hash <> g.hash OR ${full}
)
SELECT j.key, j.change, m.op, j.n::int AS n, j.hash, j.tid, j.destination_id,
  CASE WHEN j.change IN ('null_key', 'duplicate_key') THEN 'rejected'
       WHEN NOT ${retrying} AND e.key IS NOT NULL THEN 'skipped'
       ELSE 'pending' END AS status,
  NULL::int AS chunk, NULL::text AS code, NULL::text AS message, NULL::boolean AS retryable, NULL::text AS result_id
FROM j
LEFT JOIN (VALUES ${modes}) AS m(change, op) ON m.change = j.change
LEFT JOIN syncline.row_errors e ON e.activation_id = ${spec.activationId} AND e.key = j.key AND NOT e.retryable AND e.hash = j.hash
WHERE (m.op IS NOT NULL OR j.change IN ('null_key', 'duplicate_key')) ${onlyFailed}`;
}

/** Counts of the delta by (change, op, status): small, for the run summary and the deletion guard. */
export function deltaCounts(runId: string): RawBuilder<{ change: string; op: string | null; status: string; rows: string; keys: string }> {
  return sql`SELECT change, op, status, sum(n)::bigint AS rows, count(*)::bigint AS keys FROM ${deltaTable(runId)} GROUP BY change, op, status`;
}

/**
 * Numbers the pending rows into chunks: each op gets its own contiguous chunk numbers starting at
 * `base`, `size` rows each, ordered by the stage's physical order so a chunk reads neighbouring pages.
 */
export function numberChunks(runId: string, plans: Array<{ op: RowOp; base: number; size: number }>): RawBuilder<unknown> {
  const base = sql.join(plans.map((p) => sql`WHEN ${p.op} THEN ${sql.lit(p.base)}`), sql` `);
  const size = sql.join(plans.map((p) => sql`WHEN ${p.op} THEN ${sql.lit(p.size)}`), sql` `);
  return sql`UPDATE ${deltaTable(runId)} d SET chunk = x.chunk FROM (
  SELECT key, (CASE op ${base} END) + ((row_number() OVER (PARTITION BY op ORDER BY tid, key) - 1) / (CASE op ${size} END))::int AS chunk
  FROM ${deltaTable(runId)} WHERE status = 'pending'
) x WHERE d.key = x.key AND d.status = 'pending'`;
}

export function indexDelta(runId: string): RawBuilder<unknown> {
  return sql`CREATE INDEX ON ${deltaTable(runId)} (chunk, key)`;
}

/** One page of a chunk's unacknowledged rows, with the stage values joined by tuple id (no index needed). */
export function chunkPage(opts: { runId: string; activationId: string; chunk: number; columns: string[]; after: string | null; limit: number }): RawBuilder<Record<string, unknown>> {
  const cols = [...new Set(opts.columns)].map((c) => sql`s.${sql.id(c)}`);
  return sql`SELECT d.key AS __key, d.op AS __op, d.destination_id AS __destination_id,
  md5(${opts.activationId} || '/' || d.key || '/' || coalesce(d.hash::text, '')) AS __token, ${sql.join(cols)}
FROM ${deltaTable(opts.runId)} d LEFT JOIN ${stageTable(opts.runId)} s ON s.ctid = d.tid
WHERE d.chunk = ${opts.chunk} AND d.status = 'pending' ${opts.after === null ? sql`` : sql`AND d.key > ${opts.after}`}
ORDER BY d.key LIMIT ${opts.limit}`;
}

export function chunkPendingCount(runId: string, chunk: number): RawBuilder<{ n: string }> {
  return sql`SELECT count(*) AS n FROM ${deltaTable(runId)} WHERE chunk = ${chunk} AND status = 'pending'`;
}

/** Records per-row outcomes; a later result for the same key wins (retries are idempotent). */
export function recordResults(runId: string, r: { keys: string[]; ok: boolean[]; codes: (string | null)[]; messages: (string | null)[]; retryable: (boolean | null)[]; ids: (string | null)[] }): RawBuilder<unknown> {
  return sql`UPDATE ${deltaTable(runId)} d SET status = CASE WHEN r.ok THEN 'ok' ELSE 'failed' END,
  code = r.code, message = r.message, retryable = r.retryable, result_id = r.id
FROM unnest(${r.keys}::text[], ${r.ok}::bool[], ${r.codes}::text[], ${r.messages}::text[], ${r.retryable}::bool[], ${r.ids}::text[]) AS r(key, ok, code, message, retryable, id)
WHERE d.key = r.key AND d.status IN ('pending', 'failed')`;
}
