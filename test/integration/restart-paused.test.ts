/**
 * An activation stopped and started again with the `syncline` command (a child process against the dev server,
 * Postgres and an in-process worker) keeps what the operator or the activation decided before the stop: a pause
 * stays (start says so; `start --resume` lifts it), a pause after a configuration error stays until the
 * destination checks out, and an interval schedule carries on from its last fire instead of firing at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { testClient, uniqueName, waitFor } from '../support/harness';
import { useCliStage } from '../support/cli-stage';
import { openWarningsQuery, type ActivationStatus } from '../../workflows/messages';
import { activationWorkflowId } from '../../common/names';
import { healthKey } from '../../common/search-attributes';

const stage = useCliStage('restartpause');
const syncline = (...args: string[]) => stage.syncline(...args);
const HOUR = 3_600_000;

async function table(id: string): Promise<void> {
  await stage.db.query(
    `CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City ' || g AS city FROM generate_series(1, 10) g`,
  );
}

function write(id: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      id,
      mode: 'upsert',
      schedule: { every: '1h' },
      source: { table: `public.${id}`, key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
      mappings: [
        { from: 'name', to: 'Name' },
        { from: 'city', to: 'City' },
      ],
      ...extra,
    }),
  );
  return file;
}

async function status(id: string): Promise<ActivationStatus> {
  const r = await syncline('status', id, '--json');
  if (r.code !== 0) throw new Error(`status ${id}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ActivationStatus;
}

async function runs(id: string): Promise<Array<{ run_number: number; trigger: string; status: string; scheduled_at: Date | null }>> {
  return (
    await stage.db.query(
      `SELECT run_number, trigger, status, scheduled_at FROM syncline.runs WHERE activation_id = $1 ORDER BY run_number`,
      [id],
    )
  ).rows;
}

/** Started, its first interval fire ran (at once, as a first start does). */
async function startedAndFired(id: string, file: string): Promise<Date> {
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  await waitFor('the first scheduled run', async () => (await runs(id)).some((r) => r.status === 'success'), 30_000);
  await waitFor('idle after it', async () => (await status(id)).state === 'idle', 30_000);
  return (await runs(id))[0]!.scheduled_at!;
}

test('paused, stopped and started again: it stays paused (start says so) and runs nothing; resumed, it fires an hour after its last fire', async () => {
  const id = uniqueName('rp_pause');
  await table(id);
  const file = write(id);
  const firedAt = await startedAndFired(id, file);
  expect((await syncline('pause', id, '--reason', 'CRM migration')).code).toBe(0);
  expect((await syncline('stop', id, '--wait')).code).toBe(0);

  const again = await syncline('activation', 'start', '--file', file);
  expect(again.code).toBe(0);
  await new Promise((r) => setTimeout(r, 3000));
  const st = await status(id);
  expect({ state: st.state, reason: st.pausedReason, nextRunAt: st.nextRunAt, runs: (await runs(id)).length }).toEqual({
    state: 'paused',
    reason: expect.stringContaining('CRM migration'),
    nextRunAt: null,
    runs: 1,
  });
  expect(again.stdout).toContain('paused before it was stopped (CRM migration)');
  expect(again.stdout).toContain(`"syncline resume ${id}"`);

  expect((await syncline('resume', id)).code).toBe(0);
  await waitFor('resumed', async () => (await status(id)).state === 'idle');
  expect(Date.parse((await status(id)).nextRunAt!)).toBe(firedAt.getTime() + HOUR);
  expect((await runs(id)).length).toBe(1);
});

test('paused, stopped, started again with --resume: it is not paused, and its interval carries on from the last fire', async () => {
  const id = uniqueName('rp_resume');
  await table(id);
  const file = write(id);
  const firedAt = await startedAndFired(id, file);
  expect((await syncline('pause', id)).code).toBe(0);
  expect((await syncline('stop', id, '--wait')).code).toBe(0);

  const again = await syncline('activation', 'start', '--file', file, '--resume');
  expect(again.code).toBe(0);
  expect(again.stdout).not.toContain('paused before it was stopped');
  await waitFor('idle', async () => (await status(id)).state === 'idle');
  expect(Date.parse((await status(id)).nextRunAt!)).toBe(firedAt.getTime() + HOUR);
  await new Promise((r) => setTimeout(r, 2000));
  expect((await runs(id)).length).toBe(1);
});

test('stopped and started again minutes after its last fire: the interval schedule does not fire at once', async () => {
  const id = uniqueName('rp_interval');
  await table(id);
  const file = write(id);
  const firedAt = await startedAndFired(id, file);
  expect((await syncline('stop', id, '--wait')).code).toBe(0);
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  await new Promise((r) => setTimeout(r, 3000));
  expect((await runs(id)).length).toBe(1);
  const st = await status(id);
  expect(st.state).toBe('idle');
  expect(Date.parse(st.nextRunAt!)).toBe(firedAt.getTime() + HOUR);
});

