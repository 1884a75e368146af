/**
 * Five-field cron expressions evaluated in an IANA time zone, with no I/O and no clock of their own,
 * so the activation workflow can compute its next fire time deterministically from `Date.now()`.
 *
 * DST: a wall-clock time that does not exist (spring forward) fires at the same wall time shifted by
 * the gap (02:30 -> 03:30); a wall-clock time that happens twice (fall back) fires once, the first time.
 *
 * Why not a library: croner 11.0.1 and cron-parser 5.10.7 were compared with this code on the cases of
 * test/unit/cron.test.ts and on 93,600 expression/zone/instant cases around the 2026 DST transitions
 * and February 2028. Both give other fire times, and a running activation must keep the times it has.
 * - croner follows Vixie cron: a skipped 02:30 fires at 03:00 (Brussels 2026-03-29: 01:00Z, not 01:30Z),
 *   and an expression with a wildcard, step, list or range in the minute or hour fires in both passes of
 *   the repeated hour (`0 * * * *` fires at 01:00Z on 2026-10-25 in Brussels, the second 02:00).
 * - cron-parser fires a fixed time twice in the repeated hour (`30 2 * * *`, Brussels: 00:30Z and
 *   01:30Z on 2026-10-25), drops the day of a half-hour shift (`0 2 * * *`, Australia/Lord_Howe,
 *   2026-10-04), and throws "loop limit exceeded" for daily times in Lord_Howe around April 2026.
 * Neither was tried in the workflow sandbox once its fire times differed.
 */
interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  dayRestricted: boolean;
  weekdayRestricted: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseValue(token: string, names: string[] | undefined, offset: number): number {
  const byName = names?.indexOf(token.toUpperCase()) ?? -1;
  if (byName >= 0) return byName + offset;
  if (!/^\d+$/.test(token)) throw new Error(`"${token}" is not a number`);
  return Number(token);
}

function parseField(field: string, min: number, max: number, names?: string[], nameOffset = 0): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step in "${part}"`);
    let lo = min;
    let hi = max;
    if (range !== '*' && range !== undefined) {
      const [a, b] = range.split('-');
      lo = parseValue(a ?? '', names, nameOffset);
      hi = b === undefined ? (stepText === undefined ? lo : max) : parseValue(b, names, nameOffset);
    }
    if (lo < min || hi > max || lo > hi) throw new Error(`"${part}" is outside ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(expr: string): CronSpec {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`"${expr}" has ${fields.length} fields; cron needs 5`);
  const [mi, h, dom, mon, dow] = fields as [string, string, string, string, string];
  const weekdays = parseField(dow, 0, 7, WEEKDAYS);
  if (weekdays.has(7)) weekdays.add(0);
  return {
    minutes: parseField(mi, 0, 59),
    hours: parseField(h, 0, 23),
    days: parseField(dom, 1, 31),
    months: parseField(mon, 1, 12, MONTHS, 1),
    weekdays,
    dayRestricted: dom !== '*',
    weekdayRestricted: dow !== '*',
  };
}

export function isValidCron(expr: string): boolean {
  try {
    parseCron(expr);
    return true;
  } catch {
    return false;
  }
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Wall-clock fields of an instant in `tz`, encoded as a UTC timestamp (a "naive" local time). */
function wallClock(instant: number, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(instant))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year ?? 0, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
}

/**
 * The instant a wall-clock time happens in `tz`: the earliest when it happens twice (fall back);
 * shifted by the gap when it does not happen (spring forward).
 */
function toInstant(wall: number, tz: string): number {
  const DAY = 86_400_000;
  const offsets = [wallClock(wall - DAY, tz) - (wall - DAY), wallClock(wall + DAY, tz) - (wall + DAY)];
  const valid = offsets.map((o) => wall - o).filter((t) => wallClock(t, tz) === wall);
  if (valid.length) return Math.min(...valid);
  return wall - offsets[0]!;
}

function dayMatches(spec: CronSpec, d: Date): boolean {
  const dom = spec.days.has(d.getUTCDate());
  const dow = spec.weekdays.has(d.getUTCDay());
  // Vixie cron: when both day fields are restricted, either may match.
  if (spec.dayRestricted && spec.weekdayRestricted) return dom || dow;
  return dom && dow;
}

/** The first fire time strictly after `after` (epoch ms), or throws when none falls within 5 years. */
export function nextCronTime(expr: string, tz: string, after: number): number {
  const spec = parseCron(expr);
  const MIN = 60_000;
  let wall = Math.floor(wallClock(after, tz) / MIN) * MIN + MIN;
  const limit = wall + 5 * 366 * 86_400_000;
  while (wall < limit) {
    const d = new Date(wall);
    if (!spec.months.has(d.getUTCMonth() + 1)) {
      wall = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    } else if (!dayMatches(spec, d)) {
      wall = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    } else if (!spec.hours.has(d.getUTCHours())) {
      wall = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
    } else if (!spec.minutes.has(d.getUTCMinutes())) {
      wall += MIN;
    } else {
      const instant = toInstant(wall, tz);
      if (instant > after) return instant;
      wall += MIN;
    }
  }
  throw new Error(`cron "${expr}" never fires within 5 years`);
}

/**
 * The instants in [from, to) at which `tz`'s offset from UTC changes (its clock changes), to the minute, in
 * order. None for UTC and other fixed offsets. Found by comparing offsets every 6 hours (no zone changes its
 * clock twice within that), then halving the interval.
 */
export function clockChanges(tz: string, from: number, to: number): number[] {
  const MIN = 60_000;
  const STEP = 6 * 3_600_000;
  const offset = (t: number): number => wallClock(t, tz) - Math.floor(t / 1000) * 1000;
  const changes: number[] = [];
  for (let a = Math.floor(from / MIN) * MIN; a < to; a += STEP) {
    const b = a + STEP;
    if (offset(a) === offset(b)) continue;
    let lo = a;
    let hi = b;
    // offset(lo) is the old offset, offset(hi) the new one: narrow down to the first minute of the new one.
    while (hi - lo > MIN) {
      const mid = lo + Math.floor((hi - lo) / 2 / MIN) * MIN;
      if (offset(mid) === offset(a)) lo = mid;
      else hi = mid;
    }
    if (hi >= from && hi < to) changes.push(hi);
  }
  return changes;
}
