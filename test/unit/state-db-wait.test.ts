import { mendedByWaiting, stateDatabaseWaitSeconds, StateDatabaseWaitError, untilStateDatabase } from '../../db/wait';

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

test('what waiting may mend: nothing listening, a cut or slow connection, a server starting or full; not a refusal of who or what', () => {
  for (const e of [
    coded('ECONNREFUSED'),
    coded('ECONNRESET'),
    coded('ETIMEDOUT'),
    coded('57P03', 'the database system is starting up'),
    coded('57P01', 'terminating connection due to administrator command'),
    coded('08006'),
    coded('53300', 'sorry, too many clients already'),
    coded('25006', 'cannot execute CREATE SCHEMA in a read-only transaction'),
    new Error('Connection terminated unexpectedly'),
    // Postgres went away inside the migrations' transaction: kysely's ROLLBACK on the dead session then
    // fails with pg's words, and that error, not the first, is the one the migrator returns.
    new Error('migration failed: Client has encountered a connection error and is not queryable', {
      cause: new Error('Client has encountered a connection error and is not queryable'),
    }),
    // The migrator's wrapping keeps the cause (db/migrate.ts).
    new Error('migration failed: connect ECONNREFUSED 127.0.0.1:5432', { cause: coded('ECONNREFUSED') }),
  ])
    expect([e.message, mendedByWaiting(e)]).toEqual([e.message, true]);
  for (const e of [
    coded('28P01', 'password authentication failed for user "syncline"'),
    coded('3D000', 'database "syncline" does not exist'),
    coded('42501', 'permission denied for database syncline'),
    coded('ENOTFOUND', 'getaddrinfo ENOTFOUND db.internall'),
    new Error('migration failed: something else', { cause: coded('42P01') }),
  ])
    expect([e.message, mendedByWaiting(e)]).toEqual([e.message, false]);
});

test('SYNCLINE_STATE_DB_WAIT_SECONDS: 120 unset, 0 allowed, anything but whole seconds refused', () => {
  expect(stateDatabaseWaitSeconds({})).toBe(120);
  expect(stateDatabaseWaitSeconds({ SYNCLINE_STATE_DB_WAIT_SECONDS: '0' })).toBe(0);
  expect(stateDatabaseWaitSeconds({ SYNCLINE_STATE_DB_WAIT_SECONDS: ' 300 ' })).toBe(300);
  for (const v of ['-1', '1.5', 'soon'])
    expect(() => stateDatabaseWaitSeconds({ SYNCLINE_STATE_DB_WAIT_SECONDS: v })).toThrow(/SYNCLINE_STATE_DB_WAIT_SECONDS/);
});

describe('untilStateDatabase', () => {
  /** A clock that only moves when the code under test sleeps. */
  function clock() {
    let t = 0;
    const slept: number[] = [];
    return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
  }
  const log = () => ({ warn: jest.fn<void, [string]>(), info: jest.fn<void, [string]>() });

  test('tries again after pauses doubling to the cap while the database refuses, and says when it is reached', async () => {
    const c = clock();
    const l = log();
    let n = 0;
    const out = await untilStateDatabase(
      async () => {
        if (++n < 6) throw coded('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:5432');
        return 'migrated';
      },
      { waitSeconds: 120, where: '10.0.0.5:5432/syncline', log: l, now: c.now, sleep: c.sleep, firstPauseMs: 1000, maxPauseMs: 4000 },
    );
    expect(out).toBe('migrated');
    expect(c.slept).toEqual([1000, 2000, 4000, 4000, 4000]);
    expect(l.warn).toHaveBeenCalledTimes(5);
    expect(l.warn.mock.calls[0]![0]).toContain(
      'waiting for the state database at 10.0.0.5:5432/syncline (connect ECONNREFUSED 10.0.0.5:5432)',
    );
    expect(l.info.mock.calls).toEqual([['state database at 10.0.0.5:5432/syncline reached after 15 s (attempt 6)']]);
  });

  test('gives up when the wait is over, with the last error and the seconds waited', async () => {
    const c = clock();
    const err = await untilStateDatabase(
      async () => {
        throw coded('ECONNREFUSED', 'connect ECONNREFUSED');
      },
      { waitSeconds: 10, where: 'db/x', log: log(), now: c.now, sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDatabaseWaitError);
    expect((err as StateDatabaseWaitError).waitedSeconds).toBe(10);
    expect((err as Error).message).toBe('connect ECONNREFUSED');
    expect(c.slept.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  test('a refusal waiting cannot mend stops at once, and 0 seconds means no wait', async () => {
    const c = clock();
    const l = log();
    const denied = await untilStateDatabase(
      async () => {
        throw coded('28P01', 'password authentication failed');
      },
      { waitSeconds: 120, where: 'db/x', log: l, now: c.now, sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect((denied as StateDatabaseWaitError).waitedSeconds).toBe(0);
    const none = await untilStateDatabase(
      async () => {
        throw coded('ECONNREFUSED');
      },
      { waitSeconds: 0, where: 'db/x', log: l, now: c.now, sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(StateDatabaseWaitError);
    expect(c.slept).toEqual([]);
    expect(l.warn).not.toHaveBeenCalled();
  });
});

test('a stop ends the wait during a pause or an attempt, marked stopped', async () => {
  const stop = new AbortController();
  let attempts = 0;
  const waiting = untilStateDatabase(
    async () => {
      attempts++;
      throw coded('ECONNREFUSED');
    },
    { waitSeconds: 600, where: 'db/x', log: { warn: () => stop.abort(), info: () => undefined }, signal: stop.signal },
  ).catch((e: unknown) => e);
  const err = (await waiting) as StateDatabaseWaitError;
  expect(err).toBeInstanceOf(StateDatabaseWaitError);
  expect(err.stopped).toBe(true);
  expect(attempts).toBe(1);
  const hanging = new AbortController();
  const pending = untilStateDatabase(() => new Promise<never>(() => undefined), {
    waitSeconds: 600,
    where: 'db/x',
    log: { warn() {}, info() {} },
    signal: hanging.signal,
  }).catch((e: unknown) => e);
  hanging.abort();
  expect(((await pending) as StateDatabaseWaitError).stopped).toBe(true);
});
