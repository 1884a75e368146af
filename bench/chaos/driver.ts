/**
 * Runs one schedule: its own model table, its own emulator, its own activation on the shared worker.
 * Steps run in order; requests that do not wait overlap with the steps after them. Then the schedule
 * settles (faults cleared, activation resumed, final runs until nothing is left to retry) and the
 * invariants are checked.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Client } from '@temporalio/client';
import { SynclineClient, type RunSummary } from '../../client';
import type { ActivationStatus } from '../../workflows/messages';
import { startDestination, type Destination, type Epoch, type FaultOutcome } from './destination';
import { checkInvariants, type Approval, type ErrorRow, type HeldRow, type RunRow, type SnapshotRow } from './invariants';
import { Model, hashSql } from './model';
import { Rng } from './prng';
import type { FaultClass, GlobalFault, Phase, Schedule, Step } from './schedule';
import { sleep, withDb } from './services';
import { causeChainText } from '../../common/errors';

export interface Env {
  pool: pg.Pool;
  databaseUrl: string;
  temporal: Client;
  taskQueue: string;
  addConnection(name: string, connection: Record<string, unknown>): void;
  /**
   * A global fault for every schedule in flight. `holders`: the identities of the workers that hold this
   * run's pending activities (with several workers, a worker kill takes one of them).
   */
  strike(fault: GlobalFault, variant: string, downMs: number, by: ScheduleRun, pending: string[], holders: string[]): Promise<void>;
  log(line: string): void;
}

export interface ScheduleResult {
  seed: number;
  index: number;
  dest: string;
  mode: string;
  primary: FaultClass;
  /** The key written behind syncline's back (self-check schedules only). */
  tampered: string | null;
  /** Fault classes that struck this schedule (its own emulator faults that fired, and global faults while it ran), with counts. */
  struck: Partial<Record<FaultClass, number>>;
  violations: string[];
  notes: string[];
  runs: Record<string, number>;
  /** Activity types pending at each worker kill this schedule asked for. */
  killedDuring: string[];
  /** Activity types pending at each reset of a run (an operator's `temporal workflow reset`). */
  resets: string[];
  maxHistory: { activation: number; run: number };
  /** Runs that wrote their chunks through child workflows (more chunks than `chunksPerWorkflow`). */
  fannedOutRuns: number;
  /** What the invariants looked at: records, snapshot rows, row errors, model versions, journal writes by op. */
  checked: Record<string, number>;
  seconds: number;
}

const GUARD_PERCENT = 10;
const WAIT_MS = 15 * 60_000;
const PHASE_ACTIVITIES: Record<Exclude<Phase, 'any'>, string[]> = {
  validate: ['checkDestination', 'prepareRun'],
  extract: ['extractModel'],
  delta: ['computeDelta'],
  write: ['writeChunk', 'pollChunk', 'ensureAttributes'],
  commit: ['commitRun'],
};

export class ScheduleRun {
  readonly id: string;
  private readonly table: string;
  private readonly connectionName: string;
  private readonly syncline: SynclineClient;
  private readonly choices: Rng;
  private dest!: Destination;
  private model!: Model;
  private epoch: Epoch = 'A';
  private outstanding: Array<Promise<unknown>> = [];
  private timers: Array<Promise<unknown>> = [];
  private plan: number | null = null;
  /** approveDeletes calls as the caller saw them; what the activation did is read from its history. */
  private readonly calls: ApprovalCall[] = [];
  private approvals: Approval[] = [];
  private histories_: Array<{ runId: string; events: HistoryEvent[] }> = [];
  private readonly violations: string[] = [];
  private readonly notes: string[] = [];
  private readonly globalHits: Partial<Record<FaultClass, number>> = {};
  private readonly killedDuring: string[] = [];
  private readonly resets: string[] = [];
  private preexisting = new Set<string>();

  /** Set by `tamper`: the key written behind syncline's back before the checks. */
  tampered: string | null = null;

  constructor(
    private readonly env: Env,
    readonly s: Schedule,
    private readonly tamper = false,
  ) {
    this.id = `chaos_${s.seed}_${s.index}`;
    this.table = `chaos.m_${s.seed}_${s.index}`;
    this.connectionName = `chaos-${s.seed}-${s.index}`;
    this.syncline = new SynclineClient({ client: env.temporal, taskQueue: env.taskQueue, databaseUrl: env.databaseUrl });
    this.choices = new Rng(s.seed, s.index, 4);
  }

