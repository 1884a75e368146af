import { poolLeaseMs } from '../../db/dag-pools';
import { DEFAULT_POOL_LEASE_MS, leaseText, poolRenewMs } from '../../common/dag-pools';

test('SYNCLINE_DAG_POOL_LEASE_SECONDS: 10 minutes unset, whole seconds from 10 up, renewed every 3/10 of it', () => {
  expect(poolLeaseMs({})).toBe(DEFAULT_POOL_LEASE_MS);
  expect(DEFAULT_POOL_LEASE_MS).toBe(600_000);
  expect(poolLeaseMs({ SYNCLINE_DAG_POOL_LEASE_SECONDS: ' ' })).toBe(600_000);
  expect(poolLeaseMs({ SYNCLINE_DAG_POOL_LEASE_SECONDS: ' 20 ' })).toBe(20_000);
  expect(poolLeaseMs({ SYNCLINE_DAG_POOL_LEASE_SECONDS: '1800' })).toBe(1_800_000);
  // The default renewal is the one runs before this setting used: every 3 minutes.
  expect(poolRenewMs(DEFAULT_POOL_LEASE_MS)).toBe(180_000);
  expect(poolRenewMs(20_000)).toBe(6000);
  expect(leaseText(600_000)).toBe('10 minutes');
  expect(leaseText(20_000)).toBe('20 s');
  for (const v of ['9', '0', '-30', '12.5', 'ten'])
    expect(() => poolLeaseMs({ SYNCLINE_DAG_POOL_LEASE_SECONDS: v })).toThrow(
      `SYNCLINE_DAG_POOL_LEASE_SECONDS="${v}" is not a lease: give a whole number of seconds of at least 10, or leave it unset for 600 (10 minutes)`,
    );
});
