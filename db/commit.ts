/**
 * Commit: only rows the destination accepted advance the snapshot. Failed, rejected and
 * unacknowledged rows keep their old snapshot state (so the next delta sends them again) and get a
 * row_errors entry with their code and message. A row accepted incomplete (status ok with a code: the
 * connector's `RowResult.incomplete`) advances the snapshot, keeping the record it wrote, is marked
 * `incomplete` (the next delta sends it again) and keeps a row_errors entry saying why.
 */
import { sql, type RawBuilder } from 'kysely';
import { deltaTable, ROW_CHANGE, ROW_KEY, stageTable } from './work-tables';
import { ROW_ERROR_CODES } from '../common/errors';
import { decimalsNote, groupHash, matchForm, MAX_KEY_BYTES, NULL_KEY, type KeyMatch } from './delta';

/**
 * What the delta holds, from its summary counts (`summaryCounts`, read first in the commit's
 * transaction: the commit's statements do not change the delta): which of the commit's statements have
 * rows to act on. A statement with none is not sent (a small run of a fleet is mostly ok upserts and no
 * row error: some eight round trips fewer). Every field true sends every statement.
 */
export interface DeltaHolds {
  /** Rows still pending (sent, answer unknown). */
  pending: boolean;
  /** Deletions accepted. */
  deleted: boolean;
  /** Rows the row_errors insert lists (failed, rejected, pending, accepted incomplete). */
  listed: boolean;
  /** The activation has row errors (else none can be cleared). */
  rowErrors: boolean;
  /** Deletions the guard holds. */
  held: boolean;
  /** Removed keys kept for their case variant (db/delta.ts keepCaseVariants). */
  kept: boolean;
}

export const HOLDS_EVERYTHING: DeltaHolds = { pending: true, deleted: true, listed: true, rowErrors: true, held: true, kept: true };

/** What `summaryCounts` rows say the commit will act on; `hasRowErrors` from the same statement. */
export function deltaHolds(
  counts: Array<{ op: string | null; status: string; has_row_errors?: boolean }>,
  listUnacknowledged: boolean,
): DeltaHolds {
  const listedStatuses = new Set(['failed', 'rejected', 'rejected_unchanged', 'incomplete', ...(listUnacknowledged ? ['pending'] : [])]);
  return {
    pending: counts.some((c) => c.status === 'pending'),
    deleted: counts.some((c) => c.op === 'delete' && (c.status === 'ok' || c.status === 'incomplete')),
    listed: counts.some((c) => listedStatuses.has(c.status)),
    rowErrors: counts.length === 0 || counts.some((c) => c.has_row_errors !== false),
    held: counts.some((c) => c.status === 'held'),
    kept: counts.some((c) => c.status === 'kept'),
  };
}

/**
 * The commit's statements after the snapshot write (`snapshotWrite`, which the caller runs first).
 * `listUnacknowledged`: rows still pending (sent, answer unknown) get a NOT_ACKNOWLEDGED row error; false
 * for a plan that is dropped unapplied, whose pending rows were never sent. `wholeModel`: the delta saw
 * every model row (not a retry-failed run, which sees only keys with errors), so a rejection it did not
 * meet again is gone from the model. `holds`: which statements have rows to act on (`deltaHolds`).
 * `matchedKey`: the destination's key field and how it matches keys, where it ignores case (`FieldSpec.keyIgnoresCase`)
 * or matches numbers (`FieldSpec.keyNumber`): a repeated key's message then names its other spellings (db/delta.ts
 * createStage rejects them together).
 * `variantsWritten`: how the destination matches keys (as for `matchedKey`), where the run wrote rows: the spellings
 * that left the model of a key written are marked unconfirmed.
 */
