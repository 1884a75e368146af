import type { WorkerOptions } from '@temporalio/worker';
import { synclinePlugin } from '../../client/plugin';
import { DEFAULT_MAX_CACHED_WORKFLOWS, workerActivitySlots, workerCacheSize, WorkerConfigError, workerRetention } from '../../worker';
import { runHistoryDays } from '../../db/runs';

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

test('SYNCLINE_RUN_HISTORY_DAYS is a whole number of days, at least the row log’s; the worker refuses to start otherwise', () => {
  expect(runHistoryDays({})).toBe(30);
  expect(runHistoryDays({ SYNCLINE_RUN_HISTORY_DAYS: '90' })).toBe(90);
  expect(runHistoryDays({ SYNCLINE_RUN_HISTORY_DAYS: '1', SYNCLINE_ROW_LOG_DAYS: '0' })).toBe(1);
  // Unset, it follows a row log kept longer (a valid setting before the run history had a retention; found by review).
  expect(runHistoryDays({ SYNCLINE_ROW_LOG_DAYS: '60' })).toBe(60);
  for (const v of ['a month', '0', '2.5'])
    expect(() => runHistoryDays({ SYNCLINE_RUN_HISTORY_DAYS: v, SYNCLINE_ROW_LOG_DAYS: '0' })).toThrow(
      `SYNCLINE_RUN_HISTORY_DAYS="${v}" is not a number of days: give a whole number of at least 1, e.g. 90, or leave it unset for 30`,
    );
  expect(() => runHistoryDays({ SYNCLINE_RUN_HISTORY_DAYS: '7' })).toThrow(
    `SYNCLINE_RUN_HISTORY_DAYS="7" is shorter than the row log's 14 days (SYNCLINE_ROW_LOG_DAYS), which is pruned by the runs kept: give at least 14, or shorten the row log too`,
  );
  expect(workerRetention({})).toEqual({ rowLogDays: 14, runHistoryDays: 30 });
  expect(() => workerRetention({ SYNCLINE_RUN_HISTORY_DAYS: '7' })).toThrow(WorkerConfigError);
  expect(() => workerRetention({ SYNCLINE_ROW_LOG_DAYS: 'two weeks' })).toThrow(WorkerConfigError);
});

test('a worker built with the plugin (a team’s own worker) refuses a retention it cannot use when it is created, not at each commit', () => {
  process.env.SYNCLINE_RUN_HISTORY_DAYS = '7';
  try {
    const plugin = synclinePlugin({ databaseUrl: 'postgres://unused', codec: null, deployment: null });
    expect(() => plugin.configureWorker({ taskQueue: 'syncline' } as WorkerOptions)).toThrow(
      `SYNCLINE_RUN_HISTORY_DAYS="7" is shorter than the row log's 14 days`,
    );
  } finally {
    delete process.env.SYNCLINE_RUN_HISTORY_DAYS;
  }
});
