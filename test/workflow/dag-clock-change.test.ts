/**
 * A cron DAG's fire times come from Temporal's Schedule; its runs' data intervals start at the previous fire
 * time common/cron.ts computes. Where the two disagree (around a clock change: "30 2 * * *" in Europe/Brussels),
 * consecutive intervals would leave a day out or load an hour twice, so `syncline dag deploy` refuses such a
 * schedule, asking Temporal itself (a real dev server) for its times.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { DagSchedules, dagScheduleId } from '../../client/dags';
import type { DagSpec } from '../../common/dag';
import { startTemporalDevServer } from '../../scripts/services/temporal';

let connection: Connection;
let client: Client;
let dags: DagSchedules;

beforeAll(async () => {
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection });
  dags = new DagSchedules(client, `dag-clock-${process.pid}`);
});
afterAll(async () => {
  await connection?.close();
});

const dag = (id: string, schedule: DagSpec['schedule']): DagSpec => ({
  id,
  schedule: { ...schedule, paused: true },
  tasks: [{ id: 'nap', kind: 'sleep', input: { seconds: 0 } }],
});

/** The schedules `client` creates from now on, by id (the listing lags: a scratch schedule would not show). */
function recordCreated(): string[] {
  const created: string[] = [];
  const create = client.schedule.create.bind(client.schedule);
  client.schedule.create = (options) => {
    created.push(options.scheduleId);
    return create(options);
  };
  return created;
}

async function cronOf(id: string): Promise<unknown> {
  const d = await client.schedule.getHandle(dagScheduleId(id)).describe();
  return d.spec.calendars?.map((c) => c.comment ?? c) ?? d.spec;
}

// 02:00-02:59 is skipped in March and repeated in October; a daily 01:00 Temporal fires at 01:00 and again at
// 02:00 on the October change (ListScheduleMatchingTimes on the dev server), an hour loaded twice.
test.each(['30 2 * * *', '0 2 * * *', '0 1 * * *'])(
  '%s in Europe/Brussels, a time Temporal fires differently around a clock change, is refused, and nothing is deployed',
  async (cron) => {
    const id = `clock-${cron.replace(/\W+/g, '')}-${process.pid}`;
    const refused = await dags.deploy(dag(id, { cron, timezone: 'Europe/Brussels' })).then(
      () => 'deployed',
      (err: Error) => err.message,
    );
    expect(refused).toMatch(new RegExp(`^DAG "${id}": cron "${cron.replace(/\*/g, '\\*')}" in Europe/Brussels`));
    expect(refused).toMatch(
      /around the clock change of \d{4}-\d\d-\d\d, Temporal's schedule fires at .* where the runs' data intervals count on /,
    );
    expect(refused).toMatch(/timezone "UTC"/);
    expect(refused).toMatch(/nothing was deployed/);
    await expect(client.schedule.getHandle(dagScheduleId(id)).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  },
);

// Every minute in Europe/Brussels: on 2027-10-31 Temporal fires at 00:00Z, 01:01Z and 02:02Z, nothing between
// (seen with ListScheduleMatchingTimes on the dev server), where the intervals count on every minute.
test('every minute in a zone that changes its clock is refused too', async () => {
  const id = `clock-minutely-${process.pid}`;
  await expect(dags.deploy(dag(id, { cron: '* * * * *', timezone: 'Europe/Brussels' }))).rejects.toThrow(
    /cron "\* \* \* \* \*" in Europe\/Brussels: around the clock change of \d{4}-\d\d-\d\d, Temporal's schedule fires at .*nothing was deployed/,
  );
});

// Common schedules, refused as rightly: Temporal fires them differently around the changes too.
test.each([
  ['0 * * * *', 'America/New_York'],
  ['*/15 * * * *', 'Europe/Brussels'],
  ['*/5 * * * *', 'Europe/Brussels'],
  ['0 0 * * *', 'Europe/London'],
])('%s in %s is refused', async (cron, timezone) => {
  const id = `clock-no-${cron.replace(/\W+/g, '')}-${timezone.replace(/\W+/g, '')}-${process.pid}`;
  await expect(dags.deploy(dag(id, { cron, timezone }))).rejects.toThrow(/around the clock change of .* Use timezone "UTC"/);
});

test.each([
  ['30 3 * * *', 'Europe/Brussels'],
  ['0 3 * * *', 'Europe/Brussels'],
  ['0 * * * *', 'Europe/Brussels'],
  ['* * * * *', 'Asia/Tokyo'],
  ['30 2 * * *', 'UTC'],
  ['30 2 * * *', 'Asia/Tokyo'],
])('%s in %s is deployed', async (cron, timezone) => {
  const id = `clock-ok-${cron.replace(/\W+/g, '')}-${timezone.replace(/\W+/g, '')}-${process.pid}`;
  expect(await dags.deploy(dag(id, { cron, timezone }))).toEqual({ id, created: true, paused: true });
  await dags.delete(id);
});

test('a deployed DAG moved onto such a time keeps its schedule, and the check leaves no schedule behind', async () => {
  const id = `clock-move-${process.pid}`;
  const created = recordCreated();
  await dags.deploy(dag(id, { cron: '30 3 * * *', timezone: 'Europe/Brussels' }));
  const before = await cronOf(id);
  await expect(dags.deploy(dag(id, { cron: '30 2 * * *', timezone: 'Europe/Brussels' }))).rejects.toThrow(/clock change/);
  expect(await cronOf(id)).toEqual(before);
  await dags.delete(id);
  // A scratch schedule for each deploy, and none of them is left.
  const scratch = created.filter((c) => c.startsWith(`syncline-check/${id}/`));
  expect(scratch).toHaveLength(2);
  for (const c of scratch) await expect(client.schedule.getHandle(c).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
});

// A Temporal server whose time zone data differs from this machine's (its tzdata older or newer: Mexico City
// kept DST until tzdata 2022f) fires all season an hour away from where cron.ts counts, away from any clock
// change this machine knows: every run would leave an hour out. Such a server is started here with Go's
// ZONEINFO pointing at Chicago's rules for America/Mexico_City (which, for Node, has no clock change any more).
const CHICAGO = '/usr/share/zoneinfo/America/Chicago';
(fs.existsSync(CHICAGO) ? test : test.skip)(
  "a server whose time zone data differs from this machine's, away from any clock change, is refused too",
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoneinfo-'));
    fs.mkdirSync(path.join(dir, 'America'));
    fs.copyFileSync(CHICAGO, path.join(dir, 'America/Mexico_City'));
    // Given to the server itself: jest's process.env is a copy that a spawned process does not see.
    const server = await startTemporalDevServer({ headless: true, quiet: true, env: { ZONEINFO: dir } });
    const stale = await Connection.connect({ address: server.address });
    try {
      const other = new DagSchedules(new Client({ connection: stale }), `dag-clock-${process.pid}`);
      const id = `clock-tzdata-${process.pid}`;
      await expect(other.deploy(dag(id, { cron: '0 0 * * *', timezone: 'America/Mexico_City' }))).rejects.toThrow(
        /^DAG "clock-tzdata-\d+": cron "0 0 \* \* \*" in America\/Mexico_City: .*time zone data.*nothing was deployed$/s,
      );
    } finally {
      await stale.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