export function commitStatements(
  runId: string,
  activationId: string,
  runNumber: number,
  keyColumn: string,
  listUnacknowledged = true,
  wholeModel = true,
  holds: DeltaHolds = HOLDS_EVERYTHING,
  matchedKey?: { field: string; match: KeyMatch },
  variantsWritten?: KeyMatch,
): RawBuilder<unknown>[] {
  const d = deltaTable(runId);
  const st = stageTable(runId);
  const listed = listUnacknowledged
    ? sql`('failed', 'rejected', 'rejected_unchanged', 'pending')`
    : sql`('failed', 'rejected', 'rejected_unchanged')`;
  return [
    // Sent, answer unknown: the destination may hold this write instead of the snapshot's content.
    // The EXISTS is decided once, before the join: with no row pending (every run whose writes were all
    // answered) the join is never run. After a first run the snapshot's statistics still say it is
    // nearly empty, and Postgres probed the delta once per snapshot row (2.9 s for a million rows).
    ...(listUnacknowledged && holds.pending
      ? [
          sql`UPDATE syncline.snapshot s SET unconfirmed = true FROM ${d} d
  WHERE s.activation_id = ${activationId} AND s.key = d.key AND d.status = 'pending'
    AND EXISTS (SELECT 1 FROM ${d} p WHERE p.status = 'pending')`,
        ]
      : []),
    // Where the key ignores case, a key written this run (or sent without an answer) wrote the record of its other
    // spellings: one that left the model and keeps a snapshot row (Upsert and Update never delete it; Mirror keeps
    // it, db/delta.ts keepCaseVariants) no longer says what the record holds. Marked unconfirmed, it is sent
    // again once back in the model (K-1 renamed k-1, then renamed back). The stage lists the keys that left the model.
    ...(variantsWritten
      ? [
          sql`UPDATE syncline.snapshot s SET unconfirmed = true FROM ${st} r
  WHERE r.${sql.id(ROW_CHANGE)} = 'removed' AND s.activation_id = ${activationId} AND s.key = r.${sql.id(ROW_KEY)} AND NOT s.unconfirmed
    AND EXISTS (SELECT 1 FROM ${d} w WHERE ${matchForm(sql.ref('w.key'), variantsWritten)} = ${matchForm(sql.ref(`r.${ROW_KEY}`), variantsWritten)} AND w.key <> r.${sql.id(ROW_KEY)}
      AND w.op <> 'delete' AND w.status IN ${listUnacknowledged ? sql`('ok', 'incomplete', 'pending')` : sql`('ok', 'incomplete')`})`,
        ]
      : []),
    ...(holds.deleted
      ? [
          sql`DELETE FROM syncline.snapshot s USING ${d} d WHERE s.activation_id = ${activationId} AND s.key = d.key AND d.status = 'ok' AND d.op = 'delete'`,
          sql`DELETE FROM syncline.held_deletes h USING ${d} d WHERE h.activation_id = ${activationId} AND h.key = d.key AND d.status = 'ok' AND d.op = 'delete'`,
        ]
      : []),
    ...(holds.rowErrors
      ? [
          sql`DELETE FROM syncline.row_errors e USING ${d} d WHERE e.activation_id = ${activationId} AND e.key = d.key AND d.status = 'ok' AND d.code IS NULL`,
        ]
      : []),
    // A key that left the model, its deletion held by the guard: no run sends its row again, so an error of
    // its last write ("sent again next run") no longer stands; the held deletion (held_deletes) does. The
    // snapshot keeps the row unconfirmed: back in the model, it is sent again. Not a key without a snapshot
    // row (a new key whose write went unanswered): its NOT_ACKNOWLEDGED error is the only mark of the record
    // the lost write may have made, and what makes the next run count it removed (db/delta.ts, lost).
    ...(holds.rowErrors && holds.held
      ? [
          sql`DELETE FROM syncline.row_errors e USING ${d} d WHERE e.activation_id = ${activationId} AND e.key = d.key AND d.op = 'delete' AND d.status = 'held'
  AND EXISTS (SELECT 1 FROM syncline.snapshot s WHERE s.activation_id = ${activationId} AND s.key = d.key)`,
        ]
      : []),
    // A removed key kept for its case variant (db/delta.ts keepCaseVariants) is the variant's record once a snapshot
    // row stands for it under the variant (there before the run, or its write acknowledged now: the snapshot write
    // ran first): the removed key leaves the snapshot, as a deletion done would. Until then (the variant refused,
    // unanswered, never sent) the record is still the removed key's, and its snapshot row stays: a later run keeps
    // it again while a variant is in the model, and deletes it once none is. No run sends the removed key again, so
    // an error of its last write no longer stands, except the only mark of a lost write's record (NOT_ACKNOWLEDGED
    // without a snapshot row, as for a held deletion). Not held either: a kept key is no deletion to approve.
    // A variant sent without an answer may have written its values into the record: the removed key's snapshot
    // row no longer says what the record holds (unconfirmed: back in the model, the key is sent again).
    ...(holds.kept
      ? [
          ...(listUnacknowledged && holds.pending
            ? [
                sql`UPDATE syncline.snapshot s SET unconfirmed = true FROM ${d} d
  WHERE s.activation_id = ${activationId} AND s.key = d.key AND d.status = 'kept'
    AND EXISTS (SELECT 1 FROM ${d} v WHERE v.key = d.variant AND v.status = 'pending')`,
              ]
            : []),
          ...(holds.rowErrors
            ? [
                sql`DELETE FROM syncline.row_errors e USING ${d} d WHERE e.activation_id = ${activationId} AND e.key = d.key AND d.status = 'kept'
  AND (EXISTS (SELECT 1 FROM syncline.snapshot s WHERE s.activation_id = ${activationId} AND s.key = d.key)
    OR EXISTS (SELECT 1 FROM syncline.snapshot v WHERE v.activation_id = ${activationId} AND v.key = d.variant))`,
              ]
            : []),
          sql`DELETE FROM syncline.held_deletes h USING ${d} d WHERE h.activation_id = ${activationId} AND h.key = d.key AND d.status = 'kept'`,
          // A variant whose snapshot row this run did not write (a release before this one wrote both spellings to
          // the one record, the last write winning) may not hold its own values there: marked unconfirmed, it is
          // sent again (its write acknowledged now, it holds them).
          sql`WITH gone AS (
  DELETE FROM syncline.snapshot s USING ${d} d WHERE s.activation_id = ${activationId} AND s.key = d.key AND d.status = 'kept'
    AND EXISTS (SELECT 1 FROM syncline.snapshot v WHERE v.activation_id = ${activationId} AND v.key = d.variant)
  RETURNING d.variant
)
UPDATE syncline.snapshot s SET unconfirmed = true FROM gone g
WHERE s.activation_id = ${activationId} AND s.key = g.variant AND NOT s.unconfirmed
  AND NOT EXISTS (SELECT 1 FROM ${d} w WHERE w.key = g.variant AND w.status = 'ok')`,
        ]
      : []),
    // A repeated key dropped from the model, or the last row without a key fixed, is never sent: nothing else clears its error.
    ...(wholeModel && holds.rowErrors
      ? [
          sql`DELETE FROM syncline.row_errors e WHERE e.activation_id = ${activationId} AND e.code IN (${ROW_ERROR_CODES.nullKey}, ${ROW_ERROR_CODES.duplicateKey}, ${ROW_ERROR_CODES.keyTooLong})
  AND NOT EXISTS (SELECT 1 FROM ${d} d WHERE d.status IN ('rejected', 'rejected_unchanged') AND coalesce(d.key, ${NULL_KEY}) = e.key)`,
          // A key the delta did not meet: its row is back to the content the destination holds (the snapshot's,
          // confirmed), or it left the model and the mode does nothing about it (Mirror's deletions, and a
          // lost write's possible record, are in the delta: db/delta.ts). Nothing is to be sent: no error stands.
          sql`DELETE FROM syncline.row_errors e WHERE e.activation_id = ${activationId} AND e.key <> ${NULL_KEY}
  AND NOT EXISTS (SELECT 1 FROM ${d} d WHERE d.key = e.key)`,
        ]
      : []),
    ...(holds.listed ? [rowErrorsInsert(d, activationId, runNumber, keyColumn, listed, matchedKey)] : []),
  ];
}

