/**
 * One sync of an activation (workflow id `activation/<id>/run/<n>`), top to bottom:
 *
 *   validate -> extract -> delta -> ensure attributes -> write every chunk -> commit (always) -> warnings
 *
 * Each step's result is the next step's input; only run ids, chunk numbers and counts cross history,
 * rows stay in Postgres. `syncline plan` stops after the delta; `syncline apply` starts from the frozen
 * plan's chunks. The `runState` query shows every step with its state and times.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  executeChild,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  setWorkflowOptions,
  sleep,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { versioned } from './versioning';
import type { SynclineActivities } from '../activities';
import type { RunStillOpenDetails } from '../activities/run-workflows';
import { activationWorkflowId } from '../common/names';
import type { ActivationConfig } from '../common/config';
import { CONFIG_ERROR_CODES } from '../common/errors';
import type { TaskError } from '../common/dag';
import type { RowOp } from '../common/sync-modes';
import { describeRun, emptyOpCounts, type RunSummary, type RunTrigger, type RunWarning } from '../common/run';
import { evaluateRunWarnings } from '../common/thresholds';
import { chunkSummary, runResultDetails } from '../common/details';
import { taskError } from './dag';
import { runStateQuery } from './messages';
import {
  CHUNKS_PER_WORKFLOW,
  WRITE_PARALLELISM,
  quotaWait,
  writeChunksWorkflow,
  writeOneChunk,
  type MetricLabels,
  type QuotaWaiter,
} from './write-chunks';
import { RunView } from './run-view';
import { runPatches, type RunPatches } from './patches';
import { syncRunDagV1 } from './legacy/sync-run-dag';

export interface SyncRunInput {
  activationId: string;
  runNumber: number;
  trigger: RunTrigger;
  full: boolean;
  /** Also re-send rows whose last write failed permanently (a retryFailed request, possibly coalesced). */
  retryFailed?: boolean;
  config: ActivationConfig;
  scheduledAt?: string;
  /** Summary of the previous run, for volume-anomaly thresholds. */
  previous?: Pick<RunSummary, 'modelRows' | 'status'>;
  /** Stop after the delta: record the plan, keep the work tables, write and commit nothing. */
  planOnly?: boolean;
  /** Write the frozen plan computed by run `applyPlan` (its work tables), then commit it. */
  applyPlan?: number;
}
export type SyncRunResult = RunSummary;

const RETRY = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '2m',
  maximumAttempts: 8,
  nonRetryableErrorTypes: [...CONFIG_ERROR_CODES, 'QUOTA_RESERVE_REACHED'],
};
// They heartbeat on a timer (activities/liveness.ts): a worker that dies during a commit is noticed within a minute.
const quick = proxyActivities<SynclineActivities>({ startToCloseTimeout: '5m', heartbeatTimeout: '1m', retry: RETRY });
// Extract and delta may take long on big models: they heartbeat every few seconds.
const long = proxyActivities<SynclineActivities>({ startToCloseTimeout: '6h', heartbeatTimeout: '1m', retry: RETRY });
// A dead worker is noticed within a minute: connectors heartbeat at least per batch or poll.
const WRITE: ActivityOptions = { startToCloseTimeout: '1h', heartbeatTimeout: '1m', retry: RETRY };
const write = proxyActivities<SynclineActivities>(WRITE);
/**
 * Small runs take short steps as local activities on the worker running the workflow: one marker event
 * each instead of six events and two task round trips. Prepare and validate when the previous run read at
 * most SMALL_RUN_ROWS model rows; delta and commit when this run's extract read at most that many. Extract
 * stays an activity whatever the size: a model of few rows may still be a long query (an aggregate over a
 * big table), which needs the long timeout and heartbeats. Each step is idempotent (a retried commit returns
 * the recorded summary) and a dead worker's steps are run again by the next worker that takes the workflow
 * task, as activities would be. Writes stay activities.
 */
const SMALL_RUN_ROWS = 10_000;
const local = proxyLocalActivities<SynclineActivities>({ startToCloseTimeout: '5m', localRetryThreshold: '30s', retry: RETRY });
/**
 * The prepare, as the step above (an activity, or a local activity for a small run), except that it does not
 * try again on RUN_STILL_OPEN: a run of an execution of the activation that was reset still writes, for as
 * long as it takes (a million-row Bulk job: many minutes). The run waits for it instead (waitForOpenRuns).
 * Tried again by the step, its retries ran out after about 4 minutes and the run failed with RUN_STILL_OPEN.
 * An activity's retry policy is not compared at replay (README "Changing workflow code"; a local activity's
 * backoff is read from its marker): runs recorded before replay unchanged.
 */
