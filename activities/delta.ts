/**
 * Delta: turns the stage (the rows the extract found changed against the snapshot) into operations by
 * the mode, applies the deletion guard, and numbers the rows to send into chunks sized by the destination.
 */
import type { RowOp } from '../common/sync-modes';
import type { DestinationContext, FieldSpec, OutRow } from '../connectors/types';
import { sampleRuns } from '../connectors/kit/sample';
import { count } from '../common/details';
import { modeRowsOf } from '../connectors/kit/destination';
import { buildDelta, countDelta, cutChunks, indexDeltaForReads, keepCaseVariants, markUnchangedRejections } from '../db/delta';
import { deleteChunks, replaceChunks } from '../db/chunks';
import { guardStats, holdUnapproved } from '../db/held-deletes';
import type { SynclineDeps } from './deps';
import { buildContext, connectorFor, keyMatch, loadRun, sentFields, type LoadedRun } from './run-context';
import { withHeartbeat } from './work';
import { pendingRows } from './write';
import { Context } from '@temporalio/activity';
import { SyncError } from '../common/errors';
import { deltaSeesOnlyFailed } from '../db/commit';
import { stageSpec } from './extract';

export interface ComputeDeltaInput {
  runId: string;
}
export interface ComputeDeltaResult {
  /** Rows to send per operation (after the guard). */
  planned: Partial<Record<RowOp, number>>;
  /** Model rows rejected (null, too long or repeated key), those already reported unchanged included. */
  rejected: number;
  skipped: number;
  heldDeletes: number;
  /** Chunk numbers to write: the DAG maps the write task over this list. */
  chunks: number[];
  /** Per chunk, what the Web UI shows of its write: "upsert · 5,000 rows". */
  chunkLabels: string[];
  methods: Partial<Record<RowOp, string>>;
}

function beat(): void {
  try {
    if (!Context.current().info.isLocal) Context.current().heartbeat();
  } catch {
    /* not in an activity */
  }
}

export async function computeDelta(deps: SynclineDeps, input: ComputeDeltaInput): Promise<ComputeDeltaResult> {
  const run = await loadRun(deps, input.runId);
  const { config } = run;
  // Which change becomes which operation is the destination's declaration (DestinationConnector.modes).
  const modeRows = modeRowsOf(connectorFor(deps, config), config.id, config.mode);
  await withHeartbeat(beat, () =>
    buildDelta(deps.db, {
      runId: run.runId,
      activationId: run.activationId,
      modeRows,
      full: run.full,
      onlyFailed: deltaSeesOnlyFailed(run.trigger),
      retryFailed: run.retryFailed,
      // For a stage an earlier release made from every model row (db/delta.ts buildDelta).
      columns: stageSpec(run, sentFields(run)).columns,
      modelRows: run.modelRows,
      keyMatch: keyMatch(sentFields(run)),
    }),
  );
  let counts = await countDelta(deps.db, run.runId);
  const deletes = () => counts.some((c) => c.op === 'delete' && c.status === 'pending');
  // Before the guard: a removed key whose case variant (or, a number key, whose number) the model still has is the
  // same record there, not deleted.
  const match = keyMatch(sentFields(run));
  if (deletes() && match && (await keepCaseVariants(deps.db, run.runId, run.activationId, match)) > 0)
    counts = await countDelta(deps.db, run.runId);
  const anyRejected = counts.some((c) => c.status === 'rejected');
  if (anyRejected) await markUnchangedRejections(deps.db, run.runId, run.activationId);
  const heldDeletes = deletes() ? await applyDeletionGuard(deps, run) : 0;
  if (heldDeletes > 0 || anyRejected) counts = await countDelta(deps.db, run.runId);
  const planned: Partial<Record<RowOp, number>> = {};
  let rejected = 0;
  let skipped = 0;
  for (const c of counts) {
    if (c.status === 'rejected' || c.status === 'rejected_unchanged') rejected += Number(c.rows);
    else if (c.status === 'skipped') skipped += Number(c.keys);
    else if (c.status === 'pending' && c.op) planned[c.op as RowOp] = (planned[c.op as RowOp] ?? 0) + Number(c.keys);
  }
  // No skipped or held row takes a place among an op's rows: chunks can be cut by seq alone.
  const onlyPending = counts.every((c) => !c.op || c.status === 'pending');
  return { planned, rejected, skipped, heldDeletes, ...(await planChunks(deps, run, planned, onlyPending)) };
}

