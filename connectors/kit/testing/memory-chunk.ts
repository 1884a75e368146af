/** Pieces of an in-memory ChunkWrite for connector tests (this kit's driver and each connector's test-harness.ts build on them). */
import type { OutRow } from '../../types';

/** `ChunkWrite.distinctRows` over rows in memory: one row per non-empty value of `field`, the latest wins. */
export async function* distinctInMemory(pending: OutRow[], field: string, batchSize = 1000): AsyncIterable<OutRow[]> {
  const last = new Map<string, OutRow>();
  for (const r of pending) {
    const v = r.values[field];
    if (v === null || v === undefined || String(v) === '') continue;
    last.delete(String(v)); // re-inserted: Map order then follows the latest row, like the delta order
    last.set(String(v), r);
  }
  const rows = [...last.values()];
  for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize);
}
