/**
 * Bulk writes on the shared job driver (connectors/kit/async-job.ts), state kept in `chunk.save()`:
 * [profiles import ->] records import. The import name is saved before the upload and the execution
 * id right after it, so a retried activity re-attaches instead of importing twice; the activity never
 * waits for Actito to finish.
 */
import { QuotaWaitError, SyncError } from '../../common/errors';
import { sentVerbatim, type ChunkOutcome, type ChunkWrite, type OutRow, type RowResult } from '../types';
import type { ActitoOptions } from './config';
import { apiFor, type Ctx, tableName, type Tables } from './context';
import type { TableInfo } from './structure';
import { recordFileSeen, refuseOversized } from './chunk-size';
import { buildImportFile, eachEncoded, type ImportFile, type Phase } from './bulk-file';
import { ActitoHttpError, bodyMessage, ROW_CODES, toSyncError, updateNeverCreates } from './errors';
import { PROFILE_IMPORT_MODES, profileWrite, upsertProfilesOneByOne } from './profiles';
import { markExhausted, msUntilNextUtcDay, quotaTable, takeImport } from './quota';
import type { Encoded } from './encode';
import { whileBeating } from './heartbeat';
import { type Accounting, account } from './import-report';
import {
  FIRST_DATA_LINE,
  getImport,
  isQuotaRefusal,
  type ImportLineError,
  type ImportMode,
  type ImportStatus,
  lineAlreadyExists,
  lineNotFound,
  physicalLines,
  startImport,
} from './routes';
import { type AsyncJob, type JobStatus, pollJob, writeJob } from '../kit/async-job';
import { writeEach, writeSingle } from './single';

export interface BulkState {
  phase: Phase;
  name: string;
  executionId: string | null;
  /** Whole-import failures already restarted. */
  restarts: number;
  /** The file may have been uploaded by an attempt whose answer was lost (logged: two imports were spent). */
  reuploaded: boolean;
  polls: number;
  /** Data lines of the uploaded file, reconciled with the report (absent in states saved before it was kept). */
  lines?: number;
  /** When Actito answered the upload (epoch ms; absent in states saved before it was kept): polls are timed from it. */
  startedAt?: number;
}

const MODES: Record<string, ImportMode> = { create: 'CREATE_ONLY', update: 'UPDATE_ONLY', upsert: 'CREATE_UPDATE' };
const MAX_RESTARTS = 1;
/** Above this many single-write chunks' worth of rows, a bulk chunk waits for tomorrow's quota instead. */
const SINGLE_FALLBACK_CHUNKS = 10;

/** First poll after `pollAfterMs`, doubling with each poll that finds the import running, at most a minute. */
const pollDelay = (polls: number, opts: ActitoOptions): number => Math.min(opts.pollAfterMs * 2 ** Math.min(polls, 10), 60_000);

/**
 * The wait after a poll that found the import running (`s.polls` counts that poll). When the status
 * counts the lines done so far: until the rate since the upload says the rest is done, plus a tenth,
 * never sooner than `pollAfterMs` nor an eighth of the time it has run, nor later than that time (a rate
 * taken over the first seconds, queueing included, underestimates the import once under way), at most a
 * minute. Without counts (they are not documented), with every line counted but the import not finished
 * (the rate says nothing more), or when this worker's clock is behind the one that uploaded
 * (`startedAt` is that worker's): `pollDelay`'s doubling.
 */
export function nextPollMs(s: BulkState, opts: ActitoOptions, done: number | null, now: number): number {
  if (s.startedAt === undefined || !s.lines || done === null || done <= 0 || done >= s.lines || now <= s.startedAt)
    return pollDelay(s.polls, opts);
  const ran = now - s.startedAt;
  const rest = ((s.lines - done) * ran) / done;
  return Math.round(Math.min(60_000, ran, Math.max(opts.pollAfterMs, ran / 8, rest * 1.1)));
}

const pending = (s: BulkState, opts: ActitoOptions): ChunkOutcome => ({
  status: 'pending',
  handle: s.executionId ?? '',
  pollAfterMs: pollDelay(s.polls, opts),
});

/** Where a submission starts: the phase, and the state of the attempt it follows (restarts, re-sent upload). */
interface From {
  phase: Phase;
  prev: BulkState | null;
}

/**
 * The import steps of one chunk on the shared job driver (connectors/kit/async-job.ts). A retried
 * writeChunk whose import was started waits for the next poll: reading an import report costs calls
 * against Actito's per-minute budget, and the poll reads it anyway.
 */
