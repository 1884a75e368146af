/**
 * The state database a user may run for real: the production worker refuses to start without
 * DATABASE_URL and says what to do; the embedded default is durable — a kill -9 of every Postgres
 * process right after a burst of commits loses none of them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres } from '../../scripts/services/postgres';
import { createClient } from '../../db/connect';

const ROOT = path.resolve(__dirname, '../..');

test('the production worker without DATABASE_URL exits 2 with a message saying what to set', async () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/tsx'), ['worker.ts'], { cwd: ROOT, env, timeout: 60_000 }, (err, _out, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }));
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('DATABASE_URL is not set');
  expect(r.stderr).toContain('npm run worker');
});

test('the embedded default survives a kill -9 of Postgres with every committed row', async () => {
  const dataDir = path.join(ROOT, `.data/pg-kill-${process.pid}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const first = await startPostgres({ dataDir });
  const c = createClient({ connectionString: first.url });
  await c.connect();
  await c.query('CREATE TABLE committed (n int)');
  for (let i = 1; i <= 300; i++) await c.query('INSERT INTO committed VALUES ($1)', [i]);
  // Every process of the cluster dies at once, before any background writer had a chance to flush.
  const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = await new Promise<number[]>((resolve) => execFile('pgrep', ['-P', String(postmaster)], (_e, out) => resolve(out.split('\n').filter(Boolean).map(Number))));
  for (const pid of [postmaster, ...children]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  await c.end().catch(() => undefined);
  const again = await startPostgres({ dataDir });
  try {
    const r = createClient({ connectionString: again.url });
    await r.connect();
    const n = (await r.query('SELECT count(*)::int AS n, max(n) AS last FROM committed')).rows[0];
    await r.end();
    expect(n).toEqual({ n: 300, last: 300 });
  } finally {
    await again.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 180_000);
