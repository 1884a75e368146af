/**
 * `npm run demo` as a person runs it: its own Temporal dev server, embedded Postgres and Salesforce
 * emulator, in a process group of its own like a terminal's foreground job, so Ctrl-C (SIGINT to the
 * whole group) reaches the demo and the servers it started at once. By default the demo prints its own
 * lines only; --verbose adds the worker's (bundling, worker state).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

interface Demo {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the command of package.json's "demo" script; with `ctrlC`, sends SIGINT to its process group once
 * it says "Ctrl-C to stop". Not through npm: npm runs scripts with /bin/sh, and Debian's (dash) dies of a
 * SIGINT whatever its child does with it, so `npm run` then reports the signal, not the demo's exit code.
 * The demo keeps its state in the embedded Postgres under .data/pg, as it does for a person.
 */
function runDemo(args: string[], ctrlC: boolean): Promise<Demo> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const [command, ...words] = (
    JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { demo: string } }
  ).scripts.demo.split(' ');
  const child = spawn(command === 'node' ? process.execPath : command!, [...words, ...args], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let interrupted = false;
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    if (ctrlC && !interrupted && stdout.includes('Ctrl-C to stop')) {
      interrupted = true;
      process.kill(-child.pid!, 'SIGINT');
    }
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

test('Ctrl-C on `npm run demo -- --keep` stops it cleanly, and it prints only its own lines', async () => {
  const demo = await runDemo(['--keep'], true);
  // On failure this shows what the demo said on both streams (a failed start says why on stderr).
  expect({ stdout: demo.stdout, stderr: demo.stderr }).toEqual({ stdout: expect.stringContaining('demo OK'), stderr: expect.any(String) });
  expect(demo.stdout).toContain('Ctrl-C to stop');
  // No stack trace, no error.
  expect(demo.stderr).not.toMatch(/^\s+at /m);
  expect(demo.stderr).not.toMatch(/Error/);
  expect({ code: demo.code, signal: demo.signal }).toEqual({ code: 0, signal: null });
  // Quiet by default: no webpack output, no worker state changes, nothing on stderr.
  expect(demo.stderr).toBe('');
  expect(demo.stdout.split('\n').filter((l) => l.trim() && !l.startsWith('[demo] '))).toEqual([]);
}, 300_000);

test("--verbose shows the worker's own lines: bundling and state changes", async () => {
  const demo = await runDemo(['--verbose'], false);
  expect({ code: demo.code, stdout: demo.stdout, stderr: demo.stderr }).toEqual({
    code: 0,
    stdout: expect.stringContaining('demo OK'),
    stderr: expect.any(String),
  });
  const all = demo.stdout + demo.stderr;
  expect(all).toMatch(/Workflow bundle created/);
  expect(all).toMatch(/Worker state changed/);
}, 300_000);
