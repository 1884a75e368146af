/**
 * The `syncline` command as a person runs it: a real child process against the Temporal dev server,
 * Postgres and an in-process worker with the test destination. Asserts exit codes and what is printed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { env, startWorker, sqlClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { runCli, type CliResult } from '../support/cli';
import type { RunSummary } from '../../common/run';
import type { RowErrorRecord, RunRecord } from '../../client/runs';

const TQ = uniqueName('tq_cli');
let worker: RunningWorker;
let db: pg.Pool;
let dir: string;

/** `npx tsx client/cli.ts ...`, through the local tsx binary (npx would resolve the same one, slower). */
function syncline(...args: string[]): Promise<CliResult> {
  const { address, databaseUrl } = env();
  return runCli(args, { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, SYNCLINE_TASK_QUEUE: TQ });
}

function writeFile(name: string, doc: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

/** Cells of the table line whose first cell is `first` (cells are separated by 2+ spaces). */
function row(table: string, first: string): string[] | undefined {
  return table
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/))
    .find((cells) => cells[0] === first);
}

beforeAll(async () => {
  worker = await startWorker({ taskQueue: TQ });
  db = sqlClient();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-cli-'));
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('syncline CLI', () => {
  const id = uniqueName('cli');
  const table = `public.${id}`;
  const config = {
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [
      { from: 'email', to: 'Email' },
      { from: 'name', to: 'Name' },
    ],
  };

  beforeAll(async () => {
    await db.query(`CREATE TABLE ${table} (id int, email text, name text)`);
    await db.query(`INSERT INTO ${table} SELECT g, 'user' || g || '@example.com', 'Name ' || g FROM generate_series(1, 500) g`);
    // Key 42 twice: both rows are rejected with MODEL_DUPLICATE_KEY.
    await db.query(`INSERT INTO ${table} VALUES (42, 'other42@example.com', 'Duplicate 42')`);
  });

  test('activation start from a file; starting it again says what to do instead', async () => {
    const file = writeFile('activation.json', config);
    const started = await syncline('activation', 'start', '--file', file);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    expect(started.stdout).toContain(`started activation "${id}" (workflow activation/${id}`);
    const again = await syncline('activation', 'start', '--file', file);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`activation "${id}" is already running`);
    expect(again.stderr).toContain(`syncline resync ${id}`);
  });

  test('sync waits for the run and prints its summary', async () => {
    const r = await syncline('sync', id);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('run 1 · upsert · manual · partial · upsert 499 (499 ok) · 2 rejected');
    expect(row(r.stdout, '1')).toEqual([
      '1',
      'manual',
      'partial',
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      expect.stringMatching(/s$/),
      '499',
      '499',
      '0',
      '0',
      '0',
      '2',
    ]);
    const json = await syncline('sync', id, '--json');
    expect(json.code).toBe(0);
    // Nothing new: the duplicate was reported by run 1 and did not change, so run 2 is no partial run.
    expect(JSON.parse(json.stdout) as RunSummary).toMatchObject({
      runNumber: 2,
      status: 'success',
      rejected: 2,
      rejectedUnchanged: 2,
      ops: {},
      warnings: [],
    });
  });

  test('runs: a table with a row per run and its counts, or JSON', async () => {
    const r = await syncline('runs', id);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^\s+-+ upsert -+$/);
    expect(lines[1]!.split(/\s{2,}/)).toEqual([
      'RUN',
      'TRIGGER',
      'STATUS',
      'STARTED (UTC)',
      'DURATION',
      'PLANNED',
      'OK',
      'FAILED',
      'SKIPPED',
      'HELD',
      'REJECTED',
    ]);
    expect(row(r.stdout, '1')).toEqual([
      '1',
      'manual',
      'partial',
      expect.any(String),
      expect.any(String),
      '499',
      '499',
      '0',
      '0',
      '0',
      '2',
    ]);
    expect(row(r.stdout, '2')).toEqual(['2', 'manual', 'success', expect.any(String), expect.any(String), '-', '-', '-', '-', '-', '2']);
    expect(lines.indexOf(lines.find((l) => l.trim().startsWith('2 '))!)).toBeLessThan(
      lines.indexOf(lines.find((l) => l.trim().startsWith('1 '))!),
    ); // newest first
    const json = await syncline('runs', id, '--limit', '1', '--json');
    const runs = JSON.parse(json.stdout) as RunRecord[];
    expect(runs.map((x) => x.runNumber)).toEqual([2]);
    expect(runs[0]).toMatchObject({
      activationId: id,
      trigger: 'manual',
      status: 'success',
      rejected: 2,
      rejectedUnchanged: 2,
      error: null,
    });
  });

  test('errors: the duplicate key appears with its code', async () => {
    const r = await syncline('errors', id);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual([
      'KEY',
      'OP',
      'CODE',
      'RUN',
      'ATTEMPTS',
      'FIRST SEEN (UTC)',
      'LAST SEEN (UTC)',
      'MESSAGE',
    ]);
    const cells = row(r.stdout, '42');
    expect(cells?.slice(0, 5)).toEqual(['42', 'duplicate_key', 'MODEL_DUPLICATE_KEY', '2', '2']);
    expect(cells?.at(-1)).toMatch(/^key "42" appears 2 times in the model/);
    const json = JSON.parse((await syncline('errors', id, '--run', '2', '--json')).stdout) as RowErrorRecord[];
    expect(json).toEqual([expect.objectContaining({ key: '42', code: 'MODEL_DUPLICATE_KEY', runNumber: 2, attempts: 2 })]);
    const none = await syncline('errors', id, '--run', '1');
    expect(none).toMatchObject({ code: 0, stdout: `no row errors for activation "${id}" in run 1\n` });
  });

  test('status; pause and resume', async () => {
    const st = await syncline('status', id);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`^Activation\\s+${id}\\nState\\s+idle\\nHealth\\s+\\w+\\nSchedule\\s+manual`));
    expect(row(st.stdout.slice(st.stdout.indexOf('Last runs')), '2')?.slice(0, 3)).toEqual(['2', 'manual', 'success']);

    expect(await syncline('pause', id, '--reason', 'CRM migration')).toMatchObject({ code: 0 });
    await waitFor(
      'status to show paused',
      async () => (await syncline('status', id)).stdout.match(/State\s+paused: CRM migration/),
      30_000,
      0,
    );
    const paused = JSON.parse((await syncline('status', id, '--json')).stdout) as { state: string; pausedReason: string; nextRunAt: null };
    expect(paused).toMatchObject({ state: 'paused', pausedReason: 'CRM migration', nextRunAt: null });

    expect(await syncline('resume', id)).toMatchObject({ code: 0 });
    await waitFor('status to show idle', async () => (await syncline('status', id)).stdout.match(/State\s+idle/), 30_000, 0);
  });

  test('resync and retry-failed ask for runs', async () => {
    expect((await syncline('resync', id, '--full', '--reason', 'new field')).code).toBe(0);
    const full = await waitFor(
      'the full re-sync',
      async () => {
        const runs = JSON.parse((await syncline('runs', id, '--json')).stdout) as RunRecord[];
        return runs.find((x) => x.trigger === 'full_resync' && x.status !== 'running');
      },
      60_000,
      0,
    );
    expect(full).toMatchObject({ full: true, ops: { upsert: { planned: 499, succeeded: 499 } } });
    expect((await syncline('retry-failed', id)).code).toBe(0);
    await waitFor(
      'the retry run',
      async () => {
        const runs = JSON.parse((await syncline('runs', id, '--json')).stdout) as RunRecord[];
        return runs.some((x) => x.trigger === 'retry_failed' && x.status !== 'running');
      },
      60_000,
      0,
    );
  });

  test('approve-deletes without held deletions is refused with the reason', async () => {
    const r = await syncline('approve-deletes', id, '--run', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`activation "${id}" refused approveDeletes: activation "${id}" has no deletions waiting for approval`);
  });
});

