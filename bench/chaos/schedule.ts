/**
 * A schedule is plain data generated from (seed, index): the destination, the mode, the fault class it
 * is built around, and a list of steps (model changes, requests, faults). Printing it as JSON, or
 * regenerating it from the seed and index, is enough to replay it (`npm run chaos -- --seed S --only I`).
 */
import { Rng } from './prng';

export const DESTS = ['salesforce', 'actito'] as const;
export const MODES = ['insert', 'update', 'upsert', 'mirror'] as const;
/** Fault classes of the matrix. The first three are global: they hit every schedule in flight. */
export const FAULTS = [
  'worker_kill',
  'postgres_restart',
  'temporal_restart',
  'http_5xx',
  'http_429',
  'socket_reset',
  'slow_past_heartbeat',
  'response_lost',
  'token_expiry',
  'quota_exhausted',
  'bulk_job_failed',
  'bulk_job_stuck',
] as const;
export const GLOBAL_FAULTS = ['worker_kill', 'postgres_restart', 'temporal_restart'] as const;

export type Dest = (typeof DESTS)[number];
export type Mode = (typeof MODES)[number];
export type FaultClass = (typeof FAULTS)[number];
export type GlobalFault = (typeof GLOBAL_FAULTS)[number];
/** Where a run is when a global fault strikes (`any`: whatever it is doing, or idle). */
export type Phase = 'validate' | 'extract' | 'delta' | 'write' | 'commit' | 'any';

export type Step =
  // model changes (content comes from the schedule's data stream, in step order)
  | { do: 'add'; n: number }
  | { do: 'change'; n: number }
  | { do: 'remove'; n: number }
  | { do: 'massRemove'; share: number }
  | { do: 'empty' }
  | { do: 'readd'; n: number }
  | { do: 'revert'; n: number }
  | { do: 'dupKey'; n: number }
  | { do: 'nullKey'; n: number }
  | { do: 'fixKeys' }
  | { do: 'spoil'; n: number }
  | { do: 'heal' }
  | { do: 'mapping' }
  // requests
  | { do: 'sync'; wait: boolean; full?: boolean }
  | { do: 'resync'; full: boolean }
  | { do: 'retryFailed' }
  | { do: 'plan' }
  | { do: 'apply' }
  | { do: 'pause' }
  | { do: 'resume' }
  | { do: 'approve'; right: boolean }
  | { do: 'waitRuns' }
  | { do: 'waitScheduled' }
  | { do: 'sleep'; ms: number }
  // faults
  | { do: 'fault'; fault: FaultClass; spec: Record<string, unknown>; clearAfterMs?: number }
  | { do: 'global'; fault: GlobalFault; variant: string; phase: Phase; afterMs: number; downMs: number }
  // an operator's `temporal workflow reset` of the run under way, to its first workflow task
  | { do: 'reset'; phase: Exclude<Phase, 'any'>; afterMs: number };

export interface Schedule {
  seed: number;
  index: number;
  dest: Dest;
  mode: Mode;
  /** The fault class this schedule is built around (its matrix cell); others may occur too. */
  primary: FaultClass;
  rows: number;
  chunkSize: number;
  /** When set, runs of more chunks than this fan their writes out to child workflows (workflows/write-chunks.ts). */
  chunksPerWorkflow?: number;
  bulkThreshold: number;
  schedule: { manual: true } | { every: string };
  /** Update mode: share of the keys that exist in the destination before the first run. */
  preexisting: number;
  steps: Step[];
}

/** Every (fault, mode, destination) cell, in an order shuffled by the seed: schedule i fills cell i mod 96. */
export function cells(seed: number): Array<{ fault: FaultClass; mode: Mode; dest: Dest }> {
  const all = FAULTS.flatMap((fault) => MODES.flatMap((mode) => DESTS.map((dest) => ({ fault, mode, dest }))));
  return new Rng(seed, 0xce11).shuffle(all);
}

