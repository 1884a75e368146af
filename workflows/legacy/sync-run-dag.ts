/**
 * FROZEN: the sync run as it was written up to version 0.1.0, kept so that runs started by that version
 * replay (workflows/sync-run.ts calls it when `patched('sync-run-straight')` is false). Do not change a
 * line: remove the file with the patch, once no such run can still be open (see README, "Changing
 * workflow code"). New runs take workflows/sync-run.ts.
 *
 * One sync of an activation, as a DAG of activities (workflow id `activation/<id>/run/<n>`):
 *
 *   validate -> extract -> delta -> ensure_attributes -> write[chunk...] -> commit -> warnings
 *
 * Only run ids, chunk numbers and counts cross history; rows stay in Postgres.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { SynclineActivities } from '../../activities';
import { CONFIG_ERROR_CODES } from '../../common/errors';
import { SKIP, type DagSpec, type DagState } from '../../common/dag';
import type { RecordPlanResult } from '../../activities/plan';
import type { RowOp } from '../../common/sync-modes';
import { describeRun, emptyOpCounts, type RunSummary, type RunWarning } from '../../common/run';
import { evaluateRunWarnings } from '../../common/thresholds';
import { runDag, taskError, type TaskContext } from '../dag';
import { runProgressSignal, runStateQuery, type RunProgress } from '../messages';
import type { SyncRunInput, SyncRunResult } from '../sync-run';

const RETRY = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '2m',
  maximumAttempts: 8,
  nonRetryableErrorTypes: [...CONFIG_ERROR_CODES, 'QUOTA_RESERVE_REACHED'],
};
const quick = proxyActivities<SynclineActivities>({ startToCloseTimeout: '5m', retry: RETRY });
// Extract and delta may take long on big models: they heartbeat every few seconds.
const long = proxyActivities<SynclineActivities>({ startToCloseTimeout: '6h', heartbeatTimeout: '1m', retry: RETRY });
// A dead worker is noticed within a minute: connectors heartbeat at least per batch or poll.
const write = proxyActivities<SynclineActivities>({ startToCloseTimeout: '1h', heartbeatTimeout: '1m', retry: RETRY });

const MAX_QUOTA_WAITS = 48;

export function runDagSpec(activationId: string, maxParallelism: number): DagSpec {
  return {
    id: `sync:${activationId}`,
    maxParallelism,
    tasks: [
      { id: 'validate', kind: 'validate' },
      { id: 'extract', kind: 'extract', upstream: ['validate'] },
      { id: 'delta', kind: 'delta', upstream: ['extract'] },
      { id: 'ensure_attributes', kind: 'ensureAttributes', upstream: ['delta'] },
      // none_failed: "nothing to create" skips ensure_attributes, which must not skip the writes.
      {
        id: 'write',
        kind: 'writeChunk',
        upstream: ['delta', 'ensure_attributes'],
        triggerRule: 'none_failed',
        map: { over: 'delta', field: 'chunks' },
      },
      { id: 'commit', kind: 'commit', upstream: ['write'], triggerRule: 'all_done' },
      { id: 'warnings', kind: 'warnings', upstream: ['commit'], triggerRule: 'all_done' },
    ],
  };
}

/** `syncline plan`: the run's DAG up to the delta, then the plan is recorded. */
export function planDagSpec(activationId: string): DagSpec {
  return {
    id: `plan:${activationId}`,
    maxParallelism: 1,
    tasks: [
      { id: 'validate', kind: 'validate' },
      { id: 'extract', kind: 'extract', upstream: ['validate'] },
      { id: 'delta', kind: 'delta', upstream: ['extract'] },
      { id: 'plan', kind: 'recordPlan', upstream: ['delta'] },
    ],
  };
}

