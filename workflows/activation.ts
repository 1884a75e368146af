/**
 * One long-lived workflow per activation (id `activation/<id>`): it schedules itself on durable
 * timers, runs each sync as a child workflow `activation/<id>/run/<n>`, never overlaps runs, serves
 * every request (re-sync, triggerSync, approveDeletes, plan, apply) from one queue, and continues as
 * new after each run so its history stays small for years.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  setWorkflowOptions,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { versioned } from './versioning';
import { noteIgnoredSignal } from './interceptors';
import type { SynclineActivities } from '../activities';
import type { LastRunNumberResult } from '../activities/runs';
import { formatProblems, parseActivationConfig, parseNewActivationConfig, type ActivationConfig } from '../common/config';
import { planConfigUpdate } from '../common/config-change';
import { parseDuration } from '../common/duration';
import { activationWorkflowId } from '../common/names';
import { activationDetails } from '../common/details';
import type { RunSummary } from '../common/run';
import { activationKey, destinationKey, healthKey } from '../common/search-attributes';
import {
  DEFAULT_RECHECK,
  answerOnce,
  bookkeeping,
  dropHeldDeletes,
  answeredBefore,
  planRun,
  keepConfigBroken,
  recheck,
  recordRun,
  resumeWithCatchUp,
  runChild,
  staleReason,
  supersedePlan,
  validateApply,
  type ActivationState,
} from './activation-runs';
import { activationWorkflowV1 } from './legacy/activation-v1';
import { activationPatches, type ActivationPatches } from './patches';
import {
  applyPlanUpdate,
  approveDeletesUpdate,
  pauseSignal,
  planUpdate,
  resumeSignal,
  resyncSignal,
  retryFailedSignal,
  runProgressSignal,
  signalText,
  statusQuery,
  stopSignal,
  triggerSyncUpdate,
  updateConfigUpdate,
  configQuery,
  IGNORED_SIGNAL_HINT,
  type ActivationStatus,
  type PlanResponse,
  type RunProgress,
  type TriggerSyncRequest,
  type UpdateConfigRequest,
  type UpdateConfigResponse,
} from './messages';
import { RequestQueue, type Job, type PendingRun } from './request-queue';
import { latestDueFire, nextFireTime } from './schedule';

export type { ActivationState } from './activation-runs';
export { mergePending, type PendingRun } from './request-queue';

export interface ActivationWorkflowInput {
  /** The activation document (validated here with the same schema the CLI uses). */
  config: unknown;
  state?: ActivationState;
  /**
   * Set by `activation start --retarget` (client/index.ts start): the document names a new target. Before
   * anything else this execution forgets the previous target's state and records the document as a new
   * version (activities/config.ts applyConfigUpdate, one transaction). Done here, by the execution that holds
   * the workflow id, not by the client before it starts one: a start that loses the id to another start must
   * leave the state of the activation that won alone. Not passed on by continue-as-new.
   */
  retarget?: { reason?: string };
  /**
   * Set by `activation start --resume`: the pause the activation was stopped in (recorded by its stop) is not
   * kept. Not passed on by continue-as-new.
   */
  resume?: boolean;
}

const acts = proxyActivities<SynclineActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 10, initialInterval: '1s' } });

/**
 * Input is `{ "config": {...} }`, or the activation document itself (handy with
 * `temporal workflow start --input-file activation.json`).
 */
// Worker Versioning: an activation lives for ever, so it moves to the current deployment version at its
// next workflow task (a timer, a request) and replays its history on the new code: every change to it, or
// to activation-runs.ts and legacy/, goes behind patched() (README "Changing workflow code").
setWorkflowOptions(versioned('AUTO_UPGRADE'), activationWorkflow);

export async function activationWorkflow(raw: ActivationWorkflowInput | Record<string, unknown>): Promise<void> {
  // One marker for the patches below (workflows/patches.ts), asked before any of them.
  const patches = activationPatches();
  // Executions started before the request queue replay the loop they began with, until their next continue-as-new.
  if (!patches.has('activation-queue')) return activationWorkflowV1(raw);
  const input: ActivationWorkflowInput =
    raw && typeof raw === 'object' && 'config' in raw ? (raw as ActivationWorkflowInput) : { config: raw };
  const activation = new Activation(validConfig(input.config), patches, input.state);
  activation.listen();
  await activation.run(input.retarget, input.resume);
}

