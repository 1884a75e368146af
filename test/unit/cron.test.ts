import { nextCronTime, parseCron, isValidCron } from '../../common/cron';
import { latestDueFire, nextFireTime } from '../../workflows/schedule';
import { parseDuration } from '../../common/duration';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('cron in a time zone', () => {
  test('daily at 06:00 Brussels is 05:00Z in winter and 04:00Z in summer', () => {
    expect(iso(nextCronTime('0 6 * * *', 'Europe/Brussels', at('2026-01-10T12:00:00Z')))).toBe('2026-01-11T05:00:00.000Z');
    expect(iso(nextCronTime('0 6 * * *', 'Europe/Brussels', at('2026-07-10T12:00:00Z')))).toBe('2026-07-11T04:00:00.000Z');
  });

  test('a wall time skipped by spring-forward fires shifted by the gap; fall-back fires once', () => {
    // 2026-03-29: Brussels jumps 02:00 -> 03:00.
    expect(iso(nextCronTime('30 2 * * *', 'Europe/Brussels', at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T01:30:00.000Z');
    // 2026-10-25: 02:30 happens twice; the first (CEST, 00:30Z) fires, the next fire is the following day.
    const first = nextCronTime('30 2 * * *', 'Europe/Brussels', at('2026-10-24T12:00:00Z'));
    expect(iso(first)).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(nextCronTime('30 2 * * *', 'Europe/Brussels', first))).toBe('2026-10-26T01:30:00.000Z');
  });

  test('DST in New York as in Brussels: the skipped 02:30 fires at 03:30, the repeated 01:30 fires once', () => {
    // 2026-03-08: New York jumps 02:00 -> 03:00; 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
    expect(iso(nextCronTime('30 2 * * *', 'America/New_York', at('2026-03-07T12:00:00Z')))).toBe('2026-03-08T07:30:00.000Z');
    const first = nextCronTime('30 1 * * *', 'America/New_York', at('2026-10-31T12:00:00Z'));
    expect(iso(first)).toBe('2026-11-01T05:30:00.000Z');
    expect(iso(nextCronTime('30 1 * * *', 'America/New_York', first))).toBe('2026-11-02T06:30:00.000Z');
    // A half-hour shift (Lord Howe): the skipped 02:00 fires at 02:30, the day is not lost.
    expect(iso(nextCronTime('0 2 * * *', 'Australia/Lord_Howe', at('2026-10-03T00:00:00Z')))).toBe('2026-10-03T15:30:00.000Z');
  });

  test('the repeated hour of fall-back fires once for every expression, hourly and every 15 minutes too', () => {
    // Brussels 2026-10-25: 02:00 CEST (00:00Z) fires; 02:00 CET (01:00Z) is the same wall time: the next is 03:00 CET.
    expect(iso(nextCronTime('0 * * * *', 'Europe/Brussels', at('2026-10-25T00:00:00Z')))).toBe('2026-10-25T02:00:00.000Z');
    expect(iso(nextCronTime('*/15 * * * *', 'America/New_York', at('2026-11-01T05:45:00Z')))).toBe('2026-11-01T07:00:00.000Z');
    // Spring forward: the hour that does not exist adds no run.
    expect(iso(nextCronTime('0 * * * *', 'Europe/Brussels', at('2026-03-29T00:30:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(nextCronTime('0 * * * *', 'Europe/Brussels', at('2026-03-29T01:00:00Z')))).toBe('2026-03-29T02:00:00.000Z');
  });

  test('February 29 waits for the next leap year; the 31st skips short months', () => {
    expect(iso(nextCronTime('0 0 29 2 *', 'UTC', at('2026-03-01T00:00:00Z')))).toBe('2028-02-29T00:00:00.000Z');
    expect(iso(nextCronTime('0 9 29 2 *', 'Europe/Brussels', at('2027-06-01T00:00:00Z')))).toBe('2028-02-29T08:00:00.000Z');
    expect(iso(nextCronTime('0 0 31 * *', 'UTC', at('2026-04-01T00:00:00Z')))).toBe('2026-05-31T00:00:00.000Z');
  });

  test('fields: steps, ranges, lists, names, day-of-month OR day-of-week', () => {
    expect(iso(nextCronTime('*/15 9-17 * * MON-FRI', 'UTC', at('2026-11-21T10:00:00Z')))).toBe('2026-11-23T09:00:00.000Z'); // Saturday -> Monday
    expect(iso(nextCronTime('0 0 1 * 0', 'UTC', at('2026-11-02T00:00:00Z')))).toBe('2026-11-08T00:00:00.000Z'); // the next Sunday before Dec 1
    expect(iso(nextCronTime('0 12 13 * 5', 'Europe/Brussels', at('2026-02-01T00:00:00Z')))).toBe('2026-02-06T11:00:00.000Z'); // Friday the 6th, before the 13th
    expect(iso(nextCronTime('0 12 13 * 5', 'Europe/Brussels', at('2026-02-06T12:00:00Z')))).toBe('2026-02-13T11:00:00.000Z'); // the 13th (a Friday too)
    expect(iso(nextCronTime('0 3 * * 7', 'America/New_York', at('2026-11-01T00:00:00Z')))).toBe('2026-11-01T08:00:00.000Z'); // 7 is Sunday
    expect(parseCron('0 0 * JAN,jul *').months).toEqual(new Set([1, 7]));
    expect(isValidCron('61 * * * *')).toBe(false);
    expect(isValidCron('* * * *')).toBe(false);
  });

  test('next fire time: interval catches up once, manual never fires', () => {
    expect(nextFireTime({ every: '15m' }, undefined, 1000)).toBe(1000);
    expect(nextFireTime({ every: '15m' }, 0, 60_000)).toBe(900_000);
    expect(nextFireTime({ every: '15m' }, 0, 10_000_000)).toBe(10_000_000); // missed while down: once, now
    expect(nextFireTime({ manual: true }, undefined, 0)).toBeNull();
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });

  test('a timer fired late stands for every fire due by then: the schedule carries on from the latest', () => {
    const every = { every: '10s' };
    expect(latestDueFire(every, 100_000, 100_500)).toBe(100_000); // on time
    expect(latestDueFire(every, 100_000, 109_999)).toBe(100_000);
    expect(latestDueFire(every, 100_000, 135_000)).toBe(130_000); // fires at +10, +20, +30 s missed
    expect(latestDueFire({ manual: true }, 5, 1_000_000)).toBe(5);
    // Cron in a time zone: the latest fire due, across the fall-back hour (the repeated 02:30 is one fire).
    const daily = { cron: '30 2 * * *', timezone: 'Europe/Brussels' };
    const fired = at('2026-10-23T00:30:00Z');
    expect(iso(latestDueFire(daily, fired, at('2026-10-23T12:00:00Z')))).toBe('2026-10-23T00:30:00.000Z');
    expect(iso(latestDueFire(daily, fired, at('2026-10-25T01:45:00Z')))).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(latestDueFire(daily, fired, at('2026-10-26T01:30:00Z')))).toBe('2026-10-26T01:30:00.000Z');
    // Minutely, a week away: bounded work, the latest minute.
    expect(iso(latestDueFire({ cron: '* * * * *', timezone: 'UTC' }, at('2026-11-01T00:00:00Z'), at('2026-11-08T00:00:30Z')))).toBe(
      '2026-11-08T00:00:00.000Z',
    );
  });
});
