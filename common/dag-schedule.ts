/**
 * A DAG's `schedule` block (cron in a time zone, or a fixed interval) and the run context a scheduled run
 * derives from its scheduled time: logical date and data interval. Workflow-safe: no I/O, no clock.
 */
import { z } from 'zod';
import { nextCronTime, parseCron, isValidTimeZone } from './cron';
import { parseDuration } from './duration';

/** Temporal's overlap policies, as written in dag.json (what to do when a run is due while the last one still runs). */
export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

export interface DagSchedule {
  /** Five-field cron, evaluated in `timezone` (default UTC). Exactly one of `cron` and `every`. */
  cron?: string;
  timezone?: string;
  /** A fixed interval ("15m", "1h", "1d"), counted from the Unix epoch plus `offset`. */
  every?: string;
  offset?: string;
  /** How late a missed run (server or workers down) may still start; default "1m". */
  catchupWindow?: string;
  /** Default "skip": a run due while the previous one is still running is dropped. */
  overlap?: OverlapPolicy;
  /** Deploy the schedule paused. */
  paused?: boolean;
}

/** What a run is for: its scheduled time (or trigger time), and the interval of data it covers. ISO strings. */
export interface DagRunContext {
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  /** The `--conf` JSON of a manual trigger. */
  conf?: unknown;
}

/**
 * Built on first use, not when the module loads: the worker preloads this module into the workflow context
 * its executions share (client/workflow-bundle.ts), and zod schemas, memoizing on first use, cannot be frozen
 * as the SDK freezes what a preloaded module holds when it loads (common/config.ts says more).
 */
function buildScheduleSchema() {
  const duration = z.string().refine((s) => {
    try {
      return parseDuration(s) > 0;
    } catch {
      return false;
    }
  }, 'write a duration like "30s", "15m", "2h" or "1d"');

  /** Field checks sit on the fields, so each is reported even when another field is wrong too. */
  const cron = z.string().superRefine((expr, ctx) => {
    try {
      parseCron(expr);
      // A valid expression that never fires ("0 0 31 2 *") would deploy a schedule that never runs.
      nextCronTime(expr, 'UTC', Date.UTC(2026, 0, 1));
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `${(err as Error).message} (five fields: minute hour day-of-month month day-of-week, e.g. "*/15 * * * *")`,
      });
    }
  });

  const dagScheduleSchema = z
    .object({
      cron: cron.optional(),
      timezone: z
        .string()
        .superRefine((tz, ctx) => {
          if (!isValidTimeZone(tz)) ctx.addIssue({ code: 'custom', message: `"${tz}" is not an IANA time zone (e.g. "Europe/Brussels")` });
        })
        .optional(),
      every: duration.optional(),
      offset: z
        .string()
        .refine((s) => {
          try {
            return parseDuration(s) >= 0;
          } catch {
            return false;
          }
        }, 'write a duration like "0s" or "5m"')
        .optional(),
      catchupWindow: duration.optional(),
      overlap: z.enum(OVERLAP_POLICIES).optional(),
      paused: z.boolean().optional(),
    })
    .strict()
    .superRefine((s, ctx) => {
      if ((s.cron === undefined) === (s.every === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'give exactly one of "cron" (e.g. "0 2 * * *") and "every" (e.g. "1h")' });
      }
      if (s.every === undefined && s.offset !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['offset'], message: '"offset" goes with "every"; a cron sets its own minutes' });
      }
      if (s.cron === undefined && s.timezone !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['timezone'], message: '"timezone" goes with "cron"; an interval is counted in UTC' });
      }
    });
  return dagScheduleSchema;
}

let built: ReturnType<typeof buildScheduleSchema> | undefined;
export function dagScheduleSchema(): ReturnType<typeof buildScheduleSchema> {
  return (built ??= buildScheduleSchema());
}

/**
 * The fire time of the schedule just before `time` (strictly): the start of the data interval that ends at
 * `time`. For cron, steps back from `time` until some fire time lies before it, then walks forward to the last one.
 */
