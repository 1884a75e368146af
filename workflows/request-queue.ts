/**
 * The activation's one request queue. Sync requests (schedule, resync, retryFailed, triggerSync,
 * approveDeletes) coalesce into one pending run; plan and apply requests wait in order and go first (a
 * run before an apply would make its plan stale). A caller that waits (an update) holds a ticket that
 * the run or job serving it answers. The pending run lives in the activation's state, so it survives
 * continue-as-new; tickets never need to (callers are answered before it).
 */
import { ApplicationFailure, condition, patched } from '@temporalio/workflow';
import type { RunSummary, RunTrigger } from '../common/run';
import type { ActivationConfig } from '../common/config';

/**
 * A run waiting to start. `retryFailed`: rows whose last write failed permanently are sent again too; it
 * survives coalescing with other requests (a state carried over from an older version has only the trigger).
 * `fire`: a request that a schedule fire joined (its trigger won the coalescing): the run serves the fire too.
 */
export interface PendingRun {
  trigger: RunTrigger;
  full: boolean;
  reason?: string;
  retryFailed?: boolean;
  fire?: boolean;
  /**
   * The catch-up run that leaves a pause after a configuration error (activation-runs.ts resumeWithCatchUp): it
   * stands for the fires missed while paused, and the schedule carries on from the time it was asked for.
   */
  catchUp?: boolean;
}

export type Job =
  { kind: 'plan' } | { kind: 'apply'; plan: number } | { kind: 'config'; config: ActivationConfig; retarget: boolean; reason?: string };
export type Answer = { ok: unknown } | { error: { type: string; message: string } };
/** What to serve next: a plan or apply job, or the pending run with the tickets of every caller waiting for it. */
export type Next = { job: Job; ticket: number } | { run: PendingRun; tickets: number[] };

/** Higher wins when requests are coalesced. */
const TRIGGER_RANK: Record<RunTrigger, number> = { retry_failed: 0, approval: 1, schedule: 1, dag: 2, manual: 2, full_resync: 3 };

export function mergePending(a: PendingRun | null, b: PendingRun): PendingRun {
  if (!a) return b;
  const trigger = TRIGGER_RANK[b.trigger] > TRIGGER_RANK[a.trigger] ? b.trigger : a.trigger;
  const retryFailed = wantsRetry(a) || wantsRetry(b);
  const fire = trigger !== 'schedule' && (servesFire(a) || servesFire(b));
  return {
    trigger,
    full: a.full || b.full,
    reason: [a.reason, b.reason].filter(Boolean).join('; ') || undefined,
    ...(retryFailed ? { retryFailed } : {}),
    ...(fire ? { fire } : {}),
    ...(a.catchUp || b.catchUp ? { catchUp: true } : {}),
  };
}

export function wantsRetry(p: PendingRun): boolean {
  return !!p.retryFailed || p.trigger === 'retry_failed';
}

/** The run serves a schedule fire: its own trigger, or a fire that joined the request. */
export function servesFire(p: PendingRun): boolean {
  return !!p.fire || p.trigger === 'schedule';
}

export class RequestQueue {
  private tickets = 0;
  private readonly jobs: Array<{ job: Job; ticket: number }> = [];
  private runWaiters: number[] = [];
  private readonly answers = new Map<number, Answer>();
  /** The answer every caller got when the activation stopped (answerAll): no request is served after it. */
  private closed: Answer | null = null;

  /** `holder.pending` is the activation state's pending run (carried across continue-as-new). */
  constructor(private readonly holder: { pending: PendingRun | null }) {}

  /** A run is wanted (a signal, the schedule): merged into the pending one. */
  requestRun(req: PendingRun): void {
    this.holder.pending = mergePending(this.holder.pending, req);
  }

  /** A run is wanted and the caller waits for its summary. */
  async awaitRun(req: PendingRun): Promise<RunSummary> {
    this.refuseWhenClosed();
    const ticket = ++this.tickets;
    this.runWaiters.push(ticket);
    this.requestRun(req);
    return (await this.answerOf(ticket)) as RunSummary;
  }

  /** A plan or apply job; the caller waits for its answer (an error answer is thrown as the update's failure). */
  async awaitJob(job: Job): Promise<unknown> {
    this.refuseWhenClosed();
    const ticket = ++this.tickets;
    this.jobs.push({ job, ticket });
    return this.answerOf(ticket);
  }

  hasWork(): boolean {
    return this.jobs.length > 0 || this.holder.pending !== null;
  }

  hasJobs(): boolean {
    return this.jobs.length > 0;
  }

  /** The document of the last configuration change waiting to be applied (between runs), if any. */
  waitingConfig(): ActivationConfig | undefined {
    let last: ActivationConfig | undefined;
    for (const { job } of this.jobs) if (job.kind === 'config') last = job.config;
    return last;
  }

  /** Drops the configuration changes waiting to be applied, answering their callers with `answer`; how many. */
  dropConfigJobs(answer: Answer): number {
    const dropped = this.jobs.filter((j) => j.job.kind === 'config');
    if (dropped.length === 0) return 0;
    this.answer(
      dropped.map((j) => j.ticket),
      answer,
    );
    this.jobs.splice(0, this.jobs.length, ...this.jobs.filter((j) => j.job.kind !== 'config'));
    return dropped.length;
  }

  take(): Next | null {
    const job = this.jobs.shift();
    if (job) return job;
    const run = this.holder.pending;
    if (!run) return null;
    this.holder.pending = null;
    const tickets = this.runWaiters;
    this.runWaiters = [];
    return { run, tickets };
  }

  answer(tickets: number[], answer: Answer): void {
    for (const t of tickets) this.answers.set(t, answer);
  }

  /** Every caller still waiting gets `answer` (the activation is stopping); queued runs and jobs are dropped. */
  answerAll(answer: Answer): void {
    this.answer([...this.runWaiters, ...this.jobs.map((j) => j.ticket)], answer);
    this.runWaiters = [];
    this.jobs.length = 0;
    this.holder.pending = null;
    this.closed = answer;
  }

  /**
   * A request that reaches the queue after the activation stopped (a handler whose activity was still under way
   * at the stop: an approval being recorded, a document being checked) gets the stop's answer at once. Waiting,
   * it was never answered, and the stopped activation, which waits for its handlers to finish, never ended
   * (test/integration/stop-while-approving.test.ts). Asked only then: executions before the patch waited.
   */
  private refuseWhenClosed(): void {
    const a = this.closed;
    if (a && 'error' in a && patched('stop-answers-late-requests')) throw ApplicationFailure.nonRetryable(a.error.message, a.error.type);
  }

  private async answerOf(ticket: number): Promise<unknown> {
    await condition(() => this.answers.has(ticket));
    const a = this.answers.get(ticket)!;
    this.answers.delete(ticket);
    if ('error' in a) throw ApplicationFailure.nonRetryable(a.error.message, a.error.type);
    return a.ok;
  }
}
