/**
 * `syncline rows` of a run with model rows rejected before sending (a repeated key): the row log gives them
 * the code `syncline errors` lists, so the CODE column says why they were not sent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { uniqueName } from '../support/harness';
import { useCliStage } from '../support/cli-stage';

const stage = useCliStage('rowcodes');

test('rows --run and rows --key show MODEL_DUPLICATE_KEY for the rows of a repeated key, as errors does', async () => {
  const id = uniqueName('rowcodes');
  await stage.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 3) g`);
  await stage.db.query(`INSERT INTO public.${id} VALUES (2, 'Again 2')`);
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
    const errors = await stage.syncline('errors', id);
    expect(errors.stdout).toMatch(/^2\s+duplicate_key\s+MODEL_DUPLICATE_KEY\s+1\s/m);
    const run = await stage.syncline('rows', id, '--run', '1');
    expect(run.stdout).toMatch(/^1\s+2\s+duplicate_key\s+rejected\s+MODEL_DUPLICATE_KEY\s+\d{4}-/m);
    // The destination id is the test destination's sequence (shared by every test of the database): any number.
    expect(run.stdout).toMatch(/^1\s+1\s+upsert\s+ok\s+\d+\s+\d{4}-/m);
    const json = JSON.parse((await stage.syncline('rows', id, '--key', '2', '--json')).stdout) as Array<{ code: string | null }>;
    expect(json).toEqual([expect.objectContaining({ op: 'duplicate_key', outcome: 'rejected', code: 'MODEL_DUPLICATE_KEY' })]);
    const dest = await stage.db.query(`SELECT key FROM test_dest.records WHERE object = $1 ORDER BY key`, [id]);
    expect(dest.rows.map((r) => r.key)).toEqual(['1', '3']);
  } finally {
    await stage.syncline('stop', id, '--wait');
  }
}, 120_000);