/** The memo field `syncline list` reads (client/index.ts). */
const MEMO_KEY = 'syncline';

/** The memo the execution before this one passed on (continueAsNew), as `showDetails` writes it; '' when none. */
/**
 * The `full` of a resync signal. A text other than "true" (`--input '{"full":"false"}'` from a script) asked a
 * full re-sync, as any text is truthy: it is now no full re-sync. Asked only for such a text, so the marker
 * is recorded by those executions alone.
 */
function resyncFull(full: unknown): boolean {
  if (typeof full === 'string' && full.trim().toLowerCase() !== 'true' && patched('resync-full-text')) return false;
  return !!full;
}

function carriedMemo(): string {
  const memo = workflowInfo().memo?.[MEMO_KEY];
  return memo === undefined ? '' : JSON.stringify(memo);
}

function validConfig(doc: unknown): ActivationConfig {
  const parsed = parseActivationConfig(doc);
  if (!parsed.ok)
    throw ApplicationFailure.nonRetryable(formatProblems((doc as { id?: unknown } | null)?.id, parsed.problems), 'CONFIG_INVALID', {
      problems: parsed.problems,
    });
  const expected = activationWorkflowId(parsed.config.id);
  if (workflowInfo().workflowId !== expected) {
    throw ApplicationFailure.nonRetryable(
      `activation "${parsed.config.id}" must run with workflow id "${expected}" (got "${workflowInfo().workflowId}")`,
      'CONFIG_INVALID',
    );
  }
  return parsed.config;
}

class Activation {
  private readonly state: ActivationState;
  private readonly queue: RequestQueue;
  private running: RunProgress | null = null;
  /** Bumped by pause, resume and stop: the wait for the next request starts over. */
  private wake = 0;
  /** Set by the stop signal: the current run finishes, then the workflow ends. */
  private stopping: string | null = null;
  private memo = '';

  /** Replaced between runs by an accepted updateConfig. */
  constructor(
    private config: ActivationConfig,
    private readonly patches: ActivationPatches,
    state?: ActivationState,
  ) {
    this.state = state ?? {
      lastRunNumber: -1,
      recent: [],
      paused: false,
      pending: null,
      heldDeletes: null,
      consecutiveFailures: 0,
      health: 'ok',
    };
    this.queue = new RequestQueue(this.state);
    const attributes = [
      { key: activationKey, value: config.id },
      { key: destinationKey, value: config.destination.kind },
      { key: healthKey, value: this.state.health },
    ];
    // An execution continued as new starts with the search attributes of the one before, and with the memo
    // it passed on (continueAsNew below): with the baseline, what is already there is not upserted again
    // (an event in history and a visibility update each). Executions recorded before it replay both upserts.
    const carried = patches.baselineTaken();
    const started = workflowInfo().typedSearchAttributes;
    if (!carried || attributes.some(({ key, value }) => started.get(key) !== value)) upsertSearchAttributes(attributes as never);
    if (carried) this.memo = carriedMemo();
  }

