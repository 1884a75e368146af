/**
 * A worker started while its state database or Temporal is down (a restart, a failover, a deploy that
 * brings them up together) waits for them instead of exiting: SYNCLINE_START_WAIT_SECONDS, 120 by default,
 * which covers a Postgres restart or a managed failover. Only refusals a wait can mend are waited on
 * (nothing listens, the connection dropped or timed out, the server is starting or shutting down, too many
 * connections, a standby answering); a wrong password, a database that does not exist, a missing privilege
 * or a TLS refusal stop the worker at once.
 */

export const DEFAULT_START_WAIT_SECONDS = 120;

/** SYNCLINE_START_WAIT_SECONDS as a number of seconds (0: do not wait); throws, naming the variable, on anything else. */
export function startWaitSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SYNCLINE_START_WAIT_SECONDS?.trim();
  if (!raw) return DEFAULT_START_WAIT_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(
      `SYNCLINE_START_WAIT_SECONDS="${raw}" is not a number of seconds: give a whole number, e.g. 300, or 0 to stop at once when the state database or Temporal cannot be reached (unset: ${DEFAULT_START_WAIT_SECONDS})`,
    );
  return n;
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Whether waiting may mend `err` from Postgres (or an error it was caused by): a socket that found nothing or was cut,
 * SQLSTATE class 08 (connection exception), 57P01-57P03 (shut down, crashed, starting up), 53300 (too
 * many connections), 25006 (a read-only transaction: the address leads to a standby, as for a moment in a
 * failover; each attempt connects afresh). A host name that does not resolve (ENOTFOUND) is taken for a
 * typo and is not.
 */
export function postgresMayRecover(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (TRANSIENT_CODES.has(code) || /^08/.test(code) || /^57P0[123]$/.test(code) || code === '53300' || code === '25006') return true;
    if (!code && typeof e.message === 'string' && /Connection terminated|timeout expired|not queryable/i.test(e.message)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/**
 * Whether waiting may mend a failed connection to Temporal (NativeConnection.connect): nothing listening,
 * a connection reset or timed out, a host that accepts and never answers (the SDK gives up after 30 s:
 * "Timeout expired"), a name that does not resolve yet, the frontend unavailable. A TLS or an
 * authentication refusal is not.
 */
export function temporalMayRecover(err: unknown): boolean {
  const text = String((err as Error)?.message ?? err);
  if (/certificate|tls|handshake|unauthori[sz]ed|permission denied|api key/i.test(text)) return false;
  return /tcp connect error|connection refused|connection reset|dns error|timed out|timeout expired|deadline|unavailable|broken pipe|transport error/i.test(
    text,
  );
}

export interface WaitOptions {
  /** How long to keep trying, in seconds, from the first attempt. */
  waitSeconds: number;
  /** What is waited for, for the log: "the state database at host:port/db" (never a password), "Temporal at host:port". */
  what: string;
  /** Whether waiting may mend this error (postgresMayRecover, temporalMayRecover). */
  mayRecover: (err: unknown) => boolean;
  log: { warn(message: string): void; info(message: string): void };
  /** The first pause; it doubles up to maxPauseMs. */
  firstPauseMs?: number;
  maxPauseMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Aborted (the worker was asked to stop): the wait ends at once with a StartWaitError whose `stopped` is true. */
  signal?: AbortSignal;
}

/** The wait ended without reaching the service: the last error, and how long was waited. */
export class StartWaitError extends Error {
  constructor(
    readonly last: unknown,
    readonly waitedSeconds: number,
    readonly stopped = false,
  ) {
    super((last as Error)?.message ?? String(last), { cause: last });
    this.name = 'StartWaitError';
  }
}

/** `p`, or a rejection as soon as `signal` is aborted. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('asked to stop'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Runs `attempt` until it succeeds; an error waiting may mend is tried again after a pause (logged, with
 * what was refused) until `waitSeconds` have passed. Any other error, or the last one, is thrown as a
 * StartWaitError.
 */
export async function untilReachable<T>(attempt: () => Promise<T>, opts: WaitOptions): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  let pause = opts.firstPauseMs ?? 1_000;
  const stopped = (last: unknown) => new StartWaitError(last, Math.round((now() - started) / 1000), true);
  let last: unknown = null;
  for (let n = 1; ; n++) {
    if (opts.signal?.aborted) throw stopped(last);
    try {
      const out = await unlessAborted(attempt(), opts.signal);
      if (n > 1) opts.log.info(`${opts.what} reached after ${Math.round((now() - started) / 1000)} s (attempt ${n})`);
      return out;
    } catch (err) {
      if (opts.signal?.aborted) throw stopped(last ?? err);
      last = err;
      const waited = (now() - started) / 1000;
      const left = opts.waitSeconds - waited;
      if (!opts.mayRecover(err) || left <= 0) throw new StartWaitError(err, Math.round(waited));
      const next = Math.min(pause, left * 1000);
      opts.log.warn(
        `waiting for ${opts.what} (${(err as Error).message}): attempt ${n} refused, next in ${Math.ceil(next / 1000)} s; ` +
          `the worker gives up ${Math.ceil(left)} s from now (SYNCLINE_START_WAIT_SECONDS=${opts.waitSeconds})`,
      );
      await unlessAborted(sleep(next), opts.signal).catch(() => undefined);
      pause = Math.min(pause * 2, opts.maxPauseMs ?? 10_000);
    }
  }
}
