/**
 * Writes one chunk. Idempotent under retry: rows already acknowledged are not read again, the
 * connector's saved state (e.g. a bulk job id) lets it re-attach, and results are keyed by row.
 * Rows that failed with a retryable code (record locks, all-or-none rollbacks) are re-sent a few
 * times within the run; permanent failures wait in row_errors until the row's data changes.
 */
import type { ChunkOutcome, ChunkWrite, FieldSpec, OutRow, RowResult, WritePlan } from '../connectors/types';
import type { RowOp } from '../common/sync-modes';
import { SyncError } from '../common/errors';
import {
  countChunk,
  distinctRows,
  pageRows,
  recordOutcomes,
  recordOutcomeStream,
  resetRetryable,
  settleChunk,
  type ChunkCounts,
  type ChunkRange,
  type Outcome,
} from '../db/delta';
import { claimChunk, readChunkState, setChunkStatus, writeChunkState, type ChunkRecord } from '../db/chunks';
import type { SynclineDeps } from './deps';
import { buildContext, connectorFor, loadRun, sentFields, type LoadedRun } from './run-context';
import { recordChunkWrite } from './metrics';

/**
 * Sends of a chunk's rows within one run: the first, then re-sends of the rows that failed for a passing
 * reason. Bulk rows grouped by parent lock only where a job's internal batch boundary cuts a parent, and
 * each re-send is a smaller job grouped again, so two or three sends clear them (`npm run bench -- locks`:
 * 200,000 rows over 50 parents, two sends). Five leave room for locks held by others (triggers, other
 * integrations) to pass during the pauses (up to 7.5 s in all); rows still failing then wait for the next run
 * as retryable row errors.
 */
export const ROW_RETRY_ATTEMPTS = 5;
/** Pause before re-send n: 0.5 s doubling, capped, each with jitter so chunks locked together do not return together. */
const RESEND_BASE_MS = 500;
const RESEND_MAX_MS = 8_000;
export const resendPauseMs = (n: number, random = Math.random()): number => {
  const full = Math.min(RESEND_MAX_MS, RESEND_BASE_MS * 2 ** (n - 1));
  return Math.round(full / 2 + (random * full) / 2);
};

export interface WriteChunkInput {
  runId: string;
  chunk: number;
}
export interface PollChunkInput extends WriteChunkInput {
  handle: string;
}
export interface WriteChunkResult {
  status: 'done' | 'pending';
  handle?: string;
  pollAfterMs?: number;
  succeeded?: number;
  failed?: number;
}

interface ChunkState {
  /** The connector's saved state (e.g. a bulk job id). */
  c: unknown;
  /** Re-sends so far. */
  r: number;
  /** Rows re-sent so far, by the code they had failed with; summed into the run summary by the commit. */
  s?: Record<string, number>;
}

export async function writeChunk(deps: SynclineDeps, input: WriteChunkInput): Promise<WriteChunkResult> {
  return drive(deps, input, null);
}

export async function pollChunk(deps: SynclineDeps, input: PollChunkInput): Promise<WriteChunkResult> {
  return drive(deps, input, input.handle);
}

async function drive(deps: SynclineDeps, input: WriteChunkInput, handle: string | null): Promise<WriteChunkResult> {
  const started = performance.now();
  const run = await loadRun(deps, input.runId);
  // Marked begun before the destination is called (a settle lists a begun chunk's unanswered rows, and
  // takes those of a chunk never begun for never sent), in the statement that reads the chunk.
  const chunkRow = await claimChunk(deps.db, input.runId, input.chunk);
  if (!chunkRow)
    throw new SyncError('INTERNAL', `chunk ${input.chunk} of run ${run.runNumber} (${run.activationId}) is not planned`, {
      retryable: false,
    });
  const result = await driveChunk(deps, input, handle, run, chunkRow);
  recordChunkWrite(run.activationId, run.config.destination.kind, chunkRow.op, (performance.now() - started) / 1000);
  return result;
}