describe('held deletions', () => {
  test('sync exits 3 when the run held deletions for approval (health critical), and 0 once they are applied', async () => {
    const id = uniqueName('clihold');
    await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 50) g`);
    const file = writeFile(`${id}.json`, {
      id,
      mode: 'mirror',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'name', to: 'Name' }],
    });
    expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
    expect((await syncline('sync', id)).code).toBe(0);

    await db.query(`DELETE FROM public.${id}`); // an empty model: every deletion is held
    const held = await syncline('sync', id);
    expect(held.code).toBe(3);
    expect(held.stdout).toContain(`critical: activation "${id}" run 2: 50 deletions held by the deletion guard`);
    const json = await syncline('sync', id, '--json');
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout) as RunSummary).toMatchObject({ runNumber: 3, heldDeletes: 50 });
    expect(JSON.parse((await syncline('status', id, '--json')).stdout)).toMatchObject({
      health: 'critical',
      heldDeletes: { run: 3, count: 50 },
    });
    const count = async () => Number((await db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n);
    expect(await count()).toBe(50);

    const approved = await syncline('approve-deletes', id, '--run', '3');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('50 deletion(s) approved');
    expect(await count()).toBe(0);
  });

  test('approve-deletes says how many of the approved keys the run deleted when some came back into the model', async () => {
    const id = uniqueName('cliback');
    await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 5) g`);
    const file = writeFile(`${id}.json`, {
      id,
      mode: 'mirror',
      schedule: { manual: true },
      source: { table: `public.${id}`, key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [{ from: 'name', to: 'Name' }],
    });
    expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
    try {
      expect((await syncline('sync', id)).code).toBe(0);
      await db.query(`DELETE FROM public.${id}`); // an empty model: all 5 deletions are held
      expect((await syncline('sync', id)).code).toBe(3);
      // 3 keys come back into the model before the approval: only 2 are still gone.
      await db.query(`INSERT INTO public.${id} SELECT g, 'Name ' || g FROM generate_series(1, 3) g`);
      const approved = await syncline('approve-deletes', id, '--run', '2');
      expect(approved.code).toBe(0);
      expect(approved.stdout.split('\n')[0]).toBe(
        '5 deletion(s) approved; run 3 deleted 2: an approved key back in the model since is not deleted',
      );
      const keys = await db.query(`SELECT key FROM test_dest.records WHERE object = $1 ORDER BY key`, [id]);
      expect(keys.rows.map((r) => r.key)).toEqual(['1', '2', '3']);
    } finally {
      await syncline('stop', id, '--wait');
    }
  });

  test('the help lists the exit codes', async () => {
    const help = await syncline('sync', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('3  the run held deletions');
  });
});

