/**
 * Test support only: an in-memory ChunkWrite / DestinationContext and a tiny driver that plays the
 * runtime's part (activity retries on retryable errors, pending → sleep → pollChunk).
 */
import { SyncError } from '../../common/errors';
import type { SyncMode } from '../../common/sync-modes';
import type { ChunkOutcome, ChunkWrite, DestinationConnector, FieldSpec, OutRow, RowOp, RowResult, WritePlan } from '../types';
import { distinctInMemory } from '../kit/testing/memory-chunk';
import { resolveDestination } from '../kit/destination';
import type { SalesforceConnection } from './config';
import type { SfContext } from './context';
import { salesforceConnector } from './index';

export interface HarnessContextInput {
  connection: SalesforceConnection;
  object: string;
  key: string;
  mode: SyncMode;
  fields: FieldSpec[];
  options?: Record<string, unknown>;
  activationId?: string;
}

export function makeContext(
  i: HarnessContextInput,
): SfContext & { heartbeats: unknown[]; logs: string[]; apiCalls: Record<string, number> } {
  const state = new Map<string, unknown>();
  const apiCalls: Record<string, number> = {};
  const logs: string[] = [];
  const heartbeats: unknown[] = [];
  const activationId = i.activationId ?? 'test-activation';
  const destination = { kind: 'salesforce', connection: 'sf', object: i.object, key: i.key, options: i.options ?? {} };
  // As the runtime does (activities/run-context.ts): options, address and mode from the connector's declarations.
  const { options, address } = resolveDestination(salesforceConnector, {
    activationId,
    destination,
    mode: i.mode,
    connection: i.connection,
  });
  return {
    activationId,
    runNumber: 1,
    destination: { ...destination, address },
    options,
    mode: i.mode,
    fields: i.fields,
    connection: i.connection,
    log: { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`), error: (m) => logs.push(`error ${m}`) },
    state: { get: async <T>(k: string) => (state.get(k) as T) ?? null, set: async (k, v) => void state.set(k, v) },
    heartbeat: (d) => void heartbeats.push(d),
    signal: new AbortController().signal,
    apiCall: (kind) => void (apiCalls[kind] = (apiCalls[kind] ?? 0) + 1),
    heartbeats,
    logs,
    apiCalls,
  };
}

/** A field spec: `to` Salesforce field, filled from a model column of `pgType`. */
export const field = (to: string, pgType = 'text', o: Partial<FieldSpec> = {}): FieldSpec => ({
  from: to.toLowerCase(),
  to,
  pgType,
  isKey: false,
  ...o,
});

export function outRow(key: string, values: Record<string, unknown>, o: Partial<OutRow> = {}): OutRow {
  return { key, op: 'upsert', destinationId: null, token: `tok-${key}`, values, ...o };
}

export class MemoryChunk implements ChunkWrite {
  readonly results = new Map<string, RowResult>();
  readonly recordCalls: RowResult[][] = [];
  recordStreamCalls = 0;
  private state: unknown = null;
  constructor(
    readonly op: RowOp,
    private readonly all: OutRow[],
    readonly chunk = 0,
    readonly chunkId = `test-activation/1/${chunk}`,
  ) {}

  get rowCount(): number {
    return this.all.length;
  }

  /** A row is acknowledged once it has a success or a permanent failure; retryable failures are re-sent. */
  pending(): OutRow[] {
    return this.all.filter((r) => {
      const res = this.results.get(r.key);
      return !res || (!res.ok && res.retryable);
    });
  }

  async *rows(batchSize = 500): AsyncIterable<OutRow[]> {
    const rows = this.pending().map((r) => ({ ...r, op: this.op }));
    for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize);
  }

  distinctRows(field: string, batchSize = 1000): AsyncIterable<OutRow[]> {
    return distinctInMemory(
      this.pending().map((r) => ({ ...r, op: this.op })),
      field,
      batchSize,
    );
  }

  async record(results: RowResult[]): Promise<void> {
    this.recordCalls.push(results);
    for (const r of results) this.results.set(r.key, r);
  }

  /** As the runtime's: all or nothing (a stream that throws records none), a key's first success, else its last failure. */
  async recordStream(results: AsyncIterable<RowResult[]>): Promise<number> {
    const all: RowResult[] = [];
    for await (const batch of results) all.push(...batch);
    this.recordStreamCalls++;
    const final = new Map<string, RowResult>();
    for (const r of all) if (!final.get(r.key)?.ok) final.set(r.key, r);
    for (const r of final.values()) {
      const now = this.results.get(r.key);
      if (!now?.ok) this.results.set(r.key, r);
    }
    return all.length;
  }

  async recordPendingOk({ destinationIdIsKey }: { destinationIdIsKey: boolean }): Promise<void> {
    await this.record(this.pending().map((r) => ({ key: r.key, ok: true, destinationId: destinationIdIsKey ? r.key : null })));
  }

  async saved<T>(): Promise<T | null> {
    return this.state as T | null;
  }

  async save(state: unknown): Promise<void> {
    this.state = JSON.parse(JSON.stringify(state));
  }
}

export interface DriveResult {
  attempts: number;
  outcomes: ChunkOutcome[];
  errors: unknown[];
}

/**
 * Runs writeChunk (then pollChunk while pending) like the runtime would: a retryable SyncError is retried
 * up to `maxAttempts` times; a non-retryable one (or QuotaWaitError) is thrown to the test.
 */
export async function drive(
  connector: DestinationConnector<SalesforceConnection>,
  ctx: SfContext,
  chunk: ChunkWrite,
  plan: WritePlan,
  maxAttempts = 3,
): Promise<DriveResult> {
  const res: DriveResult = { attempts: 0, outcomes: [], errors: [] };
  let handle: string | null = null;
  for (let polls = 0; polls < 200; polls++) {
    let outcome: ChunkOutcome;
    try {
      res.attempts++;
      outcome = handle === null ? await connector.writeChunk(ctx, chunk, plan) : await connector.pollChunk!(ctx, chunk, handle);
    } catch (err) {
      res.errors.push(err);
      if (!(err instanceof SyncError) || !err.retryable || res.errors.length >= maxAttempts) throw err;
      continue;
    }
    res.outcomes.push(outcome);
    if (outcome.status === 'done') return res;
    handle = outcome.handle;
    await new Promise((r) => setTimeout(r, Math.min(outcome.pollAfterMs, 200)));
  }
  throw new Error('bulk job never finished');
}