async function driveChunk(
  deps: SynclineDeps,
  input: WriteChunkInput,
  handle: string | null,
  run: LoadedRun,
  chunkRow: ChunkRecord,
): Promise<WriteChunkResult> {
  const connector = connectorFor(deps, run.config);
  const fields = sentFields(run);
  const ctx = buildContext(deps, run, fields);
  const range: ChunkRange = { op: chunkRow.op as RowOp, from: chunkRow.seq_from, to: chunkRow.seq_to };
  const chunk = chunkWrite(deps, run, input.chunk, range, fields, chunkRow.row_count);
  const plan: WritePlan = { method: chunkRow.method, chunkSize: chunkRow.row_count };
  let state = (chunkRow.state as ChunkState | null) ?? { c: null, r: 0 };
  for (;;) {
    let outcome: ChunkOutcome;
    if (handle !== null) {
      if (!connector.pollChunk)
        throw new SyncError('INTERNAL', `${connector.kind} returned a pending chunk but has no pollChunk`, { retryable: false });
      outcome = await connector.pollChunk(ctx, chunk, handle);
    } else if ((await counts(deps, run, range)).pending === 0) {
      outcome = { status: 'done' };
    } else {
      outcome = await connector.writeChunk(ctx, chunk, plan);
    }
    if (outcome.status === 'pending') {
      await setChunkStatus(deps.db, run.runId, input.chunk, 'pending');
      return { status: 'pending', handle: outcome.handle, pollAfterMs: outcome.pollAfterMs };
    }
    handle = null;
    state = (await readChunkState<ChunkState>(deps.db, run.runId, input.chunk)) ?? state;
    const retryable = (await counts(deps, run, range)).retryable;
    if (retryable === 0 || state.r >= ROW_RETRY_ATTEMPTS - 1) break;
    // Re-send rows that failed for a passing reason; a fresh connector state starts a new request/job.
    // Counted in the same transaction that makes the rows pending again: a retried activity finds them
    // either still failed and uncounted, or pending and counted, never counted twice.
    const before = state;
    state = await deps.db.transaction().execute(async (tx) => {
      const resent = await resetRetryable(tx, run.runId, range);
      const next: ChunkState = { c: null, r: before.r + 1, s: addCounts(before.s, resent) };
      await writeChunkState(tx, run.runId, input.chunk, next);
      return next;
    });
    await new Promise((r) => setTimeout(r, resendPauseMs(state.r)));
  }
  await setChunkStatus(deps.db, run.runId, input.chunk, 'done');
  const by = await counts(deps, run, range);
  return { status: 'done', succeeded: by.ok, failed: by.failed + by.pending };
}

function addCounts(a: Record<string, number> | undefined, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [code, n] of Object.entries(b)) out[code] = (out[code] ?? 0) + n;
  return out;
}

function counts(deps: SynclineDeps, run: LoadedRun, range: ChunkRange): Promise<ChunkCounts> {
  return countChunk(deps.db, run.runId, range);
}

/**
 * The pending rows of `range` in seq order as OutRows, `batchSize` a page (one query each), at most `max`
 * in all: a chunk's rows (ChunkWrite.rows) and a plan's sample (DestinationContext.sampleRows, delta.ts).
 */
export async function* pendingRows(
  deps: SynclineDeps,
  run: Pick<LoadedRun, 'runId' | 'activationId'>,
  range: ChunkRange,
  fields: FieldSpec[],
  batchSize: number,
  max = Infinity,
): AsyncGenerator<OutRow[]> {
  const columns = fields.map((f) => f.from);
  let after: number | null = null;
  for (let left = max; left > 0;) {
    const limit = Math.max(1, Math.min(batchSize, left));
    const page = await pageRows(deps.db, deps.pool, { runId: run.runId, activationId: run.activationId, range, columns, after, limit });
    const rows = page.rows;
    if (rows.length === 0) return;
    yield rows.map(outRowReader(page.names, fields));
    left -= rows.length;
    after = Number(rows[rows.length - 1]![page.names.lastIndexOf('__seq')]);
    if (rows.length < limit) return;
  }
}

