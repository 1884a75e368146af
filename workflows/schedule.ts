/** Next fire time of an activation, computed from workflow time only (deterministic on replay). */
import type { Schedule } from '../common/config';
import { parseDuration } from '../common/duration';
import { nextCronTime } from '../common/cron';

/**
 * `lastFireAt` is the scheduled time of the previous scheduled run (undefined before the first).
 * A fire time missed while the worker was down is run once, now (no storm of catch-up runs); a timer that
 * fired late by several fire times is one run too, and the schedule carries on from the latest (latestDueFire).
 */
export function nextFireTime(schedule: Schedule, lastFireAt: number | undefined, now: number): number | null {
  if ('manual' in schedule) return null;
  if ('every' in schedule) {
    if (lastFireAt === undefined) return now;
    return Math.max(now, lastFireAt + parseDuration(schedule.every));
  }
  const next = nextCronTime(schedule.cron, schedule.timezone, lastFireAt ?? now);
  return lastFireAt !== undefined && next < now ? now : next;
}

/**
 * The latest fire time due by `now`, counting from `fired` (a fire time that came due): `fired` itself unless
 * its timer fired late by one fire time or more (no worker polled through several of them, or it was busy).
 * The run served then stands for all of them, and the schedule carries on from the latest: "run once, now".
 */
export function latestDueFire(schedule: Schedule, fired: number, now: number): number {
  if ('manual' in schedule) return fired;
  if ('every' in schedule) {
    const every = parseDuration(schedule.every);
    return now - fired < every ? fired : fired + Math.floor((now - fired) / every) * every;
  }
  // The fires of the last hour, else day, else month, else since `fired`: a few dozen steps of nextCronTime, not
  // one per fire since `fired` (a minutely cron after a week away), inside a workflow task.
  for (const span of [3_600_000, 86_400_000, 32 * 86_400_000, Infinity]) {
    const from = Math.max(fired, now - span);
    let latest: number | undefined = from === fired ? fired : undefined;
    for (let t = from; ;) {
      t = nextCronTime(schedule.cron, schedule.timezone, t);
      if (t > now) break;
      latest = t;
    }
    if (latest !== undefined) return latest;
  }
  return fired;
}
