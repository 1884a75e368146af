/** Where a plan's sample of rows is read (sample.ts): runs spread over the op's rows, never overlapping. */
import { LAST_POSITION, SAMPLE_RUNS, sampleRuns } from './sample';

describe('sampleRuns', () => {
  it('reads `limit` rows in SAMPLE_RUNS runs, one from the start of each part of the rows', () => {
    expect(SAMPLE_RUNS).toBe(4);
    expect(sampleRuns(1_000, 100)).toEqual([
      { from: 1, to: 250, take: 25 },
      { from: 251, to: 500, take: 25 },
      { from: 501, to: 750, take: 25 },
      { from: 751, to: LAST_POSITION, take: 25 },
    ]);
    // The remainder goes to the last run; the last run reaches past the count (rows the count did not see).
    expect(sampleRuns(10_000_000, 20_002).map((r) => r.take)).toEqual([5_000, 5_000, 5_000, 5_002]);
  });

  it('reads from the start when the limit covers every row, nothing for no limit', () => {
    expect(sampleRuns(50, 500)).toEqual([{ from: 1, to: LAST_POSITION, take: 500 }]);
    expect(sampleRuns(50, 50)).toEqual([{ from: 1, to: LAST_POSITION, take: 50 }]);
    expect(sampleRuns(1_000, 0)).toEqual([]);
  });

  it('never reads a position twice, nor more rows than asked', () => {
    for (const [count, limit] of [
      [1_000_001, 20_000],
      [7, 5],
      [3, 2],
      [200_001, 19_999],
    ]) {
      const runs = sampleRuns(count!, limit!);
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.from).toBeGreaterThan(runs[i - 1]!.to);
      expect(runs.every((r) => r.from <= r.to && r.take > 0)).toBe(true);
      expect(runs.reduce((n, r) => n + r.take, 0)).toBeLessThanOrEqual(limit!);
    }
  });
});