test('paused by a configuration error, stopped and started again: still broken, it stays paused with no new failed run; fixed, it resumes with a run', async () => {
  const id = uniqueName('rp_broken');
  await table(id);
  const file = write(id, { schedule: { manual: true } });
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  expect((await syncline('sync', id)).code).toBe(0);
  await stage.db.query(`ALTER TABLE public.${id} DROP COLUMN city`);
  expect((await syncline('sync', id)).code).not.toBe(0);
  expect((await status(id)).state).toBe('paused');
  expect((await syncline('stop', id, '--wait')).code).toBe(0);

  const again = await syncline('activation', 'start', '--file', file);
  expect(again.code).toBe(0);
  await new Promise((r) => setTimeout(r, 3000));
  const st = await status(id);
  expect({ state: st.state, reason: st.pausedReason }).toEqual({ state: 'paused', reason: expect.stringContaining('configuration error') });
  expect((await runs(id)).map((r) => r.status)).toEqual(['success', 'failed']);
  expect(again.stdout).toContain('paused by a configuration error before it was stopped');

  // Stopped again, the model fixed meanwhile: started, the destination checks out at once and a run syncs.
  expect((await syncline('stop', id, '--wait')).code).toBe(0);
  await stage.db.query(`ALTER TABLE public.${id} ADD COLUMN city text`);
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  await waitFor('resumed with a run', async () => (await runs(id)).at(-1)?.status === 'success' && (await runs(id)).length === 3, 30_000);
  await waitFor('idle', async () => (await status(id)).state === 'idle');
});

test('paused by a configuration error, stopped and started again still broken: CONFIG_BROKEN and health critical stay (no recovery notice) until the re-check finds it fixed', async () => {
  const id = uniqueName('rp_warn');
  const warningsId = `${id}-warnings`;
  process.env.SYNCLINE_WARNINGS_WORKFLOW_ID = warningsId;
  const client = await testClient();
  try {
    await table(id);
    const file = write(id, { schedule: { manual: true }, recheck: '2s' });
    expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
    expect((await syncline('sync', id)).code).toBe(0);
    await stage.db.query(`ALTER TABLE public.${id} DROP COLUMN city`);
    expect((await syncline('sync', id)).code).not.toBe(0);
    const open = async () =>
      (await client.workflow.getHandle(warningsId).query(openWarningsQuery, id)).map((w) => ({ code: w.code, since: w.since }));
    const reported = async () =>
      (await stage.db.query(`SELECT health FROM syncline_reporting.activations WHERE activation_id = $1`, [id])).rows[0]?.health;
    const attribute = async () =>
      (await client.workflow.getHandle(activationWorkflowId(id)).describe()).typedSearchAttributes.get(healthKey);
    const broken = await open();
    expect(broken.map((w) => w.code)).toEqual(['CONFIG_BROKEN']);
    expect((await syncline('stop', id, '--wait')).code).toBe(0);

    expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
    // The start's re-check and two more on the 2 s timer fail: still broken.
    await new Promise((r) => setTimeout(r, 5000));
    const st = await status(id);
    expect({ state: st.state, health: st.health, warnings: (st.warnings ?? []).map((w) => w.code) }).toEqual({
      state: 'paused',
      health: 'critical',
      warnings: ['CONFIG_BROKEN'],
    });
    expect(st.warnings?.[0]?.message).toContain('paused');
    expect(await attribute()).toBe('critical');
    expect(await reported()).toBe('critical');
    // Open since the failed run: never cleared (a recovery notice) and opened again.
    expect(await open()).toEqual(broken);
    expect((await runs(id)).map((r) => r.status)).toEqual(['success', 'failed']);

    // Fixed: a re-check finds it, CONFIG_BROKEN clears (the one recovery notice), and a run syncs.
    await stage.db.query(`ALTER TABLE public.${id} ADD COLUMN city text`);
    await waitFor('resumed with a run', async () => (await runs(id)).at(-1)?.status === 'success' && (await runs(id)).length === 3, 30_000);
    await waitFor('health ok', async () => (await status(id)).health === 'ok' && (await attribute()) === 'ok', 10_000);
    expect((await status(id)).warnings).toEqual([]);
    await waitFor('CONFIG_BROKEN closed', async () => (await open()).length === 0, 10_000);
    expect(await reported()).toBe('ok');
    expect((await syncline('stop', id, '--wait')).code).toBe(0);
  } finally {
    delete process.env.SYNCLINE_WARNINGS_WORKFLOW_ID;
    await client.connection.close();
  }
});

test("pause of an activation paused by a configuration error says it is now an operator's pause, which the re-check no longer lifts", async () => {
  const id = uniqueName('rp_autopause');
  await table(id);
  const file = write(id, { schedule: { manual: true } });
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  try {
    expect((await syncline('sync', id)).code).toBe(0);
    await stage.db.query(`ALTER TABLE public.${id} DROP COLUMN city`);
    expect((await syncline('sync', id)).code).not.toBe(0);
    expect(await status(id)).toMatchObject({ state: 'paused', autoPaused: true });
    const paused = await syncline('pause', id);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(
      new RegExp(
        `^activation "${id}" was already paused \\(paused after a configuration error in run 2: .*\\): it is now paused by an operator, and no longer resumed by the re-check of the destination`,
      ),
    );
    await waitFor("the operator's pause", async () => (await status(id)).pausedReason === 'paused by an operator');
    expect((await status(id)).autoPaused).toBeUndefined();
  } finally {
    await syncline('stop', id, '--wait');
  }
});
