/**
 * Signals sent by an internal service with the real `temporal workflow signal` CLI, as README "Temporal CLI
 * recipes" documents them, with payloads a script gets wrong (a number or an object where a text goes). A
 * signal cannot be refused: the activation must take it without its workflow task failing (a task that
 * fails on a signal fails again at every retry, and the activation no longer runs, answers or stops).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { env, uniqueName, waitFor } from '../support/harness';
import { useCliStage } from '../support/cli-stage';
import { findTemporalCli } from '../../scripts/services/temporal';

const stage = useCliStage('signals');

async function signal(workflowId: string, name: string, input?: string): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('no Temporal CLI: set TEMPORAL_CLI or run "npm run temporal:install"');
  const args = ['workflow', 'signal', '--workflow-id', workflowId, '--name', name, ...(input ? ['--input', input] : [])];
  await promisify(execFile)(cli, [...args, '--address', env().address]);
}

interface Status {
  state: string;
  pausedReason?: string;
  lastRuns: Array<{ runNumber: number; status: string; trigger: string; full: boolean; ops: unknown }>;
}
async function status(id: string): Promise<Status> {
  const r = await stage.syncline('status', id, '--json');
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Status;
}

test('a resync, pause or stop whose "reason" is not a text is taken as sent, and the activation goes on', async () => {
  const id = uniqueName('sig');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 3) g`);
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'name', to: 'Name' }],
    }),
  );
  expect((await stage.syncline('activation', 'start', '--file', file)).code).toBe(0);
  const wf = `activation/${id}`;

  await signal(wf, 'resync', '{"reason":42}');
  const ran = await waitFor('the re-sync run', async () => (await status(id)).lastRuns.find((r) => r.runNumber === 1), 30_000);
  expect(ran).toMatchObject({ status: 'success', trigger: 'manual' });

  await signal(wf, 'pause', '{"reason":{"ticket":"OPS-1"}}');
  expect(await waitFor('the pause', async () => (await status(id)).state === 'paused' && status(id), 30_000)).toMatchObject({
    pausedReason: '{"ticket":"OPS-1"}',
  });
  await signal(wf, 'resume');
  await waitFor('the resume', async () => (await status(id)).state === 'idle', 30_000);

  // The triggerSync update can refuse: it does, naming the field, and nothing is run.
  const update = await promisify(execFile)(findTemporalCli()!, [
    ...['workflow', 'update', 'execute', '--workflow-id', wf, '--name', 'triggerSync', '--input', '{"reason":42}'],
    ...['--address', env().address],
  ]).then(
    () => '',
    (e: { stderr: string }) => e.stderr,
  );
  expect(update).toMatch(/unable to update workflow: .*reason.* must be a text/);

  await stage.db.query(`UPDATE public.${id} SET name = 'Changed' WHERE id = 2`);
  const sync = await stage.syncline('sync', id);
  expect(sync.code).toBe(0);
  expect(sync.stdout).toMatch(/^run 2 · upsert · manual · success · upsert 1 \(1 ok\)/);

  await signal(wf, 'stop', '{"reason":7}');
  await waitFor('the stop', async () => (await stage.syncline('status', id)).stderr.includes(`activation "${id}" is not running`), 30_000);
  const rows = await stage.db.query(`SELECT key, "values" FROM test_dest.records WHERE object = $1 ORDER BY key`, [id]);
  expect(rows.rows.map((r) => [r.key, r.values.Name])).toEqual([
    ['1', 'Name 1'],
    ['2', 'Changed'],
    ['3', 'Name 3'],
  ]);
}, 180_000);

test('a second pause without a reason keeps the reason of the first: on-call still sees why it was paused', async () => {
  const id = uniqueName('sigpause');
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      mode: 'upsert',
      schedule: { every: '1h' },
      source: { sql: 'SELECT 1 AS id, 2 AS v', key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'v', to: 'V' }],
    }),
  );
  expect((await stage.syncline('activation', 'start', '--file', file)).code).toBe(0);
  try {
    expect((await stage.syncline('pause', id, '--reason', 'CRM migration')).code).toBe(0);
    expect((await stage.syncline('pause', id)).code).toBe(0);
    await signal(`activation/${id}`, 'pause'); // as README's recipe without --input
    // Give the pauses a moment to be taken (a query is answered after the signals already delivered).
    await new Promise((r) => setTimeout(r, 1000));
    expect(await status(id)).toMatchObject({ state: 'paused', pausedReason: 'CRM migration' });
    // A new reason still replaces it.
    expect((await stage.syncline('pause', id, '--reason', 'CRM migration, phase 2')).code).toBe(0);
    await waitFor('the new reason', async () => (await status(id)).pausedReason === 'CRM migration, phase 2', 30_000);
  } finally {
    await stage.syncline('stop', id, '--wait');
  }
}, 120_000);

test('a resync whose "full" is the text "false" (a script\'s --input) is a normal run, not a full re-sync', async () => {
  const id = uniqueName('sigfull');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 4) g`);
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      mode: 'upsert',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'name', to: 'Name' }],
    }),
  );
  expect((await stage.syncline('activation', 'start', '--file', file)).code).toBe(0);
  try {
    expect((await stage.syncline('sync', id)).code).toBe(0);
    await stage.db.query(`UPDATE public.${id} SET name = 'Changed' WHERE id = 3`);
    await signal(`activation/${id}`, 'resync', '{"full":"false"}');
    const ran = await waitFor('the re-sync run', async () => (await status(id)).lastRuns.find((r) => r.runNumber === 2), 30_000);
    // Only the changed row is sent, as by "syncline resync" without --full.
    expect(ran).toMatchObject({ trigger: 'manual', full: false, ops: { upsert: { planned: 1, succeeded: 1 } } });
    await signal(`activation/${id}`, 'resync', '{"full":"true"}'); // the text "true" still asks for one
    expect(await waitFor('the full re-sync', async () => (await status(id)).lastRuns.find((r) => r.runNumber === 3), 30_000)).toMatchObject(
      { trigger: 'full_resync', full: true, ops: { upsert: { planned: 4 } } },
    );
  } finally {
    await stage.syncline('stop', id, '--wait');
  }
}, 120_000);

test('a misspelled signal ("resynq") is not lost silently: status names it and the known signals, and the activation goes on', async () => {
  const id = uniqueName('sigtypo');
  const file = path.join(stage.dir, `${id}.json`);
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
  expect((await stage.syncline('activation', 'start', '--file', file)).code).toBe(0);
  try {
    await signal(`activation/${id}`, 'resynq', '{"full":true}'); // Temporal answers "Signal workflow succeeded"
    const seen = await waitFor(
      'the ignored signal in status',
      async () => ((await status(id)) as Status & { ignoredSignals?: Array<{ name: string; at: string }> }).ignoredSignals?.[0],
      30_000,
    );
    expect(seen).toMatchObject({ name: 'resynq' });
    const text = await stage.syncline('status', id);
    expect(text.stdout).toMatch(
      /Ignored signals\s+"resynq" at .* UTC: not a signal of an activation \(known: resync, pause, resume, retryFailed, stop\)/,
    );
    expect((await status(id)).lastRuns).toEqual([]); // nothing ran
    // Kept across the continue-as-new after a run, and bounded.
    for (const n of ['a', 'b', 'c', 'd', 'e']) await signal(`activation/${id}`, `typo_${n}`);
    expect((await stage.syncline('sync', id)).code).toBe(0);
    const after = (await status(id)) as Status & { ignoredSignals?: Array<{ name: string }> };
    expect(after.ignoredSignals?.map((s) => s.name)).toEqual(['typo_a', 'typo_b', 'typo_c', 'typo_d', 'typo_e']);
  } finally {
    await stage.syncline('stop', id, '--wait');
  }
}, 120_000);

test('resume of an activation that is not paused, and pause of one already paused, say so instead of "resumed" / "paused"', async () => {
  const id = uniqueName('signoop');
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      mode: 'upsert',
      schedule: { every: '1h' },
      source: { sql: 'SELECT 1 AS id, 2 AS v', key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'v', to: 'V' }],
    }),
  );
  expect((await stage.syncline('activation', 'start', '--file', file)).code).toBe(0);
  try {
    const notPaused = await stage.syncline('resume', id);
    expect([notPaused.code, notPaused.stdout.trim()]).toEqual([0, `activation "${id}" was not paused: nothing to resume`]);
    const paused = await stage.syncline('pause', id, '--reason', 'CRM migration');
    expect(paused.stdout).toMatch(new RegExp(`^activation "${id}" paused: no scheduled runs until`));
    await waitFor('the pause', async () => (await status(id)).state === 'paused', 30_000);
    const again = await stage.syncline('pause', id);
    expect([again.code, again.stdout.trim()]).toEqual([0, `activation "${id}" was already paused (CRM migration): nothing changed`]);
    const newReason = await stage.syncline('pause', id, '--reason', 'phase 2', '--json');
    expect(JSON.parse(newReason.stdout)).toMatchObject({ paused: true, wasPaused: true, reason: 'phase 2' });
    const resumed = await stage.syncline('resume', id);
    expect([resumed.code, resumed.stdout.trim()]).toEqual([0, `activation "${id}" resumed (it was paused: phase 2)`]);
    await waitFor('the resume', async () => (await status(id)).state === 'idle', 30_000);
  } finally {
    await stage.syncline('stop', id, '--wait');
  }
}, 120_000);

test('a signal named with Temporal\'s reserved prefix ("__temporal_foo") is ignored like a misspelled one: the activation still answers and runs', async () => {
  const id = uniqueName('sigreserved');
  const file = path.join(stage.dir, `${id}.json`);
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
  expect((await stage.syncline('activation', 'start', '--file', file)).code).toBe(0);
  try {
    // Temporal answers "Signal workflow succeeded"; the SDK refuses the name once a default signal handler is set,
    // failing the workflow task at every retry: no query answered, no run ever again.
    await signal(`activation/${id}`, '__temporal_foo', '{"full":true}');
    const seen = await waitFor(
      'the ignored signal in status',
      async () =>
        ((await status(id).catch(() => ({}) as Status)) as Status & { ignoredSignals?: Array<{ name: string }> }).ignoredSignals?.[0],
      30_000,
    );
    expect(seen).toMatchObject({ name: '__temporal_foo' });
    const text = await stage.syncline('status', id);
    expect(text.stdout).toMatch(/Ignored signals\s+"__temporal_foo" at .* UTC: /);
    const sync = await stage.syncline('sync', id);
    expect([sync.code, sync.stderr]).toEqual([0, '']);
    expect(sync.stdout).toMatch(/^run 1 · upsert · manual · success · upsert 1 \(1 ok\)/);
    const rows = await stage.db.query(`SELECT key, "values" FROM test_dest.records WHERE object = $1`, [id]);
    expect(rows.rows.map((r) => [r.key, r.values.V])).toEqual([['1', 2]]);
    expect(((await status(id)) as Status & { ignoredSignals?: Array<{ name: string }> }).ignoredSignals?.map((s) => s.name)).toEqual([
      '__temporal_foo',
    ]);
  } finally {
    await stage.syncline('stop', id, '--wait');
  }
}, 120_000);
