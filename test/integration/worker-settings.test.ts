/**
 * The production worker's own settings: one that cannot be used stops the worker at start with exit 2
 * and a message naming the variable, before it contacts any service, whatever the setting.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** `tsx worker.ts` with nothing to reach; killed after 40 s (code null) if it has not exited by then. */
function start(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'worker.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', TEMPORAL_ADDRESS: '127.0.0.1:1', ...env },
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    });
  });
}

test.each([
  ['SYNCLINE_MAX_CACHED_WORKFLOWS', 'x', 'is not a cache size'],
  ['SYNCLINE_MAX_CONCURRENT_ACTIVITIES', '0', 'is not a number of activities'],
  ['SYNCLINE_RUN_HISTORY_DAYS', 'x', 'is not a number of days'],
  ['SYNCLINE_STATE_DB_WAIT_SECONDS', '-1', 'is not a number of seconds'],
  ['SYNCLINE_METRICS_ADDRESS', 'nowhere', 'write host:port'],
])(
  '%s=%s stops the worker at start with exit 2, naming the variable',
  async (name, value, says) => {
    const r = await start({ [name]: value });
    expect(r.stderr).toContain(`syncline worker: ${name}`);
    expect(r.stderr).toContain(says);
    expect(r.code).toBe(2);
  },
  60_000,
);
