/**
 * The state database a user may run for real: the production worker refuses to start without
 * DATABASE_URL and says what to do; the embedded default is durable — a kill -9 of every Postgres
 * process right after a burst of commits loses none of them.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

test('the production worker without DATABASE_URL exits 2 with a message saying what to set', async () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/tsx'), ['worker.ts'], { cwd: ROOT, env, timeout: 60_000 }, (err, _out, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('DATABASE_URL is not set');
  expect(r.stderr).toContain('npm run worker');
});

test('the production worker whose state database cannot be reached exits 1 naming where it looked, without its password', async () => {
  const env = { ...process.env, DATABASE_URL: 'postgres://syncline:s3cret-pw@127.0.0.1:1/syncline_state' };
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/tsx'), ['worker.ts'], { cwd: ROOT, env, timeout: 120_000 }, (err, _out, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('syncline worker: cannot reach the state database at 127.0.0.1:1/syncline_state');
  expect(r.stderr).toContain('ECONNREFUSED');
  expect(r.stderr).toContain('check DATABASE_URL');
  expect(r.stderr).not.toContain('s3cret-pw');
  expect(r.stderr).not.toContain('IllegalStateError');
}, 180_000);

test('the embedded default survives a kill -9 of Postgres with every committed row', async () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['test/support/kill-embedded.ts', `.data/pg-kill-${process.pid}`],
      { cwd: ROOT, env, timeout: 150_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(JSON.parse(/^FOUND (.*)$/m.exec(r.stdout)?.[1] ?? 'null')).toEqual({ n: 300, last: 300 });
}, 180_000);