function chunkWrite(
  deps: SynclineDeps,
  run: LoadedRun,
  chunk: number,
  range: ChunkRange,
  fields: FieldSpec[],
  rowCount: number,
): ChunkWrite {
  const columns = fields.map((f) => f.from);
  const state = () => readChunkState<ChunkState>(deps.db, run.runId, chunk);
  return {
    chunkId: `${run.activationId}/${run.runNumber}/${chunk}`,
    chunk,
    op: range.op,
    rowCount,
    rows(batchSize = 500) {
      return pendingRows(deps, run, range, fields, batchSize);
    },
    async *distinctRows(field: string, batchSize = 1000) {
      const spec = fields.find((f) => f.to === field);
      if (!spec)
        throw new SyncError('INTERNAL', `distinctRows: "${field}" is not a mapped field of ${run.activationId}`, { retryable: false });
      for await (const page of distinctRows(
        deps.db,
        deps.pool,
        { runId: run.runId, activationId: run.activationId, range, columns, distinct: spec.from },
        batchSize,
      )) {
        yield page.map((r) => toOutRow(r, fields));
      }
    },
    async record(results: RowResult[]) {
      if (results.length === 0) return;
      await recordOutcomes(deps.db, run.runId, {
        keys: results.map((r) => r.key),
        ok: results.map((r) => r.ok),
        // A row accepted incomplete keeps its reason: the commit lists it and marks it to be sent again.
        codes: results.map((r) => (r.ok ? (r.incomplete?.code ?? null) : r.code)),
        messages: results.map((r) => (r.ok ? (r.incomplete?.message ?? null) : r.message)),
        retryable: results.map((r) => (r.ok ? null : r.retryable)),
        ids: results.map((r) => (r.ok ? (r.destinationId ?? null) : null)),
      });
    },
    recordStream(results: AsyncIterable<RowResult[]>) {
      return recordOutcomeStream(deps.db, deps.pool, run.runId, outcomes(results));
    },
    async recordPendingOk({ destinationIdIsKey }) {
      await settleChunk(deps.db, run.runId, range, destinationIdIsKey);
    },
    async saved<T>() {
      return ((await state())?.c as T | undefined) ?? null;
    },
    async save(value: unknown) {
      const current = (await state()) ?? { c: null, r: 0 };
      await writeChunkState(deps.db, run.runId, chunk, { ...current, c: value });
    },
  };
}

/** Row results as the stream recorder stores them (`ChunkWrite.recordStream`). */
export async function* outcomes(results: AsyncIterable<RowResult[]>): AsyncGenerator<Outcome[]> {
  for await (const batch of results)
    yield batch.map((r) =>
      r.ok
        ? // A row accepted incomplete keeps its reason, as in record(): the commit lists it and sends it again.
          {
            key: r.key,
            ok: true,
            code: r.incomplete?.code ?? null,
            message: r.incomplete?.message ?? null,
            retryable: null,
            id: r.destinationId ?? null,
          }
        : { key: r.key, ok: false, code: r.code, message: r.message, retryable: r.retryable, id: null },
    );
}

/**
 * `toOutRow` for rows read as arrays (`pageRows`): the same OutRows, without a row object in between.
 * Positions are looked up once a page; a name given twice is read from its last position, as the row
 * object node-postgres builds keeps the last value of a name.
 */
function outRowReader(names: string[], fields: FieldSpec[]): (r: unknown[]) => OutRow {
  const at = new Map<string, number>();
  names.forEach((n, i) => at.set(n, i));
  // A name absent from the page reads as undefined, as a missing property does.
  const pos = (name: string): number => at.get(name) ?? names.length;
  const key = pos('__key');
  const op = pos('__op');
  const destinationId = pos('__destination_id');
  const token = pos('__token');
  const from = fields.map((f) => pos(f.from));
  return (r) => {
    const values: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      values[f.to] = f.isKey ? (r[from[i]!] ?? r[key]) : r[from[i]!];
    }
    return {
      key: String(r[key]),
      op: r[op] as RowOp,
      destinationId: (r[destinationId] as string | null) ?? null,
      token: String(r[token]),
      values,
    };
  };
}

function toOutRow(r: Record<string, unknown>, fields: FieldSpec[]): OutRow {
  const values: Record<string, unknown> = {};
  for (const f of fields) values[f.to] = f.isKey ? (r[f.from] ?? r.__key) : r[f.from];
  return {
    key: String(r.__key),
    op: r.__op as RowOp,
    destinationId: (r.__destination_id as string | null) ?? null,
    token: String(r.__token),
    values,
  };
}
