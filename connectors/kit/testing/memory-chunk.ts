/** Pieces of an in-memory ChunkWrite for connector tests (this kit's driver and each connector's test-harness.ts build on them). */
import type { ChunkWrite, OutRow, RowOp, RowResult } from '../../types';

import { distinctInMemory, sampleRuns } from '../sample';

export { distinctInMemory };

/**
 * `DestinationContext.sampleRows` over the rows an operation is about to write, as the runtime reads it
 * (activities/delta.ts): the runs sampleRuns spreads over them, the rows given the op.
 */
export function sampleInMemory(pending: OutRow[]): (op: RowOp, limit: number) => Promise<OutRow[]> {
  return async (op, limit) =>
    sampleRuns(pending.length, limit).flatMap((r) =>
      pending
        .slice(r.from - 1, Math.min(r.to, pending.length))
        .slice(0, r.take)
        .map((row) => ({ ...row, op })),
    );
}

/**
 * A ChunkWrite kept in memory that acknowledges rows as the runtime does (db/delta.ts): any recorded
 * result acknowledges a row, a retryable failure included, until `resetRetryable()` puts those rows back
 * (the runtime's re-send round); `rows()` reads each page by position, skipping rows acknowledged by then.
 */
export class MemoryChunkWrite implements ChunkWrite {
  readonly results = new Map<string, RowResult>();
  private state: unknown = null;

  constructor(
    readonly op: RowOp,
    private readonly all: OutRow[],
    readonly chunk = 0,
    readonly chunkId = `contract/1/${chunk}`,
  ) {}

  get rowCount(): number {
    return this.all.length;
  }

  pending(): OutRow[] {
    return this.all.filter((r) => !this.results.has(r.key));
  }

  async *rows(batchSize = 500): AsyncIterable<OutRow[]> {
    for (let from = 0; from < this.all.length; from += batchSize) {
      const page = this.all.slice(from, from + batchSize).filter((r) => !this.results.has(r.key));
      if (page.length) yield page.map((r) => ({ ...r, op: this.op }));
    }
  }

  distinctRows(field: string, batchSize = 1000): AsyncIterable<OutRow[]> {
    return distinctInMemory(
      this.pending().map((r) => ({ ...r, op: this.op })),
      field,
      batchSize,
    );
  }

  async record(results: RowResult[]): Promise<void> {
    for (const r of results) this.results.set(r.key, r);
  }

  async recordPendingOk({ destinationIdIsKey }: { destinationIdIsKey: boolean }): Promise<void> {
    await this.record(this.pending().map((r) => ({ key: r.key, ok: true, destinationId: destinationIdIsKey ? r.key : null })));
  }

  async saved<T>(): Promise<T | null> {
    return structuredClone(this.state) as T | null;
  }

  async save(state: unknown): Promise<void> {
    this.state = structuredClone(state);
  }

  /** Rows whose last failure was retryable, put back for another round (and the connector's state cleared, as the runtime does). */
  resetRetryable(): number {
    const again = [...this.results.values()].filter((r) => !r.ok && r.retryable).map((r) => r.key);
    for (const k of again) this.results.delete(k);
    if (again.length) this.state = null;
    return again.length;
  }
}
