/**
 * Actito HTTP outcomes -> stable codes (API notes §7). Batch-wide problems become SyncError; a refused
 * row becomes a row code. Error bodies are undocumented, so they are parsed defensively.
 */
import { SyncError } from '../../common/errors';

export class ActitoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly route: string,
    readonly body: unknown,
  ) {
    super(`Actito ${method} ${route} answered ${status}${bodyMessage(body) ? `: ${bodyMessage(body)}` : ''}`);
    this.name = 'ActitoHttpError';
  }
}

/** The message of an error body: `{message}`, `{errors:[{message}]}`, `{error}` or plain text. */
export function bodyMessage(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 500);
  if (!body || typeof body !== 'object') return '';
  const b = body as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof b.message === 'string') parts.push(b.message);
  else if (typeof b.error === 'string') parts.push(b.error);
  if (Array.isArray(b.errors)) {
    for (const e of b.errors.slice(0, 5)) {
      if (e && typeof e === 'object') {
        const r = e as Record<string, unknown>;
        const field = typeof r.field === 'string' ? `${r.field}: ` : typeof r.attribute === 'string' ? `${r.attribute}: ` : '';
        if (typeof r.message === 'string') parts.push(field + r.message);
      } else if (typeof e === 'string') parts.push(e);
    }
  }
  return parts.join('; ').slice(0, 500);
}

export const isRetryableStatus = (status: number): boolean => status === 429 || status >= 500;

/** Batch-wide error for a failed call that no caller handled specifically. */
export function toSyncError(err: unknown, what: string): SyncError {
  if (err instanceof SyncError) return err;
  if (err instanceof ActitoHttpError) {
    const detail = { status: err.status, route: err.route };
    const msg = `${what}: ${err.message}`;
    if (err.status === 429)
      return new SyncError('RATE_LIMITED', `${msg} (too many concurrent requests or a daily quota)`, { retryable: true, details: detail });
    if (err.status >= 500) return new SyncError('DESTINATION_UNAVAILABLE', msg, { retryable: true, details: detail });
    if (err.status === 401)
      return new SyncError('AUTH_FAILED', `${msg}. Check the API key and that it belongs to this environment host.`, { details: detail });
    if (err.status === 403)
      return new SyncError(
        'AUTH_FAILED',
        `${msg}. The API key lacks the access right for this route; grant it in Actito's API user settings.`,
        { details: detail },
      );
    if (err.status === 404)
      return new SyncError('DESTINATION_NOT_FOUND', `${msg}. Check the entity, the table and the route prefixes.`, { details: detail });
    return new SyncError('CONFIG_INVALID', msg, { details: detail });
  }
  const m = err instanceof Error ? err.message : String(err);
  return new SyncError('DESTINATION_UNAVAILABLE', `${what}: ${m}`, { retryable: true, cause: err });
}

/** Row codes reported through `chunk.record` for refused rows. */
export const ROW_CODES = {
  invalid: 'ACTITO_INVALID_VALUE',
  notFound: 'ACTITO_NOT_FOUND',
  exists: 'ACTITO_ALREADY_EXISTS',
  rejected: 'ACTITO_REJECTED',
  profile: 'ACTITO_PROFILE_FAILED',
  encode: 'VALUE_NOT_ENCODABLE',
  /**
   * Mirror/Update of a key of digits: the record read back by it lacks the key attribute, so whether it is the
   * key's record or another one named by its technical id is unknown: nothing done, not retryable.
   */
  unidentified: 'ACTITO_RECORD_UNIDENTIFIED',
  /** The import's report does not account for the row's line: outcome unknown, sent again (retryable). */
  unconfirmed: 'ACTITO_IMPORT_UNCONFIRMED',
} as const;

/** Why an Update row whose record is missing is listed (one by one and in bulk): Actito's words, then this. */
export const updateNeverCreates = (table: string): string =>
  `Update mode never creates records: create the record in Actito table "${table}", or sync in Upsert mode`;

/** A 4xx answer to a one-row call as a row failure; other errors are batch-wide and rethrown. */
export function rowFailure(err: unknown): { code: string; message: string; retryable: boolean } {
  if (!(err instanceof ActitoHttpError) || isRetryableStatus(err.status) || err.status === 401 || err.status === 403) {
    throw toSyncError(err, 'Writing a record');
  }
  const code =
    err.status === 404
      ? ROW_CODES.notFound
      : err.status === 409
        ? ROW_CODES.exists
        : err.status === 400 || err.status === 422
          ? ROW_CODES.invalid
          : ROW_CODES.rejected;
  return { code, message: bodyMessage(err.body) || `Actito answered ${err.status}`, retryable: false };
}

/**
 * Tells a 404 to a call by key (a missing record or profile) from a route this licence does not serve: one
 * look (`refused`, a list read: routes.ts) shared by the calls of a batch (the first 404 asks, the others wait
 * for its answer). Throws `notServed(err)` when the route is not served, so nothing is taken for missing.
 * A look that tells nothing (429, 5xx) fails this call, and the next 404 asks again.
 */
export function routeCheck(
  refused: () => Promise<ActitoHttpError | null>,
  reading: string,
  notServed: (err: ActitoHttpError) => SyncError,
): () => Promise<void> {
  let answer: Promise<ActitoHttpError | null> | null = null;
  return async () => {
    answer ??= refused().catch((err: unknown) => {
      answer = null;
      throw toSyncError(err, reading);
    });
    const err = await answer;
    if (err) throw notServed(err);
  };
}