export function generateSchedule(seed: number, index: number): Schedule {
  const all = cells(seed);
  const cell = all[index % all.length]!;
  const rng = new Rng(seed, index, 1);
  const bulkThreshold = rng.pick([25, 35, 50]);
  const s: Schedule = {
    seed,
    index,
    dest: cell.dest,
    mode: cell.mode,
    primary: cell.fault,
    rows: rng.int(bulkThreshold + 20, 140),
    chunkSize: rng.pick([15, 20, 30, 50]),
    bulkThreshold,
    schedule: rng.chance(0.35) ? { every: rng.pick(['15s', '25s']) } : { manual: true },
    preexisting: rng.pick([0.6, 0.75, 0.9]),
    steps: [],
  };
  // A stream of its own, so the schedules of seeds recorded before it existed stay what they were.
  const fanOut = new Rng(seed, index, 2);
  if (fanOut.chance(0.4)) s.chunksPerWorkflow = fanOut.pick([2, 3]);
  const steps = s.steps;
  const rounds = rng.int(3, 5);
  // The primary fault may also strike the initial load (round -1), mostly a bulk write; an expired token
  // needs a token first.
  const primaryAt = rng.int(s.primary === 'token_expiry' ? 0 : -1, rounds - 1);
  // Half the schedules strike their fault a second time: a fault armed for a run that did not need it does not strike.
  const again = rng.chance(0.5) ? rng.int(0, rounds - 1) : -2;
  if (primaryAt === -1) steps.push(...faultRound(s, rng, s.primary, []));
  else steps.push({ do: 'sync', wait: true });
  let massRemoved = false;
  const roundEnds: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const changes = modelChanges(s, rng);
    if (s.mode === 'mirror' && !massRemoved && rng.chance(0.45)) {
      massRemoved = true;
      changes.push(rng.chance(0.2) ? { do: 'empty' } : { do: 'massRemove', share: rng.pick([0.2, 0.35, 0.5]) });
    }
    if (r === primaryAt) steps.push(...faultRound(s, rng, s.primary, changes));
    else steps.push(...changes, ...request(s, rng));
    if (r === again) steps.push(...faultRound(s, rng, s.primary, []));
    if (rng.chance(0.25)) {
      const other = rng.weighted(FAULTS.map((f) => [f, f === 'slow_past_heartbeat' || f === 'temporal_restart' ? 0.3 : 1] as const));
      steps.push(...faultRound(s, rng, other, []));
    }
    if (
      massRemoved &&
      s.mode === 'mirror' &&
      steps.some((x) => x.do === 'massRemove' || x.do === 'empty') &&
      !steps.some((x) => x.do === 'approve')
    ) {
      steps.push({ do: 'waitRuns' });
      if (rng.chance(0.5)) steps.push({ do: 'approve', right: false });
      if (rng.chance(0.75)) steps.push({ do: 'approve', right: true });
      if (steps.some((x) => x.do === 'empty')) steps.push({ do: 'add', n: rng.int(20, 60) });
    }
    roundEnds.push(steps.length);
  }
  if (s.mode !== 'mirror' && rng.chance(0.2)) steps.push({ do: 'waitRuns' }, { do: 'approve', right: false });
  steps.push({ do: 'waitRuns' });
  // A stream of its own (as fanOut): the reset rounds leave every other draw of a schedule as it was.
  const resets = new Rng(seed, index, 4);
  if (resets.chance(0.35)) {
    const at = roundEnds[resets.int(0, rounds - 1)]!;
    steps.splice(at, 0, ...resetRound(s, resets));
  }
  // A stream of its own (as fanOut): half the immediate Postgres restarts take the worker down with them,
  // and a new worker starts while Postgres is down (it waits for it).
  const withWorker = new Rng(seed, index, 5);
  for (const st of steps)
    if (st.do === 'global' && st.fault === 'postgres_restart' && st.variant === 'immediate' && withWorker.chance(0.5))
      st.variant = 'with_worker';
  return s;
}

/**
 * A run reset while it works: rows to write, a run that does not wait, then the run's workflow reset to
 * its first workflow task once it has an activity of the chosen phase pending (mostly the write). The
 * run starts again under the same number: its earlier attempt must be settled, nothing sent twice.
 */
function resetRound(s: Schedule, rng: Rng): Step[] {
  // Enough rows for a write that lasts: Salesforce in a Bulk job (polled), Actito one by one (rate-limited) or in an import.
  const n = s.dest === 'salesforce' ? rng.int(s.bulkThreshold + 2, s.bulkThreshold + 40) : rng.int(15, s.bulkThreshold + 30);
  const rows: Step =
    s.mode === 'insert' && s.dest === 'actito' ? { do: 'add', n } : rng.chance(0.3) ? { do: 'add', n } : { do: 'change', n };
  // Steps a small run takes as local activities (validate, delta, commit) show no pending activity to wait for.
  const phase = rng.weighted<Exclude<Phase, 'any'>>([
    ['write', 4],
    ['extract', 1],
  ]);
  return [{ do: 'waitRuns' }, rows, { do: 'sync', wait: false }, { do: 'reset', phase, afterMs: rng.int(0, 300) }, { do: 'waitRuns' }];
}