  /** Thin handlers, registered before the first await: an update sent with the start must find them. */
  listen(): void {
    const { state, queue, config } = this;
    setHandler(resyncSignal, (req) => {
      const full = resyncFull(req?.full);
      queue.requestRun({ trigger: full ? 'full_resync' : 'manual', full, reason: signalText(req?.reason) });
    });
    setHandler(retryFailedSignal, () => queue.requestRun({ trigger: 'retry_failed', full: false, retryFailed: true }));
    setHandler(pauseSignal, (req) => this.pause(signalText(req?.reason)));
    setHandler(resumeSignal, () => this.resume());
    setHandler(runProgressSignal, (p) => {
      if (this.running && p?.runNumber === this.running.runNumber) this.running = p; // p: undefined when sent by hand with no input
      this.showDetails();
    });
    setHandler(
      triggerSyncUpdate,
      (req?: TriggerSyncRequest) =>
        queue.awaitRun({ trigger: req?.full ? 'full_resync' : 'manual', full: !!req?.full, reason: req?.reason }),
      {
        validator: (req?: TriggerSyncRequest) => {
          if (req !== undefined && (typeof req !== 'object' || req === null))
            throw new Error('triggerSync takes {"full"?: boolean, "reason"?: string}');
          if (req?.full !== undefined && typeof req.full !== 'boolean') throw new Error('"full" must be true or false');
          if (req?.reason !== undefined && typeof req.reason !== 'string') throw new Error('"reason" must be a text');
        },
      },
    );
    setHandler(
      approveDeletesUpdate,
      (req) =>
        answerOnce(state, async () => {
          const { approved } = await acts.approveHeldDeletes({ activationId: config.id, runNumber: req.run });
          state.heldDeletes = null;
          return {
            approved,
            run: await queue
              .awaitRun({ trigger: 'approval', full: false, reason: `deletions of run ${req.run} approved` })
              .catch((err: unknown) => {
                // Stopped before the run: the approval is in Postgres all the same, and the caller must know it stands.
                if (!(err instanceof ApplicationFailure) || err.type !== 'ACTIVATION_STOPPED') throw err;
                throw ApplicationFailure.nonRetryable(
                  `${err.message}. The approval of the ${approved} deletion(s) held by run ${req.run} is recorded: the first run after the activation is started again deletes those still gone from the model`,
                  err.type,
                );
              }),
          };
        }),
      {
        validator: (req) => {
          if (!req || !Number.isInteger(req.run)) throw new Error('approveDeletes takes {"run": <run number that held the deletions>}');
          if (answeredBefore(state)) return; // a retry of an approval already served
          if (!state.heldDeletes) {
            // The run of an approval failed: the approval stands (db/held-deletes.ts claimApprovals). Text only, no command.
            const last = state.recent.at(-1);
            const stands =
              last?.trigger === 'approval' && last.status === 'failed'
                ? `: the approval given before run ${last.runNumber} stands, as that run failed; the next run deletes the approved keys still gone from the model ("syncline sync ${config.id}" runs it now)`
                : '';
            throw new Error(`activation "${config.id}" has no deletions waiting for approval${stands}`);
          }
          if (state.heldDeletes.run !== req.run)
            throw new Error(
              `run ${req.run} holds no deletions; the deletions waiting for approval were held by run ${state.heldDeletes.run}`,
            );
        },
      },
    );
    setHandler(updateConfigUpdate, (req) => this.updateConfig(req), { validator: (req) => this.validateUpdate(req) });
    setHandler(stopSignal, (req) => {
      this.stopping = signalText(req?.reason) ?? 'stopped by an operator';
      this.wake++;
    });
    setHandler(planUpdate, async () => (await queue.awaitJob({ kind: 'plan' })) as PlanResponse);
    setHandler(
      applyPlanUpdate,
      (req) =>
        answerOnce(state, async () => {
          state.plan!.status = 'applying'; // a second apply of the same plan is refused from now on
          return (await queue.awaitJob({ kind: 'apply', plan: req.plan })) as RunSummary;
        }),
      { validator: (req) => (answeredBefore(state) ? undefined : validateApply(config, state, req)) },
    );
    // A signal of no name above (`temporal workflow signal --name resynq`): Temporal accepts it, so it is
    // logged and shown by the status query, never dropped silently. Only logs and query state: no command.
    setDefaultSignalHandler((name) => this.ignoreSignal(name));
    setHandler(statusQuery, () => this.status());
    // The document that runs next: one accepted and waiting for the run in progress to end, else the one running.
    setHandler(configQuery, () => this.queue.waitingConfig() ?? this.config);
  }

