/**
 * Bulk API 2.0 writer on the shared job driver (connectors/kit/async-job.ts): upload, close, answer
 * `pending`; the workflow sleeps and calls pollChunk. The job id is saved before the upload, so a
 * retried or crashed attempt re-attaches to its job instead of loading the rows twice.
 */
import { SyncError } from '../../common/errors';
import type { ChunkOutcome, ChunkWrite } from '../types';
import { type AsyncJob, type JobStatus, pollJob, writeJob } from '../kit/async-job';
import type { JobInfo } from './client';
import type { Session } from './context';
import { buildCsv, jobSpec } from './bulk-csv';
import { recordJobResults } from './bulk-results';
import { resendThroughCollections, retryStaleByKey } from './bulk-rest';
import { bulkJobFailure, isConfigJobFailure } from './errors';
import { ensureQuotaFromHeader } from './quota';
import { withHeartbeat } from '../kit/heartbeat';
import { ensureHardDeletePermission } from './hard-delete';

export interface BulkState {
  jobId?: string;
  uploaded?: boolean;
  overflow?: boolean;
  idToKey?: Record<string, string>;
  /** Rows in the job's CSV: decides the poll interval and whether unprocessed rows can exist. */
  rows?: number;
  /** Jobs started again after a transient job failure (capped). */
  resubmits?: number;
  /** When the job was closed (worker clock, ms): how long it has been processing. */
  closedAt?: number;
  /** The last poll's reading of the job's progress: the rate the next poll is timed by. */
  progress?: JobProgress;
  done?: boolean;
}

export interface JobProgress {
  /** Worker clock, ms. */
  at: number;
  processed: number;
}

const MAX_RESUBMITS = 3;
/** Calls a job costs besides polls: create, upload, close, and its result files (usually one). */
const JOB_CALLS = 4;
/** A job of this many rows polls every `bulkPollMs`; smaller ones sooner, larger ones later. */
const ROWS_PER_POLL_INTERVAL = 50_000;

/**
 * Adaptive polling: the interval scales with the job's size (0.2× to 8× `bulkPollMs`), so a small job
 * is read back soon and a large one, which takes minutes, is not polled every few seconds.
 */
export function pollInterval(bulkPollMs: number, rows: number | undefined): number {
  if (rows === undefined) return bulkPollMs;
  return Math.round(bulkPollMs * Math.min(8, Math.max(0.2, rows / ROWS_PER_POLL_INTERVAL)));
}

/** The first poll after closing a job: soon, since its progress is what times the next ones. */
export function firstPoll(bulkPollMs: number, rows: number | undefined): number {
  return Math.min(pollInterval(bulkPollMs, rows), Math.max(1000, Math.round(bulkPollMs / 5)));
}

/**
 * When to read a running job again, from its progress since the last poll: when the rows left should
 * be done at the rate seen (plus a tenth), or, while it shows no progress (queued), after twice the
 * last wait. Never sooner than an eighth of the time the job has run (so a job whose rate keeps falling
 * is polled a few times, not continually); never later than the time it has run, so the waits at most
 * double (a rate read over the first seconds is a poor guess: a job speeds up once under way, and
 * waiting four times that time let a 200,000-row job done 6.6 s after closing be read at 14.8 s), nor
 * later than `pollInterval` for its size.
 */
export function nextPoll(
  bulkPollMs: number,
  rows: number | undefined,
  closedAt: number | undefined,
  last: JobProgress | undefined,
  now: JobProgress,
): number {
  const cap = pollInterval(bulkPollMs, rows);
  if (rows === undefined || closedAt === undefined || last === undefined) return cap;
  const ran = now.at - closedAt;
  const floor = Math.min(cap, Math.max(1000, ran / 8));
  const ceiling = Math.min(cap, Math.max(floor, ran));
  const dt = now.at - last.at;
  const done = now.processed - last.processed;
  const wait = done > 0 && dt > 0 ? (Math.max(0, rows - now.processed) / (done / dt)) * 1.1 : 2 * dt;
  return Math.round(Math.min(ceiling, Math.max(floor, wait)));
}

const pending = (s: Session, jobId: string, rows: number | undefined): ChunkOutcome => ({
  status: 'pending',
  handle: jobId,
  pollAfterMs: firstPoll(s.options.bulkPollMs, rows),
});

async function getJobOrNull(s: Session, jobId: string): Promise<JobInfo | null> {
  try {
    return await s.client.getJob(jobId, { where: s.model.where });
  } catch (err) {
    if (err instanceof SyncError && err.code === 'DESTINATION_NOT_FOUND') return null; // purged after 7 days
    throw err;
  }
}

async function startJob(s: Session, chunk: ChunkWrite, resubmits: number): Promise<ChunkOutcome> {
  const spec = jobSpec(s.model, chunk.op);
  // Again before each job: the permission may have been taken away since check().
  if (spec.operation === 'hardDelete') await ensureHardDeletePermission(s.client, s.model.where);
  const built = await buildCsv(s, chunk, spec);
  try {
    if (built.rows === 0) {
      await chunk.save({ done: true } satisfies BulkState);
      return { status: 'done' };
    }
    ensureQuotaFromHeader(s.client, JOB_CALLS, s.options, s.model.where);
    const o = { where: s.model.where, quotaWaitMs: s.options.quotaWaitMs };
    const job = await s.client.createJob(
      {
        object: s.model.object,
        operation: spec.operation,
        ...(spec.externalIdFieldName ? { externalIdFieldName: spec.externalIdFieldName } : {}),
      },
      o,
    );
    const state: BulkState = { jobId: job.id, idToKey: built.idToKey, overflow: built.overflow, resubmits, rows: built.rows };
    await chunk.save(state);
    // Streamed from the temporary file: the CSV (up to maxCsvBytes) is never held in memory.
    await s.client.uploadJobStream(job.id, () => built.file.open(), built.file.bytes, o);
    await chunk.save({ ...state, uploaded: true });
    await s.client.setJobState(job.id, 'UploadComplete', o);
    const closedAt = Date.now();
    await chunk.save({ ...state, uploaded: true, closedAt, progress: { at: closedAt, processed: 0 } });
    return pending(s, job.id, built.rows);
  } finally {
    await built.file.dispose();
  }
}

