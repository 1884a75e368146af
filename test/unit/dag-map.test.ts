import {
  addCounts,
  batchLanes,
  configuredBatchSize,
  effectiveBatchSize,
  lowestFailed,
  MAP_FAILED_LISTED,
  MAX_MAP_BATCHES,
  planBatches,
  stateOfCounts,
  type StateCounts,
} from '../../common/dag-map';
import { mapItems, validateDag, type DagTask, type MappedRun } from '../../common/dag';

const mapped = (batchSize?: number): DagTask => ({
  id: 'each',
  kind: 'sql',
  upstream: ['list'],
  map: { over: 'list', ...(batchSize !== undefined && { batchSize }) },
});

describe('large mapped tasks', () => {
  it('take the batch size of the task, else of the DAG, else 200', () => {
    expect(configuredBatchSize({}, mapped())).toBe(200);
    expect(configuredBatchSize({ mapBatchSize: 50 }, mapped())).toBe(50);
    expect(configuredBatchSize({ mapBatchSize: 50 }, mapped(10))).toBe(10);
  });

  it('validate batch sizes from 1 to 1000', () => {
    const spec = (mapBatchSize: number, batchSize: number) => ({
      id: 'd',
      mapBatchSize,
      tasks: [{ id: 'list', kind: 'sql' }, mapped(batchSize)],
    });
    expect(validateDag(spec(1, 1000)).ok).toBe(true);
    expect(validateDag(spec(0, 1001))).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^mapBatchSize: /), expect.stringMatching(/^tasks\.1\.map\.batchSize: /)],
    });
  });

  it('split the items in order into batches, at most MAX_MAP_BATCHES of them', () => {
    expect(planBatches(25, 10)).toEqual([
      { batch: 1, from: 0, to: 10 },
      { batch: 2, from: 10, to: 20 },
      { batch: 3, from: 20, to: 25 },
    ]);
    expect(effectiveBatchSize(10, 50)).toBe(10);
    expect(effectiveBatchSize(1, 5000)).toBe(10);
    expect(planBatches(5000, effectiveBatchSize(1, 5000))).toHaveLength(MAX_MAP_BATCHES);
    expect(planBatches(5001, effectiveBatchSize(1, 5001)).length).toBeLessThanOrEqual(MAX_MAP_BATCHES);
  });

  it("run two batches at once whose parallelism sums to the DAG's", () => {
    expect(batchLanes(1)).toEqual([1]);
    expect(batchLanes(3)).toEqual([2, 1]);
    expect(batchLanes(4)).toEqual([2, 2]);
  });

  it('count states and settle like a small mapped task', () => {
    const counts: StateCounts = { pending: 30 };
    addCounts(counts, { pending: -10, running: 10 });
    expect(counts).toEqual({ pending: 20, running: 10 });
    addCounts(counts, { running: -10, success: 9, skipped: 1 });
    expect(counts).toEqual({ pending: 20, success: 9, skipped: 1 });
    expect(stateOfCounts({ success: 9, skipped: 1 })).toBe('success');
    expect(stateOfCounts({ success: 9, failed: 1 })).toBe('failed');
    expect(stateOfCounts({ skipped: 10 })).toBe('skipped');
  });

  it('keep the failed items of lowest index', () => {
    const failed = (indexes: number[]): MappedRun[] =>
      indexes.map((index) => ({ index, state: 'failed', error: { type: 'X', message: `item ${index}` } }));
    const many = Array.from({ length: MAP_FAILED_LISTED }, (_, i) => 100 + i);
    expect(lowestFailed(failed(many), failed([7, 300])).map((f) => f.index)).toEqual([7, ...many.slice(0, -1)]);
  });
});

describe('map.field as a path', () => {
  const over = (field: string): DagTask => ({ id: 'each', kind: 'sql', upstream: ['list'], map: { over: 'list', field } });
  const output = { rowCount: 1, rows: [{ ids: [1, 2, 3] }], 'a.b': ['literal'] };

  it('reaches a list inside the output (one row holding an array) for executions that have paths', () => {
    expect(mapItems(over('rows.0.ids'), output, true)).toEqual({ items: [1, 2, 3] });
    expect(mapItems(over('rows.0.ids'), output, false)).toEqual({ problem: expect.stringContaining('which is missing, not a list') });
  });

  it('takes a key with a dot literally when the output has it', () => {
    expect(mapItems(over('a.b'), output, true)).toEqual({ items: ['literal'] });
    expect(mapItems(over('rows.9.ids'), output, true)).toEqual({ problem: expect.stringContaining('"rows.9.ids"') });
  });
});
