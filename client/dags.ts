/**
 * Scheduled DAGs: one Temporal Schedule per DAG (`dag/<id>`), whose action starts dagWorkflow with the DAG
 * file as its input. The Schedule appends the scheduled time to the workflow id (`dag/<id>-2026-12-05T02:00:00Z`)
 * and sets the TemporalScheduledStartTime search attribute, from which the run takes its logical date.
 */
import {
  ScheduleNotFoundError,
  type Client,
  type ScheduleOptions,
  type ScheduleOverlapPolicy,
  type ScheduleSpec,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { validateDag, type DagSpec, type DagTask } from '../common/dag';
import { clockChanges, nextCronTime } from '../common/cron';
import { msToTs, tsToMs } from '@temporalio/common/lib/time';
import { dagWorkflowTaskProblems } from '../common/dag-kinds';
import { poolProblems, usesPools } from '../common/dag-pools';
import { parseDuration } from '../common/duration';
import type { DagSchedule } from '../common/dag-schedule';
import { WORKFLOW_TYPES } from '../common/names';
import { untilListed } from './visibility';
import type { DagWorkflowInput } from '../workflows/dag-workflow';

export const dagScheduleId = (dagId: string): string => `dag/${dagId}`;
/** Temporal's buffer of a schedule holds at most 1000 pending actions; a longer backfill is refused, not cut. */
export const MAX_BACKFILL_RUNS = 1000;
const DEFAULT_CATCHUP = '1m';

export class DagError extends Error {
  override name = 'DagError';
}

export interface DagListEntry {
  id: string;
  paused: boolean;
  schedule: string;
  nextRun?: string;
  lastRun?: string;
}

/**
 * Validates a DAG file's content: the DAG, its tasks' kinds and inputs (as dagWorkflow checks them at a run's
 * start) and its `schedule` block, with messages naming the DAG and the field; with `pools` (name -> size, from the state database), also the pools its tasks name.
 */
export function parseDeployableDag(doc: unknown, pools?: Readonly<Record<string, number>>): DagSpec & { schedule: DagSchedule } {
  const id = (doc as { id?: unknown } | null)?.id;
  const name = typeof id === 'string' ? `DAG "${id}"` : 'the DAG';
  const result = validateDag(doc);
  // Kinds and inputs are checked on every task that has them, even when the DAG fails elsewhere: one report. A
  // deployed DAG runs as dagWorkflow, so what its run refuses (DAG_INVALID at every scheduled time) is refused
  // here, and a credential in a task input never reaches the Schedule.
  const tasks = (doc as { tasks?: unknown } | null)?.tasks;
  const named = (Array.isArray(tasks) ? tasks : []).filter(
    (t): t is DagTask => typeof (t as DagTask | null)?.id === 'string' && typeof (t as DagTask).kind === 'string',
  );
  const problems = [
    ...(result.ok ? [] : result.problems),
    ...named.flatMap(dagWorkflowTaskProblems),
    ...(pools ? named.flatMap((t) => poolProblems(t, pools)) : []),
  ];
  if (!result.ok || problems.length > 0) throw new DagError(`${name} is invalid, nothing was deployed:\n  ${problems.join('\n  ')}`);
  if (!result.spec.schedule)
    throw new DagError(`${name} has no "schedule" block: add e.g. "schedule": {"cron": "0 2 * * *", "timezone": "UTC"}`);
  return result.spec as DagSpec & { schedule: DagSchedule };
}

function scheduleSpec(s: DagSchedule): ScheduleSpec {
  if (s.cron !== undefined) return { cronExpressions: [s.cron], timezone: s.timezone ?? 'UTC' };
  return { intervals: [{ every: parseDuration(s.every!), offset: s.offset ? parseDuration(s.offset) : 0 }] };
}

const overlapOf = (s: DagSchedule): ScheduleOverlapPolicy => (s.overlap ?? 'skip').toUpperCase() as ScheduleOverlapPolicy;

function describeSchedule(s: DagSchedule | undefined): string {
  if (!s) return '?';
  return s.cron !== undefined ? `cron "${s.cron}" ${s.timezone ?? 'UTC'}` : `every ${s.every}${s.offset ? ` +${s.offset}` : ''}`;
}

/** How far ahead `syncline dag deploy` looks for clock changes, and how much time around each it compares. */
const CLOCK_CHANGE_HORIZON_MS = 2 * 366 * 86_400_000;
const CLOCK_CHANGE_WINDOW_MS = 3 * 3_600_000;
/** Away from the changes: the first fire times after a point in each month of the next year. */
const ZONE_DATA_SAMPLES = 12;
const ZONE_DATA_SAMPLE_EVERY_MS = 30.5 * 86_400_000;
const ZONE_DATA_SAMPLE_FIRES = 30;

/**
 * Why a cron DAG's runs would not cover time exactly once around a clock change of its zone, or anywhere in
 * the next year if Temporal's time zone data differs from this machine's, or undefined.
 * Temporal's Schedule picks the fire times; each run's data interval starts at the previous fire time that
 * common/cron.ts computes (common/dag-schedule.ts `previousFireTime`). Away from clock changes both agree;
 * near one they may not (seen on the dev server, Europe/Brussels): "30 2 * * *" fires nothing on the March
 * change where cron.ts counts a fire (a day of data never loaded) and an hour later than cron.ts on the
 * October one (an hour loaded twice, the day before it left out); "0 1 * * *" fires at 01:00 and again at 02:00
 * that October day; "* * * * *" skips most of the repeated hour. So each change of the next two years is
 * compared, a few hours either side, with Temporal's own times for the schedule (ListScheduleMatchingTimes on
 * a paused scratch schedule, deleted at once). The changes are the ones this machine's zone data knows: a
 * server whose data differs (older or newer tzdata: a zone that dropped or adopted DST) fires a whole season
 * away from cron.ts, so the first fire times after a point in each month of the next year are compared too.
 */
async function clockChangeProblem(client: Client, id: string, s: DagSchedule): Promise<string | undefined> {
  if (s.cron === undefined) return undefined;
  const cron = s.cron;
  const tz = s.timezone ?? 'UTC';
  if (tz === 'UTC') return undefined;
  const now = Date.now();
  const horizon = now + CLOCK_CHANGE_HORIZON_MS;
  const changes = clockChanges(tz, now, horizon);
  const scratch = `syncline-check/${id}/${now}`;
  await client.schedule.create({
    scheduleId: scratch,
    spec: scheduleSpec(s),
    action: { type: 'startWorkflow', workflowType: 'syncline-clock-check', taskQueue: 'syncline-clock-check', workflowId: scratch },
    state: { paused: true, note: `syncline dag deploy of DAG "${id}": fire times compared across clock changes; deleted at once` },
  });
  /** Temporal's times strictly inside (from, to) (whether it counts the ends is not at stake here), at most 1000. */
  const temporalTimes = async (from: number, to: number): Promise<number[]> => {
    const listed = await client.workflowService.listScheduleMatchingTimes({
      namespace: client.options.namespace,
      scheduleId: scratch,
      startTime: msToTs(from),
      endTime: msToTs(to),
    });
    return (listed.startTime ?? []).map((t) => tsToMs(t)).filter((t) => t > from && t < to);
  };
  const ourTimes = (from: number, to: number, max = Infinity): number[] => {
    const ours: number[] = [];
    for (let t = nextCronTime(cron, tz, from); t < to && ours.length < max; t = nextCronTime(cron, tz, t)) ours.push(t);
    return ours;
  };
  const differences = (temporal: number[], ours: number[]) => ({
    onlyTemporal: temporal.filter((t) => !ours.includes(t)),
    onlyOurs: ours.filter((t) => !temporal.includes(t)),
  });
  const at = (ts: number[]) =>
    ts.length === 0
      ? 'no time'
      : ts
          .slice(0, 4)
          .map((t) => new Date(t).toISOString().replace('.000Z', 'Z'))
          .join(', ') + (ts.length > 4 ? ` … (${ts.length} times)` : '');
  try {
    for (const change of changes) {
      const from = change - CLOCK_CHANGE_WINDOW_MS;
      const to = change + CLOCK_CHANGE_WINDOW_MS;
      const { onlyTemporal, onlyOurs } = differences(await temporalTimes(from, to), ourTimes(from, to));
      if (onlyTemporal.length === 0 && onlyOurs.length === 0) continue;
      const day = new Date(change).toISOString().slice(0, 10);
      return (
        `DAG "${id}": cron "${cron}" in ${tz}: around the clock change of ${day}, Temporal's schedule fires at ${at(onlyTemporal)} ` +
        `where the runs' data intervals count on ${at(onlyOurs)}, so runs would leave time out or cover it twice. Use ` +
        `timezone "UTC" (a cron that fires every hour or more often needs it), or a time more than an hour away from the ` +
        `change; nothing was deployed`
      );
    }
    for (let k = 0; k < ZONE_DATA_SAMPLES; k++) {
      const from = now + k * ZONE_DATA_SAMPLE_EVERY_MS;
      const temporal = (await temporalTimes(from, horizon)).slice(0, ZONE_DATA_SAMPLE_FIRES);
      const ours = ourTimes(from, horizon, ZONE_DATA_SAMPLE_FIRES);
      // The first fires of each, up to where both lists still reach.
      const upTo = Math.min(
        temporal.length === ZONE_DATA_SAMPLE_FIRES ? temporal.at(-1)! : horizon,
        ours.length === ZONE_DATA_SAMPLE_FIRES ? ours.at(-1)! : horizon,
      );
      // Around a known change the windows above compared already (from a point of their own): here, only away from them.
      const away = (t: number): boolean => t <= upTo && changes.every((c) => Math.abs(t - c) >= CLOCK_CHANGE_WINDOW_MS);
      const { onlyTemporal, onlyOurs } = differences(temporal.filter(away), ours.filter(away));
      if (onlyTemporal.length === 0 && onlyOurs.length === 0) continue;
      return (
        `DAG "${id}": cron "${cron}" in ${tz}: from ${new Date(from).toISOString().slice(0, 10)}, Temporal's schedule fires at ` +
        `${at(onlyTemporal)} where the runs' data intervals count on ${at(onlyOurs)}, away from any clock change this machine ` +
        `knows: the Temporal server's time zone data for ${tz} differs from this machine's (a rule changed; update the older ` +
        `tzdata, the server's or Node's), so runs would leave time out or cover it twice. Use timezone "UTC" meanwhile; nothing was deployed`
      );
    }
    return undefined;
  } finally {
    await client.schedule
      .getHandle(scratch)
      .delete()
      .catch(() => undefined);
  }
}

export class DagSchedules {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** The pools defined in the state database (name -> size); a DAG naming pools is checked against them. */
    private readonly pools?: () => Promise<Record<string, number>>,
  ) {}

  /**
   * Creates the DAG's Schedule, or updates it (spec, action, policies, paused) when it exists. A DAG whose tasks
   * name a pool is deployed only when every such pool is defined. A new DAG is listed (`dag list`) when this returns.
   */
  async deploy(doc: unknown): Promise<{ id: string; created: boolean; paused: boolean }> {
    let spec = parseDeployableDag(doc);
    if (usesPools(spec)) {
      if (!this.pools)
        throw new DagError(
          `DAG "${spec.id}" names pools, which are defined in the state database: give the client a databaseUrl (the CLI reads DATABASE_URL)`,
        );
      spec = parseDeployableDag(doc, await this.pools());
    }
    const s = spec.schedule;
    const clockProblem = await clockChangeProblem(this.client, spec.id, s);
    if (clockProblem) throw new DagError(clockProblem);
    const action: ScheduleOptions['action'] = {
      type: 'startWorkflow',
      workflowType: WORKFLOW_TYPES.dag,
      taskQueue: this.taskQueue,
      workflowId: dagScheduleId(spec.id),
      args: [spec satisfies DagWorkflowInput],
    };
    const policies = { overlap: overlapOf(s), catchupWindow: parseDuration(s.catchupWindow ?? DEFAULT_CATCHUP) };
    const paused = s.paused === true;
    const handle = this.client.schedule.getHandle(dagScheduleId(spec.id));
    try {
      await handle.update((prev): ScheduleUpdateOptions => ({
        ...prev,
        spec: scheduleSpec(s),
        action,
        policies,
        state: { ...prev.state, paused, note: paused ? 'deployed paused' : undefined },
      }));
      return { id: spec.id, created: false, paused };
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    const scheduleId = dagScheduleId(spec.id);
    await this.client.schedule.create({
      scheduleId,
      spec: scheduleSpec(s),
      action,
      policies,
      state: { paused, note: paused ? 'deployed paused' : undefined },
    });
    // `dag list` names the DAGs from the lagging listing: a DAG just created shows there once this returns.
    await untilListed(async () => {
      for await (const listed of this.client.schedule.list()) if (listed.scheduleId === scheduleId) return true;
      return false;
    });
    return { id: spec.id, created: true, paused };
  }

  /**
   * The deployed DAGs. Temporal lists schedules from its visibility store, which lags behind the schedules
   * themselves (a pause just made still lists as running): the listing only names them, and each entry's
   * state is read from the schedule (describe). A schedule deleted in between is left out.
   */
  async list(): Promise<DagListEntry[]> {
    const out: DagListEntry[] = [];
    for await (const sch of this.client.schedule.list()) {
      if (!sch.scheduleId.startsWith('dag/')) continue;
      let d;
      try {
        d = await this.client.schedule.getHandle(sch.scheduleId).describe();
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) continue;
        throw err;
      }
      const spec = d.action.type === 'startWorkflow' ? (d.action.args?.[0] as DagSpec | undefined) : undefined;
      out.push({
        id: sch.scheduleId.slice('dag/'.length),
        paused: d.state.paused,
        schedule: describeSchedule(spec?.schedule),
        nextRun: d.info.nextActionTimes[0]?.toISOString(),
        lastRun: d.info.recentActions.at(-1)?.scheduledAt.toISOString(),
      });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async pause(id: string, note?: string): Promise<void> {
    await this.found(id, (h) => h.pause(note ?? 'paused with syncline dag pause'));
  }

  async unpause(id: string): Promise<void> {
    await this.found(id, (h) => h.unpause('unpaused with syncline dag unpause'));
  }

  async delete(id: string): Promise<void> {
    await this.found(id, (h) => h.delete());
  }

  /**
   * Starts one run now, dated by this trigger's time, with `conf` for its tasks. The DAG is the one the
   * Schedule runs (deployed), not a local file.
   */
  async trigger(id: string, conf?: unknown): Promise<{ workflowId: string; logicalDate: string }> {
    const { spec, taskQueue } = await this.deployed(id);
    const logicalDate = new Date().toISOString();
    const workflowId = `${dagScheduleId(id)}-manual-${logicalDate}`;
    const input: DagWorkflowInput = { ...spec, run: { logicalDate, ...(conf !== undefined && { conf }) } };
    // Where the schedule runs it (the queue it was deployed with), not this client's queue.
    await this.client.workflow.start(WORKFLOW_TYPES.dag, { taskQueue, workflowId, args: [input] });
    return { workflowId, logicalDate };
  }

  /**
   * Runs every scheduled time in [from, to] through the Schedule's backfill, one at a time in time order
   * (BUFFER_ALL: each run starts when the one before ended). A date that already succeeded runs no task
   * (syncline.dag_runs), so backfilling an interval twice runs it once.
   */
  async backfill(id: string, from: Date, to: Date): Promise<{ runs: number }> {
    if (!(from.getTime() <= to.getTime()))
      throw new DagError(`--from (${from.toISOString()}) must not be after --to (${to.toISOString()})`);
    const spec = await this.deployedSpec(id);
    const runs = countFireTimes(spec.schedule!, from.getTime(), to.getTime());
    if (runs > MAX_BACKFILL_RUNS)
      throw new DagError(
        `DAG "${id}": ${from.toISOString()} .. ${to.toISOString()} holds ${runs} scheduled times; a backfill takes at most ${MAX_BACKFILL_RUNS}: split the range`,
      );
    await this.found(id, (h) => h.backfill({ start: from, end: to, overlap: 'BUFFER_ALL' as ScheduleOverlapPolicy }));
    return { runs };
  }

  private async deployedSpec(id: string): Promise<DagSpec> {
    return (await this.deployed(id)).spec;
  }

  /** The deployed DAG and the task queue its schedule starts it on. */
  private async deployed(id: string): Promise<{ spec: DagSpec; taskQueue: string }> {
    const d = await this.found(id, (h) => h.describe());
    const spec = d.action.type === 'startWorkflow' ? (d.action.args?.[0] as DagSpec | undefined) : undefined;
    if (d.action.type !== 'startWorkflow' || !spec?.schedule) throw new DagError(`schedule "${dagScheduleId(id)}" is not a syncline DAG`);
    return { spec, taskQueue: d.action.taskQueue };
  }

  private async found<T>(id: string, fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>): Promise<T> {
    try {
      return await fn(this.client.schedule.getHandle(dagScheduleId(id)));
    } catch (err) {
      if (err instanceof ScheduleNotFoundError)
        throw new DagError(`DAG "${id}" is not deployed (no schedule "${dagScheduleId(id)}"): "syncline dag deploy <file>" first`);
      throw err;
    }
  }
}

/** How many fire times of the schedule fall in [from, to], counted up to MAX_BACKFILL_RUNS + 1. */
export function countFireTimes(s: DagSchedule, from: number, to: number): number {
  if (s.every !== undefined) {
    const every = parseDuration(s.every);
    const offset = s.offset ? parseDuration(s.offset) : 0;
    return Math.max(0, Math.floor((to - offset) / every) - Math.ceil((from - offset) / every) + 1);
  }
  let n = 0;
  for (
    let t = nextCronTime(s.cron!, s.timezone ?? 'UTC', from - 1);
    t <= to && n <= MAX_BACKFILL_RUNS;
    t = nextCronTime(s.cron!, s.timezone ?? 'UTC', t)
  )
    n++;
  return n;
}
