/**
 * Liveness during one long call (an import file's build and upload, an error report read): the write
 * activity's heartbeat timeout is one minute, and a call that sends no heartbeat for longer makes
 * Temporal start a second attempt, which re-uploads the file and spends a daily import.
 */
import type { Ctx } from './context';

/** Interval of the heartbeat timer; tests shorten it. */
export const heartbeatTimer = { everyMs: 10_000 };

/** Runs `work` while heartbeating `details` every `heartbeatTimer.everyMs`. */
export async function whileBeating<T>(ctx: Ctx, details: Record<string, unknown>, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => ctx.heartbeat(details), heartbeatTimer.everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
