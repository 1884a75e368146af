/**
 * Delta SQL builders (functions returning `sql` templates, so tests can read the SQL and
 * run it). All the work happens in Postgres: rows never pass through Node to be compared.
 *
 * Pipeline: stage (model rows + key + hash) -> delta (one row per key that must be acted on) ->
 * chunk numbering -> per-chunk reads -> commit into the snapshot.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import pg from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Change, RowOp } from '../common/sync-modes';
import {
  deltaTable,
  stageName,
  stageTable,
  stageTableName,
  ROW_CHANGE,
  ROW_DESTINATION_ID,
  ROW_HASH,
  ROW_KEY,
  ROW_MODEL_TID,
  ROW_N,
  STAGE_HASH,
  STAGE_KEY,
  STAGE_STORAGE,
} from './work-tables';
import type { Database } from './database';
import { ROW_ERROR_CODES } from '../common/errors';
import { withoutSecrets } from '../common/redact';

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
  // On lines of their own: a model ending in a "--" comment must not swallow the closing parenthesis.
  if (model.sql !== undefined) return sql`(\n${sql.raw(model.sql.trim().replace(/;\s*$/, ''))}\n)`;
  return sql.table(model.table as string);
}

/** The per-row hash over the mapped fields only (the key is the row's identity, not part of its content). */
export function rowHash(alias: string, columns: string[], signature: string): RawBuilder<unknown> {
  // sql.id, not sql.ref: a column may be named "customer.email" (sql.ref would read a table "customer").
  const cols = sql.join(columns.map((c) => sql.id(alias, c)));
  return sql`md5(${sql.lit(signature)} || row(${cols})::text)::uuid`;
}

/** The SELECT that produces stage rows from the model, run inside `COPY (...) TO STDOUT` on the model's database. */
export function stageSelect(spec: StageSpec): RawBuilder<unknown> {
  const uniq = [...new Set(spec.columns)];
  return sql`SELECT (m.${sql.id(spec.keyColumn)})::text AS ${sql.id(STAGE_KEY)}, ${rowHash('m', spec.columns, spec.signature)} AS ${sql.id(STAGE_HASH)}, ${sql.join(uniq.map((c) => sql`m.${sql.id(c)}`))} FROM ${modelFrom(spec.model)} AS m`;
}

/**
 * The longest model key a run sends, in bytes. The key is indexed: by the snapshot's and row_errors'
 * primary keys (after the activation id, up to 100 bytes), by the delta's key index and by a large
 * model's unique index; a Postgres btree entry holds at most 2,704 bytes, and a longer one fails the
 * statement, and with it the whole run. A longer key is rejected alone (`long_key`, MODEL_KEY_TOO_LONG)
 * and listed under its `longKeyListing`, unless the state already holds it (a snapshot row, or a row error
 * by its whole key: a write sent without an answer, or refused: a key that compressed into those indexes
 * before this limit): that one syncs as before, so it is never taken for removed.
 */
export const MAX_KEY_BYTES = 2000;

/**
 * The row_errors key under which releases before `NULL_KEY` listed every model row without a key: a
 * model key can be that text, and the commit's insert then met it twice and failed every run.
 */
export const LEGACY_NULL_KEY = '(null)';

/**
 * The row_errors key of the one entry that stands for every model row without a key: `(null)` padded
 * with spaces to MAX_KEY_BYTES + 1 characters, like `longKeyListing`, so that no key listed by itself can
 * be it. An entry an earlier release stored under LEGACY_NULL_KEY is still found (`markRejectedUnchanged`)
 * and replaced by the next commit of a run that saw the whole model.
 */
export const NULL_KEY = LEGACY_NULL_KEY.padEnd(MAX_KEY_BYTES + 1, ' ');

/**
 * Row error codes of listings that are not a model key's own (`NULL_KEY`, `longKeyListing`, and their legacy
 * forms): stored padded, shown without the padding (client/runs.ts).
 */
export const LISTING_ERROR_CODES: readonly string[] = [ROW_ERROR_CODES.keyTooLong, ROW_ERROR_CODES.nullKey];
const LISTING_CODES = sql`(${sql.join(LISTING_ERROR_CODES)})`;

/**
 * How releases before `longKeyListing` listed a key longer than MAX_KEY_BYTES: its first 40 characters,
 * its length and the md5 of the whole key, e.g. `0a1b...(3000 bytes, md5 9e10...)`, at most about 230
 * bytes. A model key can be exactly that text, and was then listed under the same row_errors key as the
 * long one: the commit's insert met the key twice and failed every run. The row errors those releases
 * stored under it are still found (`markRejectedUnchanged`), and taken for no model key's own (`createDelta`).
 */
