/**
 * The activity boundary: a SyncError becomes an ApplicationFailure whose `type` is the
 * error code, non-retryable for configuration errors. Details hold no row values and no secrets.
 */
import { ApplicationFailure } from '@temporalio/common';
import { SyncError } from '../common/errors';

export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SyncError) {
    const details = err.details ? [err.details] : [];
    return err.retryable
      ? ApplicationFailure.retryable(err.message, err.code, ...details)
      : ApplicationFailure.nonRetryable(err.message, err.code, ...details);
  }
  return err;
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
