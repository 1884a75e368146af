/**
 * Timer heartbeats for the short activities of a run (prepare, check, attributes, commit, plan). They
 * do one thing that may still take a while — a commit of a million rows, a destination that answers
 * slowly — and give no natural point to heartbeat. With a heartbeat timeout their workflow learns of a
 * dead worker within a minute instead of at the five-minute start-to-close timeout.
 */
import { Context } from '@temporalio/activity';
import { withHeartbeat } from '../connectors/kit/heartbeat';

/** Interval of the timer; tests shorten it. */
export const livenessTimer = { everyMs: 10_000 };

/** Wraps an activity so it heartbeats every `livenessTimer.everyMs` while it runs. */
export function alive<I extends unknown[], O>(fn: (...args: I) => Promise<O>): (...args: I) => Promise<O> {
  return (...args: I) => {
    const ctx = Context.current();
    // A local activity cannot heartbeat: its liveness is the workflow task's, which the SDK keeps alive.
    if (ctx.info.isLocal) return fn(...args);
    return withHeartbeat(
      () => ctx.heartbeat(),
      livenessTimer.everyMs,
      () => fn(...args),
    );
  };
}