/** Lists the run's failed, rejected, unacknowledged and incomplete rows in row_errors. */
function rowErrorsInsert(
  d: RawBuilder<unknown>,
  activationId: string,
  runNumber: number,
  keyColumn: string,
  listed: RawBuilder<unknown>,
  matchedKey?: { field: string; match: KeyMatch },
) {
  const rows = sql`SELECT key, op, change, code, message, status, retryable, hash, n FROM ${d}
      WHERE (status IN ${listed} OR (status = 'ok' AND code IS NOT NULL)) AND change <> 'null_key'
      UNION ALL SELECT NULL, NULL, 'null_key', NULL, NULL, 'rejected', NULL, ${groupHash(sql.ref('hash'))}, count(*) FROM ${d} WHERE change = 'null_key' HAVING count(*) > 0`;
  // Where the destination's key ignores case, the spellings of one key are rejected together (db/delta.ts
  // createStage), each a row of the delta: the listed rows (few, read once) give each its others.
  const repeated = sql`'key "' || key || '" appears ' || n || ' times in the model (column "' || ${keyColumn} || '"); none of these rows was sent. Make the key unique.'`;
  const m = matchedKey?.match;
  const field = matchedKey?.field;
  // Where keys are matched as numbers, the same words with the number's.
  const sameAs = m?.kind === 'number' ? sql.lit('" is the same number as ') : sql.lit('" differs only in case from ');
  const matching =
    m?.kind === 'number'
      ? sql.lit(`, and the destination's key field "${field}" is a number${decimalsNote(m)}: `)
      : sql.lit(", and the destination's key ignores case: ");
  const remedy =
    m?.kind === 'number'
      ? sql.lit('Make the key unique as a number.')
      : sql.lit(`Make the key unique ignoring case, or make the destination's key field "${field}" case-sensitive.`);
  const spelled =
    m === undefined
      ? repeated
      : sql`CASE WHEN v.keys IS NULL AND n > 1 THEN ${repeated}
    -- Its other spellings not in this delta (a retry-failed run sees only keys with row errors).
    WHEN v.keys IS NULL THEN 'key "' || key || ${sameAs} || 'another key in the model (column "' || ${keyColumn}
      || '")' || ${matching} || 'they would write one record; none of them was sent. ' || ${remedy}
    ELSE 'key "' || key || ${sameAs} || (SELECT string_agg('"' || o || '"', ', ' ORDER BY o COLLATE "C") FROM unnest(v.keys) o WHERE o <> x.key)
      || ' in the model (column "' || ${keyColumn} || '")' || ${matching} || 'these ' || v.total || ' rows would write one record; none of them was sent. '
      || ${remedy} END`;
  const from =
    m === undefined ? sql`(${rows}) x` : sql`x LEFT JOIN v ON x.change = 'duplicate_key' AND v.g = ${matchForm(sql.ref('x.key'), m)}`;
  // A spelling the snapshot holds (synced before its variant came, or by a release before this rejection, when
  // both were written to the one record, the last write winning): the record may hold another spelling's values.
  // Marked unconfirmed (in the same statement), it is sent again once it is the only one (db/delta.ts createStage).
  return sql`${
    m === undefined
      ? sql``
      : sql`WITH x AS MATERIALIZED (${rows}), v AS (
  SELECT ${matchForm(sql.ref('key'), m)} AS g, array_agg(key) AS keys, sum(n) AS total FROM x WHERE change = 'duplicate_key' GROUP BY 1 HAVING count(*) > 1
), u AS (
  UPDATE syncline.snapshot s SET unconfirmed = true FROM v, unnest(v.keys) AS k(key)
  WHERE s.activation_id = ${activationId} AND s.key = k.key AND NOT s.unconfirmed
)
`
  }INSERT INTO syncline.row_errors AS e (activation_id, key, op, code, message, retryable, hash, run_number)
SELECT ${activationId}, coalesce(key, ${NULL_KEY}), coalesce(op, change),
  CASE WHEN status = 'pending' THEN ${ROW_ERROR_CODES.notAcknowledged}
       WHEN change = 'null_key' THEN ${ROW_ERROR_CODES.nullKey}
       WHEN change = 'duplicate_key' THEN ${ROW_ERROR_CODES.duplicateKey}
       WHEN change = 'long_key' THEN ${ROW_ERROR_CODES.keyTooLong}
       ELSE coalesce(code, 'UNKNOWN') END,
  CASE WHEN status = 'pending' THEN 'the destination did not acknowledge this row in run ' || ${runNumber} || '; it is sent again next run'
       WHEN change = 'null_key' THEN n || ' model row(s) have NULL in the key column "' || ${keyColumn} || '"; they were not sent. Give every row a key.'
       WHEN change = 'duplicate_key' THEN ${spelled}
       WHEN change = 'long_key' THEN 'key "' || rtrim(key, ' ') || '" (column "' || ${keyColumn} || '") is longer than the ${sql.raw(String(MAX_KEY_BYTES))} bytes a key may have'
         || CASE WHEN n > 1 THEN ' and appears ' || n || ' times in the model' ELSE '' END || '; it was not sent. Use a shorter key (an md5 of it, for example).'
       ELSE coalesce(message, '') END,
  -- A rejected model row (null, too long or repeated key) is fixed in the model, never by a retry.
  CASE WHEN status = 'failed' THEN coalesce(retryable, true) WHEN status IN ('rejected', 'rejected_unchanged') THEN false ELSE true END,
  -- A rejection keeps the hash of its group of rows (no single row has it, so a key unique again is sent
  -- at once): the next delta tells an unchanged rejection, already reported, from a new one.
  hash, ${runNumber}
FROM ${from}
ON CONFLICT (activation_id, key) DO UPDATE SET op = excluded.op, code = excluded.code, message = excluded.message,
  retryable = excluded.retryable, hash = excluded.hash, run_number = excluded.run_number,
  attempts = e.attempts + 1, last_seen = now()`;
}

