import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
/** The schedule block of a DAG file, the run context of a dated run and the named bind parameters of sql tasks. */
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { countFireTimes, DagError, DagSchedules, parseDeployableDag } from '../../client/dags';
import { parseArgs, UsageError } from '../../client/cli';
import { bindNamed, previousFireTime, runContext } from '../../common/dag-schedule';

const dag = (schedule: unknown) => ({
  id: 'nightly',
  tasks: [{ id: 'load', kind: 'sql', input: { statement: 'SELECT 1' } }],
  schedule,
});

describe('schedule block', () => {
  test('a cron that does not parse is refused, naming the DAG and the field', () => {
    expect(() => parseDeployableDag(dag({ cron: '61 * * * *' }))).toThrow(DagError);
    expect(() => parseDeployableDag(dag({ cron: '61 * * * *' }))).toThrow(
      /DAG "nightly" is invalid, nothing was deployed:\n {2}schedule\.cron: .*61.*five fields/,
    );
    expect(() => parseDeployableDag(dag({ cron: '0 2 * *' }))).toThrow(/schedule\.cron: "0 2 \* \*" has 4 fields; cron needs 5/);
    // Parses, but never fires.
    expect(() => parseDeployableDag(dag({ cron: '0 0 31 2 *' }))).toThrow(/schedule\.cron: cron "0 0 31 2 \*" never fires/);
  });

  test('other bad fields are named too, all at once', () => {
    let message = '';
    try {
      parseDeployableDag(dag({ cron: '0 2 * * *', timezone: 'Mars/Olympus', overlap: 'sometimes', catchupWindow: 'soon' }));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('schedule.timezone: "Mars/Olympus" is not an IANA time zone');
    expect(message).toContain('schedule.overlap:');
    expect(message).toContain('schedule.catchupWindow: write a duration');
    expect(() => parseDeployableDag(dag({ cron: '0 2 * * *', every: '1h' }))).toThrow(/give exactly one of "cron"/);
    expect(() => parseDeployableDag(dag({}))).toThrow(/give exactly one of "cron"/);
    expect(() => parseDeployableDag({ ...dag(undefined), schedule: undefined })).toThrow(/DAG "nightly" has no "schedule" block/);
  });

  test('a valid block passes', () => {
    expect(
      parseDeployableDag(dag({ cron: '*/5 * * * *', timezone: 'Europe/Brussels', overlap: 'buffer_one', paused: true })).schedule,
    ).toEqual({
      cron: '*/5 * * * *',
      timezone: 'Europe/Brussels',
      overlap: 'buffer_one',
      paused: true,
    });
    expect(parseDeployableDag(dag({ every: '1h', offset: '5m', catchupWindow: '10m' })).schedule.every).toBe('1h');
  });
});

describe('run context', () => {
  const at = (iso: string) => Date.parse(iso);
  test('a cron run covers the interval since the previous fire time; its logical date is its scheduled time', () => {
    expect(runContext({ cron: '* * * * *' }, at('2026-12-05T01:30:00Z'))).toEqual({
      logicalDate: '2026-12-05T01:30:00.000Z',
      dataIntervalStart: '2026-12-05T01:29:00.000Z',
      dataIntervalEnd: '2026-12-05T01:30:00.000Z',
    });
    // Weekdays at 09:00 Brussels: Monday's run covers the weekend back to Friday 09:00 (08:00Z in winter).
    expect(new Date(previousFireTime({ cron: '0 9 * * 1-5', timezone: 'Europe/Brussels' }, at('2026-12-07T08:00:00Z'))).toISOString()).toBe(
      '2026-12-04T08:00:00.000Z',
    );
    // A manual trigger between fire times: the interval starts at the last fire time before it.
    expect(runContext({ cron: '0 * * * *' }, at('2026-12-05T01:17:42Z'), { full: true })).toEqual({
      logicalDate: '2026-12-05T01:17:42.000Z',
      dataIntervalStart: '2026-12-05T01:00:00.000Z',
      dataIntervalEnd: '2026-12-05T01:17:42.000Z',
      conf: { full: true },
    });
  });

  test('an interval run covers one period', () => {
    expect(new Date(previousFireTime({ every: '1h', offset: '5m' }, at('2026-12-05T02:05:00Z'))).toISOString()).toBe(
      '2026-12-05T01:05:00.000Z',
    );
    expect(new Date(previousFireTime({ every: '1h' }, at('2026-12-05T02:30:00Z'))).toISOString()).toBe('2026-12-05T02:00:00.000Z');
  });

  test('backfill counts the fire times in [from, to], both ends included', () => {
    expect(countFireTimes({ cron: '* * * * *' }, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:04:00Z'))).toBe(5);
    expect(countFireTimes({ every: '1h' }, at('2026-01-01T00:00:00Z'), at('2026-01-01T23:59:00Z'))).toBe(24);
    expect(countFireTimes({ cron: '0 0 * * *' }, at('2026-01-01T00:00:01Z'), at('2026-01-01T23:00:00Z'))).toBe(0);
  });
});

describe('named bind parameters of sql tasks', () => {
  const values = { logical_date: '2026-12-05T01:30:00.000Z', data_interval_start: 'S', data_interval_end: 'E', conf: null };
  test('names become $n after the given params, each name once, values sent apart', () => {
    expect(
      bindNamed(
        'INSERT INTO t SELECT $1, :logical_date::timestamptz WHERE x >= :data_interval_start AND x < :data_interval_end AND d = :logical_date',
        values,
        1,
      ),
    ).toEqual({
      text: 'INSERT INTO t SELECT $1, $2::timestamptz WHERE x >= $3 AND x < $4 AND d = $2',
      params: ['2026-12-05T01:30:00.000Z', 'S', 'E'],
      missing: [],
    });
  });
  test('literals, quoted identifiers, dollar quotes, comments, casts and unknown names are left alone', () => {
    const sql = `SELECT ':logical_date', 'it''s :logical_date', ":logical_date", $$ :logical_date $$, $f$ :conf $f$, x::date, arr[1:2], :other -- :logical_date\n/* :conf */ , :conf`;
    expect(bindNamed(sql, values, 0)).toEqual({
      text: sql.replace(/, :conf$/, ', $1'),
      params: [null],
      missing: [],
    });
  });
  test('a run without a logical date reports the names it lacks', () => {
    expect(bindNamed('SELECT :logical_date, :conf', undefined, 0).missing).toEqual(['logical_date', 'conf']);
    expect(bindNamed('SELECT 1', undefined, 0)).toEqual({ text: 'SELECT 1', params: [], missing: [] });
  });
});

describe('dag commands', () => {
  test('parse, with help for the group', () => {
    expect(parseArgs(['dag', 'backfill', 'nightly', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z'])).toMatchObject({
      kind: 'run',
      command: { name: 'dag backfill' },
      args: { id: 'nightly' },
      flags: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' },
    });
    expect(() => parseArgs(['dag', 'backfill', 'nightly', '--from', '2026-01-01T00:00:00Z'])).toThrow('--to is required');
    expect(parseArgs(['help', 'dag', 'deploy'])).toMatchObject({ kind: 'help', command: { name: 'dag deploy' } });
    expect(() => parseArgs(['dag', 'frobnicate'])).toThrow(UsageError);
    expect(() => parseArgs(['dag', 'frobnicate'])).toThrow(/the dag commands are "dag deploy", "dag list"/);
  });
});

test('syncline dag deploy refuses a cron that does not parse before it reaches Temporal', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dag-')), 'bad.json');
  fs.writeFileSync(file, JSON.stringify(dag({ cron: '0 2 * *', timezone: 'UTC' })));
  const root = path.resolve(__dirname, '../..');
  // Nothing listens at 127.0.0.1:1: had the command tried Temporal first, it would say so instead.
  const out = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(
      path.join(root, 'node_modules/.bin/tsx'),
      ['client/cli.ts', 'dag', 'deploy', file, '--address', '127.0.0.1:1'],
      { cwd: root, timeout: 60_000 },
      (err, _o, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    ),
  );
  expect(out).toEqual({
    code: 1,
    stderr:
      'syncline dag deploy: DAG "nightly" is invalid, nothing was deployed:\n' +
      '  schedule.cron: "0 2 * *" has 4 fields; cron needs 5 (five fields: minute hour day-of-month month day-of-week, e.g. "*/15 * * * *")\n',
  });
});

describe('sensors', () => {
  const withTask = (task: unknown) => ({ ...dag({ cron: '0 2 * * *' }), tasks: [task] });
  test('a sensor without a timeout is refused before anything is deployed, with what to add', () => {
    expect(() => parseDeployableDag(withTask({ id: 'ready', kind: 'sql_sensor', input: { statement: 'SELECT 1 FROM ready' } }))).toThrow(
      'DAG "nightly" is invalid, nothing was deployed:\n' +
        '  task "ready": input.timeoutSeconds: a sensor needs "timeoutSeconds": how long it waits before it fails (or is skipped, with "softFail": true)',
    );
    expect(() => parseDeployableDag(withTask({ id: 'go', kind: 'wait_for_signal', input: { signal: 'files_ready' } }))).toThrow(
      'task "go": input.timeoutSeconds: a sensor needs "timeoutSeconds"',
    );
  });
  test('pokes are bounded, and other problems of the DAG are reported with the sensor problems', () => {
    let message = '';
    try {
      parseDeployableDag({
        ...withTask({ id: 'ready', kind: 'sql_sensor', input: { statement: 'SELECT 1', timeoutSeconds: 86_400, pokeIntervalSeconds: 1 } }),
        tasks: [
          { id: 'ready', kind: 'sql_sensor', input: { statement: 'SELECT 1', timeoutSeconds: 86_400, pokeIntervalSeconds: 1 } },
          { id: 'after', kind: 'sql', upstream: ['missing'], input: { statement: 'SELECT 1' } },
        ],
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('task "after": upstream "missing" is not a task of this DAG');
    expect(message).toContain(
      'task "ready": input.pokeIntervalSeconds: 86400 s at one poke every 1 s is more than 2000 pokes: poke less often (at least every 44 s)',
    );
  });
  test('a valid sensor passes', () => {
    expect(
      parseDeployableDag(
        withTask({ id: 'ready', kind: 'sql_sensor', input: { statement: 'SELECT 1', timeoutSeconds: 3600, softFail: true } }),
      ).tasks,
    ).toHaveLength(1);
  });
});

describe('task kinds and inputs', () => {
  // A deployed DAG always runs as dagWorkflow: what its run would refuse (DAG_INVALID at every scheduled
  // time) is refused at deploy, and a credential in a task input never reaches the Schedule.
  const withTasks = (...tasks: unknown[]) => ({ ...dag({ cron: '0 2 * * *' }), tasks });
  const problemsOf = (doc: unknown): string => {
    try {
      parseDeployableDag(doc);
    } catch (e) {
      return (e as Error).message;
    }
    return 'deployed';
  };
  test('an unknown kind is refused before anything is deployed, with the known kinds', () => {
    expect(problemsOf(withTasks({ id: 'load', kind: 'sqll', input: { statement: 'SELECT 1' } }))).toBe(
      'DAG "nightly" is invalid, nothing was deployed:\n' +
        '  task "load": kind "sqll" has no runner (known: sql, http, activation, sleep, sql_sensor, wait_for_signal, activation_sensor)',
    );
  });
  test('a bad input of a sql, http, activation or sleep task is refused, every problem at once', () => {
    const message = problemsOf(
      withTasks(
        { id: 'load', kind: 'sql', input: { statment: 'SELECT 1' } },
        { id: 'ping', kind: 'http', input: { url: 'not a url' } },
        { id: 'sync', kind: 'activation', input: {} },
        { id: 'wait', kind: 'sleep', input: { seconds: -1 } },
        { id: 'list', kind: 'sql', input: { statement: 'SELECT 1', returnRows: true } },
        {
          id: 'each',
          kind: 'sql',
          upstream: ['list'],
          map: { over: 'list', field: 'rows' },
          input: { statement: 'SELECT $1', params: [1] },
        },
      ),
    );
    expect(message).toContain('task "load": input.statement: ');
    expect(message).toContain('task "load": input: Unrecognized key: "statment"');
    expect(message).toContain('task "ping": input.url: a full URL (or name a "connection" that has a baseUrl)');
    expect(message).toContain('task "sync": input.activationId: ');
    expect(message).toContain('task "wait": input.seconds: ');
    expect(message).toContain('task "each": a mapped sql task gets its item as $1; remove input.params');
    expect(message).not.toContain('task "list"');
  });
  test('an inline header that looks like a credential is refused, and its value is not repeated', () => {
    const message = problemsOf(
      withTasks({ id: 'push', kind: 'http', input: { url: 'https://crm.example.com/v1', headers: { Authorization: 'Bearer s3cr3t' } } }),
    );
    expect(message).toContain('task "push": input.headers.Authorization looks like a credential');
    expect(message).toContain('"connection": "crm-api"');
    expect(message).not.toContain('s3cr3t');
  });
  test('a mapped activation or sleep task may take its input from the item', () => {
    expect(
      parseDeployableDag(
        withTasks(
          { id: 'list', kind: 'sql', input: { statement: 'SELECT 1', returnRows: true } },
          { id: 'sync', kind: 'activation', upstream: ['list'], map: { over: 'list', field: 'rows' }, input: { reason: 'nightly' } },
          { id: 'wait', kind: 'sleep', upstream: ['list'], map: { over: 'list', field: 'rows' } },
        ),
      ).tasks,
    ).toHaveLength(3);
  });
});

describe('dag list', () => {
  // Temporal lists schedules from its visibility store, which lags behind: right after a pause the listing
  // still says running. The state shown is the schedule's own (describe), so a pause shows at once.
  test('shows the state the schedule has now, not the lagging listing', async () => {
    const spec = { id: 'nightly', tasks: [], schedule: { cron: '0 2 * * *', timezone: 'UTC' } };
    const next = new Date('2026-12-06T02:00:00Z');
    const last = new Date('2026-12-05T02:00:00Z');
    const fake = {
      schedule: {
        async *list() {
          yield { scheduleId: 'not-a-dag', state: { paused: false }, info: { nextActionTimes: [], recentActions: [] } };
          yield { scheduleId: 'dag/nightly', state: { paused: false }, info: { nextActionTimes: [], recentActions: [] } };
          // Deleted between the listing and its describe: left out, not an error.
          yield { scheduleId: 'dag/gone', state: { paused: false }, info: { nextActionTimes: [], recentActions: [] } };
        },
        getHandle: (scheduleId: string) => ({
          describe: async () => {
            if (scheduleId === 'dag/gone') throw new ScheduleNotFoundError('gone', scheduleId);
            return {
              action: { type: 'startWorkflow', args: [spec] },
              state: { paused: true, note: 'paused by test' },
              info: { nextActionTimes: [next], recentActions: [{ scheduledAt: last }] },
            };
          },
        }),
      },
    } as unknown as Client;
    expect(await new DagSchedules(fake, 'q').list()).toEqual([
      { id: 'nightly', paused: true, schedule: 'cron "0 2 * * *" UTC', nextRun: next.toISOString(), lastRun: last.toISOString() },
    ]);
  });

  // A schedule just created is missing from the listing until visibility catches up: deploy returns once the
  // listing names it, so a `dag list` right after `dag deploy` shows the DAG.
  test('a DAG just deployed is listed', async () => {
    const created = new Map<string, { spec: unknown; readsUntilListed: number }>();
    const fake = {
      schedule: {
        async *list() {
          for (const [scheduleId, c] of created) {
            if (c.readsUntilListed-- > 0) continue;
            yield { scheduleId, state: { paused: false }, info: { nextActionTimes: [], recentActions: [] } };
          }
        },
        create: async (o: { scheduleId: string; action: { args: unknown[] } }) => {
          created.set(o.scheduleId, { spec: o.action.args[0], readsUntilListed: 3 });
        },
        getHandle: (scheduleId: string) => ({
          update: async () => {
            throw new ScheduleNotFoundError('not found', scheduleId);
          },
          describe: async () => ({
            action: { type: 'startWorkflow', args: [created.get(scheduleId)!.spec] },
            state: { paused: false },
            info: { nextActionTimes: [], recentActions: [] },
          }),
        }),
      },
    } as unknown as Client;
    const dags = new DagSchedules(fake, 'q');
    const doc = { id: 'fresh', tasks: [{ id: 't', kind: 'sql', input: { statement: 'SELECT 1' } }], schedule: { every: '1h' } };
    expect(await dags.deploy(doc)).toEqual({ id: 'fresh', created: true, paused: false });
    expect(await dags.list()).toEqual([{ id: 'fresh', paused: false, schedule: 'every 1h', nextRun: undefined, lastRun: undefined }]);
  });
});