function importJob(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables): AsyncJob<BulkState, From> {
  const first: Phase = tables.profileTable && profileWrite(opts, chunk.op) !== 'none' ? 'profiles' : 'records';
  return {
    // The last import's report is read again by a repeated poll (idempotent): there is no "done" state.
    isDone: () => false,
    // Only the execution saved for the current phase may settle rows. The handle the runtime polls
    // with can be an earlier one (the finished profiles import, a whole-failed import) when the next
    // upload's answer never came: that upload is started again.
    followed: (saved) => saved?.executionId ?? null,
    onReattach: 'wait',
    pollAfterMs: (saved) => pollDelay(saved?.polls ?? 0, opts),
    resumeFrom: (saved, why, handle) => {
      if (why === 'unconfirmed')
        ctx.log.warn('Actito import not confirmed for this phase; starting it again', {
          chunk: chunk.chunkId,
          phase: saved?.phase ?? null,
          polledHandle: handle,
        });
      return { phase: saved?.phase ?? first, prev: saved };
    },
    submit: ({ phase, prev }) => startPhase(ctx, chunk, opts, tables, phase, prev),
    status: (saved, executionId) => importStatus(ctx, chunk, opts, tables, saved!, executionId),
  };
}

export function writeBulk(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables): Promise<ChunkOutcome> {
  return writeJob(importJob(ctx, chunk, opts, tables), chunk);
}

export function pollBulk(ctx: Ctx, chunk: ChunkWrite, handle: string, opts: ActitoOptions, tables: Tables): Promise<ChunkOutcome> {
  return pollJob(importJob(ctx, chunk, opts, tables), chunk, handle);
}

async function startPhase(
  ctx: Ctx,
  chunk: ChunkWrite,
  opts: ActitoOptions,
  tables: Tables,
  phase: Phase,
  prev: BulkState | null,
): Promise<ChunkOutcome> {
  const target = phase === 'profiles' ? tables.profileTable : tables.table;
  if (!target) return startPhase(ctx, chunk, opts, tables, 'records', null);
  const built = await whileBeating(ctx, { chunk: chunk.chunk, phase, step: 'building the import file' }, () =>
    buildImportFile(ctx, chunk, opts, tables, phase),
  );
  try {
    await recordFileSeen(ctx, phase, built);
    refuseOversized(ctx, chunk, phase, built);
    return await upload(ctx, chunk, opts, tables, phase, prev, target, built);
  } finally {
    await built.dispose();
  }
}

