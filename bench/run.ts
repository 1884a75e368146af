/**
 * `npm run bench -- <name>` runs bench/<name>.ts. Each benchmark prints its figures and ends with
 * one line `RESULT {json}`. Benchmarks are never part of `npm test`: timings are compared as ratios
 * measured in the same run, because the machines are shared and noisy.
 */
import fs from 'node:fs';
import path from 'node:path';

async function main(): Promise<void> {
  const name = process.argv[2];
  const available = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.ts') && !['run.ts', 'support.ts', 'build-bench.ts'].includes(f))
    .map((f) => f.replace(/\.ts$/, ''));
  if (!name || !available.includes(name)) {
    console.error(`usage: npm run bench -- <name>   (available: ${available.join(', ')})`);
    process.exit(2);
  }
  const mod = (await import(path.join(__dirname, `${name}.ts`))) as { main(args: string[]): Promise<Record<string, unknown>> };
  const result = await mod.main(process.argv.slice(3));
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