  async run(retarget?: ActivationWorkflowInput['retarget'], resume?: boolean): Promise<void> {
    // Only executions started with it take this branch (none recorded before it): their histories replay it.
    if (retarget) await bookkeeping.applyConfigUpdate({ config: this.config, retarget: true, reason: retarget.reason });
    if (this.state.lastRunNumber < 0) {
      const last = await bookkeeping.lastRunNumber({ activationId: this.config.id });
      this.state.lastRunNumber = last.runNumber;
      // Runs recorded before this start: an earlier execution may have left warnings open (activation-runs.ts publishWarnings).
      if (this.state.lastRunNumber > 0) this.state.restarted = true;
      await this.carryOn(last, resume);
    }
    for (;;) {
      await this.waitForWork();
      if (this.stopping !== null) return this.stop();
      const next = this.queue.take()!;
      if ('job' in next) await this.serveJob(next.job, next.ticket);
      else await this.serveRun(next.run, next.tickets);
      this.showDetails();
      if (this.stopping !== null) return this.stop();
      if (await this.mayContinueAsNew()) {
        // A stop that arrived while a handler went on (an updateConfig checking its document): the stop is not
        // carried by continue-as-new, so it ends here. Executions before the patch continued as new and kept
        // scheduling, the stop lost (test/integration/stop-while-handler.test.ts).
        if (this.stopping !== null && patched('stop-while-handler-ends')) return this.stop();
        await this.continueAsNew();
      }
    }
  }

  /**
   * The next execution starts with this one's search attributes (always: they are carried over) and, with
   * the baseline, its memo as last upserted. The memo is passed explicitly: left out, the next execution
   * would get the memo this one started with, not the one upserted since.
   */
  private async continueAsNew(): Promise<never> {
    const input: ActivationWorkflowInput = { config: this.config, state: this.state };
    if (!this.patches.baselineTaken() || !this.memo) return continueAsNew<typeof activationWorkflow>(input);
    return makeContinueAsNewFunc<typeof activationWorkflow>({ memo: { [MEMO_KEY]: JSON.parse(this.memo) as unknown } })(input);
  }

  /**
   * Started again after a stop (runs or a pause recorded before): an interval schedule carries on from its last
   * fire (the next one at last + interval, at once only when that is past), as a running activation does; and the
   * pause it was stopped in stays, unless started with `resume`. Paused by a configuration error, the destination
   * is checked now (a run follows when it checks out); still broken, CONFIG_BROKEN stays open (keepConfigBroken).
   * A cron schedule waits for its next time either way.
   * Patched: executions before fired an interval schedule at once and came back unpaused.
   *
   * The last scheduled run records the first fire it served (`scheduled_at`); one whose timer fired late by fire
   * times stood for every fire due by then (fire()), so the schedule carries on from the latest of them, counted
   * up to the run's start (`started_at`). Executions before 'restart-from-latest-fire' carried on from the first:
   * started again before the next fire, they ran at once, a run early (test/integration/interval-outage.test.ts).
   */
  private async carryOn(last: LastRunNumberResult, resume?: boolean): Promise<void> {
    const { config, state } = this;
    if (last.lastScheduledAt !== undefined && 'every' in config.schedule && patched('restart-keeps-interval')) {
      const first = Date.parse(last.lastScheduledAt);
      const latest =
        last.lastScheduledStartedAt === undefined ? first : latestDueFire(config.schedule, first, Date.parse(last.lastScheduledStartedAt));
      state.lastFireAt = latest > first && patched('restart-from-latest-fire') ? latest : first;
    }
    // Deletions held by a run of an earlier execution still wait: shown, and approved as its DELETES_HELD says.
    // Executions before the patch refused that approval ("has no deletions waiting for approval") until a run
    // held them again (test/integration/held-deletes-lifecycle.test.ts). A mode other than Mirror lets them lapse.
    if (last.heldDeletes && config.mode === 'mirror' && patched('restart-keeps-held-deletes')) state.heldDeletes = last.heldDeletes;
    if (!last.paused || resume || !patched('restart-keeps-pause')) return;
    state.paused = true;
    state.autoPaused = last.paused.auto;
    state.pausedReason = last.paused.reason;
    if (!state.autoPaused) return;
    const failure = await recheck(config, state);
    if (failure) await keepConfigBroken(config, state, failure);
  }