/** 1–3 model changes of the kinds users make, including keys that are repeated or missing and values that cannot be written. */
function modelChanges(s: Schedule, rng: Rng): Step[] {
  const out: Step[] = [];
  const n = rng.int(1, 3);
  for (let i = 0; i < n; i++) {
    const kind = rng.weighted([
      ['add', 3],
      ['change', 4],
      ['remove', 2],
      ['readd', 1],
      ['revert', 1.2],
      ['dupKey', 1],
      ['nullKey', 0.7],
      ['fixKeys', 0.8],
      ['spoil', 0.8],
      ['heal', 0.5],
      ['mapping', 0.7],
    ] as const);
    switch (kind) {
      case 'add':
        out.push({ do: 'add', n: rng.int(1, 25) });
        break;
      case 'change':
        out.push({ do: 'change', n: rng.int(1, 30) });
        break;
      case 'remove':
        out.push({ do: 'remove', n: rng.int(1, 4) });
        break;
      case 'readd':
        out.push({ do: 'readd', n: rng.int(1, 5) });
        break;
      case 'revert':
        out.push({ do: 'revert', n: rng.int(1, 10) });
        break;
      case 'dupKey':
        out.push({ do: 'dupKey', n: rng.int(1, 3) });
        break;
      case 'nullKey':
        out.push({ do: 'nullKey', n: rng.int(1, 2) });
        break;
      case 'fixKeys':
        out.push({ do: 'fixKeys' });
        break;
      case 'spoil':
        out.push({ do: 'spoil', n: rng.int(1, 3) });
        break;
      case 'heal':
        out.push({ do: 'heal' });
        break;
      case 'mapping':
        out.push({ do: 'mapping' });
        break;
    }
  }
  return out;
}

/** One request of the kinds users send. */
function request(s: Schedule, rng: Rng): Step[] {
  const kind = rng.weighted([
    ['sync', 4],
    ['syncNoWait', 2],
    ['resync', 1],
    ['full', 1],
    ['retryFailed', 0.7],
    ['planApply', 1.2],
    ['planStale', 0.5],
    ['pauseResume', 0.8],
    ['interrupt', 0.8],
    ['scheduled', 'every' in s.schedule ? 1.5 : 0],
  ] as const);
  switch (kind) {
    case 'sync':
      return [{ do: 'sync', wait: true }];
    case 'syncNoWait':
      return [
        { do: 'sync', wait: false },
        { do: 'sleep', ms: rng.int(0, 3000) },
      ];
    case 'resync':
      return [
        { do: 'resync', full: false },
        { do: 'sleep', ms: rng.int(500, 4000) },
      ];
    case 'full':
      return [{ do: 'sync', wait: true, full: true }];
    case 'retryFailed':
      return [{ do: 'retryFailed' }, { do: 'sleep', ms: rng.int(500, 3000) }];
    case 'planApply':
      return [
        { do: 'waitRuns' },
        { do: 'plan' },
        ...(rng.chance(0.5) ? [{ do: 'change', n: rng.int(1, 5) } as Step] : []),
        { do: 'apply' },
      ];
    case 'planStale':
      return [{ do: 'waitRuns' }, { do: 'plan' }, { do: 'sync', wait: true }, { do: 'apply' }];
    case 'pauseResume':
      return [{ do: 'pause' }, { do: 'sleep', ms: rng.int(1000, 20000) }, { do: 'sync', wait: rng.chance(0.5) }, { do: 'resume' }];
    case 'scheduled':
      return [{ do: 'waitScheduled' }];
    // A new mapping while a run writes: the run is terminated mid-write, the next one settles it.
    case 'interrupt':
      return [{ do: 'change', n: rng.int(5, 40) }, { do: 'sync', wait: false }, { do: 'sleep', ms: rng.int(100, 1500) }, { do: 'mapping' }];
  }
}

const BULK_FAULTS: FaultClass[] = ['bulk_job_failed', 'bulk_job_stuck'];

/**
 * A round built around one fault: a delta that takes the path the fault needs (a bulk-sized one for the
 * bulk faults and Actito's import quota), then the fault armed before the run or while it runs.
 */
