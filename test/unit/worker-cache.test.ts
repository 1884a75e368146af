import { DEFAULT_MAX_CACHED_WORKFLOWS, workerActivitySlots, workerCacheSize, WorkerConfigError } from '../../worker';

test('the worker keeps a bounded workflow cache by default, and SYNCLINE_MAX_CACHED_WORKFLOWS sets it', () => {
  expect(workerCacheSize({})).toBe(DEFAULT_MAX_CACHED_WORKFLOWS);
  expect(workerCacheSize({ SYNCLINE_MAX_CACHED_WORKFLOWS: ' ' })).toBe(DEFAULT_MAX_CACHED_WORKFLOWS);
  expect(workerCacheSize({ SYNCLINE_MAX_CACHED_WORKFLOWS: '1000' })).toBe(1000);
  expect(workerCacheSize({ SYNCLINE_MAX_CACHED_WORKFLOWS: '0' })).toBe(0);
});

test.each(['1', '-5', '2.5', 'many'])('SYNCLINE_MAX_CACHED_WORKFLOWS=%s is refused, naming the variable', (value) => {
  expect(() => workerCacheSize({ SYNCLINE_MAX_CACHED_WORKFLOWS: value })).toThrow(WorkerConfigError);
  expect(() => workerCacheSize({ SYNCLINE_MAX_CACHED_WORKFLOWS: value })).toThrow(
    `SYNCLINE_MAX_CACHED_WORKFLOWS="${value}" is not a cache size`,
  );
});

test('SYNCLINE_MAX_CONCURRENT_ACTIVITIES sets the activities a worker runs at once; unset leaves the SDK default', () => {
  expect(workerActivitySlots({})).toBeUndefined();
  expect(workerActivitySlots({ SYNCLINE_MAX_CONCURRENT_ACTIVITIES: ' ' })).toBeUndefined();
  expect(workerActivitySlots({ SYNCLINE_MAX_CONCURRENT_ACTIVITIES: '20' })).toBe(20);
  expect(workerActivitySlots({ SYNCLINE_MAX_CONCURRENT_ACTIVITIES: '1' })).toBe(1);
});

test.each(['0', '-1', '2.5', 'many'])('SYNCLINE_MAX_CONCURRENT_ACTIVITIES=%s is refused, naming the variable', (value) => {
  expect(() => workerActivitySlots({ SYNCLINE_MAX_CONCURRENT_ACTIVITIES: value })).toThrow(WorkerConfigError);
  expect(() => workerActivitySlots({ SYNCLINE_MAX_CONCURRENT_ACTIVITIES: value })).toThrow(
    `SYNCLINE_MAX_CONCURRENT_ACTIVITIES="${value}" is not a number of activities`,
  );
});
