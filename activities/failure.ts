/**
 * The activity boundary: a SyncError becomes an ApplicationFailure whose `type` is the
 * error code, non-retryable for configuration errors. Details hold no row values and no secrets.
 * A Postgres program limit (SQLSTATE class 54: a value, row or statement larger than Postgres can
 * handle) is never retried: the same statement on the same data meets the same limit, so the step
 * fails at once with Postgres' words, and the next run tries again. Not a wraparound stop, also 54000:
 * it refuses every write of the database until a VACUUM, which a retry can outlast (wraparoundStop).
 * Postgres' words never carry the value a data exception quotes (withoutRowValues), and no failure's
 * message carries a URL's password or query string or an Authorization header's value (common/redact.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { SyncError } from '../common/errors';
import { withoutSecrets } from '../common/redact';

/**
 * Postgres' wraparound stops (varsup.c, multixact.c) are 54000 too, but refuse every write of the
 * database, whatever the statement: a VACUUM (autovacuum's or an operator's) lifts them, and a retry
 * then succeeds. Known by the routine that raised them (never translated), else by their English words.
 */
function wraparoundStop(e: { routine?: unknown; message?: unknown }): boolean {
  if (e.routine === 'GetNewTransactionId' || e.routine === 'GetNewMultiXactId') return true;
  return typeof e.message === 'string' && /to avoid wraparound data loss|multixact "members" limit exceeded/.test(e.message);
}

/** The SQLSTATE of class 54 on `err` or an error it was caused by, else null (also for a wraparound stop: retried). */
export function programLimit(err: unknown): string | null {
  for (
    let e = err as { code?: unknown; routine?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.code === 'string' && /^54[0-9A-Z]{3}$/.test(e.code)) return wraparoundStop(e) ? null : e.code;
    e = e.cause as typeof e;
  }
  return null;
}

const limitNote = (sqlstate: string) =>
  ` (SQLSTATE ${sqlstate}: a limit of Postgres itself, which a retry cannot lift; the run fails and the next run tries again)`;

/**
 * A Postgres data exception (SQLSTATE class 22) quotes the value it could not take: `invalid input syntax
 * for type integer: "ann@example.com"`, `value "99999999999" is out of range for type integer`,
 * `date/time field value out of range: "2026-13-01"`. That value is a row's. The quoted part, from the
 * message's first double quote to its last (a value may hold quotes of its own), becomes "…".
 */
export function withoutValue(message: string): string {
  const first = message.indexOf('"');
  const last = message.lastIndexOf('"');
  return first >= 0 && last > first ? `${message.slice(0, first)}"…"${message.slice(last + 1)}` : message;
}

/**
 * `text` (a failure message, kept in history in clear even with a codec, and logged) with the words of
 * every Postgres data exception in `err` or its causes stripped of the value they quote.
 */
export function withoutRowValues(text: string, err: unknown): string {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && typeof e === 'object' && depth < 5;
    depth++, e = e.cause as typeof e
  ) {
    if (typeof e.code === 'string' && e.code.startsWith('22') && typeof e.message === 'string' && e.message)
      text = text.split(e.message).join(withoutValue(e.message));
  }
  return text;
}

const quotesValue = (err: unknown): boolean => withoutRowValues((err as Error).message ?? '', err) !== (err as Error).message;

/**
 * The failure an activity throws to Temporal. Its message never holds what common/redact.ts
 * `withoutSecrets` leaves out (a URL's password and query string, an Authorization header's value),
 * whichever connector or library wrote it, nor a value a Postgres data exception quotes.
 */
export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return withoutSecretsFailure(err);
  const limit = programLimit(err);
  if (err instanceof SyncError) {
    const details = err.details ? [err.details] : [];
    const message = withoutSecrets(withoutRowValues(err.message, err));
    if (limit) return ApplicationFailure.nonRetryable(message + limitNote(limit), err.code, ...details);
    return err.retryable
      ? ApplicationFailure.retryable(message, err.code, ...details)
      : ApplicationFailure.nonRetryable(message, err.code, ...details);
  }
  if (limit)
    return ApplicationFailure.nonRetryable(
      withoutSecrets(`the state database refused a statement: ${(err as Error).message}${limitNote(limit)}`),
      'INTERNAL',
    );
  // An error passed through as it came (Postgres' own, a library's): its message, stack and causes would
  // carry the value or the secret. Typed as the SDK types an error passed through (its class:
  // "DatabaseError", "TypeError"; node-postgres sets `name` to "error").
  if (err instanceof Error && (quotesValue(err) || carriesSecrets(err)))
    return ApplicationFailure.retryable(withoutSecrets(withoutRowValues(err.message, err)), err.constructor?.name ?? err.name);
  return err;
}

/** Whether the message or a cause's message of `err` holds something `withoutSecrets` leaves out. */
function carriesSecrets(err: unknown): boolean {
  for (let e = err as { message?: unknown; cause?: unknown } | undefined, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (typeof e.message === 'string' && withoutSecrets(e.message) !== e.message) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/**
 * An ApplicationFailure an activity threw itself, with `withoutSecrets` applied to its message (the
 * same failure when nothing is left out); a cause that carries a secret is dropped (its class and
 * message stay out of history).
 */
function withoutSecretsFailure(f: ApplicationFailure): ApplicationFailure {
  const message = withoutSecrets(f.message);
  if (message === f.message && !carriesSecrets(f.cause)) return f;
  return ApplicationFailure.create({
    message,
    type: f.type ?? undefined,
    nonRetryable: f.nonRetryable ?? undefined,
    details: f.details ?? undefined,
    nextRetryDelay: f.nextRetryDelay,
    category: f.category ?? undefined,
    ...(f.cause && !carriesSecrets(f.cause) ? { cause: f.cause } : {}),
  });
}

/**
 * The secrets part of `toFailure` alone, for activities whose failures are typed by themselves (DAG
 * tasks, activities/dag-tasks.ts): an ApplicationFailure or an error passed through, with what
 * `withoutSecrets` leaves out left out; anything else as it is.
 */
export function withoutSecretsError(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return withoutSecretsFailure(err);
  if (err instanceof Error && carriesSecrets(err))
    return ApplicationFailure.retryable(withoutSecrets(err.message), err.constructor?.name ?? err.name);
  return err;
}

/** Every activity of `acts` with `withoutSecretsError` applied to what it throws. */
export function withoutSecretsAll<T extends Record<string, (...args: any[]) => Promise<unknown>>>(acts: T): T {
  return Object.fromEntries(
    Object.entries(acts).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          throw withoutSecretsError(err);
        }
      },
    ]),
  ) as T;
}

/** Wraps an activity so SyncErrors cross the boundary as typed failures. */
export function boundary<I extends unknown[], O>(fn: (...args: I) => Promise<O>): (...args: I) => Promise<O> {
  return async (...args: I) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toFailure(err);
    }
  };
}