/** `syncline apply`: the frozen plan's chunks are written from its work tables; no validate/extract/delta. */
export function applyDagSpec(activationId: string, maxParallelism: number): DagSpec {
  return {
    id: `apply:${activationId}`,
    maxParallelism,
    tasks: [
      { id: 'plan', kind: 'frozenPlan' },
      { id: 'ensure_attributes', kind: 'ensureAttributes', upstream: ['plan'] },
      {
        id: 'write',
        kind: 'writeChunk',
        upstream: ['plan', 'ensure_attributes'],
        triggerRule: 'none_failed',
        map: { over: 'plan', field: 'chunks' },
      },
      { id: 'commit', kind: 'commit', upstream: ['write'], triggerRule: 'all_done' },
      { id: 'warnings', kind: 'warnings', upstream: ['commit'], triggerRule: 'all_done' },
    ],
  };
}

export async function syncRunDagV1(input: SyncRunInput): Promise<SyncRunResult> {
  let dag: DagState | null = null;
  setHandler(runStateQuery, () => dag);
  const parent = workflowInfo().parent;
  const report = progressReporter(parent?.workflowId, input.runNumber);
  const frozen = input.applyPlan === undefined ? null : await quick.loadPlan({ activationId: input.activationId, plan: input.applyPlan });
  // Applying reuses the plan run's record and work tables: they hold exactly the rows that were planned.
  const { runId } =
    frozen ??
    (await quick.prepareRun({
      activationId: input.activationId,
      runNumber: input.runNumber,
      trigger: input.trigger,
      full: input.full,
      config: input.config,
      scheduledAt: input.scheduledAt,
      ...(input.retryFailed ? { retryFailed: true } : {}),
    }));
  let planned: RecordPlanResult | undefined;
  let firstError: { type: string; message: string } | undefined;
  const warnings: RunWarning[] = [];
  let summary: RunSummary | undefined;
  let missingAttributes = frozen?.missingAttributes ?? 0;
  let delta: { planned: Partial<Record<string, number>>; rejected: number; heldDeletes: number } | undefined;
  const guard =
    <T>(fn: (ctx: TaskContext) => Promise<T>) =>
    async (ctx: TaskContext): Promise<T> => {
      try {
        return await fn(ctx);
      } catch (err) {
        firstError ??= taskError(err);
        throw err;
      }
    };
  const runners = {
    validate: guard(async () => {
      const r = await withQuotaWait(warnings, input, () => quick.checkDestination({ runId }));
      missingAttributes = r.missingAttributes;
      return { fields: r.fields, skipped: r.skippedFields.length };
    }),
    extract: guard(() => long.extractModel({ runId })),
    delta: guard(async () => (delta = await long.computeDelta({ runId }))),
    recordPlan: guard(async () => {
      planned = await quick.recordPlan({ runId, planned: delta!.planned, rejected: delta!.rejected, heldDeletes: delta!.heldDeletes });
      return planned;
    }),
    frozenPlan: async () => ({ chunks: frozen!.chunks }),
    ensureAttributes: guard(async () =>
      missingAttributes === 0 ? SKIP : withQuotaWait(warnings, input, () => quick.ensureAttributes({ runId })),
    ),
    writeChunk: guard(async (ctx) => writeOneChunk(runId, ctx.item as number, warnings, input)),
    commit: async () => {
      summary = await quick.commitRun({ runId, error: firstError, warnings });
      if (frozen) await quick.markPlanApplied({ activationId: input.activationId, plan: input.applyPlan! });
      return { status: summary.status };
    },
    warnings: async () => {
      if (!summary) return SKIP;
      summary.warnings.push(...evaluateRunWarnings(input.config, summary, input.previous));
      return { warnings: summary.warnings.length };
    },
  };
  const spec = input.planOnly
    ? planDagSpec(input.activationId)
    : frozen
      ? applyDagSpec(input.activationId, 4)
      : runDagSpec(input.activationId, 4);
  const state = await runDag(spec, runners, {
    onStateChange: (s) => {
      dag = s;
      report(s);
    },
  });
  if (input.planOnly) return planSummary(input, planned, firstError);
  if (!summary)
    throw ApplicationFailure.nonRetryable(
      `run ${input.runNumber} of "${input.activationId}" could not be committed: ${firstError?.message ?? 'unknown error'}`,
      'INTERNAL',
    );
  if (state.tasks.commit?.state !== 'success') summary.status = 'failed';
  if (summary.status === 'failed') {
    const err = summary.error ?? firstError ?? { type: 'INTERNAL', message: 'the run failed' };
    throw ApplicationFailure.create({
      message: `${describeRun(summary)}: ${err.message}`,
      type: err.type,
      nonRetryable: true,
      details: [summary],
    });
  }
  return summary;
}