  /** Ends the workflow; its runs, snapshot and history stay in Postgres, and a later start carries on from them. */
  private async stop(): Promise<void> {
    // Whether it is paused, for the next start to keep (carryOn); recorded before requests are answered, so one
    // arriving meanwhile is answered too; tried again while the state database is down (bookkeeping). Not recorded
    // (a failure no retry mends), the next start comes back unpaused, or paused as an earlier stop recorded.
    // Executions before the patch recorded nothing.
    if (patched('stop-records-pause')) {
      const { config, state } = this;
      const pause = () =>
        JSON.stringify(state.paused ? { reason: state.pausedReason ?? 'paused by an operator', auto: !!state.autoPaused } : null);
      // A pause or resume signal served while the activity ran is recorded again.
      for (let recorded = ''; recorded !== pause();) {
        recorded = pause();
        const ok = await bookkeeping.recordStop({ activationId: config.id, config, paused: JSON.parse(recorded) }).then(
          () => true,
          (err: Error) => {
            log.warn(`activation "${config.id}": could not record its pause at the stop: ${err.message}`);
            return false;
          },
        );
        if (!ok) break;
      }
    }
    this.queue.answerAll({
      error: {
        type: 'ACTIVATION_STOPPED',
        message: `activation "${this.config.id}" was stopped (${this.stopping}) before serving this request; start it again to sync`,
      },
    });
    await condition(allHandlersFinished);
    this.showDetails();
  }

  private validateUpdate(req: UpdateConfigRequest): void {
    if (!req || typeof req !== 'object')
      throw new Error(
        'updateConfig takes {"config": <activation document>, "retarget"?: true, "confirm"?: true, "dryRun"?: true, "reason"?: "..."}',
      );
    const parsed = parseNewActivationConfig(req.config);
    if (!parsed.ok) throw new Error(formatProblems((req.config as { id?: unknown } | null)?.id ?? this.config.id, parsed.problems));
    if (parsed.config.id !== this.config.id)
      throw new Error(
        `the document is activation "${parsed.config.id}", this is "${this.config.id}": an activation keeps its id (start another one instead)`,
      );
  }

  /**
   * Checks the new document against the destination and answers what changes for the data; refuses a new
   * target without `retarget`, and an Insert-mode change that re-creates every record without `confirm`.
   * Accepted, it is applied between runs, never inside one.
   */
  private async updateConfig(req: UpdateConfigRequest): Promise<UpdateConfigResponse> {
    const next = (parseActivationConfig(req.config) as { ok: true; config: ActivationConfig }).config;
    const check = await acts.checkConfigUpdate({ config: next });
    if (check.problems.length) {
      throw ApplicationFailure.nonRetryable(
        `activation "${next.id}": the new document does not check out against the destination, nothing changed:\n  - ${check.problems.join('\n  - ')}`,
        'CONFIG_INVALID',
      );
    }
    const plan = planConfigUpdate(this.config, next, check.syncedRows);
    const answer = { changes: plan.changes, consequences: plan.consequences };
    if (plan.retarget && !req.retarget) {
      throw ApplicationFailure.nonRetryable(
        `activation "${next.id}": ${plan.consequences[0]}. Refused: send it again with "retarget": true (syncline activation update --retarget) to start the new target from an empty snapshot; or keep the current target`,
        'RETARGET_REFUSED',
        answer,
      );
    }
    if (plan.duplicatesRecords && !req.confirm) {
      throw ApplicationFailure.nonRetryable(
        `activation "${next.id}": ${plan.consequences.find((c) => c.includes('Insert mode'))}. Refused: send it again with "confirm": true if that is what you want`,
        'CONFIRMATION_NEEDED',
        answer,
      );
    }
    if (this.state.paused && this.state.autoPaused)
      answer.consequences.push(
        'paused by a configuration error: once applied, the destination is checked with this document at once, and the activation resumes with a run if it checks out',
      );
    // A document still waiting for the run in progress to end is superseded by this later one: the last
    // document sent counts, and it was checked against the one that runs (executions before the patch
    // applied both, in order, the second checked against the document that ran before the first).
    if (this.queue.waitingConfig() !== undefined) {
      if (req.dryRun) answer.consequences.push('a document waits to apply after the run in progress: applying this one drops it');
      else if (patched('config-update-supersedes')) {
        answer.consequences.push('the document waiting to apply after the run in progress is dropped: this one counts');
        this.queue.dropConfigJobs({
          error: {
            type: 'CONFIG_SUPERSEDED',
            message: `activation "${next.id}": a later document was sent while this one waited for the run in progress to end; this one was not applied`,
          },
        });
      }
    }
    if (req.dryRun || plan.changes.length === 0) return { applied: false, ...answer };
    const applied = (await this.queue.awaitJob({ kind: 'config', config: next, retarget: plan.retarget, reason: req.reason })) as {
      version: number;
    };
    return { applied: true, version: applied.version, ...answer };
  }

