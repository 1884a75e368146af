/**
 * Salesforce errors → stable syncline codes. Call-level failures become SyncError / QuotaWaitError;
 * per-row status codes stay Salesforce's own, with a retryable flag.
 */
import { QuotaWaitError, SyncError } from '../../common/errors';
import { envName } from '../connections';

const SOCKET_CODES =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|ENETUNREACH|UND_ERR_SOCKET|socket hang up|fetch failed|network|terminated|other side closed|aborted due to timeout/i;

/** Row codes worth re-sending unchanged: lock contention and collateral allOrNone rollbacks. */
const RETRYABLE_ROW_CODES = new Set([
  'UNABLE_TO_LOCK_ROW',
  'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  'SERVER_UNAVAILABLE',
  'REQUEST_RUNNING_TOO_LONG',
  'UNPROCESSED',
]);

export function isRetryableRowError(code: string, message = ''): boolean {
  // UNABLE_TO_LOCK_ROW is sometimes buried in another code's message (e.g. CANNOT_EXECUTE_FLOW_TRIGGER).
  return RETRYABLE_ROW_CODES.has(code) || /UNABLE_TO_LOCK_ROW/.test(message);
}

interface VendorError {
  name?: string;
  message?: string;
  errorCode?: string;
  code?: string;
  data?: unknown;
  cause?: unknown;
}

/** The Salesforce error code of a thrown jsforce error (first entry of MULTIPLE_API_ERRORS). */
export function vendorCode(err: unknown): string {
  const e = (err ?? {}) as VendorError;
  if (e.errorCode === 'MULTIPLE_API_ERRORS' && Array.isArray(e.data)) {
    const first = e.data[0] as { errorCode?: string } | undefined;
    return first?.errorCode ?? e.errorCode;
  }
  return e.errorCode ?? e.name ?? 'UNKNOWN';
}

export function vendorMessage(err: unknown): string {
  const e = (err ?? {}) as VendorError;
  return withoutRowValues(typeof e.message === 'string' ? e.message : String(err));
}

/**
 * A vendor message without the row values it can quote: it becomes a failure message, which goes into
 * Temporal history, the run's record and the worker's log. Two ways Salesforce's answers quote keys:
 * - jsforce names the request's URL in a network error ("request to https://…/query?q=SELECT … IN
 *   ('ann@example.com', …) failed, reason: …"), and the id look-up's query names up to 200 keys: a URL's
 *   query string is left out (`?…`);
 * - a SOQL error echoes the query's line around the column it points at, then "ERROR at Row:1:Column:12"
 *   and what is wrong ("No such column 'Ext__c' on entity 'Contact'"): the echo is left out, what follows kept.
 */