/**
 * Mirror's deletion guard: at most `maxDeletePercent` % of the synced rows are deleted without approval
 * (inclusive: exactly that share goes through); more, an empty model, or a model with rows without a key
 * (their keys look removed, and may be the removed ones: a LEFT JOIN gone wrong) holds every deletion not
 * approved for this run. Held keys are recorded; only approveDeletes for that run releases them, for the
 * next run.
 */
async function applyDeletionGuard(deps: SynclineDeps, run: LoadedRun): Promise<number> {
  const stats = await guardStats(deps.db, run);
  if (stats.unapproved === 0) return 0;
  const limit = run.config.deletionGuard.maxDeletePercent;
  if (stats.nullKeyRows === 0 && stats.modelRows > 0 && stats.unapproved * 100 <= limit * stats.synced) return 0;
  await holdUnapproved(deps.db, run);
  return stats.unapproved;
}

/** Asks the connector how to write each op, numbers chunks in SQL, and records them. */
async function planChunks(
  deps: SynclineDeps,
  run: LoadedRun,
  planned: Partial<Record<RowOp, number>>,
  onlyPending: boolean,
): Promise<Pick<ComputeDeltaResult, 'chunks' | 'chunkLabels' | 'methods'>> {
  const ops = (Object.keys(planned) as RowOp[]).filter((op) => (planned[op] ?? 0) > 0).sort();
  if (ops.length === 0) {
    await deleteChunks(deps.db, run.runId);
    return { chunks: [], chunkLabels: [], methods: {} };
  }
  const connector = connectorFor(deps, run.config);
  await indexDeltaForReads(deps.db, run.runId);
  const fields = sentFields(run);
  const ctx: DestinationContext<unknown> = {
    ...buildContext(deps, run, fields),
    sampleRows: (op, limit) => sampleRows(deps, run, fields, op, planned[op] ?? 0, limit),
  };
  const plans = [];
  for (const op of ops) {
    const plan = await connector.planWrites(ctx, op, planned[op]!);
    plans.push({ op, method: plan.method, size: Math.max(1, Math.min(run.config.chunkSize ?? plan.chunkSize, plan.chunkSize)) });
  }
  const ranges = await cutChunks(deps.db, run.runId, plans, onlyPending);
  const method = new Map(plans.map((p) => [p.op, p.method]));
  // A retried delta replaces the chunks of its earlier attempt (no write has started before the delta returns).
  const status = await deps.db.transaction().execute((tx) =>
    replaceChunks(
      tx,
      run.runId,
      ranges.map((r) => ({ op: r.op, method: method.get(r.op)!, rowCount: r.pending, from: r.from, to: r.to })),
    ),
  );
  // Closed meanwhile (a new target accepted cancels the runs of the previous one and drops its snapshot, a
  // settle by the next run): nothing of it is to be written. Its delta may come from the dropped snapshot: every
  // row planned again for the previous target (test/integration/stale-target.test.ts).
  if (status !== 'running')
    throw new SyncError(
      'INTERNAL',
      `run ${run.runNumber} of "${run.activationId}" is ${status ?? 'gone'}: its delta is not planned, and nothing of it is written (an execution that is no longer the activation's current one)`,
      { retryable: false },
    );
  return {
    chunks: ranges.map((_, i) => i),
    chunkLabels: ranges.map((r) => chunkLabel(r.op, r.pending)),
    methods: Object.fromEntries(method),
  };
}

/**
 * `DestinationContext.sampleRows` while planning: up to `limit` pending rows of `op`, read in the runs
 * sampleRuns spreads over its `count` pending rows (ranges of seq: no row read twice), through the reader
 * of chunk rows. Nothing is written: the rows stay pending.
 */
async function sampleRows(
  deps: SynclineDeps,
  run: LoadedRun,
  fields: FieldSpec[],
  op: RowOp,
  count: number,
  limit: number,
): Promise<OutRow[]> {
  const out: OutRow[] = [];
  for (const r of sampleRuns(count, limit))
    for await (const page of pendingRows(deps, run, { op, from: r.from, to: r.to }, fields, 1000, r.take)) out.push(...page);
  return out;
}

export function chunkLabel(op: string, rows: number): string {
  return `${op} · ${count(rows)} rows`;
}
