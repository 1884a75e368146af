/**
 * In-memory runtime stand-ins for connector tests: a DestinationContext, a ChunkWrite that keeps
 * results and saved state in maps, and `drive()` which plans (a sample of the rows at hand), writes and
 * polls like the runtime.
 */
import type {
  ChunkWrite,
  ConnectorState,
  DestinationConnector,
  DestinationContext,
  FieldSpec,
  OutRow,
  RowOp,
  RowResult,
  SyncMode,
} from '../types';
import { emulatorAdmin as adminCall } from '../../test/support/emulator-admin';
import { distinctInMemory, sampleInMemory } from '../kit/testing/memory-chunk';
import { LocalLimits } from '../kit/limits';
import { resolveDestination } from '../kit/destination';
import type { ActitoConnection } from './config';
import type { Ctx } from './context';
import { actitoConnector } from './index';

export class MemoryState implements ConnectorState {
  readonly data = new Map<string, unknown>();
  async get<T>(key: string): Promise<T | null> {
    return (this.data.has(key) ? structuredClone(this.data.get(key)) : null) as T | null;
  }
  async set(key: string, value: unknown): Promise<void> {
    this.data.set(key, structuredClone(value));
  }
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  meta?: Record<string, unknown>;
}

export function field(from: string, to: string, pgType: string, extra: Partial<FieldSpec> = {}): FieldSpec {
  return { from, to, pgType, isKey: false, ...extra };
}

export function makeContext(init: {
  connection: ActitoConnection;
  table: string;
  key: string;
  mode: SyncMode;
  fields: FieldSpec[];
  options?: Record<string, unknown>;
  state?: MemoryState;
  /** Limits shared with other contexts (e.g. a quota counter two activations draw from); fresh by default. */
  limits?: LocalLimits;
  activationId?: string;
}): Ctx & { logs: LogLine[]; state: MemoryState; limits: LocalLimits; apiCalls: Record<string, number> } {
  const logs: LogLine[] = [];
  const apiCalls: Record<string, number> = {};
  const log = (level: LogLine['level']) => (message: string, meta?: Record<string, unknown>) => void logs.push({ level, message, meta });
  const activationId = init.activationId ?? 'test-activation';
  const destination = { kind: 'actito', connection: 'actito', table: init.table, key: init.key, options: init.options ?? {} };
  // As the runtime does (activities/run-context.ts): options, address and mode from the connector's declarations.
  const { options, address } = resolveDestination(actitoConnector, {
    activationId,
    destination,
    mode: init.mode,
    connection: init.connection,
  });
  return {
    activationId,
    runNumber: 1,
    destination: { ...destination, address },
    options,
    mode: init.mode,
    fields: init.fields,
    connection: init.connection,
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    state: init.state ?? new MemoryState(),
    limits: init.limits ?? new LocalLimits(),
    heartbeat: () => undefined,
    signal: new AbortController().signal,
    apiCall: (kind) => void (apiCalls[kind] = (apiCalls[kind] ?? 0) + 1),
    logs,
    apiCalls,
  };
}

export function outRow(key: string, values: Record<string, unknown>, op: RowOp = 'upsert'): OutRow {
  return { key, op, destinationId: null, token: `t-${key}`, values };
}

export interface MemoryChunk extends ChunkWrite {
  results: Map<string, RowResult>;
  saves: unknown[];
}

/** Rows stay pending until a result is recorded for them (any result acknowledges a row). */
export function memoryChunk(rows: OutRow[], op: RowOp, chunk = 0, store?: { saved: unknown }): MemoryChunk {
  const results = new Map<string, RowResult>();
  const saves: unknown[] = [];
  const box = store ?? { saved: null };
  return {
    chunkId: `test-activation/1/${chunk}`,
    chunk,
    op,
    rowCount: rows.length,
    results,
    saves,
    async *rows(batchSize = 500) {
      const pending = rows.filter((r) => !results.has(r.key));
      for (let i = 0; i < pending.length; i += batchSize) yield pending.slice(i, i + batchSize);
    },
    distinctRows(field, batchSize = 1000) {
      return distinctInMemory(
        rows.filter((r) => !results.has(r.key)),
        field,
        batchSize,
      );
    },
    async record(rs) {
      for (const r of rs) results.set(r.key, r);
    },
    async recordPendingOk({ destinationIdIsKey }) {
      for (const r of rows)
        if (!results.has(r.key)) results.set(r.key, { key: r.key, ok: true, destinationId: destinationIdIsKey ? r.key : null });
    },
    async saved<T>() {
      return structuredClone(box.saved) as T | null;
    },
    async save(state) {
      box.saved = structuredClone(state);
      saves.push(state);
    },
  };
}

/** Plans, chunks, writes and polls (without waiting the advised delay) as the runtime would. */
export async function drive<C, O>(
  connector: DestinationConnector<C, O>,
  ctx: DestinationContext<C, O>,
  op: RowOp,
  rows: OutRow[],
  maxPolls = 200,
): Promise<{ method: string; results: Map<string, RowResult>; chunks: MemoryChunk[] }> {
  // As the runtime plans: with a sample of the rows to write at hand (DestinationContext.sampleRows).
  const plan = await connector.planWrites({ ...ctx, sampleRows: sampleInMemory(rows) }, op, rows.length);
  const results = new Map<string, RowResult>();
  const chunks: MemoryChunk[] = [];
  for (let i = 0; i * plan.chunkSize < rows.length; i++) {
    const chunk = memoryChunk(rows.slice(i * plan.chunkSize, (i + 1) * plan.chunkSize), op, i);
    chunks.push(chunk);
    let outcome = await connector.writeChunk(ctx, chunk, plan);
    for (let polls = 0; outcome.status === 'pending'; polls++) {
      if (polls >= maxPolls || !connector.pollChunk) throw new Error(`chunk ${i} still pending after ${polls} polls`);
      await new Promise((r) => setTimeout(r, 20));
      outcome = await connector.pollChunk(ctx, chunk, outcome.handle);
    }
    for (const [k, r] of chunk.results) results.set(k, r);
  }
  return { method: plan.method, results, chunks };
}

/**
 * The Actito emulator's admin routes (test/support/emulator-admin.ts) as `admin(method, path, body)`; `url`
 * is read at each call (the emulator starts in beforeAll).
 */
export function emulatorAdmin(url: () => string): (method: string, path: string, body?: unknown) => Promise<any> {
  return (method, path, body) => adminCall<any>(url(), path, { method, ...(body !== undefined && { body: JSON.stringify(body) }) });
}
