/**
 * A fixed-seed subset of the chaos campaign (docs/chaos.md), run as `npm run chaos` runs it: twelve
 * schedules spanning both destinations and all four modes, with Postgres and Temporal restarts, worker
 * SIGKILLs and emulator faults, on services the campaign starts itself (its own Postgres and Temporal
 * dev server, two production workers built and run in processes of their own, as a deployment scales
 * out: a killed worker's runs go on on the other). Every invariant must hold. Two of the schedules also get a record written behind syncline's back once they have settled:
 * their checks must report exactly that key, which shows the checks read the destination's real state.
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns integration/chaos
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { CampaignResult } from '../../bench/chaos/campaign';
import { DESTS, MODES, generateSchedule } from '../../bench/chaos/schedule';

const ROOT = path.resolve(__dirname, '../..');
const SEED = 2026;
const SUBSET = [0, 3, 4, 6, 7, 9, 11, 13, 14, 15, 22, 26];
const TAMPERED = [9, 14];

let campaign: CampaignResult;
let output = '';
let exitCode: number | null = null;

beforeAll(async () => {
  const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-')), 'result.json');
  // The campaign starts its own services: the ones jest's global setup started are not used.
  const env = { ...process.env, TEMPORAL_ADDRESS: undefined, DATABASE_URL: undefined };
  const child = spawn(
    'npm',
    [
      'run',
      '--silent',
      'chaos',
      '--',
      '--seed',
      String(SEED),
      '--only',
      SUBSET.join(','),
      '--concurrency',
      '4',
      '--workers',
      '2',
      '--tamper',
      TAMPERED.join(','),
      '--json',
      json,
    ],
    { cwd: ROOT, env },
  );
  child.stdout.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    output += b.toString();
  });
  exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  campaign = JSON.parse(fs.readFileSync(json, 'utf8')) as CampaignResult;
}, 60 * 60_000);

test('the subset spans both destinations and all four modes, and its faults struck', () => {
  const pairs = new Set(SUBSET.map((i) => generateSchedule(SEED, i)).map((s) => `${s.mode}/${s.dest}`));
  expect([...pairs].sort()).toEqual(MODES.flatMap((m) => DESTS.map((d) => `${m}/${d}`)).sort());
  expect(campaign.results.map((r) => r.index)).toEqual(SUBSET);
  const struck = new Set(campaign.results.flatMap((r) => Object.keys(r.struck)));
  expect([...struck]).toEqual(
    expect.arrayContaining(['worker_kill', 'postgres_restart', 'temporal_restart', 'http_5xx', 'response_lost', 'bulk_job_failed']),
  );
  // Some runs wrote their chunks through child workflows (chunksPerWorkflow 2 or 3), under the same faults.
  expect(campaign.results.reduce((n, r) => n + r.fannedOutRuns, 0)).toBeGreaterThan(0);
  // The checks had something to look at.
  for (const r of campaign.results)
    expect({ index: r.index, records: (r.checked.records ?? 0) > 0, snapshot: (r.checked.snapshot ?? 0) > 0 }).toEqual({
      index: r.index,
      records: true,
      snapshot: true,
    });
});

test('every invariant holds after every schedule', () => {
  const found = campaign.results
    .filter((r) => r.tampered === null && r.violations.length)
    .map((r) => ({ index: r.index, violations: r.violations, notes: r.notes }));
  expect(found).toEqual([]);
  expect(campaign.workerExits).toEqual([]);
  // Two workers served the subset, and each worker kill took one of them.
  expect(campaign.workers).toBe(2);
  const kills = campaign.events.filter((e) => e.fault === 'worker_kill');
  expect(kills.length).toBeGreaterThan(0);
  for (const k of kills) expect([1, 2]).toContain(k.worker?.index);
  expect(output).toMatch(/^RESULT \{"schedules":12,.*"violations":0,/m);
  expect(exitCode).toBe(0);
});

test("a record written behind syncline's back is reported, and nothing else", () => {
  const tampered = campaign.results.filter((x) => x.tampered !== null);
  expect(tampered.map((r) => r.index)).toEqual(TAMPERED);
  for (const r of tampered) {
    expect(r.tampered).toMatch(/^K\d+$/);
    expect(r.violations.length).toBeGreaterThan(0);
    expect(r.violations.filter((v) => !v.includes(`key ${r.tampered}`))).toEqual([]);
  }
});

afterAll(() => {
  if (exitCode !== 0) console.log(output);
});