  private async serveRun(request: PendingRun, tickets: number[]): Promise<void> {
    const { config, state } = this;
    const runNumber = ++state.lastRunNumber;
    if (state.plan?.status === 'open') await supersedePlan(config, state, runNumber);
    const scheduledAt =
      request.trigger === 'schedule' && state.lastFireAt !== undefined ? (state.scheduledFor ?? state.lastFireAt) : Date.now();
    // A request that a fire joined records that fire as its run's scheduled_at (its trigger stays the request's):
    // a start after a stop carries on from it (carryOn). Executions before the patch recorded none, so a stop and
    // a start before the next fire carried on from an older scheduled run and ran at once (resync-at-fire.test.ts).
    // So does the catch-up run leaving a pause after a configuration error (resumeWithCatchUp): it stands for the
    // fires missed while paused and the schedule carries on from it (test/integration/interval-outage.test.ts).
    const recordsFire =
      request.trigger !== 'schedule' &&
      state.lastFireAt !== undefined &&
      ((request.fire === true && patched('merged-run-records-fire')) || (request.catchUp === true && patched('catch-up-records-fire')));
    const served = recordsFire ? (state.scheduledFor ?? state.lastFireAt) : undefined;
    delete state.scheduledFor;
    const summary = await this.track(runNumber, () => runChild(config, state, request, runNumber, scheduledAt, undefined, served));
    await recordRun(config, state, summary);
    this.queue.answer(tickets, { ok: summary });
  }

  private async serveJob(job: Job, ticket: number): Promise<void> {
    const { config, state } = this;
    if (job.kind === 'config') {
      // A plan computed with the document before no longer says what the activation writes: applied, it would
      // write to what that document named and commit into the snapshot the new one starts from. An apply
      // waiting behind this job ('applying') is answered stale. Executions before the patch kept it open.
      const plan = state.plan?.status === 'open' || state.plan?.status === 'applying' ? state.plan : undefined;
      const supersede = plan !== undefined && patched('config-supersedes-plan');
      let r: { version: number };
      try {
        if (supersede) await bookkeeping.supersedePlans({ activationId: config.id });
        r = await bookkeeping.applyConfigUpdate({ config: job.config, reason: job.reason, retarget: job.retarget });
      } catch (err) {
        // Waited out while the database is unreachable (STATE_WAIT); a failure no try can mend is the caller's
        // answer, and the activation goes on with the document it ran. Executions before the patch failed here.
        if (!(err instanceof ActivityFailure) || !patched('bookkeeping-failure-survived')) throw err;
        // The open plan may be superseded in Postgres already: it is not applied (a waiting apply is answered stale).
        if (supersede) state.plan = { run: plan!.run, status: 'superseded' };
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        return this.queue.answer([ticket], {
          error: {
            type: cause?.type ?? 'INTERNAL',
            message: `activation "${config.id}": the new document could not be recorded in the state database, so it was not applied and the activation goes on with the one it ran${supersede ? ` (plan ${plan!.run} no longer applies: plan again)` : ''}: ${cause?.message ?? err.message}`,
          },
        });
      }
      if (supersede) state.plan = { run: plan!.run, status: 'superseded', byVersion: r.version };
      this.config = job.config;
      if (job.retarget) await dropHeldDeletes(job.config, state);
      // Paused by a configuration error: the new document may be the fix. The destination is checked with it
      // now (a run follows when it checks out), not at the next re-check, up to \`recheck\` (1h) later.
      if (state.paused && state.autoPaused && patched('update-rechecks-now')) await recheck(job.config, state);
      // The next fire time is computed again from the new schedule.
      this.wake++;
      return this.queue.answer([ticket], { ok: { version: r.version } });
    }
    if (job.kind === 'plan') {
      const runNumber = ++state.lastRunNumber;
      const answer = await this.track(runNumber, () => planRun(config, state, runNumber)).then(
        (ok) => ({ ok }),
        (err: ApplicationFailure) => ({ error: { type: err.type ?? 'INTERNAL', message: err.message } }),
      );
      return this.queue.answer([ticket], answer);
    }
    if (state.plan?.status !== 'applying' || state.plan.run !== job.plan) {
      const message =
        state.plan?.run === job.plan && state.plan.status === 'superseded' && state.plan.by === undefined
          ? `${staleReason(config, state.plan)}; run \`syncline plan ${config.id}\` again`
          : `plan ${job.plan} of "${config.id}" is stale: run ${state.plan?.by ?? '?'} ran after it; run \`syncline plan ${config.id}\` again`;
      return this.queue.answer([ticket], { error: { type: 'PLAN_STALE', message } });
    }
    // Applying a plan completes the plan's own run (same number, same work tables).
    const request: PendingRun = { trigger: 'manual', full: false, reason: `apply plan ${job.plan}` };
    const summary = await this.track(job.plan, () => runChild(config, state, request, job.plan, Date.now(), { applyPlan: job.plan }));
    await recordRun(config, state, summary);
    state.plan = { run: job.plan, status: 'applied' };
    this.queue.answer([ticket], { ok: summary });
  }