export function legacyKeyListing(key: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(left(${key}, 40) || '...(' || octet_length(${key}) || ' bytes, md5 ' || md5(${key}) || ')')`;
}

/**
 * The row_errors and row log key of a key longer than MAX_KEY_BYTES: `legacyKeyListing`'s text (the key's
 * first 40 characters, its length, its md5), padded with spaces to MAX_KEY_BYTES + 1 characters. A key a
 * run lists by itself has at most MAX_KEY_BYTES bytes, so fewer characters: no model key can be another's
 * listing (and a model key over the limit equal to one is long itself, listed by its own md5). rtrim of
 * the listing is the legacy text: messages show that. At most about 2,130 bytes (40 four-byte characters),
 * which fits an index entry; the spaces compress to nearly nothing in the table and in the indexes.
 * Two long keys share a listing only if they share their first 40 characters, their length and their md5.
 * The one other way to meet a listing twice: a key of exactly that text, over the limit, that the state
 * holds (a snapshot row a release before the limit wrote), so listed by itself; no release wrote this form
 * before this one.
 */
export function longKeyListing(key: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`rpad(${legacyKeyListing(key)}, ${sql.lit(MAX_KEY_BYTES + 1)}, ' ')`;
}

/**
 * Proves the model keys unique with a unique index on the model's rows (`rows`: the temporary table the
 * extract filled, or an earlier release's stage), in byte order: cheaper than grouping 1M keys. It fails
 * with unique_violation (23505) when a key repeats (ignoring case, `keyIgnoresCase`: `keyGroup`); `createStage` then
 * lists the repeats. A key over
 * MAX_KEY_BYTES is indexed by its `longKeyListing` (an index entry holds at most 2,704 bytes), which no
 * shorter key can equal: equal keys still collide; two long keys with one md5 would only send the stage
 * the way of repeated keys, which finds none.
 */
export function uniqueKeyIndex(rows: RawBuilder<unknown>, keyMatch?: KeyMatch): RawBuilder<unknown> {
  const k = sql.id(STAGE_KEY);
  return sql`CREATE UNIQUE INDEX ON ${rows} ((CASE WHEN octet_length(${k}) <= ${sql.lit(MAX_KEY_BYTES)} THEN ${keyGroup(k, keyMatch)} ELSE ${longKeyListing(k)} END) COLLATE "C")`;
}

/**
 * How the destination matches keys where it does not compare them as text, from the key's `FieldSpec` (the
 * connector's check): without regard to case (`keyIgnoresCase`: 'K-1' and 'k-1' are one record), or as numbers
 * (`keyNumber`: '1.50' and '1.5' are one record, rounded first to the field's scale). Keys one record there are
 * one key for the delta: repeats in the model (`keyGroup`), and a removed key's variant (`keepCaseVariants`).
 */
export type KeyMatch = { kind: 'case' } | { kind: 'number'; scale: number | null };

/** A key in the destination's form (`KeyMatch`): `syncline.fold_key` for case, `syncline.number_key` for numbers. */
export function matchForm(key: RawBuilder<unknown>, m: KeyMatch): RawBuilder<unknown> {
  return m.kind === 'number' ? sql`syncline.number_key(${key}, ${sql.lit(m.scale)})` : sql`syncline.fold_key(${key})`;
}

/** How many decimals a number key keeps, for messages: ' (4 decimals)', ' (no decimals)', '' (an integer field). */
export function decimalsNote(m: Extract<KeyMatch, { kind: 'number' }>): string {
  return m.scale === null ? '' : m.scale === 0 ? ' (no decimals)' : ` (${m.scale} decimal${m.scale === 1 ? '' : 's'})`;
}

/**
 * What makes two model keys one (`StageBuild.keyIgnoresCase`): the key itself, or, where the destination matches
 * keys without regard to case, the key in lower case ('K-1' and 'k-1' are one record there: both rejected, as a
 * repeated key is). `syncline.fold_key` as keepCaseVariants compares them: lower case under a Unicode-aware collation
 * (migration 20261207T2000-fold-key), not `lower()`, which follows the database's ctype ('É' stays 'É' under ctype C).
 */
function keyGroup(key: RawBuilder<unknown>, keyMatch: KeyMatch | undefined): RawBuilder<unknown> {
  return keyMatch ? matchForm(key, keyMatch) : key;
}

/**
 * The group of a model key where the key ignores case, as `uniqueKeyIndex` tells them apart: a key up to
 * MAX_KEY_BYTES folded (`keyGroup`), a longer one as it is (the index keys it by its `longKeyListing`, the md5 of the key
 * itself). Grouping long keys in lower case too gave a small model's stage (`SMALL_STAGE_ROWS`) another hash for them
 * than a large one's: their rejection reported anew once the model grew past it.
 */
function caseGroup(key: RawBuilder<unknown>, m: KeyMatch): RawBuilder<unknown> {
  return sql`CASE WHEN octet_length(${key}) <= ${sql.lit(MAX_KEY_BYTES)} THEN ${matchForm(key, m)} ELSE ${key} END`;
}

/**
 * The content hash of a group of stage rows (the rows of one repeated key, or every row without a key):
 * it changes when any of them changes, and no single row has it.
 */
export function groupHash(hash: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`md5(string_agg(${hash}::text, ',' ORDER BY ${hash}::text))::uuid`;
}

export interface StageBuild {
  runId: string;
  activationId: string;
  /** The model's rows (`stageSelect`'s columns): a temporary table of the extract's session, or an earlier release's stage being remade. */
  rows: RawBuilder<unknown>;
  /** The table to create (the run's stage, `stageTable`). */
  target: RawBuilder<unknown>;
  /** The model columns the rows carry (`StageSpec.columns`). */
  columns: string[];
  /** Full re-sync: every model row is kept, whatever the snapshot holds. */
  full: boolean;
  /** The model repeats some keys (`uniqueKeyIndex` failed). */
  hasDups: boolean;
  /**
   * The destination matches keys without regard to case (`FieldSpec.keyIgnoresCase`) or as numbers
   * (`FieldSpec.keyNumber`): keys one record there are repeats of one key (`keyGroup`), each spelling rejected as
   * `duplicate_key`.
   */
  keyMatch?: KeyMatch;
  /** The join carries the model's columns, instead of reading the kept rows' values after it by tuple id (`CARRY_STAGE_ROWS`). */
  carry?: boolean;
}

/**
 * The run's stage: the model's rows the run may act on, and the keys it may remove, found by one hash
 * full join of the model's rows with the activation's snapshot. A row unchanged since the snapshot (same
 * key, same hash, answered and complete) is left out: at 5 % changed the stage is a tenth of the model,
 * and it is the only copy of the model's rows that is WAL-logged (the rows themselves were read into a
 * temporary table). Each row carries its change (added | changed | removed, or null_key | long_key |
 * duplicate_key for model rows that are rejected, never last-wins: a duplicated key is neither sent nor
 * deleted, and its row carries the hash of the key's whole group (where the key ignores case, `keyIgnoresCase`, a
 * group is every spelling of the key: one row a spelling, its rows counted in `n`, each with the group's hash); a key over MAX_KEY_BYTES the state does
 * not hold yet is listed by its `longKeyListing`), the snapshot's destination id, and its place in
 * the model (`__model_tid`). Which change becomes which operation is decided after, by `createDelta`.
 */
export function createStage(b: StageBuild): RawBuilder<unknown> {
  const full = sql.lit(b.full);
  const k = sql.ref(`st.${STAGE_KEY}`);
  const h = sql.ref(`st.${STAGE_HASH}`);
  const uniq = [...new Set(b.columns)];
  // Grouped twice: the cheap count finds the few repeated keys, only their rows are hashed together. Where the key
  // ignores case, a group is every spelling of one key folded (`keyGroup`): each spelling is a row of dd (its rows
  // counted, the last standing for them), all of them with the hash of the whole group.
  const ic = b.keyMatch;
  const dups = b.hasDups
    ? ic
      ? sql`dk AS (
  SELECT ${caseGroup(sql.id(STAGE_KEY), ic)} AS g FROM ${b.rows} WHERE ${sql.id(STAGE_KEY)} IS NOT NULL GROUP BY 1 HAVING count(*) > 1
), dr AS MATERIALIZED (
  SELECT x.${sql.id(STAGE_KEY)} AS key, x.ctid AS tid, x.${sql.id(STAGE_HASH)} AS hash, dk.g FROM dk JOIN ${b.rows} x ON ${caseGroup(sql.ref(`x.${STAGE_KEY}`), ic)} = dk.g
), dd AS (
  SELECT dr.key, count(*)::int AS n, max(dr.tid) AS tid, dg.hash FROM dr JOIN (SELECT g, ${groupHash(sql.ref('hash'))} AS hash FROM dr GROUP BY g) dg ON dg.g = dr.g
  GROUP BY dr.key, dg.hash
), `
      : sql`dk AS (
  SELECT ${sql.id(STAGE_KEY)} AS key, count(*)::int AS n, max(ctid) AS tid FROM ${b.rows} WHERE ${sql.id(STAGE_KEY)} IS NOT NULL GROUP BY 1 HAVING count(*) > 1
), dd AS (
  SELECT dk.key, dk.n, dk.tid, ${groupHash(sql.ref(`x.${STAGE_HASH}`))} AS hash FROM dk JOIN ${b.rows} x ON x.${sql.id(STAGE_KEY)} = dk.key GROUP BY dk.key, dk.n, dk.tid
), `
    : sql``;
  const dupJoin = b.hasDups ? sql`LEFT JOIN dd ON dd.key = ${k}` : sql``;
  const isDup = b.hasDups ? sql`dd.key IS NOT NULL` : sql`false`;
  // Of a repeated key, one model row stands for all of them.
  const oneOfDup = b.hasDups ? sql`AND (dd.key IS NULL OR st.ctid = dd.tid)` : sql``;
  // Too long to index, and not a key the state holds (MAX_KEY_BYTES): in no snapshot row, and in no row error
  // by its whole key (a write an earlier release sent: unanswered, or refused after a lost write that may have
  // made the record). Not a MODEL_KEY_TOO_LONG or MODEL_NULL_KEY error: that is a listing (another long key's, or
  // of the rows without a key), which this key is character for character; the state does not hold this one. Looked up for a long key only: AND stops at the length.
  const long = sql`(s.key IS NULL AND octet_length(${k}) > ${sql.lit(MAX_KEY_BYTES)}
    AND NOT EXISTS (SELECT 1 FROM syncline.row_errors r WHERE r.activation_id = ${b.activationId} AND r.key = ${k} AND r.code NOT IN ${LISTING_CODES}))`;
  return sql`CREATE TABLE ${b.target} ${sql.raw(STAGE_STORAGE)} AS
WITH s AS (
  SELECT key, hash, destination_id, unconfirmed, incomplete FROM syncline.snapshot WHERE activation_id = ${b.activationId}
), ${dups}lost AS (
  -- A new key sent without an answer (a run that never committed) that has since left the model: the
  -- lost write may have created a record no snapshot row stands for. It counts as removed, so Mirror
  -- deletes it by key (nothing to delete is a success); other modes never see it.
  SELECT u.key FROM syncline.row_errors u
  WHERE u.activation_id = ${b.activationId} AND u.code = ${ROW_ERROR_CODES.notAcknowledged} AND u.op IN ('create', 'upsert')
    -- The snapshot table itself, not the CTE s: a CTE used twice is materialized (a copy of the whole snapshot).
    AND NOT EXISTS (SELECT 1 FROM syncline.snapshot s2 WHERE s2.activation_id = ${b.activationId} AND s2.key = u.key)
    AND NOT EXISTS (SELECT 1 FROM ${b.rows} st WHERE ${k} = u.key)
), j AS (
  SELECT CASE WHEN ${h} IS NULL THEN s.key WHEN ${long} THEN ${longKeyListing(k)} ELSE ${k} END AS ${sql.id(ROW_KEY)},
    CASE WHEN ${h} IS NOT NULL AND ${k} IS NULL THEN 'null_key'
         WHEN ${long} THEN 'long_key'
         WHEN ${isDup} THEN 'duplicate_key'
         WHEN ${h} IS NULL THEN 'removed'
         WHEN s.key IS NULL THEN 'added'
         ELSE 'changed' END AS ${sql.id(ROW_CHANGE)},
    ${b.hasDups ? sql`coalesce(dd.n, 1)` : sql`1`} AS ${sql.id(ROW_N)}, ${b.hasDups ? sql`coalesce(dd.hash, ${h})` : h} AS ${sql.id(ROW_HASH)},
    st.ctid AS ${sql.id(ROW_MODEL_TID)}, s.destination_id AS ${sql.id(ROW_DESTINATION_ID)}${b.carry ? sql`, ${sql.join(uniq.map((c) => sql`st.${sql.id(c)}`))}` : sql``}
  FROM ${b.rows} st FULL JOIN s ON s.key = ${k}
  ${dupJoin}
  -- A row sent without an answer (a run that never committed) is in an unknown state at the destination:
  -- it is kept even when the model came back to the snapshot's content. So is a row written incomplete
  -- (s.incomplete), to the record it wrote (its destination_id).
  LEFT JOIN (SELECT key FROM syncline.row_errors WHERE activation_id = ${b.activationId} AND code = ${ROW_ERROR_CODES.notAcknowledged}) u
    ON u.key = coalesce(${k}, s.key)
  WHERE (${h} IS NULL OR ${k} IS NULL OR s.key IS NULL OR s.hash <> ${h} OR ${full} OR ${isDup} OR u.key IS NOT NULL OR s.unconfirmed OR s.incomplete) ${oneOfDup}
)
-- Unless carry is set, the join carries only keys, hashes and tuple ids; the values of the rows kept are then
-- read by tuple id (OFFSET 0 keeps it a look-up per kept row). Carrying every model column through the join
-- made its hash table and the batches it spills wide: 17.4-19.5 s against 19.5-22.7 s for that statement at
-- 10,000,000 rows, 5 % changed (a scratch Postgres, alternating). Not so when every row is kept: CARRY_STAGE_ROWS.
${
  b.carry
    ? sql`SELECT * FROM j`
    : sql`SELECT j.*, ${sql.join(uniq.map((c) => sql`m.${sql.id(c)}`))}
FROM j LEFT JOIN LATERAL (SELECT * FROM ${b.rows} m WHERE m.ctid = j.${sql.id(ROW_MODEL_TID)} OFFSET 0) m ON true`
}
UNION ALL
SELECT key, 'removed', 1, NULL, NULL, NULL, ${sql.join(uniq.map(() => sql`NULL`))} FROM lost`;
}

/** The changes of model rows rejected before any write: listed, never sent. */
const REJECTED_CHANGES = sql`('null_key', 'long_key', 'duplicate_key')`;

export interface DeltaSpec {
  runId: string;
  activationId: string;
  /** (change, op) pairs of the mode table (common/sync-modes.ts). */
  modeRows: Array<{ change: Change; op: RowOp }>;
  /** Full re-sync: stored hashes are ignored, every model row is sent again. */
  full: boolean;
  /** Retry-failed run: only keys whose last write failed. */
  onlyFailed: boolean;
  /** Rows whose last write failed permanently are sent again (not skipped), among the others. */
  retryFailed?: boolean;
  /** For a stage an earlier release made (`buildDelta`): `StageBuild.keyMatch`. */
  keyMatch?: KeyMatch;
}

/**
 * One row per stage row to act on (null keys: one row per model row), its operation from the mode table.
 * Rows whose last write failed permanently with the same data are `skipped` until their data changes
 * (or a full re-sync / retry-failed run). `tid` points at the row's values in the stage (NULL for a
 * removed key: it has none).
 */
export function createDelta(spec: DeltaSpec): RawBuilder<unknown> {
  const modes = sql.join(spec.modeRows.map((m) => sql`(${m.change}, ${m.op})`));
  const retrying = sql.lit(spec.full || spec.onlyFailed || !!spec.retryFailed);
  const key = sql.ref(`st.${ROW_KEY}`);
  const change = sql.ref(`st.${ROW_CHANGE}`);
  const modelTid = sql.ref(`st.${ROW_MODEL_TID}`);
  // A MODEL_KEY_TOO_LONG error is a long key's, a MODEL_NULL_KEY one the rows' without a key: releases before
  // `longKeyListing` and `NULL_KEY` stored them under text a model key can be, which has no error of its own.
  // The rows without a key are met together when their listing (NULL_KEY) stands: the run counts them still
  // rejected and lists them as one, with the group's hash, as a run over the whole model does (without them a
  // retry-failed run counted "0 rejected" beside an open MODEL_NULL_KEY entry). A legacy '(null)' entry is not met.
  const onlyFailed = spec.onlyFailed
    ? sql`AND (EXISTS (SELECT 1 FROM syncline.row_errors f WHERE f.activation_id = ${spec.activationId} AND f.key = ${key}
    AND (f.code NOT IN ${LISTING_CODES} OR ${change} = 'long_key'))
  OR (${change} = 'null_key' AND EXISTS (SELECT 1 FROM syncline.row_errors f WHERE f.activation_id = ${spec.activationId}
    AND f.key = ${NULL_KEY} AND f.code = ${ROW_ERROR_CODES.nullKey})))`
    : sql``;
  // Half-full pages: the answers recorded later (status, result id) then fit beside each row's old
  // version (a HOT update: no new page, no index entry). Full pages sent every answered row to the end
  // of the table and into both indexes, two thirds of the time of recording a large bulk job.
  // No parallel workers: for a large chunk Postgres planned each page (chunkPage) as a parallel index
  // scan and spent some 20 ms starting a worker for about 1 ms of work (200 pages of a 200,000-row job:
  // 4 s of its CSV build). On the table, this holds for every query without a transaction per page.
  return sql`CREATE TABLE ${deltaTable(spec.runId)} WITH (fillfactor = 50, parallel_workers = 0) AS
SELECT ${key} AS key, ${change} AS change, m.op, st.${sql.id(ROW_N)} AS n, st.${sql.id(ROW_HASH)} AS hash,
  CASE WHEN ${modelTid} IS NOT NULL THEN st.ctid END AS tid, st.${sql.id(ROW_DESTINATION_ID)} AS destination_id,
  CASE WHEN ${change} IN ${REJECTED_CHANGES} THEN 'rejected'
       WHEN NOT ${retrying} AND e.key IS NOT NULL THEN 'skipped'
       ELSE 'pending' END AS status,
  -- Position within its op: chunks are later cut as seq ranges, so numbering needs no second pass. The
  -- order is total (model rows in the model's order, removed keys after them by key), so a retried delta
  -- numbers every row as the first attempt did, whatever join Postgres picks.
  (CASE WHEN m.op IS NOT NULL THEN row_number() OVER (PARTITION BY m.op ORDER BY ${modelTid}, ${key} COLLATE "C") END)::int AS seq,
  NULL::text AS code, NULL::text AS message, NULL::boolean AS retryable, NULL::text AS result_id,
  -- A removed key kept for its case variant: the variant's key (keepCaseVariants).
  NULL::text AS variant
FROM ${stageTable(spec.runId)} st
LEFT JOIN (VALUES ${modes}) AS m(change, op) ON m.change = ${change}
LEFT JOIN syncline.row_errors e ON e.activation_id = ${spec.activationId} AND e.key = ${key} AND NOT e.retryable AND e.hash = st.${sql.id(ROW_HASH)}
WHERE (m.op IS NOT NULL OR ${change} IN ${REJECTED_CHANGES}) ${onlyFailed}`;
}

/**
 * Rejected rows already reported with the same reason and the same content (their row error carries the
 * group's hash) become `rejected_unchanged`: still rejected and listed, but no new failure of this run.
 * A long key's error is found under its listing or, stored by a release before `longKeyListing`, under
 * the legacy one (rtrim of the listing), the rows' without a key under NULL_KEY or LEGACY_NULL_KEY; the
 * commit of a run that saw the whole model then lists it anew and clears the legacy entry (a retry-failed
 * run does not meet the key: it leaves the entry as it is).
 */
export function markRejectedUnchanged(runId: string, activationId: string): RawBuilder<unknown> {
  const d = deltaTable(runId);
  const nullKeys = sql`(SELECT ${groupHash(sql.ref('x.hash'))} FROM ${d} x WHERE x.change = 'null_key')`;
  return sql`UPDATE ${d} d SET status = 'rejected_unchanged' FROM syncline.row_errors e
WHERE d.status = 'rejected' AND e.activation_id = ${activationId} AND NOT e.retryable
  AND ((d.change = 'duplicate_key' AND e.key = d.key AND e.code = ${ROW_ERROR_CODES.duplicateKey} AND e.hash = d.hash)
    OR (d.change = 'long_key' AND (e.key = d.key OR e.key = rtrim(d.key, ' ')) AND e.code = ${ROW_ERROR_CODES.keyTooLong} AND e.hash = d.hash)
    OR (d.change = 'null_key' AND e.key IN (${NULL_KEY}, ${LEGACY_NULL_KEY}) AND e.code = ${ROW_ERROR_CODES.nullKey} AND e.hash = ${nullKeys}))`;
}

/** Counts of the delta by (change, op, status): small, for the run summary and the deletion guard. */
export function deltaCounts(runId: string): RawBuilder<{ change: string; op: string | null; status: string; rows: string; keys: string }> {
  return sql`SELECT change, op, status, sum(n)::bigint AS rows, count(*)::bigint AS keys FROM ${deltaTable(runId)} GROUP BY change, op, status`;
}

/** A chunk: the rows of one op whose seq falls in [from, to]. */
export interface ChunkRange {
  op: RowOp;
  from: number;
  to: number;
}

export function inChunk(r: ChunkRange, alias = ''): RawBuilder<unknown> {
  const a = alias ? sql.raw(`${alias}.`) : sql``;
  return sql`${a}op = ${r.op} AND ${a}seq BETWEEN ${r.from} AND ${r.to}`;
}

/**
 * Cuts each op's pending rows into chunks of `size` by their rank in seq order, each chunk the seq range
 * of its rows: `size` pending rows a chunk (the last fewer), as many chunks as the connector planned for
 * the pending count it was given. Rows of other statuses (skipped) inside a range are not read (chunk
 * reads take pending rows only). A retried delta numbers and marks rows alike, so it cuts the same chunks.
 */
export function chunkRanges(
  runId: string,
  plans: Array<{ op: RowOp; size: number }>,
  onlyPending = false,
): RawBuilder<{ op: RowOp; k: number; from: number; to: number; pending: string }> {
  const size = sql.join(
    plans.map((p) => sql`WHEN ${p.op} THEN ${sql.lit(p.size)}`),
    sql` `,
  );
  // Every row of these ops pending (the usual case): a row's rank is its seq, and grouping needs no
  // window (2.3 s against 5.5 s for 10,000,000 rows, measured in a scratch Postgres).
  if (onlyPending)
    return sql`SELECT op, ((seq - 1) / (CASE op ${size} END))::int AS k, min(seq) AS "from", max(seq) AS "to", count(*) AS pending
FROM ${deltaTable(runId)} WHERE op IN (${sql.join(plans.map((p) => p.op))}) GROUP BY 1, 2 ORDER BY 1, 2`;
  return sql`SELECT op, ((pos - 1) / (CASE op ${size} END))::int AS k, min(seq) AS "from", max(seq) AS "to", count(*) AS pending
FROM (SELECT op, seq, row_number() OVER (PARTITION BY op ORDER BY seq) AS pos FROM ${deltaTable(runId)}
  WHERE op IN (${sql.join(plans.map((p) => p.op))}) AND status = 'pending') p
GROUP BY 1, 2 ORDER BY 1, 2`;
}

export function indexDelta(runId: string): RawBuilder<unknown>[] {
  return [sql`CREATE INDEX ON ${deltaTable(runId)} (op, seq)`, sql`CREATE INDEX ON ${deltaTable(runId)} (key)`];
}

/** What a chunk read returns of a delta row `d` and its stage row `s`, the row's idempotency token included. */
function pendingRowColumns(activationId: string, columns: string[]): RawBuilder<unknown> {
  const cols = [...new Set(columns)].map((c) => sql`s.${sql.id(c)}`);
  return sql`d.seq AS __seq, d.key AS __key, d.op AS __op, d.destination_id AS __destination_id,
  md5(${activationId} || '/' || d.key || '/' || coalesce(d.hash::text, '')) AS __token, ${sql.join(cols)}`;
}

/** One page of a chunk's unacknowledged rows, with the stage values joined by tuple id (no index needed). */
export function chunkPage(opts: {
  runId: string;
  activationId: string;
  range: ChunkRange;
  columns: string[];
  after: number | null;
  limit: number;
}): RawBuilder<Record<string, unknown>> {
  return sql`SELECT ${pendingRowColumns(opts.activationId, opts.columns)}
FROM ${deltaTable(opts.runId)} d LEFT JOIN ${stageTable(opts.runId)} s ON s.ctid = d.tid
WHERE ${inChunk(opts.range, 'd')} AND d.status = 'pending' ${opts.after === null ? sql`` : sql`AND d.seq > ${opts.after}`}
ORDER BY d.seq LIMIT ${opts.limit}`;
}

/**
 * The chunk's pending rows, one per distinct non-empty text of `distinct` (the row latest in delta
 * order wins), ordered by that text: for destinations that need one line per value (Actito's profile
 * import). Meant for a cursor: one sort in Postgres, read page by page.
 */
export function chunkDistinct(opts: {
  runId: string;
  activationId: string;
  range: ChunkRange;
  columns: string[];
  distinct: string;
}): RawBuilder<Record<string, unknown>> {
  const by = sql`(s.${sql.id(opts.distinct)})::text`;
  return sql`SELECT DISTINCT ON (${by}) ${pendingRowColumns(opts.activationId, opts.columns)}
FROM ${deltaTable(opts.runId)} d JOIN ${stageTable(opts.runId)} s ON s.ctid = d.tid
WHERE ${inChunk(opts.range, 'd')} AND d.status = 'pending' AND ${by} <> ''
ORDER BY ${by}, d.seq DESC`;
}

export function chunkStatusCounts(runId: string, range: ChunkRange): RawBuilder<{ status: string; retryable: boolean | null; n: string }> {
  return sql`SELECT status, retryable, count(*) AS n FROM ${deltaTable(runId)} WHERE ${inChunk(range)} GROUP BY status, retryable`;
}

/**
 * Marks every row of a chunk still pending as written, in one statement: for a bulk job whose report
 * names no failed row, so the rows need not travel through Node again. `idIsKey`: the destination's
 * record id is the key itself (a business key sent verbatim).
 */
export function settlePending(runId: string, range: ChunkRange, idIsKey: boolean): RawBuilder<unknown> {
  return sql`UPDATE ${deltaTable(runId)} SET status = 'ok', code = NULL, message = NULL, retryable = NULL, result_id = ${idIsKey ? sql`key` : sql`NULL`}
WHERE ${inChunk(range)} AND status = 'pending'`;
}

/** Records per-row outcomes; a later result for the same key wins (retries are idempotent). */
export function recordResults(
  runId: string,
  r: {
    keys: string[];
    ok: boolean[];
    codes: (string | null)[];
    messages: (string | null)[];
    retryable: (boolean | null)[];
    ids: (string | null)[];
  },
): RawBuilder<unknown> {
  return sql`UPDATE ${deltaTable(runId)} d SET status = CASE WHEN r.ok THEN 'ok' ELSE 'failed' END,
  code = r.code, message = r.message, retryable = r.retryable, result_id = r.id
FROM unnest(${r.keys}::text[], ${r.ok}::bool[], ${r.codes}::text[], ${r.messages}::text[], ${r.retryable}::bool[], ${r.ids}::text[]) AS r(key, ok, code, message, retryable, id)
WHERE d.key = r.key AND d.status IN ('pending', 'failed')`;
}

// ---- Executors: the statements above run against a database, for the activities (which hold no SQL). ----

type Db = Kysely<Database>;

/**
 * Up to this many model rows, the stage is made by one statement: the stage statement's own grouping of
 * the keys finds the repeated ones (none, when none repeats: the same stage), without a unique index, a
 * transaction or a setting of its own. Runs of small models are what a fleet of activations is made of,
 * where each statement and each DDL counts; a large model's keys are proven unique more cheaply by an
 * index than by grouping them.
 */
export const SMALL_STAGE_ROWS = 10_000;

/** A model small enough for the one-statement stage and delta (`SMALL_STAGE_ROWS`); an unknown count is not. */
const isSmallModel = (modelRows: number | null | undefined): boolean => modelRows != null && modelRows <= SMALL_STAGE_ROWS;

/**
 * Up to this many model rows, a run that keeps every row (a first load: the snapshot is empty; a full
 * re-sync) has the stage's join carry the model's columns (`StageBuild.carry`): its hash table stays in
 * memory, and reading every row again by tuple id costs more than it saves. The stage statement alone, on
 * the test Postgres, 1,000,000 rows all kept, alternating: 1.2-1.3 s carried against 2.0-2.2 s by tuple
 * id. When few rows are kept (5 % changed: an independent review measured 1.1-1.35 s carried against
 * 1.0-1.5 s, the carried way the slower in its second run) and at 10,000,000 rows, the look-up by tuple
 * id is kept (`createStage`). A small model's stage (`SMALL_STAGE_ROWS`) carries them always.
 */
export const CARRY_STAGE_ROWS = 1_000_000;

/**
 * Makes the run's stage from the model's rows (`modelRows` of them), a temporary table of `session`
 * (extract). A large model: proves the keys unique (listing the repeats when not), then joins the rows
 * with the snapshot, with memory enough not to spill. The caller drops the temporary table; a session
 * left in a failed transaction fails that drop.
 */
export async function buildStage(
  session: pg.ClientBase,
  db: Db,
  b: Omit<StageBuild, 'hasDups' | 'target' | 'carry'> & { modelRows: number },
): Promise<void> {
  const { modelRows, ...rest } = b;
  if (isSmallModel(modelRows)) {
    const q = createStage({ ...rest, carry: true, target: stageTable(b.runId), hasDups: true }).compile(db);
    await session.query(q.sql, q.parameters as unknown[]);
    return;
  }
  const carry = modelRows <= CARRY_STAGE_ROWS && (b.full || (await snapshotIsEmpty(session, b.activationId)));
  const build = { ...rest, carry };
  let hasDups = false;
  try {
    await inTransaction(session, "SET LOCAL maintenance_work_mem = '256MB'", uniqueKeyIndex(b.rows, b.keyMatch).compile(db));
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    hasDups = true;
  }
  await inTransaction(session, "SET LOCAL work_mem = '256MB'", createStage({ ...build, target: stageTable(b.runId), hasDups }).compile(db));
}

/** True when the activation has no snapshot row yet (its first load, or every row removed). */
async function snapshotIsEmpty(session: pg.ClientBase, activationId: string): Promise<boolean> {
  const r = await session.query<{ empty: boolean }>(
    'SELECT NOT EXISTS (SELECT 1 FROM syncline.snapshot WHERE activation_id = $1) AS empty',
    [activationId],
  );
  return r.rows[0]?.empty === true;
}

async function inTransaction(session: pg.ClientBase, setting: string, q: { sql: string; parameters: readonly unknown[] }): Promise<void> {
  await session.query('BEGIN');
  try {
    await session.query(setting);
    await session.query(q.sql, q.parameters as unknown[]);
    await session.query('COMMIT');
  } catch (err) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Builds the run's delta table from its stage, replacing an earlier attempt's. A stage made by a release
 * before this one holds every model row (`__key`, `__hash`): it is first made into this release's stage,
 * in place (a run extracted before a deploy and resumed after it).
 */
export async function buildDelta(db: Db, spec: DeltaSpec & { columns: string[]; modelRows?: number | null }): Promise<void> {
  await sql`DROP TABLE IF EXISTS ${deltaTable(spec.runId)}`.execute(db);
  const build = async (): Promise<void> => {
    // A small model's stage is built by one statement; so is its delta (no memory setting, no transaction around it).
    if (isSmallModel(spec.modelRows)) {
      await createDelta(spec).execute(db);
      return;
    }
    await db.transaction().execute(async (tx) => {
      await sql`SET LOCAL work_mem = '256MB'`.execute(tx);
      await createDelta(spec).execute(tx);
    });
  };
  try {
    await build();
  } catch (err) {
    if ((err as { code?: string }).code !== '42703' || !(await isEarlierStage(db, spec.runId))) throw err;
    await remakeEarlierStage(db, spec);
    await build();
  }
}

/** True when the run's stage is an earlier release's: every model row, with `__key` and no `__row_key`. */
export async function isEarlierStage(db: Db, runId: string): Promise<boolean> {
  const r = await sql<{ names: string[] }>`SELECT array_agg(attname::text) AS names FROM pg_attribute
WHERE attrelid = to_regclass(${stageTableName(runId)}) AND attnum > 0 AND NOT attisdropped`.execute(db);
  const names = r.rows[0]?.names ?? [];
  return names.includes(STAGE_KEY) && !names.includes(ROW_KEY);
}

/** An earlier release's stage made into this release's, in one transaction: all or nothing. */
async function remakeEarlierStage(db: Db, spec: DeltaSpec & { columns: string[] }): Promise<void> {
  const earlier = stageTable(spec.runId);
  const next = sql.table(`syncline_work.${stageName(spec.runId)}_next`);
  await db.transaction().execute(async (tx) => {
    await sql`SET LOCAL maintenance_work_mem = '256MB'`.execute(tx);
    await sql`SET LOCAL work_mem = '256MB'`.execute(tx);
    let hasDups = false;
    await sql`SAVEPOINT keys`.execute(tx);
    try {
      await uniqueKeyIndex(earlier, spec.keyMatch).execute(tx);
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      await sql`ROLLBACK TO SAVEPOINT keys`.execute(tx);
      hasDups = true;
    }
    await sql`DROP TABLE IF EXISTS ${next}`.execute(tx);
    await createStage({
      runId: spec.runId,
      activationId: spec.activationId,
      rows: earlier,
      target: next,
      columns: spec.columns,
      full: spec.full,
      hasDups,
      keyMatch: spec.keyMatch,
    }).execute(tx);
    await sql`DROP TABLE ${earlier}`.execute(tx);
    await sql`ALTER TABLE ${next} RENAME TO ${sql.id(stageName(spec.runId))}`.execute(tx);
  });
}

export async function countDelta(
  db: Db,
  runId: string,
): Promise<Array<{ change: string; op: string | null; status: string; rows: string; keys: string }>> {
  return (await deltaCounts(runId).execute(db)).rows;
}

/**
 * Indexes the delta for reads by op and seq (chunk pages, a plan's sample of rows) and by key, once per
 * delta built (buildDelta drops the table first): before planning, so that a connector's sample
 * (`DestinationContext.sampleRows`) reads a few index ranges rather than the whole table.
 */
export async function indexDeltaForReads(db: Db, runId: string): Promise<void> {
  for (const stmt of indexDelta(runId)) await stmt.execute(db);
  await sql`ANALYZE ${deltaTable(runId)}`.execute(db);
}

/** Cuts each op's pending rows into chunks of its size (the delta indexed by indexDeltaForReads). */
export async function cutChunks(
  db: Db,
  runId: string,
  plans: Array<{ op: RowOp; size: number }>,
  onlyPending = false,
): Promise<Array<{ op: RowOp; from: number; to: number; pending: number }>> {
  return (await chunkRanges(runId, plans, onlyPending).execute(db)).rows.map((r) => ({
    op: r.op,
    from: r.from,
    to: r.to,
    pending: Number(r.pending),
  }));
}

export interface ChunkCounts {
  pending: number;
  ok: number;
  failed: number;
  retryable: number;
}

export async function countChunk(db: Db, runId: string, range: ChunkRange): Promise<ChunkCounts> {
  const out = { pending: 0, ok: 0, failed: 0, retryable: 0 };
  for (const r of (await chunkStatusCounts(runId, range).execute(db)).rows) {
    const n = Number(r.n);
    if (r.status === 'pending') out.pending += n;
    else if (r.status === 'ok') out.ok += n;
    else if (r.status === 'failed') {
      out.failed += n;
      if (r.retryable) out.retryable += n;
    }
  }
  return out;
}

/**
 * Rows of the chunk that failed for a passing reason become pending again (a re-send within the run).
 * Returns how many, by the code they failed with.
 */
export async function resetRetryable(db: Db, runId: string, range: ChunkRange): Promise<Record<string, number>> {
  const r = await sql<{ code: string; n: string }>`WITH reset AS (
  UPDATE ${deltaTable(runId)} SET status = 'pending' WHERE ${inChunk(range)} AND status = 'failed' AND retryable RETURNING code)
SELECT coalesce(code, 'UNKNOWN') AS code, count(*) AS n FROM reset GROUP BY 1`.execute(db);
  return Object.fromEntries(r.rows.map((x) => [x.code, Number(x.n)]));
}

/** Type oids of json and jsonb. */
const JSON_TYPE_OIDS = new Set([114, 3802]);
/** Type oids of json[] and jsonb[]. */
const JSON_ARRAY_TYPE_OIDS = new Set([199, 3807]);
/** node-postgres's parser of text[] (oid 1009): an array literal to (nested) arrays of element texts, NULL as null. */
const textArray = (pg.types.getTypeParser as (oid: number, format: 'text') => (text: string) => unknown)(1009, 'text');

/**
 * How the values of a chunk's rows (and a plan's samples) are read for a connector: as node-postgres
 * parses them, except json and jsonb, which stay Postgres's text, and json[] and jsonb[], which are
 * arrays of their elements' text (nested for more dimensions, null for a NULL element). node-postgres
 * would `JSON.parse` them, and a number literal past 2^53 or with more digits than a double keeps
 * (`12345678901234567890`) would reach the destination changed; a connector reads the text with
 * common/json-exact.ts. (The delta never sees these values: a row's hash is computed by Postgres from
 * its own text, db/delta.ts `rowHash`.)
 */
export const ROW_VALUE_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    JSON_TYPE_OIDS.has(oid)
      ? (text: string) => text
      : JSON_ARRAY_TYPE_OIDS.has(oid)
        ? textArray
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * One page of a chunk (`chunkPage`): one query, never a parallel plan (the delta table has
 * `parallel_workers = 0`, createDelta), its values read as `ROW_VALUE_TYPES` says, on a session of `pool`.
 */
export async function pageRows(db: Db, pool: pg.Pool, opts: Parameters<typeof chunkPage>[0]): Promise<RowPage> {
  const q = chunkPage(opts).compile(db);
  // Rows as arrays: node-postgres builds no object per row (the chunk's reader makes its OutRow from them).
  const r = await pool.query<unknown[]>({ text: q.sql, values: q.parameters as unknown[], types: ROW_VALUE_TYPES, rowMode: 'array' });
  return { names: r.fields.map((f) => f.name), rows: r.rows };
}

/** A page of rows as arrays, `names` the column of each position (as node-postgres names them). */
export interface RowPage {
  names: string[];
  rows: unknown[][];
}

/** Streams the rows of `chunkDistinct` through a cursor: Postgres sorts once, pages of `batchSize` rows reach Node (values read as `ROW_VALUE_TYPES` says). */
export async function* distinctRows(
  db: Db,
  pool: pg.Pool,
  opts: Parameters<typeof chunkDistinct>[0],
  batchSize: number,
): AsyncGenerator<Array<Record<string, unknown>>> {
  const q = chunkDistinct(opts).compile(db);
  const client = await pool.connect();
  let open = false;
  try {
    await client.query('BEGIN READ ONLY');
    open = true;
    await client.query(`DECLARE syncline_distinct NO SCROLL CURSOR FOR ${q.sql}`, q.parameters as unknown[]);
    for (;;) {
      const page: Array<Record<string, unknown>> = (
        await client.query({ text: `FETCH ${Math.max(1, Math.floor(batchSize))} FROM syncline_distinct`, types: ROW_VALUE_TYPES })
      ).rows;
      if (page.length === 0) break;
      yield page;
    }
    await client.query('COMMIT');
    open = false;
  } finally {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

/**
 * A destination's answer for a row, as recorded: without the credentials and query strings a URL or a
 * header it quotes may carry (common/redact.ts). Every row answer reaches the state database through
 * recordOutcomes or recordOutcomeStream, and from there `syncline.row_errors`, `syncline errors` and the
 * metrics; so they are left out here, whatever the connector.
 */
const rowMessage = (m: string | null): string | null => (m === null ? null : withoutSecrets(m));

export async function recordOutcomes(db: Db, runId: string, r: Parameters<typeof recordResults>[1]): Promise<void> {
  await recordResults(runId, { ...r, messages: r.messages.map(rowMessage) }).execute(db);
}

/** One row's answer, as recordOutcomes takes them (columns), for recordOutcomeStream (rows). */
export interface Outcome {
  key: string;
  ok: boolean;
  code: string | null;
  message: string | null;
  retryable: boolean | null;
  id: string | null;
}

/** A CSV field for COPY: NULL is an unquoted empty field, every text is quoted (an empty text stays one). */
const copyField = (v: string | boolean | null): string =>
  v === null ? '' : typeof v === 'boolean' ? (v ? 't' : 'f') : `"${v.replace(/"/g, '""')}"`;