describe('failures', () => {
  test('an invalid file: exit code 1 and every bad path listed', async () => {
    const file = writeFile('broken.json', {
      id: 'not valid!',
      source: { table: 't', sql: 'SELECT 1', key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', key: 'ext_id' },
      mode: 'merge',
      schedule: { every: 'soon' },
      mappings: [],
    });
    const r = await syncline('activation', 'start', '--file', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Invalid configuration for activation "not valid!": 6 problem(s)');
    for (const p of ['id', 'source', 'destination', 'mode', 'schedule.every', 'mappings']) expect(r.stderr).toContain(`  - ${p}: `);
    const json = await syncline('activation', 'start', '--file', file, '--json');
    expect((JSON.parse(json.stderr) as { problems: Array<{ path: string }> }).problems.map((p) => p.path).sort()).toEqual([
      'destination',
      'id',
      'mappings',
      'mode',
      'schedule.every',
      'source',
    ]);
  });

  test('a new document with a webhook URL is refused, saying how to move it into a connection', async () => {
    const file = writeFile('webhook.json', {
      id: uniqueName('cliweb'),
      mode: 'upsert',
      source: { table: 't', key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: 'o', key: 'ext_id' },
      mappings: [{ from: 'name', to: 'Name' }],
      warnings: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/cli-secret' },
    });
    const r = await syncline('activation', 'start', '--file', file);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain('  - warnings.webhookUrl: a webhook URL is a credential');
    expect(r.stderr).toContain('"warnings": {"connection": "alerts"}');
    expect(r.stderr).not.toContain('cli-secret');
  });

  test('a missing or unparsable file, an unknown activation, bad usage', async () => {
    const missing = await syncline('activation', 'start', '--file', path.join(dir, 'nope.json'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read activation file');
    fs.writeFileSync(path.join(dir, 'bad.json'), '{ "id": ');
    expect((await syncline('activation', 'start', '--file', path.join(dir, 'bad.json'))).stderr).toContain('is not valid JSON');
    const unknown = await syncline('resync', 'no_such_activation');
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain(
      'activation "no_such_activation" is not running: start it with "syncline activation start --file no_such_activation.json"',
    );
    expect((await syncline('status', 'no_such_activation')).stderr).toContain('is not running');
    const usage = await syncline('sync', 'x', '--fulll');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown option "--fulll" for "syncline sync"');
  });
});
