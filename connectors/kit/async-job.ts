/**
 * Asynchronous destination jobs (bulk APIs), run one way for every connector: submit a job → poll it
 * → read its results → submit the next one or finish. The activity never waits for the destination:
 * a running job answers `pending`, the workflow sleeps on a timer and calls pollChunk.
 *
 * The connector keeps its own saved state (`S`, in `chunk.save()`) and supplies the steps; this
 * driver owns the order and the rules every bulk path needs:
 * - the saved state is authoritative: a job is followed only if the state names it (it is saved
 *   before any data is sent), a handle the runtime polls with may predate a resubmission;
 * - a retried writeChunk re-attaches to the job it saved instead of sending the rows twice;
 * - a job the destination no longer knows, or one never confirmed, is submitted again;
 * - a failed job reads what it managed, then is submitted again or fails the chunk.
 */
import type { ChunkOutcome, ChunkWrite } from '../types';

/** Where a followed job stands, with what to do next for `finished` and `failed`. */
export type JobStatus<N> =
  | { state: 'running'; pollAfterMs: number }
  /** Records the job's rows; returns where to submit the next job from, or null when the chunk is done. */
  | { state: 'finished'; readResults(): Promise<N | null> }
  /** Records what the job managed; returns where to submit again from, or throws when out of attempts. */
  | { state: 'failed'; resubmit(): Promise<N> }
  /** The destination no longer knows the job, or it never received its data: submit again. */
  | { state: 'lost' };

/** Why a job is about to be submitted: first time, a poll found none confirmed, or the destination lost it. */
export type SubmitReason = 'start' | 'unconfirmed' | 'lost';

/**
 * One connector's job steps. `S` is its saved chunk state, `N` what a submission starts from (e.g. the
 * attempt number, or the phase of a multi-step import).
 */
export interface AsyncJob<S, N> {
  /** The saved state says every job of the chunk is done. */
  isDone(saved: S | null): boolean;
  /** The job to follow, or null when none was confirmed. `handle` is what pollChunk was called with (null from writeChunk). */
  followed(saved: S | null, handle: string | null): string | null;
  /**
   * What writeChunk does when it finds a followed job (a retried attempt): `check` its status now, or
   * `wait` for the next poll (a job whose status read is costly or rate-limited).
   */
  onReattach: 'check' | 'wait';
  /** How long the workflow sleeps before polling a followed job (used by `onReattach: 'wait'`). */
  pollAfterMs(saved: S | null): number;
  /** Where to submit from when no job is followed (`handle`: the one pollChunk was called with, if any). */
  resumeFrom(saved: S | null, why: SubmitReason, handle: string | null): N;
  /**
   * Builds and starts one job, saving a state that names it before sending any data. Answers
   * `pending` (the job runs), or `done` when nothing was left to send (or the rows went another way).
   */
  submit(from: N): Promise<ChunkOutcome>;
  /** Reads where the job stands (finishing an interrupted submission is allowed, e.g. closing an uploaded job). */
  status(saved: S | null, jobId: string): Promise<JobStatus<N>>;
}

const DONE: ChunkOutcome = { status: 'done' };

/** writeChunk for an asynchronous method: start the chunk's job, or re-attach to the one it saved. */
export async function writeJob<S, N>(job: AsyncJob<S, N>, chunk: ChunkWrite): Promise<ChunkOutcome> {
  const saved = await chunk.saved<S>();
  if (job.isDone(saved)) return DONE;
  const jobId = job.followed(saved, null);
  if (jobId === null) return job.submit(job.resumeFrom(saved, 'start', null));
  if (job.onReattach === 'wait') return { status: 'pending', handle: jobId, pollAfterMs: job.pollAfterMs(saved) };
  return advance(job, saved, jobId);
}

/** pollChunk for an asynchronous method: advance the followed job one step. */
export async function pollJob<S, N>(job: AsyncJob<S, N>, chunk: ChunkWrite, handle: string): Promise<ChunkOutcome> {
  const saved = await chunk.saved<S>();
  if (job.isDone(saved)) return DONE;
  const jobId = job.followed(saved, handle);
  if (jobId === null) return job.submit(job.resumeFrom(saved, 'unconfirmed', handle));
  return advance(job, saved, jobId);
}

async function advance<S, N>(job: AsyncJob<S, N>, saved: S | null, jobId: string): Promise<ChunkOutcome> {
  const status = await job.status(saved, jobId);
  switch (status.state) {
    case 'running':
      return { status: 'pending', handle: jobId, pollAfterMs: status.pollAfterMs };
    case 'lost':
      return job.submit(job.resumeFrom(saved, 'lost', jobId));
    case 'finished': {
      const next = await status.readResults();
      return next === null ? DONE : job.submit(next);
    }
    case 'failed':
      return job.submit(await status.resubmit());
  }
}