/**
 * The accepted rows into the snapshot. `upsert` replaces the row of a key already there. `insert` is
 * for an activation without any snapshot row (its first commit): no key can be there, so each row
 * skips ON CONFLICT's look-up in the key index before its insert (a million rows on one Postgres:
 * 3.1-3.5 s instead of 4.8-6.7 s). A key that is there after all (another commit of the activation got in first) fails
 * the insert with unique_violation, and the caller runs the upsert instead (activities/commit.ts).
 */
export function snapshotWrite(runId: string, activationId: string, how: 'insert' | 'upsert'): RawBuilder<unknown> {
  return sql`INSERT INTO syncline.snapshot (activation_id, key, hash, destination_id, synced_at, incomplete)
SELECT ${activationId}, key, hash, coalesce(result_id, destination_id), now(), code IS NOT NULL FROM ${deltaTable(runId)} WHERE status = 'ok' AND op <> 'delete'
${
  how === 'insert'
    ? sql``
    : sql`ON CONFLICT (activation_id, key) DO UPDATE SET hash = excluded.hash, destination_id = excluded.destination_id, synced_at = excluded.synced_at, unconfirmed = false,
  incomplete = excluded.incomplete`
}`;
}

/** Holds the run's delta still (SHARE: reads go on, answers wait) until the commit's transaction ends. */
export function holdDelta(runId: string): RawBuilder<unknown> {
  return sql`LOCK TABLE ${deltaTable(runId)} IN SHARE MODE`;
}