/** Records a finished (or failed) job's results; rows whose stored Id was gone are retried by key. */
async function readResults(s: Session, chunk: ChunkWrite, job: JobInfo, saved: BulkState): Promise<void> {
  const opts = { job, ...(saved.rows !== undefined ? { uploadedRows: saved.rows } : {}), heartbeat: s.heartbeat };
  const { stale, duplicates, missingParents, madeBefore } = await recordJobResults(
    s.client,
    chunk,
    s.model,
    jobSpec(s.model, chunk.op),
    job.id,
    saved.idToKey ?? {},
    opts,
  );
  if (stale.size) await retryStaleByKey(s, chunk, stale);
  // Left unrecorded (still pending), so a retried activity re-reading this job sends them again.
  const resend = new Set([...duplicates, ...missingParents, ...madeBefore]);
  if (resend.size) await resendThroughCollections(s, chunk, resend);
}

/** Where a known job stands, in the shared driver's terms (connectors/kit/async-job.ts). */
async function jobStatus(s: Session, chunk: ChunkWrite, saved: BulkState, jobId: string): Promise<JobStatus<number>> {
  const o = { where: s.model.where };
  const resubmits = saved.resubmits ?? 0;
  const job = await getJobOrNull(s, jobId);
  if (!job) return { state: 'lost' };
  const running = async (): Promise<JobStatus<number>> => {
    const now = { at: Date.now(), processed: job.numberRecordsProcessed ?? 0 };
    const pollAfterMs = nextPoll(s.options.bulkPollMs, saved.rows, saved.closedAt, saved.progress, now);
    if (saved.closedAt !== undefined) await chunk.save({ ...saved, progress: now } satisfies BulkState);
    return { state: 'running', pollAfterMs };
  };
  switch (job.state) {
    case 'UploadComplete':
    case 'InProgress':
      return running();
    case 'Open':
      if (saved.uploaded) {
        await s.client.setJobState(job.id, 'UploadComplete', o);
        const closedAt = Date.now();
        await chunk.save({ ...saved, closedAt, progress: { at: closedAt, processed: 0 } } satisfies BulkState);
        return { state: 'running', pollAfterMs: firstPoll(s.options.bulkPollMs, saved.rows) };
      }
      // The upload may or may not have landed; an Open job has processed nothing, so start over.
      await s.client.setJobState(job.id, 'Aborted', o);
      return { state: 'lost' };
    case 'JobComplete':
      return {
        state: 'finished',
        readResults: async () => {
          await readResults(s, chunk, job, saved);
          // Rows the CSV cap left out go into a follow-up job of the same chunk.
          if (saved.overflow) return resubmits;
          await chunk.save({ jobId: job.id, done: true } satisfies BulkState);
          return null;
        },
      };
    case 'Failed':
    case 'Aborted':
      return {
        state: 'failed',
        resubmit: async () => {
          const message = job.errorMessage ?? `job ${job.state}`;
          if (job.state === 'Failed' && isConfigJobFailure(message)) throw bulkJobFailure(message, s.model.where);
          // Rows the platform managed before failing keep their results; the rest go into a new job.
          await readResults(s, chunk, job, saved);
          if (resubmits >= MAX_RESUBMITS) throw bulkJobFailure(`${message} (after ${resubmits} new jobs)`, s.model.where);
          return resubmits + 1;
        },
      };
  }
}

/**
 * The Bulk 2.0 steps for one chunk. A retried writeChunk checks its saved job at once (a status read
 * is one cheap call); a submission starts from the number of jobs already started again.
 */
function bulkJob(s: Session, chunk: ChunkWrite): AsyncJob<BulkState, number> {
  return {
    isDone: (saved) => saved?.done === true,
    followed: (saved, handle) => saved?.jobId ?? handle,
    onReattach: 'check',
    pollAfterMs: (saved) => pollInterval(s.options.bulkPollMs, saved?.rows),
    resumeFrom: (saved) => saved?.resubmits ?? 0,
    submit: (resubmits) => startJob(s, chunk, resubmits),
    status: (saved, jobId) => jobStatus(s, chunk, { ...(saved ?? {}), jobId }, jobId),
  };
}

/** Liveness for the whole step: the CSV build, the upload and the result downloads are all single long calls. */
const beating = <T>(s: Session, chunk: ChunkWrite, work: () => Promise<T>) =>
  withHeartbeat(() => s.heartbeat({ chunk: chunk.chunkId }), s.options.heartbeatMs, work);

export function writeBulk(s: Session, chunk: ChunkWrite): Promise<ChunkOutcome> {
  return beating(s, chunk, () => writeJob(bulkJob(s, chunk), chunk));
}

export function pollBulk(s: Session, chunk: ChunkWrite, handle: string): Promise<ChunkOutcome> {
  return beating(s, chunk, () => pollJob(bulkJob(s, chunk), chunk, handle));
}