  /** Shows the run as current (status query) while `fn` goes. */
  private async track<T>(runNumber: number, fn: () => Promise<T>): Promise<T> {
    this.running = { runNumber, phase: 'starting', chunksDone: 0, chunksTotal: 0 };
    this.showDetails();
    try {
      return await fn();
    } finally {
      this.running = null;
    }
  }

  /**
   * Waits until a request is queued or the next scheduled fire time comes (which queues a scheduled run).
   * While paused by a configuration error it wakes every `recheck` to re-check the destination instead.
   */
  private async waitForWork(): Promise<void> {
    const { config, state, queue } = this;
    /** The fire time the last wait was for (the timer's, not the time it fired at). */
    let planned: number | null = null;
    while (!queue.hasWork()) {
      this.showDetails();
      const now = Date.now();
      const rechecking = state.paused && !!state.autoPaused;
      const next = rechecking
        ? (state.lastRecheckAt ?? now) + parseDuration(config.recheck ?? DEFAULT_RECHECK)
        : state.paused
          ? null
          : nextFireTime(config.schedule, state.lastFireAt, now);
      planned = rechecking ? null : next;
      const seen = this.wake;
      const woken = () => queue.hasWork() || this.wake !== seen;
      if (this.stopping !== null) return;
      if (next === null) {
        await condition(woken);
        continue;
      }
      const why = rechecking
        ? 're-check of the destination (paused by a configuration error)'
        : `next scheduled run, ${new Date(next).toISOString()}`;
      if (await condition(woken, Math.max(1, next - now), { summary: why })) continue;
      if (rechecking) {
        await recheck(config, state);
        continue;
      }
      this.fire(next);
    }
    this.joinDueFire(planned);
  }

  /**
   * Queues the scheduled run of the fire due at `due`. Its timer may fire late by one fire time or more (no worker
   * polled through several, or none was free): the run stands for every fire due by now, and the schedule carries
   * on from the latest, while the run keeps `due` as the time it was scheduled for (its lag and deadline count
   * from the first fire it serves). Executions before the patch carried on from `due`, so the run was followed at
   * once by a second one for the fires missed (test/integration/interval-outage.test.ts).
   */
  private fire(due: number): void {
    const { config, state, queue } = this;
    const latest = latestDueFire(config.schedule, due, Date.now());
    if (latest !== due && patched('late-fire-stands-for-missed')) {
      state.lastFireAt = latest;
      state.scheduledFor = due;
    } else state.lastFireAt = due;
    queue.requestRun({ trigger: 'schedule', full: false });
  }

