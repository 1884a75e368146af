import { postgresMayRecover, startWaitSeconds, StartWaitError, temporalMayRecover, untilReachable } from '../../client/start-wait';

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
    expect([e.message, postgresMayRecover(e)]).toEqual([e.message, true]);
  for (const e of [
    coded('28P01', 'password authentication failed for user "syncline"'),
    coded('3D000', 'database "syncline" does not exist'),
    coded('42501', 'permission denied for database syncline'),
    coded('ENOTFOUND', 'getaddrinfo ENOTFOUND db.internall'),
    new Error('migration failed: something else', { cause: coded('42P01') }),
  ])
    expect([e.message, postgresMayRecover(e)]).toEqual([e.message, false]);
});

test('SYNCLINE_START_WAIT_SECONDS: 120 unset, 0 allowed, anything but whole seconds refused', () => {
  expect(startWaitSeconds({})).toBe(120);
  expect(startWaitSeconds({ SYNCLINE_START_WAIT_SECONDS: '0' })).toBe(0);
  expect(startWaitSeconds({ SYNCLINE_START_WAIT_SECONDS: ' 300 ' })).toBe(300);
  for (const v of ['-1', '1.5', 'soon'])
    expect(() => startWaitSeconds({ SYNCLINE_START_WAIT_SECONDS: v })).toThrow(/SYNCLINE_START_WAIT_SECONDS/);
});

describe('untilReachable', () => {
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
    const out = await untilReachable(
      async () => {
        if (++n < 6) throw coded('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:5432');
        return 'migrated';
      },
      {
        waitSeconds: 120,
        what: 'the state database at 10.0.0.5:5432/syncline',
        mayRecover: postgresMayRecover,
        log: l,
        now: c.now,
        sleep: c.sleep,
        firstPauseMs: 1000,
        maxPauseMs: 4000,
      },
    );
    expect(out).toBe('migrated');
    expect(c.slept).toEqual([1000, 2000, 4000, 4000, 4000]);
    expect(l.warn).toHaveBeenCalledTimes(5);
    expect(l.warn.mock.calls[0]![0]).toContain(
      'waiting for the state database at 10.0.0.5:5432/syncline (connect ECONNREFUSED 10.0.0.5:5432)',
    );
    expect(l.info.mock.calls).toEqual([['the state database at 10.0.0.5:5432/syncline reached after 15 s (attempt 6)']]);
  });

  test('gives up when the wait is over, with the last error and the seconds waited', async () => {
    const c = clock();
    const err = await untilReachable(
      async () => {
        throw coded('ECONNREFUSED', 'connect ECONNREFUSED');
      },
      { waitSeconds: 10, what: 'the state database at db/x', mayRecover: postgresMayRecover, log: log(), now: c.now, sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartWaitError);
    expect((err as StartWaitError).waitedSeconds).toBe(10);
    expect((err as Error).message).toBe('connect ECONNREFUSED');
    expect(c.slept.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  test('a refusal waiting cannot mend stops at once, and 0 seconds means no wait', async () => {
    const c = clock();
    const l = log();
    const denied = await untilReachable(
      async () => {
        throw coded('28P01', 'password authentication failed');
      },
      { waitSeconds: 120, what: 'the state database at db/x', mayRecover: postgresMayRecover, log: l, now: c.now, sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect((denied as StartWaitError).waitedSeconds).toBe(0);
    const none = await untilReachable(
      async () => {
        throw coded('ECONNREFUSED');
      },
      { waitSeconds: 0, what: 'the state database at db/x', mayRecover: postgresMayRecover, log: l, now: c.now, sleep: c.sleep },
    ).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(StartWaitError);
    expect(c.slept).toEqual([]);
    expect(l.warn).not.toHaveBeenCalled();
  });
});

test('a stop ends the wait during a pause or an attempt, marked stopped', async () => {
  const stop = new AbortController();
  let attempts = 0;
  const waiting = untilReachable(
    async () => {
      attempts++;
      throw coded('ECONNREFUSED');
    },
    {
      waitSeconds: 600,
      what: 'the state database at db/x',
      mayRecover: postgresMayRecover,
      log: { warn: () => stop.abort(), info: () => undefined },
      signal: stop.signal,
    },
  ).catch((e: unknown) => e);
  const err = (await waiting) as StartWaitError;
  expect(err).toBeInstanceOf(StartWaitError);
  expect(err.stopped).toBe(true);
  expect(attempts).toBe(1);
  const hanging = new AbortController();
  const pending = untilReachable(() => new Promise<never>(() => undefined), {
    waitSeconds: 600,
    what: 'the state database at db/x',
    mayRecover: postgresMayRecover,
    log: { warn() {}, info() {} },
    signal: hanging.signal,
  }).catch((e: unknown) => e);
  hanging.abort();
  expect(((await pending) as StartWaitError).stopped).toBe(true);
});

test('what waiting may mend in a connection to Temporal: nothing listening, a reset or timeout, a name not resolving yet; not a TLS or authentication refusal', () => {
  const transport = (detail: string) => new Error(`TransportError: tonic::transport::Error(Transport, ${detail})`);
  for (const e of [
    transport(
      'ConnectError(ConnectError("tcp connect error", 127.0.0.1:7233, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }))',
    ),
    transport('ConnectError(ConnectError("dns error", Custom { kind: Uncategorized, error: "failed to lookup address information" }))'),
    new Error('14 UNAVAILABLE: connection reset'),
    new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'),
    // NativeConnection.connect to a host that accepts and never answers (a black hole, a balancer with no
    // frontend behind it), after 30 s: as the state database's black hole, one waiting may mend.
    new Error(
      `Failed to call GetSystemInfo: code: 'The operation was cancelled', message: "Timeout expired", source: tonic::transport::Error(Transport, TimeoutExpired(()))`,
    ),
  ])
    expect([e.message, temporalMayRecover(e)]).toEqual([e.message, true]);
  for (const e of [
    transport('ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }) tls handshake'),
    new Error('16 UNAUTHENTICATED: Request unauthorized.'),
    new Error('something else entirely'),
  ])
    expect([e.message, temporalMayRecover(e)]).toEqual([e.message, false]);
});