  /** A global fault struck while this schedule was in flight. */
  hit(fault: FaultClass): void {
    this.globalHits[fault] = (this.globalHits[fault] ?? 0) + 1;
  }

  private note(msg: string): void {
    this.notes.push(msg);
    this.env.log(`[${this.s.index}] ${msg}`);
  }

  config(epoch: Epoch): Record<string, unknown> {
    return {
      id: this.id,
      mode: this.s.mode,
      schedule: this.s.schedule,
      source: { table: this.table, key: 'id' },
      destination: this.dest.destinationConfig(),
      mappings: this.dest.mappings(epoch),
      chunkSize: this.s.chunkSize,
      ...(this.s.chunksPerWorkflow ? { chunksPerWorkflow: this.s.chunksPerWorkflow } : {}),
      deletionGuard: { maxDeletePercent: GUARD_PERCENT },
    };
  }

  async run(): Promise<ScheduleResult> {
    const started = Date.now();
    this.dest = await startDestination(this.s, this.connectionName);
    this.env.addConnection(this.connectionName, this.dest.connection());
    let history = { activation: 0, run: 0, fannedOutRuns: 0 };
    let runs: Record<string, number> = {};
    let checked: Record<string, number> = {};
    try {
      this.model = new Model(
        this.env.pool,
        this.table,
        { A: hashSql(this.config('A')), B: hashSql(this.config('B')) },
        this.s.seed,
        this.s.index,
      );
      await this.model.create(this.s.rows);
      if (this.s.mode === 'update') this.preexisting = this.preexistingKeys();
      await this.dest.setup([...this.preexisting]);
      await this.retry('start', () => this.syncline.start(this.config(this.epoch)));
      for (const [i, step] of this.s.steps.entries()) {
        try {
          await this.step(step);
        } catch (e) {
          this.note(`step ${i} ${JSON.stringify(step)}: ${(e as Error).message}`);
        }
      }
      await this.settle();
      if (this.tamper) {
        // The campaign's self-check: a write behind syncline's back must be reported.
        const key = this.model.current.rows.find(
          (r) => r.id !== null && this.model.current.rows.filter((x) => x.id === r.id).length === 1,
        )?.id;
        if (key) {
          await this.dest.tamper(key);
          this.tampered = key;
        }
      }
      history = await this.histories();
      const facts = await this.facts();
      runs = countBy(facts.runs.map((r) => `${r.trigger}:${r.status}`));
      checked = {
        records: facts.records.length,
        snapshot: facts.snapshot.length,
        rowErrors: facts.errors.length,
        held: facts.held.length,
        versions: facts.versions.length,
        ...countBy(facts.journal.filter((w) => w.seq > this.dest.seededUpTo).map((w) => w.op)),
      };
      this.violations.push(...checkInvariants(facts));
    } catch (e) {
      this.violations.push(`the schedule could not be driven to its end: ${causeChainText(e)}\n${(e as Error).stack ?? ''}`);
    } finally {
      await this.retry(
        'terminate',
        () => this.env.temporal.workflow.getHandle(`activation/${this.id}`).terminate('chaos schedule done'),
        30_000,
      ).catch(() => {});
      await this.dest.close().catch(() => {});
    }
    return {
      seed: this.s.seed,
      index: this.s.index,
      dest: this.s.dest,
      mode: this.s.mode,
      primary: this.s.primary,
      tampered: this.tampered,
      struck: this.struck(this.dest.outcomes),
      violations: this.violations,
      notes: this.notes,
      runs,
      killedDuring: this.killedDuring,
      resets: this.resets,
      maxHistory: { activation: history.activation, run: history.run },
      fannedOutRuns: history.fannedOutRuns,
      checked,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  }

  private struck(outcomes: FaultOutcome[]): Partial<Record<FaultClass, number>> {
    const out: Partial<Record<FaultClass, number>> = { ...this.globalHits };
    for (const o of outcomes) if (o.fired) out[o.fault] = (out[o.fault] ?? 0) + 1;
    return out;
  }

  /** Update mode: keys that exist in the destination before the first run (some are added to the model later). */
  private preexistingKeys(): Set<string> {
    const added = this.s.steps.reduce((n, st) => n + (st.do === 'add' ? st.n : 0), 0);
    const rng = new Rng(this.s.seed, this.s.index, 3);
    const keys = new Set<string>();
    for (let i = 1; i <= this.s.rows + added; i++) if (rng.chance(this.s.preexisting)) keys.add(`K${String(i).padStart(5, '0')}`);
    return keys;
  }

  private async step(step: Step): Promise<void> {
    if (await this.model.apply(step)) return;
    switch (step.do) {
      case 'mapping':
        return this.changeMapping();
      case 'sync': {
        const p = this.request('triggerSync', () => this.syncline.triggerSync(this.id, { full: step.full, reason: 'chaos' }));
        if (step.wait) await p;
        else this.outstanding.push(p);
        return;
      }
      case 'resync':
        return this.retry('resync', () => this.syncline.resync(this.id, { full: step.full, reason: 'chaos' }));
      case 'retryFailed':
        return this.retry('retryFailed', () => this.syncline.retryFailed(this.id));
      case 'pause':
        return this.retry('pause', () => this.syncline.pause(this.id, 'chaos').then(() => undefined));
      case 'resume':
        return this.retry('resume', () => this.syncline.resume(this.id).then(() => undefined));
      case 'plan': {
        await this.waitIdle();
        const r = await this.request('plan', () => this.syncline.plan(this.id));
        this.plan = r.ok ? r.ok.plan : null;
        return;
      }
      case 'apply': {
        if (this.plan === null) return;
        await this.request('apply', () => this.syncline.apply(this.id, this.plan!));
        return;
      }
      case 'approve':
        return this.approve(step.right);
      case 'waitRuns':
        return this.waitRuns();
      case 'waitScheduled':
        return this.waitScheduled();
      case 'sleep':
        return sleep(step.ms);
      case 'fault': {
        await this.dest.arm(step.fault, step.spec);
        if (step.clearAfterMs !== undefined) this.timers.push(sleep(step.clearAfterMs).then(() => this.dest.clearSwitch(step.spec)));
        return;
      }
      case 'global':
        return this.global(step.fault, step.variant, step.phase, step.afterMs, step.downMs);
      case 'reset':
        return this.reset(step.phase, step.afterMs);
      default:
        throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }

  /** A new mapping is a new configuration: the activation is terminated (maybe mid-run) and started again. */
  private async changeMapping(): Promise<void> {
    this.epoch = this.epoch === 'A' ? 'B' : 'A';
    await this.retry('terminate', async () => {
      const h = this.env.temporal.workflow.getHandle(`activation/${this.id}`);
      if ((await h.describe()).status.name === 'RUNNING') await h.terminate('chaos: new mapping');
    });
    // Started again, the activation carries on from its state, and the start is checked against the document
    // it ran last: in Insert mode a mapping that changes every row's content re-creates each synced row, which
    // a start refuses without `confirm`. The campaign means it (its invariants count Insert's new records).
    await this.retry('start', () => this.syncline.start(this.config(this.epoch), { confirm: true }));
  }

  /** A request whose outcome is kept: its answer, a refusal by the activation, or an error on the way. */
  private async request<T>(what: string, fn: () => Promise<T>): Promise<{ ok?: T; refused?: string; error?: string }> {
    try {
      return { ok: await withTimeout(fn(), WAIT_MS, what) };
    } catch (e) {
      const msg = (e as Error).message;
      if (/refused/.test(msg)) return { refused: msg };
      this.note(`${what}: ${causeChainText(e)}`);
      return { error: msg };
    }
  }

  /** Signals and the like, tried again while Temporal is away. */
  private async retry<T>(what: string, fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        const msg = causeChainText(e);
        if (
          Date.now() > deadline ||
          !/UNAVAILABLE|ECONNREFUSED|Connection|connect|deadline|timed out|14 |not found|already running/i.test(msg)
        )
          throw new Error(`${what}: ${msg}`);
        await sleep(1000);
      }
    }
  }