export function previousFireTime(schedule: DagSchedule, time: number): number {
  if (schedule.every !== undefined) {
    const every = parseDuration(schedule.every);
    const offset = schedule.offset ? parseDuration(schedule.offset) : 0;
    // The last grid point strictly before `time`, so a run scheduled on the grid covers exactly one period.
    return Math.ceil((time - offset) / every) * every + offset - every;
  }
  const tz = schedule.timezone ?? 'UTC';
  let back = 60_000;
  let from = time - back;
  while (nextCronTime(schedule.cron!, tz, from - 1) >= time) {
    back *= 2;
    from = time - back;
    if (back > 6 * 366 * 86_400_000) return time;
  }
  let prev = nextCronTime(schedule.cron!, tz, from - 1);
  for (let next = nextCronTime(schedule.cron!, tz, prev); next < time; next = nextCronTime(schedule.cron!, tz, next)) prev = next;
  return prev;
}

/**
 * The context of a run for time `time` (its scheduled time, or a manual trigger's time): the logical date is
 * that time, and the data interval runs from the schedule's previous fire time to it.
 */
export function runContext(schedule: DagSchedule | undefined, time: number, conf?: unknown): DagRunContext {
  const start = schedule ? previousFireTime(schedule, time) : time;
  return {
    logicalDate: new Date(time).toISOString(),
    dataIntervalStart: new Date(start).toISOString(),
    dataIntervalEnd: new Date(time).toISOString(),
    ...(conf !== undefined && { conf }),
  };
}

/** The values a sql task may bind by name (`:logical_date`), as $n parameters. */
export function bindValues(run: DagRunContext): Record<string, unknown> {
  return {
    logical_date: run.logicalDate,
    data_interval_start: run.dataIntervalStart,
    data_interval_end: run.dataIntervalEnd,
    conf: run.conf ?? null,
  };
}
export const BIND_NAMES = ['logical_date', 'data_interval_start', 'data_interval_end', 'conf'] as const;

/**
 * Rewrites `:logical_date`-style names in a statement to `$n` placeholders after the `existing` ones and returns
 * their values in order: the values travel as bind parameters, never inside the SQL text. Names inside string
 * literals, quoted identifiers, dollar-quoted bodies and comments are left alone, and so is a `::type` cast.
 */
export function bindNamed(
  statement: string,
  values: Record<string, unknown> | undefined,
  existing: number,
): { text: string; params: unknown[]; missing: string[] } {
  const params: unknown[] = [];
  const index = new Map<string, number>();
  const missing = new Set<string>();
  let out = '';
  let i = 0;
  const n = statement.length;
  while (i < n) {
    const c = statement[i]!;
    const rest = statement.slice(i);
    let skip = 0;
    if (c === "'" || c === '"') {
      // Quoted: up to the closing quote; a doubled quote is an escaped one.
      let j = i + 1;
      while (j < n && !(statement[j] === c && statement[j + 1] !== c)) j += statement[j] === c ? 2 : 1;
      skip = j + 1 - i;
    } else if (rest.startsWith('--')) {
      const end = statement.indexOf('\n', i);
      skip = (end < 0 ? n : end) - i;
    } else if (rest.startsWith('/*')) {
      const end = statement.indexOf('*/', i + 2);
      skip = (end < 0 ? n : end + 2) - i;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest)?.[0];
      if (tag) {
        const end = statement.indexOf(tag, i + tag.length);
        skip = (end < 0 ? n : end + tag.length) - i;
      }
    } else if (rest.startsWith('::')) {
      skip = 2;
    } else if (c === ':') {
      const name = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(rest)?.[1];
      if (name && (BIND_NAMES as readonly string[]).includes(name)) {
        if (!values || !(name in values)) missing.add(name);
        else if (!index.has(name)) {
          params.push(values[name]);
          index.set(name, existing + params.length);
        }
        out += `$${index.get(name) ?? 0}`;
        i += name.length + 1;
        continue;
      }
    }
    const step = Math.max(skip, 1);
    out += statement.slice(i, i + step);
    i += step;
  }
  return { text: out, params, missing: [...missing] };
}