function faultRound(s: Schedule, rng: Rng, fault: FaultClass, changes: Step[]): Step[] {
  const bulk = BULK_FAULTS.includes(fault) || (fault === 'quota_exhausted' && s.dest === 'actito') || rng.chance(0.4);
  const n = bulk ? rng.int(s.bulkThreshold + 2, s.bulkThreshold + 40) : rng.int(3, Math.max(4, s.bulkThreshold - 5));
  // Actito's Insert sends added rows only: a delta for it must add keys.
  const delta: Step =
    s.mode === 'insert' && s.dest === 'actito' ? { do: 'add', n } : bulk && rng.chance(0.3) ? { do: 'add', n } : { do: 'change', n };
  const out: Step[] = [{ do: 'waitRuns' }, ...changes, delta];
  if ((GLOBAL_FAULTS as readonly string[]).includes(fault)) {
    const phase = rng.weighted<Phase>([
      ['write', 4],
      ['extract', 1],
      ['delta', 1],
      ['commit', 1.5],
      ['validate', 1],
      ['any', 1],
    ]);
    out.push(
      { do: 'sync', wait: false },
      {
        do: 'global',
        fault: fault as GlobalFault,
        variant: globalVariant(rng, fault as GlobalFault),
        phase,
        afterMs: rng.int(0, 400),
        downMs: rng.int(300, 5000),
      },
    );
    out.push({ do: 'waitRuns' });
    return out;
  }
  const arm = { do: 'fault', fault, spec: faultSpec(s, rng, fault, bulk), ...durationOf(rng, fault) } as Step;
  if (BULK_FAULTS.includes(fault) || rng.chance(0.6)) out.push(arm, { do: 'sync', wait: true });
  else out.push({ do: 'sync', wait: false }, { do: 'sleep', ms: rng.int(50, 800) }, arm, { do: 'waitRuns' });
  return out;
}

function globalVariant(rng: Rng, f: GlobalFault): string {
  if (f === 'worker_kill') return 'SIGKILL';
  if (f === 'postgres_restart')
    return rng.weighted([
      ['immediate', 3],
      ['backend', 1],
    ]);
  return rng.weighted([
    ['SIGTERM', 1],
    ['SIGKILL', 1],
  ]);
}

/** Faults that stay on for a while (switches), then the driver clears them. */
function durationOf(rng: Rng, f: FaultClass): { clearAfterMs?: number } {
  if (f === 'quota_exhausted' || f === 'bulk_job_stuck') return { clearAfterMs: rng.int(3000, 25000) };
  return {};
}

/** The emulator's fault switch for a class, narrowed to the write path when `bulk` says which. */
function faultSpec(s: Schedule, rng: Rng, f: FaultClass, bulk: boolean): Record<string, unknown> {
  const sf = s.dest === 'salesforce';
  const count = rng.int(1, 4);
  const sfPaths = rng.pick([undefined, bulk ? 'bulk' : 'composite', 'composite|bulk|sobjects|query']);
  const axPath = rng.pick([undefined, bulk ? '/etl-executions' : '/record']);
  const sfOpt = sfPaths ? { paths: sfPaths } : {};
  const axOpt = axPath ? { path: axPath } : {};
  switch (f) {
    case 'http_5xx':
      return sf
        ? { serverError: { count, status: rng.pick([500, 503]), ...sfOpt } }
        : { serverError: { count, status: rng.pick([500, 502, 503]), ...axOpt } };
    case 'http_429':
      return sf
        ? { rateLimit: { count, retryAfter: 1, kind: rng.pick(['http429', 'concurrency']), ...sfOpt } }
        : { tooManyRequests: { count, ...axOpt } };
    case 'socket_reset':
      return sf ? { socketReset: { count, ...sfOpt } } : { socketReset: { count, ...axOpt } };
    // Past the write activity's one-minute heartbeat timeout.
    case 'slow_past_heartbeat': {
      const ms = rng.int(62_000, 75_000);
      return sf
        ? { slow: { ms, count: 1, paths: bulk ? 'bulk' : 'composite' } }
        : { slow: { ms, count: 1, path: bulk ? '/etl-executions' : '/record' } };
    }
    case 'response_lost':
      return sf ? { dropResponseAfterCommit: { count, ...sfOpt } } : { dropResponse: { count, ...axOpt } };
    case 'token_expiry':
      return { expireTokens: true };
    case 'quota_exhausted':
      return sf ? { dailyQuotaExhausted: true } : { bulkQuotaExhausted: true };
    case 'bulk_job_failed':
      return sf ? { bulkJobFails: { count: rng.int(1, 2) } } : { bulkImportFails: { count: rng.int(1, 2) } };
    case 'bulk_job_stuck':
      return sf ? { bulkJobStuck: true } : { bulkImportStuck: true };
    default:
      throw new Error(`${f} is not an emulator fault`);
  }
}