/** A plan run's result: ops carry the planned counts only; nothing was written or committed. */
function planSummary(
  input: SyncRunInput,
  planned: RecordPlanResult | undefined,
  error: { type: string; message: string } | undefined,
): RunSummary {
  if (!planned) {
    const err = error ?? { type: 'INTERNAL', message: 'the plan could not be computed' };
    throw ApplicationFailure.create({
      message: `plan ${input.runNumber} of "${input.activationId}": ${err.message}`,
      type: err.type,
      nonRetryable: true,
    });
  }
  const ops: RunSummary['ops'] = {};
  for (const [op, n] of Object.entries(planned.counts))
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
    rejected: planned.counts.rejected ?? 0,
    heldDeletes: planned.counts.heldDeletes ?? 0,
    attributesCreated: [],
    warnings: [],
  };
}

/** Writes one chunk; an asynchronous (bulk) job is polled on durable timers, holding no worker slot. */
async function writeOneChunk(runId: string, chunk: number, warnings: RunWarning[], input: SyncRunInput): Promise<unknown> {
  return withQuotaWait(warnings, input, async () => {
    let r = await write.writeChunk({ runId, chunk });
    while (r.status === 'pending') {
      await sleep(Math.max(1000, r.pollAfterMs ?? 5000));
      r = await write.pollChunk({ runId, chunk, handle: r.handle! });
    }
    return { chunk, succeeded: r.succeeded, failed: r.failed };
  });
}

/**
 * Any call to the destination may find its API quota (or the reserve kept for others) used up: the
 * run then waits on a durable timer, warns, tells its activation, and tries again. Never a tight retry.
 */
async function withQuotaWait<T>(warnings: RunWarning[], input: SyncRunInput, fn: () => Promise<T>): Promise<T> {
  for (let wait = 0; ; wait++) {
    try {
      return await fn();
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      if (!(cause instanceof ApplicationFailure) || cause.type !== 'QUOTA_RESERVE_REACHED' || wait >= MAX_QUOTA_WAITS) throw err;
      const waitMs = Number((cause.details?.[0] as { waitMs?: number } | undefined)?.waitMs ?? 3_600_000);
      if (!warnings.some((w) => w.code === 'QUOTA_LOW')) {
        warnings.push({
          code: 'QUOTA_LOW',
          level: 'warning',
          message: `activation "${input.activationId}": ${cause.message}; waiting ${Math.round(waitMs / 60000)} min before trying again`,
        });
      }
      const parent = workflowInfo().parent;
      if (parent) {
        const progress: RunProgress = { runNumber: input.runNumber, phase: 'waiting_quota', chunksDone: 0, chunksTotal: 0 };
        getExternalWorkflowHandle(parent.workflowId)
          .signal(runProgressSignal, progress)
          .catch(() => {});
      }
      await sleep(waitMs);
    }
  }
}

/** Tells the activation how far the run is, at most once per phase change or 10% of the chunks. */
function progressReporter(parentId: string | undefined, runNumber: number): (s: DagState) => void {
  if (!parentId) return () => {};
  const parent = getExternalWorkflowHandle(parentId);
  let last = '';
  return (s) => {
    const write = s.tasks.write;
    const total = write?.mapped?.length ?? 0;
    const done = write?.mapped?.filter((m) => m.state !== 'pending' && m.state !== 'running').length ?? 0;
    const phase = Object.values(s.tasks).find((t) => t.state === 'running')?.id ?? (s.status === 'running' ? 'starting' : 'finished');
    const bucket = total ? Math.floor((done * 10) / total) : 0;
    const keyNow = `${phase}:${bucket}`;
    if (keyNow === last) return;
    last = keyNow;
    const progress: RunProgress = { runNumber, phase, chunksDone: done, chunksTotal: total };
    parent.signal(runProgressSignal, progress).catch(() => {});
  };
}