/**
 * Records a long stream of answers (a bulk job's result files) in one transaction: COPY into a
 * temporary table, then one UPDATE … FROM, instead of one UPDATE per batch (a million rows: 500
 * statements of index lookups). All or nothing: an error while the stream is read records nothing,
 * and a retry reads it again. A key answered twice ends as the batched recordOutcomes would leave it:
 * its first success, else its last failure. Returns the answers read.
 */
export async function recordOutcomeStream(db: Db, pool: pg.Pool, runId: string, batches: AsyncIterable<Outcome[]>): Promise<number> {
  const client = await pool.connect();
  let open = false;
  let broken: Error | undefined;
  let n = 0;
  async function* lines(): AsyncGenerator<string> {
    for await (const batch of batches) {
      let text = '';
      for (const o of batch)
        text += `${++n},${copyField(o.key)},${copyField(o.ok)},${copyField(o.code)},${copyField(rowMessage(o.message))},${copyField(o.retryable)},${copyField(o.id)}\n`;
      if (text) yield text;
    }
  }
  try {
    await client.query('BEGIN');
    open = true;
    await client.query(
      'CREATE TEMPORARY TABLE syncline_outcomes (n bigint, key text, ok boolean, code text, message text, retryable boolean, id text) ON COMMIT DROP',
    );
    await pipeline(Readable.from(lines()), client.query(copyFrom('COPY syncline_outcomes FROM STDIN WITH (FORMAT csv)')));
    await client.query('ANALYZE syncline_outcomes');
    await client.query("SET LOCAL work_mem = '64MB'");
    await client.query(recordFromTable(runId).compile(db).sql);
    await client.query('COMMIT');
    open = false;
    return n;
  } catch (err) {
    if (open) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    open = false;
    throw err;
  } finally {
    // A session whose rollback failed is not handed to anyone else.
    client.release(broken);
  }
}

