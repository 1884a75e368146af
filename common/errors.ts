/**
 * Stable error codes. At the activity boundary a SyncError becomes an ApplicationFailure
 * with `type = code`; workflows branch on the type, never on message text.
 */
export const CONFIG_ERROR_CODES = [
  'CONFIG_INVALID', // the activation document does not match the schema
  'CONNECTION_UNKNOWN', // a named connection is not defined on the worker
  'AUTH_FAILED', // credentials rejected by the destination
  'DESTINATION_NOT_FOUND', // object / table does not exist
  'FIELD_UNKNOWN', // a mapped field does not exist and cannot be created
  'FIELD_NOT_WRITABLE',
  'KEY_INVALID', // the key mapping cannot identify records in this mode
  'MODEL_SQL_ERROR', // the model query failed in Postgres
  'BULK_JOB_FAILED', // the destination refused a whole bulk job (e.g. bad header)
] as const;
export const SYSTEM_ERROR_CODES = [
  'DESTINATION_UNAVAILABLE', // 5xx, socket errors, timeouts: retried
  'RATE_LIMITED', // 429: retried after the advertised delay
  'QUOTA_RESERVE_REACHED', // daily API quota reserve reached: the workflow waits on a durable timer
  'INTERNAL',
] as const;
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];
export type SystemErrorCode = (typeof SYSTEM_ERROR_CODES)[number];
export type SyncErrorCode = ConfigErrorCode | SystemErrorCode;

export function isConfigErrorCode(code: string): code is ConfigErrorCode {
  return (CONFIG_ERROR_CODES as readonly string[]).includes(code);
}

/** A run failing with this code pauses its activation (`CONFIG_BROKEN`); a model SQL error does not, the next run tries again. */
export function pausesActivation(code: string): boolean {
  return isConfigErrorCode(code) && code !== 'MODEL_SQL_ERROR';
}

/** Error thrown by activities and connectors; `details` must hold no row values and no secrets. */
export class SyncError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: SyncErrorCode,
    message: string,
    options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'SyncError';
    this.retryable = options.retryable ?? !isConfigErrorCode(code);
    this.details = options.details;
  }
  readonly details: Record<string, unknown> | undefined;
}

/** Thrown by a connector when the API quota reserve is reached: the run waits `waitMs` on a durable timer. */
export class QuotaWaitError extends SyncError {
  constructor(
    message: string,
    readonly waitMs: number,
  ) {
    super('QUOTA_RESERVE_REACHED', message, { retryable: false, details: { waitMs } });
  }
}

/** Per-row codes raised by the runtime itself (destination codes are passed through as they come). */
export const ROW_ERROR_CODES = {
  nullKey: 'MODEL_NULL_KEY',
  duplicateKey: 'MODEL_DUPLICATE_KEY',
  keyTooLong: 'MODEL_KEY_TOO_LONG',
  notAcknowledged: 'NOT_ACKNOWLEDGED',
} as const;

/**
 * An error's words with those of its causes, each said once: a client wraps a failure in a message of its
 * own (Temporal's "Failed to query Workflow"), and its cause says what happened (a gRPC error: its message
 * names the status, its `details` the server's words, e.g. "context deadline exceeded").
 */
export function causeChainText(err: unknown, maxDepth = 5): string {
  const parts: string[] = [];
  for (let c: unknown = err, depth = 0; c !== undefined && c !== null && depth < maxDepth; c = (c as { cause?: unknown }).cause, depth++) {
    const e = c as { message?: unknown; details?: unknown };
    const said = [typeof e.message === 'string' ? e.message : String(c), e.details];
    for (const text of said) if (typeof text === 'string' && text && !parts.some((p) => p.includes(text))) parts.push(text);
  }
  return parts.join(': ');
}
