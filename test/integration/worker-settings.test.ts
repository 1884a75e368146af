/**
 * The production worker's own settings: one that cannot be used stops the worker at start with exit 2
 * and a message naming the variable, before it contacts any service, whatever the setting.
 */
import { startRefusedWorker as start } from '../support/worker-start';

test.each([
  ['SYNCLINE_MAX_CACHED_WORKFLOWS', 'x', 'is not a cache size'],
  ['SYNCLINE_MAX_CONCURRENT_ACTIVITIES', '0', 'is not a number of activities'],
  ['SYNCLINE_RUN_HISTORY_DAYS', 'x', 'is not a number of days'],
  ['SYNCLINE_START_WAIT_SECONDS', '-1', 'is not a number of seconds'],
  ['SYNCLINE_DAG_POOL_LEASE_SECONDS', '5', 'is not a lease'],
  ['SYNCLINE_METRICS_ADDRESS', 'nowhere', 'write host:port'],
])(
  '%s=%s stops the worker at start with exit 2, naming the variable',
  async (name, value, says) => {
    const r = await start({ [name]: value });
    expect(r.stderr).toContain(`syncline worker: ${name}`);
    expect(r.stderr).toContain(says);
    expect(r.code).toBe(2);
  },
  60_000,
);