  /**
   * A run is about to be served while the schedule's fire is due (its timer fired in the same workflow task as the
   * request, the request and the fire both came while a run went on or no worker polled, or a first start got a
   * request at once): the run serves the fire too, and the schedule carries on from it — from the time the fire
   * was due, as when its timer fires late. Executions before the patch ran the request, then the same fire at once
   * after it. `planned`: the fire time waited for, if the activation waited.
   */
  private joinDueFire(planned: number | null): void {
    const { config, state } = this;
    if (state.pending === null || state.pending.trigger === 'schedule' || state.paused || this.stopping !== null) return;
    const now = Date.now();
    const next = planned ?? nextFireTime(config.schedule, state.lastFireAt, now);
    if (next === null || next > now || !patched('request-serves-due-fire')) return;
    this.fire(next);
  }

  /**
   * After a run: continue as new unless requests wait. Callers of triggerSync/approveDeletes/plan/apply
   * are answered first; a handler still waiting (an approval's activity, a caller waiting for the next
   * run) may queue a request at any moment, which is then served, even past a suggested continue-as-new.
   */
  private async mayContinueAsNew(): Promise<boolean> {
    const { queue } = this;
    if (queue.hasWork() && !workflowInfo().continueAsNewSuggested) return false;
    await condition(() => allHandlersFinished() || queue.hasWork());
    return !(queue.hasWork() && !allHandlersFinished());
  }

  private pause(reason?: string): void {
    // A pause without a reason on an operator's pause keeps its reason: a second "syncline pause" loses no why.
    const kept = this.state.paused && !this.state.autoPaused ? this.state.pausedReason : undefined;
    this.state.paused = true;
    this.state.autoPaused = false; // an operator's pause is never lifted by the re-check
    this.state.pausedReason = reason ?? kept ?? 'paused by an operator';
    this.wake++;
  }

  /** Keeps the last few signals of a name the activation has no handler for (status query, `syncline status`). */
  private ignoreSignal(delivered: string): void {
    this.state.ignoredSignals = noteIgnoredSignal(
      `activation "${this.config.id}"`,
      delivered,
      IGNORED_SIGNAL_HINT,
      this.state.ignoredSignals,
    );
  }

  private resume(): void {
    // After an automatic pause, resume syncs at once what piled up; the run's outcome clears CONFIG_BROKEN (or not).
    if (this.state.paused && this.state.autoPaused) resumeWithCatchUp(this.config, this.state, 'resumed after a configuration error');
    this.state.paused = false;
    this.state.pausedReason = undefined;
    this.wake++;
  }

  /**
   * The Web UI's current details (state, health, next run, the last runs, open warnings), and the same
   * in short as the execution's memo, which `syncline list` reads from each activation (describe: the visibility listing lags).
   */
  private showDetails(): void {
    const s = this.status();
    setCurrentDetails(activationDetails(this.config, { ...s, recent: this.state.recent, warnings: this.state.warnings ?? [] }));
    const last = this.state.recent.at(-1);
    const memo = JSON.stringify({
      state: this.stopping !== null ? 'stopped' : s.state,
      health: s.health,
      nextRunAt: s.nextRunAt,
      mode: this.config.mode,
      destination: this.config.destination.kind,
      lastRun: last ? { runNumber: last.runNumber, status: last.status, finishedAt: last.finishedAt ?? null } : null,
    });
    if (memo !== this.memo && this.patches.has('activation-memo')) {
      this.memo = memo;
      upsertMemo({ [MEMO_KEY]: JSON.parse(memo) as unknown });
    }
  }

  private status(): ActivationStatus {
    const { config, state } = this;
    const next = state.paused ? null : nextFireTime(config.schedule, state.lastFireAt, Date.now());
    return {
      activationId: config.id,
      state: this.running ? 'running' : state.paused ? 'paused' : 'idle',
      pausedReason: state.pausedReason,
      ...(state.paused && state.autoPaused && { autoPaused: true as const }),
      health: state.health,
      schedule: config.schedule,
      nextRunAt: next === null ? null : new Date(next).toISOString(),
      currentRun: this.running,
      pending: state.pending && { trigger: state.pending.trigger, full: state.pending.full },
      heldDeletes: state.heldDeletes,
      consecutiveFailures: state.consecutiveFailures,
      warnings: state.warnings ?? [],
      ...(state.ignoredSignals?.length && { ignoredSignals: state.ignoredSignals }),
      lastRuns: state.recent,
    };
  }
}
