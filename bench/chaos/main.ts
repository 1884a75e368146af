/**
 * `npm run chaos -- [--schedules N] [--seed S] [--only I[,J...]] [--concurrency K] [--workers W] [--tamper I[,J...]] [--json FILE]`
 *
 * A seeded, randomized fault campaign over the real services (docs/chaos.md). Prints one line per
 * schedule, the matrix (fault class × mode × destination: schedules struck / with violations) and
 * `RESULT {json}`. A violation prints the seed, the schedule index and the schedule itself; the same
 * seed and `--only <index>` replay it. `--tamper` writes to the destination of those schedules behind
 * syncline's back once they have settled (a self-check: their checks must report it; they are not
 * counted as violations); `--json` writes every schedule's result to a file. `--workers` runs that many
 * production worker processes on the task queue (default 1). Exit code 1 when an
 * invariant was violated or a self-check went unreported.
 */
import fs from 'node:fs';
import { matrix, runCampaign, summary } from './campaign';

function args(argv: string[]): {
  seed: number;
  schedules: number;
  only?: number[];
  concurrency: number;
  workers: number;
  tamper?: number[];
  json?: string;
} {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const known = new Set(['--schedules', '--seed', '--only', '--concurrency', '--workers', '--tamper', '--json']);
  for (let i = 0; i < argv.length; i += 2) {
    if (!known.has(argv[i]!)) {
      console.error(
        `unknown option ${argv[i]}\nusage: npm run chaos -- [--schedules N] [--seed S] [--only I[,J...]] [--concurrency K] [--workers W] [--tamper I[,J...]] [--json FILE]`,
      );
      process.exit(2);
    }
  }
  const seed = get('seed') !== undefined ? Number(get('seed')) : Math.floor(Math.random() * 2 ** 31);
  const only = get('only')?.split(',').map(Number);
  const tamper = get('tamper')?.split(',').map(Number);
  return {
    seed,
    schedules: Number(get('schedules') ?? 200),
    only,
    concurrency: Number(get('concurrency') ?? 6),
    workers: Number(get('workers') ?? 1),
    tamper,
    json: get('json'),
  };
}

async function main(): Promise<void> {
  const opts = args(process.argv.slice(2));
  const c = await runCampaign(opts);
  const m = matrix(c.results.filter((r) => r.tampered === null));
  console.log(`\nmatrix: schedules the fault struck / schedules with violations (${m.covered} of ${m.cells} cells covered)\n${m.text}`);
  const kills = c.results.flatMap((r) => r.killedDuring);
  if (kills.length)
    console.log(
      `\nworker killed during: ${JSON.stringify(Object.fromEntries([...new Set(kills)].map((k) => [k, kills.filter((x) => x === k).length])))}`,
    );
  for (const e of c.workerExits) console.log(`worker exited on its own at ${e.at} (${e.code ?? e.signal}): ${e.output.slice(-400)}`);
  const r = summary(c);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(c, null, 1));
  console.log(`RESULT ${JSON.stringify(r)}`);
  const selfCheck = r.self_check as { reported: boolean } | undefined;
  process.exit(Number(r.violations) > 0 || (selfCheck && !selfCheck.reported) ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