const PREPARE_RETRY = { ...RETRY, nonRetryableErrorTypes: [...RETRY.nonRetryableErrorTypes, 'RUN_STILL_OPEN'] };
const prepareActivity = proxyActivities<SynclineActivities>({ startToCloseTimeout: '5m', heartbeatTimeout: '1m', retry: PREPARE_RETRY });
const prepareLocal = proxyLocalActivities<SynclineActivities>({
  startToCloseTimeout: '5m',
  localRetryThreshold: '30s',
  retry: PREPARE_RETRY,
});
/**
 * The wait for an open run (awaitRunWorkflow): as long as that run takes, heartbeating; tried again without
 * limit while the worker or Temporal is away (the activation's own wait, activation-runs.ts, is the same).
 */
const openRunWait = proxyActivities<SynclineActivities>({
  startToCloseTimeout: '24h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Worker Versioning: a run ends within hours, on the version it started on (its workers stay until it does).
setWorkflowOptions(versioned('PINNED'), syncRunWorkflow);

export async function syncRunWorkflow(input: SyncRunInput): Promise<SyncRunResult> {
  // One marker for the patches below (workflows/patches.ts), asked before any of them.
  const patches = runPatches();
  // Runs started by version 0.1.0 replay the DAG-shaped run they began with.
  if (!patches.has('sync-run-straight')) return syncRunDagV1(input);
  const run = new SyncRun(input, patches);
  setHandler(runStateQuery, () => run.view.state);
  return input.planOnly ? run.plan() : run.sync();
}

/** What the writes start from: a fresh delta, or a frozen plan. */
interface Work {
  chunks: number[];
  chunkLabels?: string[];
  missingAttributes: number;
}

class SyncRun {
  readonly view: RunView;
  /** Where prepare and validate run (`early`), and delta and commit (`late`): activities, or local activities for a small run. */
  private readonly early: typeof quick;
  private late: typeof quick = quick;
  /** Raised while the run waits for the destination's quota; they go into the summary. */
  private readonly quotaWarnings: RunWarning[] = [];
  /** The prepare settled an earlier attempt of this run number (a reset started the run again). */
  private startedAgain = false;
  private readonly quota: QuotaWaiter;

  /** Labels of the metrics this run records. */
  private get labels(): MetricLabels {
    return { activation: this.input.activationId, destination: this.input.config.destination.kind };
  }

  constructor(
    private readonly input: SyncRunInput,
    private readonly patches: RunPatches,
  ) {
    this.view = new RunView(`sync:${input.activationId}`, workflowInfo().parent?.workflowId, input.runNumber, patches);
    // Runs started before small runs went local replay their steps as activities.
    this.early = this.mayGoLocal(input.previous?.modelRows) ? local : quick;
    this.quota = {
      activationId: input.activationId,
      runNumber: input.runNumber,
      activationWorkflowId: workflowInfo().parent?.workflowId,
      warnings: this.quotaWarnings,
      beforeWait: () => this.view.waiting(),
    };
  }

  /** A run that is neither a plan nor an apply, of at most SMALL_RUN_ROWS rows (asks the patch only then). */
  private mayGoLocal(rows: number | undefined): boolean {
    const { input } = this;
    return (
      rows !== undefined &&
      rows <= SMALL_RUN_ROWS &&
      !input.planOnly &&
      input.applyPlan === undefined &&
      this.patches.has('small-run-local-steps')
    );
  }

  async sync(): Promise<RunSummary> {
    const { input } = this;
    const frozen = input.applyPlan === undefined ? null : await this.loadPlan(input.applyPlan);
    // Applying reuses the plan run's record and work tables: they hold exactly the rows that were planned.
    const runId = frozen?.runId ?? (await this.prepare()).runId;
    let failure: TaskError | undefined;
    try {
      const work: Work = frozen ?? (await this.computeDelta(runId));
      if (work.missingAttributes > 0)
        await this.view.step('ensure_attributes', () => quotaWait(this.quota, () => quick.ensureAttributes({ runId })));
      failure = await this.writeChunks(runId, work);
    } catch (err) {
      failure = taskError(err);
    }
    // The commit runs whatever failed above: rows the destination accepted advance the snapshot, the rest are listed.
    const summary = await this.commit(runId, failure);
    if (frozen) await quick.markPlanApplied({ activationId: input.activationId, plan: input.applyPlan! });
    // The commit evaluated them into the run's record; a commit recorded before it did returns none: added here.
    // A full re-sync raises no DELTA_LARGE (asked only on one: other runs carry no marker).
    const fullRunSendsAll = summary.full && patched('no-delta-large-on-full-resync');
    const own = await this.view.step('warnings', async () =>
      evaluateRunWarnings(input.config, summary, input.previous, { fullRunSendsAll }),
    );
    summary.warnings.push(...own.filter((w) => !summary.warnings.some((x) => x.code === w.code)));
    this.view.finish(summary.status === 'failed' ? 'failed' : 'success');
    setCurrentDetails(runResultDetails(summary));
    if (summary.status === 'failed') {
      const err = summary.error ?? failure ?? { type: 'INTERNAL', message: 'the run failed' };
      throw ApplicationFailure.create({
        message: `${describeRun(summary)}: ${err.message}`,
        type: err.type,
        nonRetryable: true,
        details: [summary],
      });
    }
    return summary;
  }

  /**
   * The frozen plan to apply. A plan it refuses (closed, or an earlier attempt of this apply began writing: a
   * reset, whose earlier attempt it settled) fails the run with its own message, not the activity's "Activity
   * task failed": the same command (the run fails), another text.
   */
  private async loadPlan(plan: number) {
    try {
      return await quick.loadPlan({ activationId: this.input.activationId, plan });
    } catch (err) {
      const e = taskError(err);
      throw ApplicationFailure.create({ message: e.message, type: e.type, nonRetryable: true });
    }
  }

  /** `syncline plan`: the delta is computed and recorded as a plan; nothing is written or committed. */
  async plan(): Promise<RunSummary> {
    const { input } = this;
    try {
      const { runId } = await this.prepare();
      const delta = await this.computeDelta(runId);
      const planned = await this.view.step('plan', () =>
        quick.recordPlan({ runId, planned: delta.planned, rejected: delta.rejected, heldDeletes: delta.heldDeletes }),
      );
      this.view.finish('success');
      return planSummary(input, planned.counts);
    } catch (err) {
      this.view.finish('failed');
      const e = taskError(err);
      throw ApplicationFailure.create({
        message: `plan ${input.runNumber} of "${input.activationId}": ${e.message}`,
        type: e.type,
        nonRetryable: true,
      });
    }
  }

  private async prepare() {
    const { input } = this;
    const prepare = this.early === local ? prepareLocal : prepareActivity;
    for (;;) {
      try {
        const prepared = await prepare.prepareRun({
          activationId: input.activationId,
          runNumber: input.runNumber,
          trigger: input.trigger,
          full: input.full,
          config: input.config,
          scheduledAt: input.scheduledAt,
          ...(input.retryFailed ? { retryFailed: true } : {}),
        });
        this.startedAgain = prepared.startedAgain === true;
        return prepared;
      } catch (err) {
        // Asked only on this refusal: runs recorded before the patch failed here (nothing else asks it).
        const open = stillOpen(err);
        if (!open || !patched('run-waits-for-open-run')) throw err;
        await this.waitForOpenRuns(open);
      }
    }
  }

  /**
   * The prepare was refused (RUN_STILL_OPEN): a run of an execution of the activation that was reset (a
   * later run number, which this run would settle) still has its workflow open and writing. Settled under
   * it, the rows it has in flight would be sent a second time. The run waits for each such workflow to end
   * (awaitRunWorkflow, an activity that heartbeats, however long that run takes), shown as the step
   * `waiting_run` (runState, the activation's status), then prepares again: the ended run has committed
   * itself, or (terminated) is settled by the prepare.
   */
  private async waitForOpenRuns(workflowIds: string[]): Promise<void> {
    const { input } = this;
    await this.view.waitStep('waiting_run', async () => {
      log.info(
        `run ${input.runNumber} of "${input.activationId}" waits for ${workflowIds.join(', ') || 'a run'} (still open: its activation was reset, that run goes on) to end before it prepares`,
      );
      // Refused by a worker that named no run (a release before): looked at again in a minute.
      if (!workflowIds.length) return sleep('1 minute', { summary: 'waiting_run · an earlier run still open' });
      for (const workflowId of workflowIds) {
        await openRunWait
          .awaitRunWorkflow({ activationWorkflowId: activationWorkflowId(input.activationId), workflowId })
          // Refused (its id held by a workflow that is no run of the activation, which the prepare does not wait
          // for either): the prepare looks again, after a pause that keeps a surprise from looping fast.
          .catch((err: Error) => {
            log.warn(`run ${input.runNumber} of "${input.activationId}": could not wait for ${workflowId}: ${err.message}`);
            return sleep('10 seconds');
          });
      }
    });
  }

  private async computeDelta(runId: string) {
    const checked = await this.view.step('validate', () => quotaWait(this.quota, () => this.early.checkDestination({ runId })), {
      local: this.early === local,
    });
    const { modelRows } = await this.view.step('extract', () => long.extractModel({ runId }));
    if (this.mayGoLocal(modelRows)) this.late = local;
    const delta = await this.view.step('delta', () => this.late.computeDelta({ runId }), { local: this.late === local });
    return { ...delta, missingAttributes: checked.missingAttributes };
  }

  /**
   * Every chunk, at most WRITE_PARALLELISM at a time; one chunk's failure stops no other. Returns the first
   * failure. More chunks than one history should hold go to child workflows (workflows/write-chunks.ts).
   */
  private async writeChunks(runId: string, work: Work): Promise<TaskError | undefined> {
    const { chunks } = work;
    const perWorkflow = this.input.config.chunksPerWorkflow ?? CHUNKS_PER_WORKFLOW;
    // Runs that began before the fan-out existed wrote every chunk themselves; they replay doing so.
    if (chunks.length > perWorkflow && this.patches.has('write-chunk-workflows')) {
      const failures = await this.view.batched('write', chunks.length, perWorkflow, (from, to) =>
        this.writeBatch(runId, work, from, to, Math.floor(from / perWorkflow) + 1),
      );
      return failures[0];
    }
    const failures = await this.view.mapped('write', chunks.length, WRITE_PARALLELISM, (i) =>
      quotaWait(this.quota, () =>
        writeOneChunk(write, WRITE, runId, chunks[i]!, chunkSummary(i, chunks.length, work.chunkLabels?.[i]), this.labels),
      ),
    );
    return failures[0];
  }

  /** Chunks from..to-1, written by child workflow number `batch`; its quota warnings join the run's. */
  private async writeBatch(runId: string, work: Work, from: number, to: number, batch: number) {
    const { input } = this;
    const info = workflowInfo();
    // A run started again by a reset (its prepare settled the earlier attempt, which the history records): the
    // execution that was reset may still have its write children open (their parent-close policy ends them,
    // but not at once), and a child of the same id would not start (WorkflowExecutionAlreadyStarted failed
    // the run). Its children take ids of their own: the run's new id. Asked only after a reset.
    const suffix = this.startedAgain && patched('write-child-id-after-reset') ? `~${runId}` : '';
    const result = await executeChild(writeChunksWorkflow, {
      workflowId: `${info.workflowId}/write/${batch}${suffix}`,
      args: [
        {
          activationId: input.activationId,
          runNumber: input.runNumber,
          runId,
          destination: input.config.destination.kind,
          activationWorkflowId: this.quota.activationWorkflowId,
          chunks: work.chunks.slice(from, to),
          first: from,
          total: work.chunks.length,
          ...(work.chunkLabels ? { labels: work.chunkLabels.slice(from, to) } : {}),
          writeOptions: WRITE,
        },
      ],
      staticSummary: `${input.activationId} · run ${input.runNumber} · chunks ${from + 1}–${to} of ${work.chunks.length}`,
    });
    for (const w of result.quotaWarnings) if (!this.quotaWarnings.some((q) => q.code === w.code)) this.quotaWarnings.push(w);
    return result.failures;
  }

  private async commit(runId: string, failure: TaskError | undefined): Promise<RunSummary> {
    try {
      return await this.view.step(
        'commit',
        () =>
          this.late.commitRun({
            runId,
            error: failure,
            warnings: this.quotaWarnings,
            thresholds: { previous: this.input.previous },
          }),
        {
          local: this.late === local,
        },
      );
    } catch (err) {
      this.view.finish('failed');
      const e = taskError(err);
      throw ApplicationFailure.nonRetryable(
        `run ${this.input.runNumber} of "${this.input.activationId}" could not be committed (${e.message}); the next run settles what it wrote${failure ? `; before that: ${failure.message}` : ''}`,
        'INTERNAL',
      );
    }
  }
}

/**
 * The workflow ids a RUN_STILL_OPEN refusal of the prepare names (none from a release before), else undefined.
 * An activity's failure comes as an ActivityFailure around it; a local activity's as the failure itself.
 */
function stillOpen(err: unknown): string[] | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || cause.type !== 'RUN_STILL_OPEN') return undefined;
  const ids = (cause.details?.[0] as RunStillOpenDetails | undefined)?.workflowIds;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
}

/** A plan run's result: ops carry the planned counts only; nothing was written or committed. */
function planSummary(input: SyncRunInput, counts: Record<string, number>): RunSummary {
  const ops: RunSummary['ops'] = {};
  for (const [op, n] of Object.entries(counts))
    if (op !== 'rejected' && op !== 'heldDeletes') ops[op as RowOp] = { ...emptyOpCounts(), planned: n };
  const now = new Date().toISOString();
  return {
    activationId: input.activationId,
    runNumber: input.runNumber,
    trigger: input.trigger,
    mode: input.config.mode,
    full: input.full,
    status: 'success',
    startedAt: now,
    finishedAt: now,
    ops,
    rejected: counts.rejected ?? 0,
    heldDeletes: counts.heldDeletes ?? 0,
    attributesCreated: [],
    warnings: [],
  };
}
