/**
 * `npm run chaos -- [--schedules N] [--seed S] [--only I[,J...]] [--concurrency K]`
 *
 * A seeded, randomized fault campaign over the real services (docs/chaos.md). Prints one line per
 * schedule, the matrix (fault class × mode × destination: schedules struck / with violations) and
 * `RESULT {json}`. A violation prints the seed, the schedule index and the schedule itself; the same
 * seed and `--only <index>` replay it. Exit code 1 when an invariant was violated.
 */
import { matrix, runCampaign, summary } from './campaign';

function args(argv: string[]): { seed: number; schedules: number; only?: number[]; concurrency: number } {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const known = new Set(['--schedules', '--seed', '--only', '--concurrency']);
  for (let i = 0; i < argv.length; i += 2) {
    if (!known.has(argv[i]!)) {
      console.error(`unknown option ${argv[i]}\nusage: npm run chaos -- [--schedules N] [--seed S] [--only I[,J...]] [--concurrency K]`);
      process.exit(2);
    }
  }
  const seed = get('seed') !== undefined ? Number(get('seed')) : Math.floor(Math.random() * 2 ** 31);
  const only = get('only')?.split(',').map(Number);
  return { seed, schedules: Number(get('schedules') ?? 200), only, concurrency: Number(get('concurrency') ?? 6) };
}

async function main(): Promise<void> {
  const opts = args(process.argv.slice(2));
  const c = await runCampaign(opts);
  const m = matrix(c.results);
  console.log(`\nmatrix: schedules the fault struck / schedules with violations (${m.covered} of ${m.cells} cells covered)\n${m.text}`);
  const kills = c.results.flatMap((r) => r.killedDuring);
  if (kills.length) console.log(`\nworker killed during: ${JSON.stringify(Object.fromEntries([...new Set(kills)].map((k) => [k, kills.filter((x) => x === k).length])))}`);
  for (const e of c.workerExits) console.log(`worker exited on its own at ${e.at} (${e.code ?? e.signal}): ${e.output.slice(-400)}`);
  const r = summary(c);
  console.log(`RESULT ${JSON.stringify(r)}`);
  process.exit(Number(r.violations) > 0 ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
