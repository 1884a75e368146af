/** Next fire time of an activation, computed from workflow time only (deterministic on replay). */
import type { Schedule } from '../common/config';
import { parseDuration } from '../common/duration';
import { nextCronTime } from '../common/cron';

/**
 * `lastFireAt` is the scheduled time of the previous scheduled run (undefined before the first).
 * A fire time missed while the worker was down is run once, now (no storm of catch-up runs).
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
