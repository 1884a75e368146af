/**
 * A mistyped activation id or namespace, against the real dev server and Postgres: the command says the
 * id (or namespace) is unknown and what to check, and exits 1, instead of reading as good news ("no row
 * errors") or as a bare server message. No worker is needed: nothing here reaches an activation.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, uniqueName } from '../support/harness';
import { runCli, type CliResult } from '../support/cli';

function syncline(...args: string[]): Promise<CliResult> {
  const { address, databaseUrl } = env();
  return runCli(args, { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl });
}

const typo = uniqueName('contcts');

test('errors, rows, runs and history of an id no run was ever recorded for say so, and exit 1, rather than "no row errors"', async () => {
  const [errors, json, rows, runs, history] = await Promise.all([
    syncline('errors', typo),
    syncline('errors', typo, '--json'),
    syncline('rows', typo, '--key', '42'),
    syncline('runs', typo),
    syncline('history', typo),
  ]);
  for (const [r, command] of [
    [errors, 'errors'],
    [rows, 'rows'],
    [runs, 'runs'],
    [history, 'history'],
  ] as const) {
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(
        `^syncline ${command}: activation "${typo}" has no run recorded in syncline's Postgres at .*: check the id \\("syncline list" lists the running activations\\) and DATABASE_URL\\n$`,
      ),
    );
    expect(r.code).toBe(1);
  }
  expect(json.code).toBe(1);
  expect(JSON.parse(json.stderr).error).toContain(`activation "${typo}" has no run recorded`);
}, 120_000);

test('an unknown namespace is named, with the option and variable that set it', async () => {
  const r = await syncline('status', 'contacts', '--namespace', 'no-such-namespace');
  expect(r).toMatchObject({ code: 1, stdout: '' });
  expect(r.stderr).toMatch(
    /^syncline status: namespace "no-such-namespace" does not exist on the Temporal server at .*: check --namespace \/ TEMPORAL_NAMESPACE \("temporal operator namespace list" lists them\)\n$/,
  );
}, 120_000);

test('sync of an activation whose task queue no worker polls names that queue and how to start a worker on it', async () => {
  const id = uniqueName('unpolled');
  const queue = uniqueName('nobody_polls');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-unpolled-'));
  const file = path.join(dir, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { sql: 'SELECT 1 AS id, 2 AS v', key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'v', to: 'V' }],
    }),
  );
  const { address, databaseUrl } = env();
  const withQueue = { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: queue };
  const started = await runCli(['activation', 'start', '--file', file], withQueue);
  expect(started.code).toBe(0);
  // Said at the start already: the activation is started, and nothing of it will run yet.
  expect(started.stdout).toContain(
    `=> no worker polls task queue "${queue}" yet: nothing of "${id}" runs until one does ` +
      `(start one on it: SYNCLINE_TASK_QUEUE=${queue} npm run worker, or your worker's taskQueue)`,
  );
  try {
    // The note comes after 20 s; the command is then stopped (no worker will ever answer).
    const waiting = await runCli(['sync', id], withQueue, 27_000);
    expect(waiting.stderr).toContain(
      `no worker polls task queue "${queue}", where activation "${id}" runs: nothing will run until one does ` +
        `(start one on it: SYNCLINE_TASK_QUEUE=${queue} npm run worker, or your worker's taskQueue)`,
    );
  } finally {
    await runCli(['stop', id], withQueue).catch(() => undefined);
    await runCli(['delete', id, '--purge', '--yes'], withQueue).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test('activation apply -f that starts an activation on a task queue no worker polls says so, as activation start does', async () => {
  const id = uniqueName('unpolled_apply');
  const queue = uniqueName('nobody_polls');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-unpolled-'));
  fs.writeFileSync(
    path.join(dir, `${id}.json`),
    JSON.stringify({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { sql: 'SELECT 1 AS id, 2 AS v', key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'v', to: 'V' }],
    }),
  );
  const { address, databaseUrl } = env();
  const withQueue = { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: queue };
  try {
    const applied = await runCli(['activation', 'apply', '-f', dir], withQueue);
    expect(applied.code).toBe(0);
    // Under its step, after what the start does: the activation is started, and nothing of it will run yet.
    expect(applied.stdout).toMatch(new RegExp(`^start {5}${id}\n( {2}=> .*\n)*`));
    expect(applied.stdout).toContain(
      `  => no worker polls task queue "${queue}" yet: nothing of "${id}" runs until one does ` +
        `(start one on it: SYNCLINE_TASK_QUEUE=${queue} npm run worker, or your worker's taskQueue)\n` +
        '1 change(s), 0 unchanged\n',
    );
  } finally {
    await runCli(['stop', id], withQueue).catch(() => undefined);
    await runCli(['delete', id, '--purge', '--yes'], withQueue).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
