/**
 * Day-two tasks with the `syncline` command as a person runs it (a child process against the dev
 * server, Postgres and an in-process worker): activations kept as files and applied from a folder,
 * listed, updated with a diff first, their history and a row's life read back, stopped and purged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { uniqueName, waitFor } from '../support/harness';
import { useCliStage } from '../support/cli-stage';

const stage = useCliStage('life');
const syncline = (...args: string[]) => stage.syncline(...args);

const prefix = uniqueName('life');
const doc = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `${prefix}_${n}`,
  mode: 'upsert',
  schedule: { manual: true },
  source: { table: `public.${prefix}`, key: 'id' },
  destination: { kind: 'testdb', connection: 'testdb', object: `${prefix}_${n}`, key: 'ext_id' },
  mappings: [{ from: 'name', to: 'Name' }],
  ...extra,
});
function write(n: number, extra: Record<string, unknown> = {}): void {
  fs.writeFileSync(path.join(stage.dir, `${prefix}_${n}.json`), JSON.stringify(doc(n, extra), null, 2));
}

test('activation apply -f: starts three, then updates only the changed one, then does nothing; list shows them', async () => {
  await stage.db.query(
    `CREATE TABLE public.${prefix} AS SELECT g AS id, 'Name ' || g AS name, 'City ' || g AS city FROM generate_series(1, 10) g`,
  );
  for (const n of [1, 2, 3]) write(n);
  const dry = await syncline('activation', 'apply', '-f', stage.dir, '--dry-run');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain('3 change(s), 0 unchanged (dry run: nothing applied)');
  const first = await syncline('activation', 'apply', '-f', stage.dir);
  expect(first.stderr).toBe('');
  expect(first.stdout.split('\n').filter((l) => l.startsWith('start '))).toHaveLength(3);

  write(2, {
    mappings: [
      { from: 'name', to: 'Name' },
      { from: 'city', to: 'City' },
    ],
    schedule: { every: '1h' },
  });
  const second = await syncline('activation', 'apply', '-f', stage.dir);
  expect(second.code).toBe(0);
  expect(second.stdout).toMatch(new RegExp(`^update\\s+${prefix}_2$`, 'm'));
  expect(second.stdout).toContain('mappings[to=City]: (none) -> {"from":"city","to":"City"}');
  expect(second.stdout).toMatch(/=> from now on: schedule/);
  expect(second.stdout).toContain('1 change(s), 2 unchanged');
  const third = await syncline('activation', 'apply', '-f', stage.dir);
  expect(third.stdout).toContain('0 change(s), 3 unchanged');

  const list = await syncline('list');
  expect(list.code).toBe(0);
  for (const n of [1, 2, 3]) expect(list.stdout).toMatch(new RegExp(`^${prefix}_${n}\\s+idle\\s+ok\\s+upsert\\s+testdb`, 'm'));
  const json = JSON.parse((await syncline('list', '--json')).stdout) as Array<{ id: string; nextRunAt: string | null }>;
  expect(json.find((a) => a.id === `${prefix}_2`)?.nextRunAt).toMatch(/^\d{4}-/);
  expect(json.find((a) => a.id === `${prefix}_1`)?.nextRunAt).toBeNull();
});

test('activation update shows the diff first; history and rows read back what happened; stop, then delete --purge', async () => {
  const id = `${prefix}_1`;
  expect((await syncline('sync', id)).code).toBe(0);
  const file = path.join(stage.dir, 'update.json');
  fs.writeFileSync(
    file,
    JSON.stringify(
      doc(1, {
        mappings: [
          { from: 'name', to: 'Name' },
          { from: 'city', to: 'City' },
        ],
      }),
    ),
  );
  const dry = await syncline('activation', 'update', '--file', file, '--dry-run');
  expect(dry.stdout).toContain(`activation "${id}": nothing applied (dry run)`);
  expect(dry.stdout).toContain(
    '=> the mapping changes the content of every row: the next run sends all 10 synced rows again with the new mapping',
  );
  const applied = await syncline('activation', 'update', '--file', file, '--reason', 'city too');
  expect(applied.stdout).toContain(`activation "${id}" updated to version 2`);
  await stage.db.query(`UPDATE public.${prefix} SET name = 'Changed' WHERE id = 4`);
  expect((await syncline('sync', id)).code).toBe(0);

  const history = await syncline('history', id);
  expect(history.stdout).toMatch(/^version 1 .* first version$/m);
  expect(history.stdout).toMatch(/^version 2 .* city too$/m);
  const rows = await syncline('rows', id, '--key', '4');
  expect(
    rows.stdout
      .split('\n')
      .filter((l) => /^\d+\s+4\s+upsert\s+ok/.test(l))
      .map((l) => l.split(/\s+/)[0]),
  ).toEqual(['1', '2']);
  // A run number past the last run is no empty log: it is named, with the last run, and exits 1.
  const past = await syncline('rows', id, '--run', '9');
  expect(past).toMatchObject({ code: 1, stdout: '' });
  expect(past.stderr).toBe(`syncline rows: run 9 of "${id}" is not recorded: its last run is 2 ("syncline runs ${id}" lists them)\n`);
  const noDelete = await syncline('rows', id, '--run', '2', '--op', 'delete');
  expect(noDelete).toMatchObject({ code: 0, stderr: '' });
  expect(noDelete.stdout).toBe(
    `no row changes recorded for "${id}" in run 2 (op delete) (the log keeps SYNCLINE_ROW_LOG_DAYS days, 14 by default)\n`,
  );

  const stop = await syncline('stop', id, '--wait');
  expect(stop.stdout).toContain(`activation "${id}" stopped`);
  const purged = await syncline('delete', id, '--purge', '--yes');
  expect(purged.code).toBe(0);
  expect(purged.stdout).toMatch(/purged: .*10 snapshot/);
  expect(Number((await stage.db.query(`SELECT count(*) AS n FROM syncline.runs WHERE activation_id = $1`, [id])).rows[0].n)).toBe(0);
  expect(Number((await stage.db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n)).toBe(10); // records stay
  const running = await syncline('delete', `${prefix}_2`, '--purge', '--yes');
  expect(running.code).toBe(1);
  expect(running.stderr).toContain('is running: stop it first');
  await waitFor('the list no longer shows it', async () => !(await syncline('list')).stdout.includes(`${id} `));
});
