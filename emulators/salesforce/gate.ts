/**
 * Transport-level fault injection and the API-call gate (auth + daily quota + Sforce-Limit-Info).
 * Returns true when the request was already answered (or its socket destroyed).
 */
import { bearer, sendInvalidSession } from './auth';
import { sendJson, type Ctx } from './http';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function injectFaults(ctx: Ctx): Promise<boolean> {
  const { faults } = ctx.state;
  const { category, path } = ctx;
  if (faults.take('socketReset', category, path)) {
    ctx.status = 0;
    ctx.dropped = true;
    ctx.req.socket.destroy();
    return true;
  }
  const slow = faults.take('slow', category, path);
  if (slow) await sleep(slow.ms ?? 1000);
  const rate = faults.take('rateLimit', category, path);
  if (rate) {
    if (rate.kind === 'concurrency') {
      sendJson(ctx, 403, [{ message: 'ConcurrentPerOrgLongTxn Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    } else {
      sendJson(ctx, rate.status ?? 429, [{ message: 'Too many requests, retry later', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], {
        'Retry-After': String(rate.retryAfter ?? 1),
      });
    }
    return true;
  }
  const err = faults.take('serverError', category, path);
  if (err) {
    const status = err.status ?? 503;
    const body =
      status === 503
        ? [{ message: 'Server temporarily unavailable, please retry', errorCode: 'SERVER_UNAVAILABLE' }]
        : [
            {
              message: 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-8901 (-123456789)',
              errorCode: 'UNKNOWN_EXCEPTION',
            },
          ];
    sendJson(ctx, status, body);
    return true;
  }
  // Only data writes can be "committed then dropped"; token requests are left alone.
  if (category !== 'auth' && WRITE_METHODS.has(ctx.method) && faults.take('dropResponseAfterCommit', category, path))
    ctx.dropAfterCommit = true;
  return false;
}

/**
 * Bearer check, concurrent requests and quota for `/services/data/vXX.X/**`; every admitted call costs
 * one API request (a refused one costs none).
 */
export async function admitApiCall(ctx: Ctx): Promise<boolean> {
  const { state } = ctx;
  if (!bearer(ctx)) {
    sendInvalidSession(ctx);
    return false;
  }
  const concurrent = state.faults.concurrentRequests;
  if (!concurrent.tryAcquire()) {
    sendJson(ctx, 403, [{ message: 'ConcurrentRequests (Concurrent API Requests) Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    return false;
  }
  // In flight until the answer is sent or the connection is lost, whichever comes first.
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    concurrent.release();
  };
  ctx.res.once('finish', release);
  ctx.res.once('close', release);
  if (concurrent.latencyMs > 0) await sleep(concurrent.latencyMs);
  const max = state.options.dailyApiLimit;
  if (state.faults.dailyQuotaExhausted || state.apiUsed >= max) {
    ctx.limitInfo = `api-usage=${Math.max(state.apiUsed, max)}/${max}`;
    sendJson(ctx, 403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    return false;
  }
  state.apiUsed += 1;
  ctx.limitInfo = `api-usage=${state.apiUsed}/${max}`;
  return true;
}
