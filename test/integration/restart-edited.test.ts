/**
 * An activation stopped, its document edited, then started again with the `syncline` command (a child
 * process against the dev server, Postgres and an in-process worker). Its state stays in Postgres and the
 * new execution carries on from it, so the new document is checked against the last one the activation
 * ran, as `activation update` checks it: a new target is refused without --retarget (its snapshot would
 * be the old target's: the new one would get only the rows changed since), an Insert mapping change
 * without --confirm.
 */
import fs from 'node:fs';
import path from 'node:path';
import { env, testClient, uniqueName, waitFor } from '../support/harness';
import { openWarningsQuery } from '../../workflows/messages';
import { runCli } from '../support/cli';
import { useCliStage } from '../support/cli-stage';
import { SynclineClient } from '../../client';

const stage = useCliStage('restart');
const syncline = (...args: string[]) => stage.syncline(...args);
const TQ = stage.taskQueue;

async function records(object: string): Promise<number> {
  return Number((await stage.db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [object])).rows[0].n);
}

test('started again with a new destination object: refused without --retarget; with it the new object gets every row', async () => {
  const id = uniqueName('restart');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const doc = (object: string) => ({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(file, JSON.stringify(doc(`${id}_a`)));
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  expect((await syncline('sync', id)).code).toBe(0);
  expect(await records(`${id}_a`)).toBe(10);
  expect((await syncline('stop', id, '--wait')).code).toBe(0);

  // The engineer points the document at another object and starts it again.
  fs.writeFileSync(file, JSON.stringify(doc(`${id}_b`)));
  const refused = await syncline('activation', 'start', '--file', file);
  expect(refused.stderr).toContain('destination.object');
  expect(refused.stderr).toContain('--retarget');
  expect(refused.code).toBe(1);

  const started = await syncline('activation', 'start', '--file', file, '--retarget');
  expect(started.stderr).toBe('');
  expect(started.stdout).toContain(`destination.object: "${id}_a" -> "${id}_b"`);
  expect(started.stdout).toContain('the next run sends every model row to the new target');
  expect((await syncline('sync', id)).code).toBe(0);
  expect(await records(`${id}_b`)).toBe(10);
  expect(await records(`${id}_a`)).toBe(10);
});

test('apply -f of a stopped Insert activation with a new mapping: refused without --confirm; unchanged, it says it carries on', async () => {
  const id = uniqueName('restart_ins');
  await stage.db.query(
    `CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City ' || g AS city FROM generate_series(1, 6) g`,
  );
  const folder = fs.mkdtempSync(path.join(stage.dir, 'ins-'));
  const doc = (mappings: unknown[]) => ({
    id,
    mode: 'insert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings,
  });
  const file = path.join(folder, `${id}.json`);
  fs.writeFileSync(file, JSON.stringify(doc([{ from: 'name', to: 'Name' }])));
  // A manual schedule runs only when asked: the line says how (u3: apply said only that a first run sends every row).
  expect((await syncline('activation', 'apply', '-f', folder)).stdout).toContain(
    `its first run sends every model row, when asked ("syncline sync ${id}"): its schedule is manual`,
  );
  expect((await syncline('sync', id)).code).toBe(0);
  expect((await syncline('stop', id, '--wait')).code).toBe(0);

  const again = await syncline('activation', 'apply', '-f', folder, '--dry-run');
  expect(again.stdout).toContain('carries on from the state of its earlier runs (version 1, 6 synced rows)');
  expect(again.stdout).toContain('=> the document is the one it ran last');
  expect(again.stdout).not.toContain('its first run sends every model row');

  fs.writeFileSync(
    file,
    JSON.stringify(
      doc([
        { from: 'name', to: 'Name' },
        { from: 'city', to: 'City' },
      ]),
    ),
  );
  const refused = await syncline('activation', 'apply', '-f', folder);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('each of the 6 synced rows becomes a new record');
  expect(refused.stderr).toContain('--confirm');
  const running = await syncline('list');
  expect(running.stdout).not.toContain(`${id} `);
  const confirmed = await syncline('activation', 'apply', '-f', folder, '--confirm');
  expect(confirmed.code).toBe(0);
  expect(confirmed.stdout).toContain('mappings[to=City]: (none) -> {"from":"city","to":"City"}');
});

test('started again, its first run without warnings clears the ones still open from before the stop', async () => {
  const id = uniqueName('restart_warn');
  process.env.SYNCLINE_WARNINGS_WORKFLOW_ID = `${id}-warnings`;
  try {
    await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
    const file = path.join(stage.dir, `${id}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        id,
        mode: 'mirror',
        schedule: { manual: true },
        source: { table: `public.${id}`, key: 'id' },
        destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
        mappings: [{ from: 'name', to: 'Name' }],
      }),
    );
    expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
    expect((await syncline('sync', id)).code).toBe(0);
    await stage.db.query(`DELETE FROM public.${id} WHERE id > 5`);
    expect((await syncline('sync', id)).code).toBe(3); // 5 of 10 deletions: held
    const health = async () =>
      (await stage.db.query(`SELECT health FROM syncline_reporting.activations WHERE activation_id = $1`, [id])).rows[0]?.health;
    expect(await health()).toBe('critical');
    expect((await syncline('stop', id, '--wait')).code).toBe(0);

    // The model is fixed while it is stopped; started again, its run has nothing to hold.
    await stage.db.query(`INSERT INTO public.${id} SELECT g, 'Name ' || g FROM generate_series(6, 10) g`);
    expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
    const run = await syncline('sync', id, '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).warnings).toEqual([]);
    expect(await health()).toBe('ok');
  } finally {
    delete process.env.SYNCLINE_WARNINGS_WORKFLOW_ID;
  }
});

test('a state database without syncline tables (no worker ran on it) does not stop a start: it says nothing was checked', async () => {
  const id = uniqueName('restart_nodb');
  const name = `${id}_db`;
  await stage.db.query(`CREATE DATABASE ${name}`);
  try {
    const url = new URL(env().databaseUrl);
    url.pathname = `/${name}`;
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
    const started = await runCli(['activation', 'start', '--file', file], {
      TEMPORAL_ADDRESS: env().address,
      DATABASE_URL: url.toString(),
      SYNCLINE_TASK_QUEUE: TQ,
    });
    expect(started.stderr).toBe('');
    expect(started.stdout).toContain('has no syncline tables yet, so it was not checked against a document it ran before');
    expect((await syncline('stop', id, '--wait')).code).toBe(0);
  } finally {
    await stage.db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
});

test('delete --purge closes the warnings the stopped activation left open: an activation re-created with its id starts clean', async () => {
  const id = uniqueName('purge_warn');
  const warningsId = `${id}-warnings`;
  process.env.SYNCLINE_WARNINGS_WORKFLOW_ID = warningsId;
  try {
    await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
    const file = path.join(stage.dir, `${id}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        id,
        mode: 'mirror',
        schedule: { manual: true },
        source: { table: `public.${id}`, key: 'id' },
        destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
        mappings: [{ from: 'name', to: 'Name' }],
      }),
    );
    expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
    expect((await syncline('sync', id)).code).toBe(0);
    await stage.db.query(`DELETE FROM public.${id} WHERE id > 5`);
    expect((await syncline('sync', id)).code).toBe(3);
    const client = await testClient();
    try {
      const open = () => client.workflow.getHandle(warningsId).query(openWarningsQuery, id);
      expect((await open()).map((w) => w.code)).toEqual(['DELETES_HELD']);
      expect((await syncline('stop', id, '--wait')).code).toBe(0);
      const purged = await runCli(['delete', id, '--purge', '--yes'], {
        TEMPORAL_ADDRESS: env().address,
        DATABASE_URL: env().databaseUrl,
        SYNCLINE_TASK_QUEUE: TQ,
        SYNCLINE_WARNINGS_WORKFLOW_ID: warningsId,
      });
      expect(purged.code).toBe(0);
      await waitFor('the purged activation has no open warning', async () => (await open()).length === 0, 10_000);
    } finally {
      await client.connection.close();
    }
  } finally {
    delete process.env.SYNCLINE_WARNINGS_WORKFLOW_ID;
  }
});

