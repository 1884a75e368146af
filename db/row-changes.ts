/**
 * The per-row change log (syncline.row_changes): for each run, every key it acted on — operation,
 * outcome, destination id, hash of the mapped values — written in one statement from the run's delta
 * at commit, and pruned past the retention period. `syncline rows` and the reporting views read it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database';
import { deltaTable } from './work-tables';
import { MAX_KEY_BYTES } from './delta';
import { ROW_ERROR_CODES } from '../common/errors';

type Db = Kysely<Database>;

/** Days a row change is kept: SYNCLINE_ROW_LOG_DAYS (default 14); 0 keeps no log at all. */
export function rowLogDays(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.SYNCLINE_ROW_LOG_DAYS;
  const days = v === undefined || v === '' ? 14 : Number(v);
  if (!Number.isFinite(days) || days < 0)
    throw new Error(`SYNCLINE_ROW_LOG_DAYS must be a number of days (0 turns the row log off), not "${v}"`);
  return days;
}

/**
 * Every keyed row of the run's delta, as the commit leaves it (rows without a key are counted, not logged),
 * after the commit's snapshot statements. `kept`: the delta has deletions kept for a case variant of their key
 * (db/delta.ts keepCaseVariants; only then is its `variant` column read, which deltas of releases before it
 * lack); the message of one whose variant has no snapshot row yet says the record stays under the removed key.
 */
export async function logRowChanges(db: Db, runId: string, activationId: string, runNumber: number, kept = false): Promise<void> {
  // A row skipped for its standing permanent error (db/delta.ts: not sent until it changes): that error's code,
  // and what sends it again. Without them `syncline rows` showed "skipped" and nothing of why.
  const standing = sql`(SELECT e.code FROM syncline.row_errors e WHERE e.activation_id = ${activationId} AND e.key = d.key)`;
  const base = sql`CASE WHEN status = 'skipped' AND message IS NULL THEN 'not sent: the destination refused this row with ' || coalesce(${standing}, 'an error') ||
    ' (a permanent error) and the row has not changed since; change it in the model to send it again ("syncline errors" has the message)' ELSE message END`;
  const message = kept
    ? sql`CASE WHEN status = 'kept' AND NOT EXISTS (SELECT 1 FROM syncline.snapshot v WHERE v.activation_id = ${activationId} AND v.key = variant)
    THEN message || '; "' || variant || '" is not written yet: the record stays synced under this key until it is, and is deleted if no such key is left in the model'
    ELSE ${base} END`
    : base;
  await sql`INSERT INTO syncline.row_changes (activation_id, run_number, key, op, outcome, destination_id, hash, code, message)
SELECT ${activationId}, ${runNumber}, key, coalesce(op, change),
  CASE status WHEN 'pending' THEN 'not_acknowledged' WHEN 'rejected_unchanged' THEN 'rejected' ELSE status END,
  coalesce(result_id, destination_id), hash,
  -- A model row rejected before sending has the code \`syncline errors\` lists (the delta leaves it none).
  CASE WHEN change = 'duplicate_key' THEN ${ROW_ERROR_CODES.duplicateKey} WHEN change = 'long_key' THEN ${ROW_ERROR_CODES.keyTooLong}
    WHEN status = 'skipped' AND code IS NULL THEN ${standing} ELSE code END,
  ${message}
FROM ${deltaTable(runId)} d WHERE key IS NOT NULL AND change <> 'null_key'`.execute(db);
}

/** Drops the activation's row changes of runs started more than `days` days ago. */
export async function pruneRowChanges(db: Db, activationId: string, days: number): Promise<void> {
  await sql`DELETE FROM syncline.row_changes c WHERE c.activation_id = ${activationId} AND c.run_number < coalesce(
    (SELECT min(run_number) FROM syncline.runs r WHERE r.activation_id = ${activationId} AND r.started_at >= now() - make_interval(days => ${days})), 0)`.execute(
    db,
  );
}

export interface RowChange {
  runNumber: number;
  key: string;
  op: string;
  outcome: string;
  destinationId: string | null;
  hash: string | null;
  code: string | null;
  message: string | null;
  at: string;
}

/**
 * What happened to one key, run by run (oldest first). A key over MAX_KEY_BYTES is logged under its
 * listing (db/delta.ts longKeyListing), whose padding no one types: the text as shown (in `syncline errors`,
 * in the row error's message) finds it too, beside any key that is that text.
 */
export async function rowHistory(db: Db, activationId: string, key: string): Promise<RowChange[]> {
  // Padded in characters, as Postgres's rpad pads (JavaScript's padEnd counts UTF-16 units: a character past
  // U+FFFF is two, and the padded text fell short of the listing).
  const chars = [...key].length;
  const listing = key + ' '.repeat(Math.max(0, MAX_KEY_BYTES + 1 - chars));
  const rows = await db
    .selectFrom('syncline.row_changes')
    .selectAll()
    .where('activation_id', '=', activationId)
    .where('key', 'in', chars <= MAX_KEY_BYTES ? [key, listing] : [key])
    .orderBy('run_number')
    .execute();
  return rows.map(toChange);
}

/** A run's row changes, optionally of one operation; at most `limit`, by key. */
export async function runRowChanges(
  db: Db,
  activationId: string,
  runNumber: number,
  opts: { op?: string; limit?: number } = {},
): Promise<RowChange[]> {
  let q = db.selectFrom('syncline.row_changes').selectAll().where('activation_id', '=', activationId).where('run_number', '=', runNumber);
  if (opts.op) q = q.where('op', '=', opts.op);
  return (
    await q
      .orderBy('key')
      .limit(opts.limit ?? 1000)
      .execute()
  ).map(toChange);
}

function toChange(r: {
  run_number: number;
  key: string;
  op: string;
  outcome: string;
  destination_id: string | null;
  hash: string | null;
  code: string | null;
  message: string | null;
  at: Date | string;
}): RowChange {
  return {
    runNumber: r.run_number,
    // A long key's listing is stored padded (db/delta.ts longKeyListing): shown as its text.
    key: r.op === 'long_key' ? r.key.trimEnd() : r.key,
    op: r.op,
    outcome: r.outcome,
    destinationId: r.destination_id,
    hash: r.hash,
    code: r.code,
    message: r.message,
    at: new Date(r.at).toISOString(),
  };
}