/** The answers COPYed by recordOutcomeStream, applied as recordResults would apply them batch after batch. */
export function recordFromTable(runId: string): RawBuilder<unknown> {
  return sql`UPDATE ${deltaTable(runId)} d SET status = CASE WHEN r.ok THEN 'ok' ELSE 'failed' END,
  code = r.code, message = r.message, retryable = r.retryable, result_id = r.id
FROM (SELECT DISTINCT ON (key) * FROM syncline_outcomes ORDER BY key, ok DESC, CASE WHEN ok THEN n ELSE -n END) r
WHERE d.key = r.key AND d.status IN ('pending', 'failed')`;
}

export async function settleChunk(db: Db, runId: string, range: ChunkRange, idIsKey: boolean): Promise<void> {
  await settlePending(runId, range, idIsKey).execute(db);
}

/**
 * Whether `syncline.fold_key` folds non-ASCII case ('É' to 'é'). It does where the migration found the collation
 * "pg_c_utf8" (Postgres 17+) or "und-x-icu" (ICU); else it is `lower()` under the database's ctype, which in a
 * database created with LC_CTYPE 'C' folds A-Z only.
 */
export async function foldsNonAsciiCase(db: Db): Promise<boolean> {
  return (await sql<{ x: boolean }>`SELECT syncline.fold_key('É') = 'é' AS x`.execute(db)).rows[0]!.x;
}