// From an independent review (rev16). The CLI dropped the old target's state (forgetTargetState) before it started
// the workflow: a start that then lost the race for the workflow id to another start (two operators, or a
// pipeline's `apply -f`, starting the stopped activation at once) had already dropped the state of the
// activation that won, which carried on from an empty snapshot: every row sent to its target again (Insert:
// created twice; Mirror: the keys removed meanwhile never deleted), and the latest version named the target it
// does not write to. The state is dropped by the execution
// that starts, before its first run.
test('two starts at once, one with --retarget: the one that loses leaves the state of the one that runs alone', async () => {
  const id = uniqueName('restart_race');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 10) g`);
  const doc = (object: string) => ({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  });
  const file = path.join(stage.dir, `${id}.json`);
  fs.writeFileSync(file, JSON.stringify(doc(`${id}_a`)));
  expect((await syncline('activation', 'start', '--file', file)).code).toBe(0);
  expect((await syncline('sync', id)).code).toBe(0);
  expect((await syncline('stop', id, '--wait')).code).toBe(0);

  const client = await testClient();
  try {
    const sc = new SynclineClient({ client, taskQueue: TQ, databaseUrl: env().databaseUrl });
    const [kept, moved] = await Promise.allSettled([sc.start(doc(`${id}_a`)), sc.start(doc(`${id}_b`), { retarget: true })]);
    expect([kept.status, moved.status].sort()).toEqual(['fulfilled', 'rejected']);
    const synced = async () =>
      Number((await stage.db.query(`SELECT count(*) AS n FROM syncline.snapshot WHERE activation_id = $1`, [id])).rows[0].n);
    const latest = async () =>
      (
        await stage.db.query(
          `SELECT document->'destination'->>'object' AS object FROM syncline.config_versions WHERE activation_id = $1 ORDER BY version DESC LIMIT 1`,
          [id],
        )
      ).rows[0].object;
    if (kept.status === 'fulfilled') {
      // The activation carries on with the old target: its state is as its last run left it.
      expect({ synced: await synced(), latest: await latest() }).toEqual({ synced: 10, latest: `${id}_a` });
    } else {
      // The new target won: its first run sends every row there.
      expect((await syncline('sync', id)).code).toBe(0);
      expect({ b: await records(`${id}_b`), latest: await latest() }).toEqual({ b: 10, latest: `${id}_b` });
    }
    await syncline('stop', id, '--wait');
  } finally {
    await client.connection.close();
  }
});