export function withoutRowValues(message: string): string {
  return message
    .replace(/(\bhttps?:\/\/[^\s?#]*)\?\S*/g, '$1?…')
    .replace(/^[\s\S]*?(ERROR at Row:\d+:Column:\d+)/, "(the query's text left out) $1");
}

const AUTH_CODES = new Set([
  'INVALID_SESSION_ID',
  'invalid_client',
  'invalid_client_id',
  'invalid_grant',
  'unsupported_grant_type',
  'invalid_request',
  'INVALID_AUTH_HEADER',
]);

/**
 * Maps a thrown jsforce/transport error to a SyncError. `where` names the activation and object so a
 * person reading the run summary knows what to fix.
 */
export function toSyncError(err: unknown, where: string, opts: { quotaWaitMs?: number; connection?: string } = {}): SyncError {
  if (err instanceof SyncError) return err;
  const code = vendorCode(err);
  const message = vendorMessage(err);
  const e = (err ?? {}) as VendorError;
  const causeCode = (e.cause as { code?: string } | undefined)?.code ?? e.code ?? '';
  if (code === 'REQUEST_LIMIT_EXCEEDED') {
    // The daily quota pauses the run on a durable timer; the concurrency limit is a short, retried backoff.
    if (/TotalRequests|daily|24/i.test(message)) {
      return new QuotaWaitError(
        `${where}: Salesforce daily API request limit exceeded (${message}); waiting for quota to free up`,
        opts.quotaWaitMs ?? 3_600_000,
      );
    }
    return new SyncError('RATE_LIMITED', `${where}: Salesforce concurrent request limit reached: ${message}`, {
      retryable: true,
      cause: err,
    });
  }
  if (AUTH_CODES.has(code) || /Unable to refresh session|authentication failure|invalid_client|invalid_grant/i.test(message)) {
    const check =
      opts.connection !== undefined
        ? `check the credentials of connection "${opts.connection}" (${envName(opts.connection)}, or "connections" in the file SYNCLINE_SECRETS_FILE names)`
        : 'check the credentials of the connection "destination.connection" names';
    return new SyncError('AUTH_FAILED', `${where}: Salesforce rejected the credentials (${code}: ${message}); ${check}`, {
      retryable: false,
      cause: err,
    });
  }
  if (code === 'ERROR_HTTP_429' || code === 'ERROR_HTTP_420') {
    return new SyncError('RATE_LIMITED', `${where}: Salesforce answered ${code.slice(-3)} (rate limited)`, { retryable: true, cause: err });
  }
  if (
    /^ERROR_HTTP_5\d\d$/.test(code) ||
    code === 'SERVER_UNAVAILABLE' ||
    code === 'UNKNOWN_EXCEPTION' ||
    e.name === 'FetchError' ||
    e.name === 'AbortError' ||
    SOCKET_CODES.test(causeCode) ||
    SOCKET_CODES.test(message)
  ) {
    return new SyncError('DESTINATION_UNAVAILABLE', `${where}: Salesforce unavailable (${code}: ${message})`, {
      retryable: true,
      cause: err,
    });
  }
  if (code === 'INVALID_FIELD' || code === 'INVALID_FIELD_FOR_INSERT_UPDATE') {
    const syncCode = code === 'INVALID_FIELD' ? 'FIELD_UNKNOWN' : 'FIELD_NOT_WRITABLE';
    return new SyncError(syncCode, `${where}: Salesforce refused a mapped field (${code}: ${message}); fix the mapping`, {
      retryable: false,
      cause: err,
    });
  }
  if (code === 'INVALID_TYPE' || code === 'NOT_FOUND') {
    return new SyncError('DESTINATION_NOT_FOUND', `${where}: ${code}: ${message}`, { retryable: false, cause: err });
  }
  // Requests we built wrongly fail the same way every time; anything else unknown is worth a retry.
  const bug = [
    'EXCEEDED_ID_LIMIT',
    'JSON_PARSER_ERROR',
    'MALFORMED_QUERY',
    'INVALID_QUERY_FILTER_OPERATOR',
    'API_DISABLED_FOR_ORG',
  ].includes(code);
  return new SyncError('INTERNAL', `${where}: unexpected Salesforce error ${code}: ${message}`, { retryable: !bug, cause: err });
}

/** Bulk `sf__Error` is "CODE:message:fields --"; the message itself may contain colons. */
export function parseBulkError(value: string): { code: string; message: string } {
  const trimmed = value.replace(/\s*--\s*$/, '');
  const first = trimmed.indexOf(':');
  if (first < 0) return { code: trimmed || 'UNKNOWN', message: trimmed };
  const code = trimmed.slice(0, first);
  const rest = trimmed.slice(first + 1);
  const last = rest.lastIndexOf(':');
  return { code, message: last >= 0 ? rest.slice(0, last) : rest };
}

/** Job-level Bulk failures that no retry can fix: the header or permissions are wrong. */
export function bulkJobFailure(errorMessage: string, where: string): SyncError {
  const field = /Field name not found\s*:\s*([\w.]+)/i.exec(errorMessage)?.[1];
  if (field) {
    return new SyncError(
      'FIELD_UNKNOWN',
      `${where}: Salesforce failed the bulk job: field "${field}" not found or not visible to the integration user (${errorMessage}); fix the mapping or field-level security`,
      { retryable: false },
    );
  }
  return new SyncError('BULK_JOB_FAILED', `${where}: Salesforce failed the bulk job: ${errorMessage}`, { retryable: false });
}

/** Job failures caused by the header, the object or permissions (as opposed to transient platform trouble). */
export function isConfigJobFailure(errorMessage: string): boolean {
  return /InvalidBatch|Field name not found|InvalidJob|INVALID_FIELD|INSUFFICIENT_ACCESS|not an External ID|ClientInputError|InvalidOperation/i.test(
    errorMessage,
  );
}