/**
 * True when some row of the run already has the destination's answer (ok or failed). A removed key the delta
 * itself settled is no answer: `kept` (keepCaseVariants), or `ok` without a seq (the same, by the release before
 * `kept`).
 */
export async function hasAnswers(db: Db, runId: string): Promise<boolean> {
  return (
    await sql<{
      x: boolean;
    }>`SELECT EXISTS (SELECT 1 FROM ${deltaTable(runId)} WHERE status IN ('ok', 'failed') AND seq IS NOT NULL) AS x`.execute(db)
  ).rows[0]!.x;
}

/**
 * Where the destination matches keys without regard to case (`FieldSpec.keyIgnoresCase`), a removed key whose
 * case variant the model still has ('K-1' removed, 'k-1' added, changed, unchanged or rejected) is that key's
 * record; so, where it matches them as numbers (`FieldSpec.keyNumber`, `m`), is a removed key equal as a number to
 * a model key ('1.50' removed, '1.5' added, the text form of a number column changed): deleting it, by its stored Id or by key, deleted the record of a model row that is still there (after
 * the variant's upsert wrote it: gone for good, the snapshot holding the variant; before: made again, a new record).
 * Such a deletion is settled here, without a call: `kept` (no seq: in no chunk, no answer: `hasAnswers`), the
 * variant's key in `variant`, and a message for the row log. Two variants both removed are deleted. Before the
 * guard: they are no deletion. Returns how many.
 *
 * The removed key leaves the snapshot only once a snapshot row stands for the record under the variant
 * (`commitStatements`): the variant was there already, or this run's write of it was acknowledged. Refused,
 * unanswered, never sent or rejected, the record still is the removed key's (its values, its snapshot row): kept
 * there, a later run keeps it again while the variant is in the model, and deletes it once no variant is. The
 * variant chosen is one the snapshot holds if any, else one this run sends, else any model key (a retry-failed run's delta lacks those without a row error: read from the stage), in key order among equals.
 */
