/**
 * Where a sample of an operation's pending rows is read (`DestinationContext.sampleRows`): a few runs of
 * rows spread over the operation's positions, so that a model whose first rows differ from its later
 * ones (older records with fewer attributes filled, ids growing longer) is not judged by its first rows
 * alone. The runtime reads each run as a range of seq numbers in the delta; test doubles as array
 * positions.
 */
import type { OutRow } from '../types';

/** Runs a sample is read in: enough to see a model's beginning, middle and end. */
export const SAMPLE_RUNS = 4;

/** The highest position a run may reach: the last run goes to the end, whatever the count said. */
export const LAST_POSITION = 2_147_483_647;

export interface SampleRun {
  /** First position (1-based, inclusive). */
  from: number;
  /** Last position (inclusive): the next run's first minus one, or LAST_POSITION. */
  to: number;
  /** Rows to read from `from` on, at most. */
  take: number;
}

/**
 * `limit` rows in at most SAMPLE_RUNS runs over positions 1..`count` (the operation's pending rows when
 * planned): one run from the start when `limit` covers them all. Runs never overlap, so no row is read twice.
 *
 * @example sampleRuns(1_000, 100) // [{from: 1, to: 250, take: 25}, {from: 251, to: 500, take: 25}, ...]
 */
export function sampleRuns(count: number, limit: number): SampleRun[] {
  const want = Math.max(0, Math.floor(limit));
  if (want === 0) return [];
  if (want >= count) return [{ from: 1, to: LAST_POSITION, take: want }];
  const runs: SampleRun[] = [];
  for (let i = 0; i < SAMPLE_RUNS; i++) {
    const from = 1 + Math.floor((i * count) / SAMPLE_RUNS);
    const last = i === SAMPLE_RUNS - 1;
    const to = last ? LAST_POSITION : Math.floor(((i + 1) * count) / SAMPLE_RUNS);
    // The remainder goes to the last run.
    const take = last ? want - Math.floor(want / SAMPLE_RUNS) * (SAMPLE_RUNS - 1) : Math.floor(want / SAMPLE_RUNS);
    if (take > 0 && to >= from) runs.push({ from, to, take });
  }
  return runs;
}

/**
 * `ChunkWrite.distinctRows` over rows in memory (a sample, a test's chunk): one row per non-empty value of
 * `field`, the latest wins.
 */
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
