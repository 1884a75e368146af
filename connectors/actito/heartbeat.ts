/** Liveness during long Actito calls (see connectors/kit/heartbeat.ts), at an interval tests shorten. */
import { withHeartbeat } from '../kit/heartbeat';
import type { Ctx } from './context';

/** Interval of the heartbeat timer; tests shorten it. */
export const heartbeatTimer = { everyMs: 10_000 };

/** Runs `work` while heartbeating `details` every `heartbeatTimer.everyMs`. */
export function whileBeating<T>(ctx: Ctx, details: Record<string, unknown>, work: () => Promise<T>): Promise<T> {
  return withHeartbeat(() => ctx.heartbeat(details), heartbeatTimer.everyMs, work);
}