export async function keepCaseVariants(db: Db, runId: string, activationId: string, m: KeyMatch = { kind: 'case' }): Promise<number> {
  const d = deltaTable(runId);
  // The model's keys are read from the stage, not the delta: a retry-failed run's delta holds only keys with row
  // errors, and a variant without one (K-1 renamed k-1, K-1's last write failed) was no variant: K-1's record deleted.
  const st = stageTable(runId);
  const r = await sql`UPDATE ${d} x SET status = 'kept', seq = NULL, variant = v.key,
  message = 'not deleted: the model still has key "' || v.key || ${
    m.kind === 'number'
      ? sql.lit(`", the same number for the destination, whose key field is a number${decimalsNote(m)}: both are one record`)
      : sql.lit('", which differs from it only in case, and the destination takes both for one record')
  }
FROM (
  SELECT DISTINCT ON (x2.key) x2.key AS removed, m.key FROM ${d} x2
  JOIN (
    SELECT st.${sql.id(ROW_KEY)} AS key, CASE WHEN w.status = 'pending' THEN 1 ELSE 2 END AS rank FROM ${st} st
      LEFT JOIN ${d} w ON w.key = st.${sql.id(ROW_KEY)} AND w.op IS DISTINCT FROM 'delete'
    WHERE st.${sql.id(ROW_CHANGE)} <> 'removed' AND st.${sql.id(ROW_KEY)} IS NOT NULL
    UNION ALL
    SELECT s.key, 0 FROM syncline.snapshot s WHERE s.activation_id = ${activationId}
      AND NOT EXISTS (SELECT 1 FROM ${st} z WHERE z.${sql.id(ROW_KEY)} = s.key AND z.${sql.id(ROW_CHANGE)} = 'removed')
  ) m ON ${matchForm(sql.ref('m.key'), m)} = ${matchForm(sql.ref('x2.key'), m)} AND m.key <> x2.key
  WHERE x2.op = 'delete' AND x2.status = 'pending'
  ORDER BY x2.key, m.rank, m.key
) v
WHERE x.key = v.removed AND x.op = 'delete' AND x.status = 'pending'`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Marks rejected rows already reported with the same content (see markRejectedUnchanged). */
export async function markUnchangedRejections(db: Db, runId: string, activationId: string): Promise<void> {
  await markRejectedUnchanged(runId, activationId).execute(db);
}