async function upload(
  ctx: Ctx,
  chunk: ChunkWrite,
  opts: ActitoOptions,
  tables: Tables,
  phase: Phase,
  prev: BulkState | null,
  target: NonNullable<Tables['profileTable']>,
  built: ImportFile,
): Promise<ChunkOutcome> {
  if (built.lines === 0) {
    await built.dispose();
    return phase === 'profiles' ? startPhase(ctx, chunk, opts, tables, 'records', null) : { status: 'done' };
  }

  // Counted per table as Actito knows it (its id), however the activation names it (quota.ts).
  const quotaKey = quotaTable(tables, phase);
  if (!(await takeImport(ctx, quotaKey, opts))) {
    await built.dispose();
    return quotaExhausted(ctx, chunk, opts, tables, phase);
  }
  const restarts = prev?.phase === phase ? prev.restarts : 0;
  const state: BulkState = {
    phase,
    name: `syncline-${chunk.chunkId}-${phase}-${restarts}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
    executionId: null,
    restarts,
    reuploaded: prev?.phase === phase && prev.executionId === null,
    polls: 0,
    lines: built.lines,
  };
  await chunk.save(state);
  const isProfiles = phase === 'profiles';
  const how = profileWrite(opts, chunk.op);
  const mode: ImportMode = isProfiles
    ? how === 'none'
      ? 'CREATE_UPDATE'
      : PROFILE_IMPORT_MODES[how]
    : (MODES[chunk.op] ?? 'CREATE_UPDATE');
  try {
    // A slow upload must not look like a dead worker: a second attempt would send the file again.
    state.executionId = await whileBeating(ctx, { chunk: chunk.chunk, phase, step: 'uploading', name: state.name }, async () =>
      startImport(
        apiFor(ctx),
        {
          name: state.name,
          tableType: isProfiles ? 'PROFILE_TABLE' : 'CUSTOM_TABLE',
          tableId: target.id,
          mode,
          keyAttribute: isProfiles ? (opts.profiles?.matchAttribute ?? '') : ctx.destination.key,
          compression: opts.compression,
          columns: built.header,
        },
        { path: built.path, bytes: built.bytes },
      ),
    );
  } catch (err) {
    await built.dispose();
    if (isQuotaRefusal(err)) {
      await markExhausted(ctx, quotaKey, opts);
      await chunk.save(null);
      return quotaExhausted(ctx, chunk, opts, tables, phase);
    }
    if (err instanceof ActitoHttpError && err.status === 400) {
      throw new SyncError(
        'BULK_JOB_FAILED',
        `Actito refused the ${phase} import for table "${target.name}": ${bodyMessage(err.body) || 'no detail'}`,
        { details: { status: 400 } },
      );
    }
    throw toSyncError(err, `Starting the ${phase} import for table "${target.name}"`);
  }
  state.startedAt = Date.now();
  await built.dispose();
  await chunk.save(state);
  ctx.log.info('Actito bulk import started', {
    table: target.name,
    phase,
    lines: built.lines,
    executionId: state.executionId,
    reuploaded: state.reuploaded,
  });
  return pending(state, opts);
}

/** No import left today: write one by one, or wait for the next UTC day (option onQuotaExhausted). */
async function quotaExhausted(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables, phase: Phase): Promise<ChunkOutcome> {
  const table = phase === 'profiles' ? opts.profiles?.table : tableName(ctx);
  // A bulk-sized chunk sent one call at a time would take hours at Actito's 100 calls/min: wait instead.
  const tooBig = chunk.rowCount > SINGLE_FALLBACK_CHUNKS * opts.singleChunkSize;
  if (opts.onQuotaExhausted === 'wait' || tooBig) {
    const waitMs = msUntilNextUtcDay();
    ctx.log.warn('Actito daily bulk import quota used up; waiting for the next UTC day', { table, waitMs, rows: chunk.rowCount });
    throw new QuotaWaitError(
      `The daily Actito bulk import quota for table "${table}" is used up; the run resumes after midnight UTC.`,
      waitMs,
    );
  }
  ctx.log.warn('Actito daily bulk import quota used up; writing this chunk one by one', { table, rows: chunk.rowCount });
  if (phase === 'profiles') {
    const encoded: Parameters<typeof upsertProfilesOneByOne>[4] = [];
    const keysByMatch = new Map<string, string[]>();
    await eachEncoded(
      ctx,
      chunk,
      opts,
      tables,
      (row, enc) => {
        encoded.push(enc);
        if (enc.match !== null) keysByMatch.set(enc.match, [...(keysByMatch.get(enc.match) ?? []), row.key]);
      },
      true,
    );
    const failed = await upsertProfilesOneByOne(ctx, apiFor(ctx), opts, chunk.op, encoded);
    const results: RowResult[] = [...failed].flatMap(([m, message]) =>
      (keysByMatch.get(m) ?? []).map((key) => ({ key, ok: false as const, code: ROW_CODES.profile, message, retryable: false })),
    );
    await chunk.record(results);
    return startPhase(ctx, chunk, opts, tables, 'records', null);
  }
  await chunk.save(null);
  await writeSingle(ctx, chunk, { ...opts, profiles: undefined }, tables);
  return { status: 'done' };
}

/** Reads the import's report: running (counted, for the back-off), failed as a whole, or finished. */
async function importStatus(
  ctx: Ctx,
  chunk: ChunkWrite,
  opts: ActitoOptions,
  tables: Tables,
  s: BulkState,
  executionId: string,
): Promise<JobStatus<From>> {
  let status;
  try {
    status = await whileBeating(ctx, { chunk: chunk.chunk, phase: s.phase, step: 'reading the import report' }, () =>
      getImport(apiFor(ctx), executionId),
    );
  } catch (err) {
    throw toSyncError(err, `Reading Actito import ${executionId}`);
  }
  if (!status.finished) {
    const next = { ...s, polls: s.polls + 1 };
    await chunk.save(next);
    const done = status.counts ? status.counts.imported + status.counts.rejected : null;
    return { state: 'running', pollAfterMs: nextPollMs(next, opts, done, Date.now()) };
  }
  const target = s.phase === 'profiles' ? (tables.profileTable?.name ?? opts.profiles?.table ?? '') : tables.table.name;
  if (status.failed) {
    const why = status.errors[0]?.message ?? status.status;
    return {
      state: 'failed',
      resubmit: async () => {
        if (s.restarts >= MAX_RESTARTS)
          throw new SyncError('BULK_JOB_FAILED', `Actito import ${executionId} (${s.phase}, table "${target}") failed as a whole: ${why}`);
        ctx.log.warn('Actito import failed as a whole; starting it again', { executionId, phase: s.phase });
        // Nothing of a whole-failed import was written, so the new upload is not a re-send (reuploaded stays false).
        return { phase: s.phase, prev: { ...s, executionId: 'failed', restarts: s.restarts + 1 } };
      },
    };
  }
  const finished = status;
  return { state: 'finished', readResults: () => readReport(ctx, chunk, opts, tables, s, executionId, target, finished) };
}

/** Records a finished import's outcome row by row; the records phase follows the profiles phase. */
async function readReport(
  ctx: Ctx,
  chunk: ChunkWrite,
  opts: ActitoOptions,
  tables: Tables,
  s: BulkState,
  executionId: string,
  target: string,
  status: ImportStatus,
): Promise<From | null> {
  const how = profileWrite(opts, chunk.op);
  // Insert-only profiles leave an existing profile as it is; Update mode does not create a missing
  // one and leaves it to the record's own update. A record line refused as existing is no such case:
  // recordOutcome reads the record back and judges it.
  const ignore = (e: ImportLineError): boolean =>
    s.phase === 'profiles' && ((lineAlreadyExists(e) && how === 'insert') || (lineNotFound(e) && how === 'update'));
  const acc = account(status, s.lines ?? null, ignore, s.phase === 'records');
  if (acc.unaccounted)
    ctx.log.warn('Actito import report does not account for every line; rows it does not name are not counted as written', {
      executionId,
      phase: s.phase,
      table: target,
      why: acc.unaccounted,
    });
  const key = ctx.fields.find((f) => f.isKey);
  if (s.phase === 'records' && !acc.unaccounted && acc.placed === 0 && key && sentVerbatim(key)) {
    // Every line was imported and each record's id is its key: settled in Postgres, no row read back.
    await chunk.recordPendingOk({ destinationIdIsKey: true });
    return null;
  }
  const report: Report = { ...acc, executionId, table: target };
  if (acc.placed) {
    const pass = await matchedErrors(ctx, chunk, opts, tables, s.phase, report);
    if (acc.byLine.size && s.lines !== undefined && pass.rows !== s.lines) {
      // Rows of this import were recorded by an earlier poll that stopped midway: the rows left are
      // numbered from the first data line again, so a line number names another row. Those errors are
      // not used; the rows they would name are unknown (sent again), as is every row the report does not name by key.
      report.byLine = new Map();
      const why = `${s.lines - pass.rows} of its ${s.lines} rows were recorded by an earlier poll, so the line numbers its errors give no longer name the rows left`;
      report.unaccounted = report.unaccounted ? `${report.unaccounted}; ${why}` : why;
    } else if (!acc.unaccounted) {
      // An error that matches no row sent (e.g. a key Actito spelled differently) leaves its row unknown:
      // checked before any row is recorded ok.
      const unmatched = acc.placed - pass.matched;
      if (unmatched) report.unaccounted = `${unmatched} error${unmatched === 1 ? '' : 's'} name a line or key that matches no row sent`;
    }
  }
  await recordOutcome(ctx, chunk, opts, tables, s.phase, report);
  return s.phase === 'profiles' ? { phase: 'records', prev: null } : null;
}

/** Rows re-read (and re-encoded) per batch of this size after an import, their outcomes recorded per batch. */
const RECORD_BATCH = 2000;

interface Report extends Accounting {
  executionId: string;
  table: string;
}

/** The report's errors for one row: by the key sent (the match value for profiles), else by its line. */
function errorsFor(phase: Phase, enc: Encoded, line: number, r: Report): ImportLineError[] | undefined {
  const lookup = phase === 'profiles' ? enc.match : enc.key;
  return (lookup !== null ? r.byKey.get(lookup) : undefined) ?? (phase === 'records' ? r.byLine.get(line) : undefined);
}

/**
 * How many of the report's placed errors belong to a row sent, and how many rows are left to settle
 * (a pass over the rows, nothing recorded).
 */
async function matchedErrors(
  ctx: Ctx,
  chunk: ChunkWrite,
  opts: ActitoOptions,
  tables: Tables,
  phase: Phase,
  r: Report,
): Promise<{ matched: number; rows: number }> {
  const matched = new Set<ImportLineError>();
  let line = FIRST_DATA_LINE;
  let rows = 0;
  await eachEncoded(
    ctx,
    chunk,
    opts,
    tables,
    (_row, enc) => {
      rows++;
      for (const e of errorsFor(phase, enc, line, r) ?? []) matched.add(e);
      line += physicalLines(enc.record);
    },
    false,
    undefined,
    RECORD_BATCH,
  );
  return { matched: matched.size, rows };
}

async function recordOutcome(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables, phase: Phase, r: Report): Promise<void> {
  let results: RowResult[] = [];
  let existing: Array<{ row: OutRow; enc: Encoded }> = [];
  // Insert mode: a line refused because its key exists may be our own earlier write (a file sent
  // again after a lost answer, rows re-sent by a later run), an identical record, or someone else's.
  // Only reading it back tells them apart, as the one-by-one path does.
  const judge = phase === 'records' && chunk.op === 'create';
  let line = FIRST_DATA_LINE; // rows are re-encoded in the order they were written
  const unknown =
    r.unaccounted &&
    `Actito import ${r.executionId} (${phase}, table "${r.table}") does not account for every line (${r.unaccounted}), so this row is not counted as written; it is sent again. If it keeps failing, check the import in Actito.`;
  await eachEncoded(
    ctx,
    chunk,
    opts,
    tables,
    (row, enc) => {
      const errs = errorsFor(phase, enc, line, r);
      line += physicalLines(enc.record);
      if (judge && errs?.length && errs.every(lineAlreadyExists)) existing.push({ row, enc });
      else if (errs?.length) {
        const code = phase === 'profiles' ? ROW_CODES.profile : rowCode(errs[0]);
        const said = errs.map((e) => e.message).join('; ');
        const message = code === ROW_CODES.notFound && chunk.op === 'update' ? `${said}; ${updateNeverCreates(r.table)}` : said;
        results.push({
          key: row.key,
          ok: false,
          code,
          message: phase === 'profiles' ? `profile ${enc.match}: ${message}` : message,
          retryable: false,
        });
        // A row without a profile is not in the profile file: the records import decides it.
      } else if (unknown && (phase === 'records' || enc.match !== null))
        results.push({ key: row.key, ok: false, code: ROW_CODES.unconfirmed, message: unknown, retryable: true });
      else if (phase === 'records') results.push({ key: row.key, ok: true, destinationId: enc.key });
    },
    false,
    async () => {
      // Recording during the pass is safe: rows() pages by position, not by what is still unacknowledged.
      if (results.length) await chunk.record(results);
      results = [];
      for (let i = 0; i < existing.length; i += JUDGE_BATCH)
        await judgeExisting(ctx, chunk, tables.table, existing.slice(i, i + JUDGE_BATCH));
      existing = [];
    },
    RECORD_BATCH,
  );
}

/** Rows read back (one GET each, only those reported as existing) and recorded per group of this size. */
const JUDGE_BATCH = 100;

/**
 * Judges rows whose record already exists exactly as a one-by-one create does (same code, same
 * comparison): ok when the stored record holds the values the row would write, else
 * ACTITO_ALREADY_EXISTS; a record gone since the import is created.
 */
async function judgeExisting(ctx: Ctx, chunk: ChunkWrite, table: TableInfo, items: Array<{ row: OutRow; enc: Encoded }>): Promise<void> {
  // At Actito's 100 calls a minute a group takes about a minute: the timer keeps the activity alive.
  const { results, fatal } = await whileBeating(
    ctx,
    { chunk: chunk.chunk, phase: 'records', step: 'reading back records that already exist' },
    () => writeEach(ctx, apiFor(ctx), table, 'create', items),
  );
  await chunk.record(results);
  if (fatal) throw fatal;
  if (ctx.signal.aborted)
    throw new SyncError('DESTINATION_UNAVAILABLE', `Reading back chunk ${chunk.chunk}'s existing Actito records was cancelled`, {
      retryable: true,
    });
}

function rowCode(e: ImportLineError | undefined): string {
  if (e && lineAlreadyExists(e)) return ROW_CODES.exists;
  if (e && lineNotFound(e)) return ROW_CODES.notFound;
  return ROW_CODES.invalid;
}