/**
 * A first commit of more accepted rows than this takes the plain insert (`snapshotWrite`'s `insert`);
 * fewer take the upsert without asking whether the snapshot is empty: the insert saves nothing measurable
 * there, and the question costs a round trip.
 */
export const FIRST_INSERT_MIN_ROWS = 1_000;

/** Whether the activation has any snapshot row (none: nothing committed yet, or every row deleted). */
export function snapshotHasRows(activationId: string): RawBuilder<{ has: boolean }> {
  return sql`SELECT EXISTS (SELECT 1 FROM syncline.snapshot WHERE activation_id = ${activationId}) AS has`;
}

/**
 * A retry-failed run's delta holds only the keys with row errors; every other run's holds the whole model.
 * The delta (which keys it reads) and the commit (which errors it may clear) both ask here.
 */
export const deltaSeesOnlyFailed = (trigger: string): boolean => trigger === 'retry_failed';

/**
 * Summary counts by op and status (`incomplete`: accepted incomplete), for the run record and the
 * workflow result; and on each row, in the same round trip, whether the activation has any row error
 * (`deltaHolds`), whether the run recorded chunks (`sent`: without a chunk row no write ever started,
 * so none of its pending rows was sent) and whether a chunk's write never began (`unbegun`: its pending
 * rows were never sent, `markUnsent`).
 */