  private async waitRuns(): Promise<void> {
    const pending = this.outstanding;
    this.outstanding = [];
    await Promise.allSettled(pending);
  }

  private status(): Promise<ActivationStatus> {
    return this.retry(
      'status',
      () => this.env.temporal.workflow.getHandle(`activation/${this.id}`).query<ActivationStatus>('status'),
      300_000,
    );
  }

  /** Until no run is going on or waiting; false if that did not happen within `timeoutMs`. */
  private async waitIdle(timeoutMs = WAIT_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const st = await this.status().catch(() => null);
      if (st && st.state !== 'running' && !st.pending && !st.currentRun) return true;
      await sleep(1000);
    }
    return false;
  }

  private async approve(right: boolean): Promise<void> {
    await this.waitRuns();
    await this.waitIdle();
    let st = await this.status();
    if (right && !st.heldDeletes) {
      // The removal may not have been seen by a run yet.
      await this.request('triggerSync', () => this.syncline.triggerSync(this.id, { reason: 'chaos: before approval' }));
      st = await this.status();
    }
    let run: number;
    if (right) {
      if (!st.heldDeletes) {
        this.note('approve: nothing held to approve');
        return;
      }
      run = st.heldDeletes.run;
    } else {
      const last = st.lastRuns.at(-1)?.runNumber ?? 0;
      run = st.heldDeletes ? st.heldDeletes.run + this.choices.pick([-2, -1, 1]) : last - this.choices.int(0, 2);
    }
    const keys = await withDb(this.env.pool, async (c) =>
      (
        await c.query<{ key: string }>('SELECT key FROM syncline.held_deletes WHERE activation_id = $1 AND run_number = $2', [this.id, run])
      ).rows.map((r) => r.key),
    );
    const a: ApprovalCall = { run, keys, callStart: Date.now(), callEnd: null, answer: 'none' };
    this.calls.push(a);
    const r = await this.request('approveDeletes', () => this.syncline.approveDeletes(this.id, run));
    a.callEnd = Date.now();
    if (r.ok) {
      a.answer = `accepted: ${r.ok.approved} approved, applied by run ${r.ok.run.runNumber}`;
      if (!keys.length)
        this.violations.push(
          `approveDeletes for run ${run} was accepted although that run held no deletions (${this.s.mode}); it approved ${r.ok.approved}`,
        );
    } else {
      a.answer = r.refused ?? `error: ${r.error}`;
      if (r.refused) a.refused = true;
      if (r.refused && right && keys.length)
        this.note(`approveDeletes for run ${run}, which held ${keys.length} deletions, was refused: ${r.refused}`);
    }
  }

  /**
   * Approvals the activation accepted, from its history, with the keys the named run held when the
   * call was made; and a caller told "refused" for an approval the activation accepted and applied.
   */
  private approvalsFromHistory(): void {
    for (const { events } of this.histories_) {
      for (const e of events) {
        const acc = e.workflowExecutionUpdateAcceptedEventAttributes;
        if (!acc || acc.acceptedRequest?.input?.name !== 'approveDeletes') continue;
        const data = acc.acceptedRequest.input.args?.payloads?.[0]?.data;
        const run = data ? (JSON.parse(Buffer.from(data).toString()) as { run: number }).run : -1;
        const acceptedAt = eventTime(e);
        const done = events.find(
          (x) => x.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId === acc.acceptedRequest?.meta?.updateId,
        );
        const ok = !!done?.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success;
        const call = [...this.calls].reverse().find((c) => c.run === run && c.callStart <= acceptedAt + 1000);
        this.approvals.push({ run, keys: call?.keys ?? [], acceptedAt, completedAt: done ? eventTime(done) : null });
        if (call?.refused && ok && call.callEnd !== null && acceptedAt <= call.callEnd) {
          this.violations.push(
            `approveDeletes for run ${run} was answered "${call.answer}", yet the activation accepted it at ${new Date(acceptedAt).toISOString()} and completed it: the ${call.keys.length} held deletions were released although the caller was told they were not`,
          );
        }
      }
    }
  }

  /** A scheduled activation runs on its timer: a scheduled run starts within the interval (plus slack) while nothing else keeps it busy. */
  private async waitScheduled(): Promise<void> {
    if (!('every' in this.s.schedule)) return;
    const interval = parseInt(this.s.schedule.every, 10) * 1000;
    const since = Date.now();
    let idleSince = Date.now();
    while (Date.now() - since < WAIT_MS) {
      const started = await withDb(
        this.env.pool,
        async (c) =>
          (
            await c.query(`SELECT 1 FROM syncline.runs WHERE activation_id = $1 AND trigger = 'schedule' AND started_at > $2`, [
              this.id,
              new Date(since),
            ])
          ).rowCount,
      );
      if (started) return;
      const st = await this.status().catch(() => null);
      if (!st || st.state !== 'idle') idleSince = Date.now();
      else if (Date.now() - idleSince > interval + 45_000) {
        this.violations.push(
          `scheduled activation (every ${this.s.schedule.every}) stayed idle for ${Math.round((Date.now() - idleSince) / 1000)} s without a scheduled run (next run ${st.nextRunAt})`,
        );
        return;
      }
      await sleep(2000);
    }
    this.note('waitScheduled: no scheduled run within 15 minutes (the activation was busy)');
  }

  /**
   * A global fault, struck while this schedule's run has an activity of `phase` pending (polled on
   * Temporal every 20 ms, `afterMs` later; `any`: once a run is going on), and after 30 s of waiting
   * whatever it is doing.
   */
  private async global(fault: GlobalFault, variant: string, phase: Phase, afterMs: number, downMs: number): Promise<void> {
    let { run, pending } = await this.waitForPhase(phase);
    await sleep(afterMs);
    run = await this.runningRun().catch(() => run);
    const now = run === undefined ? { types: [], holders: [] } : await this.pending(run).catch(() => ({ types: pending, holders: [] }));
    pending = now.types;
    if (fault === 'worker_kill') this.killedDuring.push(pending.length ? pending.join('+') : 'idle');
    await this.env.strike(fault, variant, downMs, this, pending, now.holders);
  }

  /** Until this schedule's run has an activity of `phase` pending (polled every 20 ms; `any`: a run is going on), at most 30 s. */
  private async waitForPhase(phase: Phase): Promise<{ run: number | undefined; pending: string[] }> {
    const deadline = Date.now() + 30_000;
    let pending: string[] = [];
    let run: number | undefined;
    while (Date.now() < deadline) {
      run ??= await this.runningRun();
      if (run !== undefined) {
        pending = await this.pendingActivities(run);
        if (phase === 'any' || pending.some((t) => PHASE_ACTIVITIES[phase].includes(t))) break;
        if (pending.length === 0 && (await this.runningRun()) !== run) run = undefined;
      }
      await sleep(20);
    }
    return { run, pending };
  }

  /**
   * What an operator does with `temporal workflow reset --type FirstWorkflowTask`: the run under way
   * (its workflow, or its apply's) is reset to its first workflow task once it has an activity of `phase`
   * pending, `afterMs` later. The reset ends the execution (its activities still running go on: the
   * reset does not stop them) and starts the run again from its beginning, under the same run number.
   */
  private async reset(phase: Exclude<Phase, 'any'>, afterMs: number): Promise<void> {
    const { run, pending } = await this.waitForPhase(phase);
    await sleep(afterMs);
    if (run === undefined) {
      this.note(`reset: no run under way within 30 s`);
      return;
    }
    for (const wid of [`activation/${this.id}/run/${run}`, `activation/${this.id}/run/${run}/apply`]) {
      const h = this.env.temporal.workflow.getHandle(wid);
      const d = await h.describe().catch(() => null);
      if (d?.status.name !== 'RUNNING') continue;
      try {
        const events = (await h.fetchHistory()).events ?? [];
        const first = events.find((e) => e.workflowTaskCompletedEventAttributes);
        if (!first?.eventId) continue;
        await this.env.temporal.workflowService.resetWorkflowExecution({
          namespace: this.env.temporal.options.namespace,
          workflowExecution: { workflowId: wid, runId: d.runId },
          reason: 'chaos: an operator resets the run',
          workflowTaskFinishEventId: first.eventId,
          requestId: randomUUID(),
        });
        this.resets.push(pending.length ? pending.join('+') : 'idle');
      } catch (err) {
        // The run ended in between, or Temporal was down: no reset this time.
        this.note(`reset of ${wid} not done: ${(err as Error).message}`);
      }
      return;
    }
    this.note(`reset: run ${run} had ended`);
  }

  private runningRun(): Promise<number | undefined> {
    return withDb(
      this.env.pool,
      async (c) =>
        (
          await c.query<{ n: number }>(
            `SELECT run_number AS n FROM syncline.runs WHERE activation_id = $1 AND status = 'running' ORDER BY run_number DESC LIMIT 1`,
            [this.id],
          )
        ).rows[0]?.n,
    );
  }

  /** Activity types pending in run `run` (from Temporal, no worker needed). */
  private async pendingActivities(run: number): Promise<string[]> {
    return (await this.pending(run)).types;
  }

  /** The activity types pending in run `run`, and the identities of the workers that last took them. */
  private async pending(run: number): Promise<{ types: string[]; holders: string[] }> {
    for (const wid of [`activation/${this.id}/run/${run}`, `activation/${this.id}/run/${run}/apply`]) {
      try {
        const d = await this.env.temporal.workflow.getHandle(wid).describe();
        if (d.status.name !== 'RUNNING') continue;
        const pending = d.raw.pendingActivities ?? [];
        return {
          types: pending.map((p) => p.activityType?.name ?? '?'),
          holders: pending.map((p) => p.lastWorkerIdentity ?? '').filter((w) => w !== ''),
        };
      } catch {
        // not started (yet), or an apply that does not exist
      }
    }
    return { types: [], holders: [] };
  }

  /**
   * The fault-free end: requests and duration faults finish, every fault is cleared, the activation is
   * resumed and must still be scheduling; then, paused so no timer interferes, it runs until nothing is
   * left to retry (at most four runs).
   */
  private async settle(): Promise<void> {
    await withTimeout(this.waitRuns(), WAIT_MS, 'requests in flight').catch((e: Error) => this.note(e.message));
    await Promise.allSettled(this.timers);
    await this.dest.clearAll();
    await this.retry('resume', () => this.syncline.resume(this.id).then(() => undefined));
    const d = await this.retry('describe', () => this.env.temporal.workflow.getHandle(`activation/${this.id}`).describe());
    if (d.status.name !== 'RUNNING') {
      this.violations.push(`activation ${this.id} is ${d.status.name}, no longer running`);
      return;
    }
    if ('every' in this.s.schedule) {
      const st = await this.status();
      if (st.state === 'paused') this.violations.push(`activation stays paused after resume: ${st.pausedReason}`);
      else if (!st.nextRunAt) this.violations.push('scheduled activation has no next run after resume');
      await this.waitScheduled();
    }
    await this.retry('pause', () => this.syncline.pause(this.id, 'chaos: final checks'));
    if (!(await this.waitIdle()))
      this.violations.push('the activation did not settle (a run still going on or waiting) 15 minutes after the faults were cleared');
    for (let i = 0; i < 4; i++) {
      const r = await this.request('triggerSync', () => this.syncline.triggerSync(this.id, { reason: 'chaos: final run' }));
      if (r.ok && r.ok.status !== 'failed' && (await this.retryableLeft()) === 0) return;
      if (r.ok) this.note(`final run ${r.ok.runNumber}: ${describe(r.ok)}; ${await this.retryableLeft()} retryable row errors left`);
      await this.waitIdle();
    }
  }

  private async retryableLeft(): Promise<number> {
    const keys = new Set(this.model.current.rows.map((r) => r.id));
    const errs = await withDb(
      this.env.pool,
      async (c) =>
        (await c.query<{ key: string }>('SELECT key FROM syncline.row_errors WHERE activation_id = $1 AND retryable', [this.id])).rows,
    );
    return errs.filter((e) => this.s.mode === 'mirror' || keys.has(e.key)).length;
  }

  private async histories(): Promise<{ activation: number; run: number; fannedOutRuns: number }> {
    const h = this.env.temporal.workflow.getHandle(`activation/${this.id}`);
    const d = await this.retry('describe', () => h.describe());
    const activation = d.historyLength;
    const history = await this.retry('history', () => h.fetchHistory());
    const children = (history.events ?? []).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
    // Continue-as-new after each run: one execution serves a handful of runs at most, whatever the schedule did.
    if (activation > 1000 || children > 6)
      this.violations.push(
        `activation history is not bounded: the current execution has ${activation} events and started ${children} runs`,
      );
    // Every execution of the activation (continue-as-new, and restarts for a new mapping), oldest first. The
    // listing lags behind the executions, the newest most: it is read once it shows the current one (up to
    // a minute), so that no approval or pause in a recent execution is left out of the checks.
    let executions: Array<{ runId: string; start: number }> = [];
    for (let until = Date.now() + 60_000; ;) {
      executions = [];
      for await (const w of this.env.temporal.workflow.list({ query: `WorkflowId = "activation/${this.id}"` }))
        executions.push({ runId: w.runId, start: w.startTime.getTime() });
      if (executions.some((x) => x.runId === d.runId) || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    executions.sort((a, b) => a.start - b.start);
    for (const x of executions) {
      const events =
        (await this.retry('history', () => this.env.temporal.workflow.getHandle(`activation/${this.id}`, x.runId).fetchHistory())).events ??
        [];
      this.histories_.push({ runId: x.runId, events });
    }
    this.scheduledWhilePaused();
    this.approvalsFromHistory();
    let run = 0;
    let fannedOutRuns = 0;
    const numbers = await withDb(
      this.env.pool,
      async (c) =>
        (
          await c.query<{ n: number; id: string }>('SELECT run_number AS n, id::text AS id FROM syncline.runs WHERE activation_id = $1', [
            this.id,
          ])
        ).rows,
    );
    for (const { n, id } of numbers) {
      for (const wid of [`activation/${this.id}/run/${n}`, `activation/${this.id}/run/${n}/apply`]) {
        const len = await this.env.temporal.workflow
          .getHandle(wid)
          .describe()
          .then(
            (x) => x.historyLength,
            () => 0,
          );
        run = Math.max(run, len);
        if (len > 5000) this.violations.push(`run workflow ${wid} has ${len} history events`);
        // A run started again by a reset names its write children after its new id (…/write/1~<id>).
        let child = 0;
        for (const first of [`${wid}/write/1`, `${wid}/write/1~${id}`])
          child ||= await this.env.temporal.workflow
            .getHandle(first)
            .describe()
            .then(
              (x) => x.historyLength,
              () => 0,
            );
        if (child > 0) fannedOutRuns++;
        run = Math.max(run, child);
      }
    }
    return { activation, run, fannedOutRuns };
  }

  /**
   * An operator's pause holds every scheduled run: across all executions of the activation (continue-as-new
   * chains, and new chains after a mapping change, which start unpaused), no run with trigger "schedule"
   * is started between a pause signal and the next resume, in history order.
   */
  private scheduledWhilePaused(): void {
    let paused = false;
    for (const x of this.histories_) {
      for (const e of x.events) {
        const started = e.workflowExecutionStartedEventAttributes;
        if (started && !started.continuedExecutionRunId) paused = false;
        const signal = e.workflowExecutionSignaledEventAttributes?.signalName;
        if (signal === 'pause') paused = true;
        if (signal === 'resume') paused = false;
        const child = e.startChildWorkflowExecutionInitiatedEventAttributes;
        const data = child?.input?.payloads?.[0]?.data;
        if (!paused || !data) continue;
        const input = JSON.parse(Buffer.from(data).toString()) as { trigger?: string; runNumber?: number };
        if (input.trigger === 'schedule')
          this.violations.push(
            `scheduled run ${input.runNumber} started while the activation was paused by an operator (execution ${x.runId})`,
          );
      }
    }
  }

  private async facts() {
    const q = <T extends pg.QueryResultRow>(text: string) => withDb(this.env.pool, async (c) => (await c.query<T>(text, [this.id])).rows);
    return {
      s: this.s,
      dest: this.dest,
      versions: this.model.versions,
      epoch: this.epoch,
      records: await this.dest.records(),
      journal: await this.dest.journal(),
      snapshot: await q<SnapshotRow>(
        'SELECT key, hash::text AS hash, destination_id, unconfirmed FROM syncline.snapshot WHERE activation_id = $1',
      ),
      errors: await q<ErrorRow>(
        'SELECT key, op, code, retryable, hash::text AS hash, run_number FROM syncline.row_errors WHERE activation_id = $1',
      ),
      held: await q<HeldRow>('SELECT key, run_number, approved FROM syncline.held_deletes WHERE activation_id = $1'),
      runs: await q<RunRow>(
        'SELECT run_number, trigger, status, started_at, finished_at FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number',
      ),
      approvals: this.approvals,
      preexisting: this.preexisting,
      guardPercent: GUARD_PERCENT,
      now: Date.now(),
    };
  }
}

interface ApprovalCall {
  run: number;
  keys: string[];
  callStart: number;
  callEnd: number | null;
  answer: string;
  refused?: boolean;
}
type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

function eventTime(e: HistoryEvent): number {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

function describe(s: RunSummary): string {
  return `${s.status}${s.error ? ` ${s.error.type}: ${s.error.message}` : ''} ${JSON.stringify(s.ops)}`;
}

function countBy(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) out[x] = (out[x] ?? 0) + 1;
  return out;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms / 60000} min`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}
