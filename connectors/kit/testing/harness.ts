/**
 * The runtime's part, in memory, for connector tests (what faros-ai's CDK ships as testing tools): a
 * DestinationContext built from the connector's declarations exactly as activities/run-context.ts
 * builds it, and `runWrite`, which plans, chunks, writes and polls as activities/delta.ts and
 * activities/write.ts do, activity retries and re-send rounds included.
 */
import { SyncError } from '../../../common/errors';
import type { ConnectorState, DestinationConnector, DestinationContext, FieldSpec, OutRow, RowOp, RowResult, SyncMode } from '../../types';
import { resolveDestination } from '../destination';
import { MemoryChunkWrite, sampleInMemory } from './memory-chunk';

export class MemoryState implements ConnectorState {
  readonly data = new Map<string, unknown>();
  async get<T>(key: string): Promise<T | null> {
    return (this.data.has(key) ? structuredClone(this.data.get(key)) : null) as T | null;
  }
  async set(key: string, value: unknown): Promise<void> {
    this.data.set(key, structuredClone(value));
  }
}

export interface TestContextInit<C> {
  connection: C;
  /** The destination's name (the value of the document field the connector's `address` declares). */
  address: string;
  key: string;
  mode: SyncMode;
  /** The key first, as the runtime lists them. */
  fields: FieldSpec[];
  options?: Record<string, unknown>;
  state?: MemoryState;
  activationId?: string;
}

/** `apiCalls`: requests the connector reported through `ctx.apiCall`, by kind. */
export type TestContext<C, O> = DestinationContext<C, O> & { state: MemoryState; logs: string[]; apiCalls: Record<string, number> };

/** A context as the runtime builds it: a configuration problem throws CONFIG_INVALID here, like buildContext. */
export function testContext<C, O>(connector: DestinationConnector<C, O>, init: TestContextInit<C>): TestContext<C, O> {
  const activationId = init.activationId ?? 'contract';
  const destination = {
    kind: connector.kind,
    connection: 'contract',
    [connector.address.field]: init.address,
    key: init.key,
    options: init.options ?? {},
  };
  const { options, address } = resolveDestination(connector, { activationId, destination, mode: init.mode, connection: init.connection });
  const logs: string[] = [];
  const apiCalls: Record<string, number> = {};
  return {
    activationId,
    runNumber: 1,
    mode: init.mode,
    fields: init.fields,
    connection: init.connection,
    options,
    destination: { ...destination, address },
    log: { info: (m) => void logs.push(`info ${m}`), warn: (m) => void logs.push(`warn ${m}`), error: (m) => void logs.push(`error ${m}`) },
    state: init.state ?? new MemoryState(),
    heartbeat: () => undefined,
    signal: new AbortController().signal,
    apiCall: (kind) => void (apiCalls[kind] = (apiCalls[kind] ?? 0) + 1),
    logs,
    apiCalls,
  };
}

/** What `runWrite` saw, for assertions. */
export interface WriteRun {
  /** Methods planWrites chose (one per call). */
  methods: string[];
  results: Map<string, RowResult>;
  /** Activity attempts that threw a retryable SyncError and were retried. */
  retriedAttempts: number;
  /** Re-send rounds of rows that failed with a retryable code. */
  resendRounds: number;
  /** `pending` answers (asynchronous jobs still running). */
  pendingAnswers: number;
}

/** Mirrors activities/write.ts: ROW_RETRY_ATTEMPTS rounds, Temporal's activity retries (capped here). */
const ROW_ROUNDS = 5;
const ACTIVITY_ATTEMPTS = 5;
const MAX_POLLS = 500;

/**
 * Writes `rows` as one operation the way the runtime does: planWrites, chunks of `chunkSize`, writeChunk,
 * then pollChunk while `pending` (sleeping at most 20 ms instead of `pollAfterMs`), retrying an attempt
 * that throws a retryable SyncError, and re-sending rows that failed with a retryable code. A
 * non-retryable error (or QuotaWaitError) is thrown to the test.
 */
export async function runWrite<C, O>(
  connector: DestinationConnector<C, O>,
  ctx: DestinationContext<C, O>,
  op: RowOp,
  rows: OutRow[],
): Promise<WriteRun> {
  const run: WriteRun = { methods: [], results: new Map(), retriedAttempts: 0, resendRounds: 0, pendingAnswers: 0 };
  if (rows.length === 0) return run;
  // As the runtime plans: with a sample of the rows to write at hand (DestinationContext.sampleRows).
  const plan = await connector.planWrites({ ...ctx, sampleRows: sampleInMemory(rows) }, op, rows.length);
  const method = connector.methods[plan.method];
  if (!method)
    throw new Error(
      `${connector.kind}.planWrites chose "${plan.method}", which its methods do not declare (${Object.keys(connector.methods).join(', ')})`,
    );
  run.methods.push(plan.method);
  for (let from = 0, n = 0; from < rows.length; from += plan.chunkSize, n++) {
    const chunk = new MemoryChunkWrite(op, rows.slice(from, from + plan.chunkSize), n);
    await driveChunk(connector, ctx, chunk, plan, method.async, run);
    for (const [k, r] of chunk.results) run.results.set(k, r);
  }
  return run;
}

async function driveChunk<C, O>(
  connector: DestinationConnector<C, O>,
  ctx: DestinationContext<C, O>,
  chunk: MemoryChunkWrite,
  plan: { method: string; chunkSize: number },
  async: boolean,
  run: WriteRun,
): Promise<void> {
  let handle: string | null = null;
  for (let round = 0, polls = 0; ;) {
    const outcome = await attempt(run, () => {
      if (handle !== null) {
        if (!connector.pollChunk) throw new Error(`${connector.kind} answered pending but has no pollChunk`);
        return connector.pollChunk(ctx, chunk, handle);
      }
      return chunk.pending().length === 0 ? Promise.resolve({ status: 'done' as const }) : connector.writeChunk(ctx, chunk, plan);
    });
    if (outcome.status === 'pending') {
      if (!async) throw new Error(`${connector.kind} answered pending for method "${plan.method}", which it declares synchronous`);
      if (++polls > MAX_POLLS) throw new Error(`chunk ${chunk.chunk} still pending after ${MAX_POLLS} polls`);
      run.pendingAnswers++;
      handle = outcome.handle;
      await new Promise((r) => setTimeout(r, Math.min(outcome.pollAfterMs, 20)));
      continue;
    }
    handle = null;
    if (round >= ROW_ROUNDS - 1 || chunk.resetRetryable() === 0) return;
    round++;
    run.resendRounds++;
  }
}

async function attempt<T>(run: WriteRun, call: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof SyncError) || !err.retryable || n >= ACTIVITY_ATTEMPTS) throw err;
      run.retriedAttempts++;
    }
  }
}