export function summaryCounts(
  runId: string,
  activationId: string,
): RawBuilder<{
  op: string | null;
  change: string;
  status: string;
  n: string;
  rows: string;
  has_row_errors: boolean;
  sent: boolean;
  unbegun: boolean;
}> {
  return sql`SELECT op, change, CASE WHEN status = 'ok' AND code IS NOT NULL THEN 'incomplete' ELSE status END AS status,
  count(*)::bigint AS n, sum(coalesce(n, 1))::bigint AS rows,
  EXISTS (SELECT 1 FROM syncline.row_errors WHERE activation_id = ${activationId}) AS has_row_errors,
  EXISTS (SELECT 1 FROM syncline.chunks WHERE run_id = ${runId}) AS sent,
  EXISTS (SELECT 1 FROM syncline.chunks WHERE run_id = ${runId} AND (write_began = false OR seq_from < 0)) AS unbegun
FROM ${deltaTable(runId)} GROUP BY 1, 2, 3`;
}

/**
 * The pending rows of the run's chunks whose write never began (chunks.write_began false: the run ended
 * before it, or a plan's apply never got to it, or a worker of a release before the mark took it and found
 * its range empty: db/chunks.ts) become `unsent`: never sent, so neither listed NOT_ACKNOWLEDGED nor
 * marked unconfirmed; the next delta plans them again. Their range is stored negated (abs). A range still
 * negated is never sent either, even marked begun: a worker of a release with the mark but before the
 * negated range (fccdcd8..392331d) marks the chunk, finds no row in it and sends nothing. A chunk of a
 * release before the mark (NULL) keeps its rows pending: a write possibly begun. The chunks are locked: a
 * write of the run still under way that marks one first is seen (its rows stay pending, listed); one that
 * marks it after waits for the commit, then finds the chunk deleted and sends nothing (db/chunks.ts,
 * claimChunk).
 */
export function markUnsent(runId: string): RawBuilder<unknown> {
  const d = deltaTable(runId);
  return sql`WITH c AS (SELECT op, seq_from, seq_to FROM syncline.chunks WHERE run_id = ${runId} AND (write_began = false OR seq_from < 0) FOR UPDATE)
UPDATE ${d} d SET status = 'unsent' FROM c WHERE d.status = 'pending' AND d.op = c.op AND d.seq BETWEEN abs(c.seq_from) AND abs(c.seq_to)`;
}

/** Rows re-sent within the run, by the code they had failed with (activities/write.ts keeps them in each chunk's state). */
export function resentCounts(runId: string): RawBuilder<{ code: string; n: string }> {
  return sql`SELECT s.key AS code, sum(s.value::bigint)::bigint AS n FROM syncline.chunks c, jsonb_each_text(c.state -> 's') s
WHERE c.run_id = ${runId} GROUP BY s.key ORDER BY s.key`;
}
