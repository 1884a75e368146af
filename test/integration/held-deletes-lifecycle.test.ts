/**
 * Held deletions across the activation's other requests (a plan computed, a run under way), through the
 * `syncline` command against a worker with the test destination: what an approval approves, and what the
 * run after it deletes, read back from the destination.
 */
import fs from 'node:fs';
import path from 'node:path';
import { uniqueName, waitFor } from '../support/harness';
import { useCliStage } from '../support/cli-stage';

const s = useCliStage('heldlife');

function mirrorDoc(id: string): unknown {
  return {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  };
}

async function startMirror(id: string, rows: number): Promise<void> {
  await s.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, ${rows}) g`);
  const file = path.join(s.dir, `${id}.json`);
  fs.writeFileSync(file, JSON.stringify(mirrorDoc(id)));
  expect((await s.syncline('activation', 'start', '--file', file)).code).toBe(0);
  expect((await s.syncline('sync', id)).code).toBe(0);
}

async function destinationKeys(id: string): Promise<number> {
  return Number((await s.db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n);
}

describe('held deletions and plans', () => {
  test('a plan computed while deletions are held does not take them from the run that holds them: approving that run deletes them', async () => {
    const id = uniqueName('heldplan');
    await startMirror(id, 50);
    try {
      await s.db.query(`DELETE FROM public.${id}`); // an empty model: every deletion is held
      const held = await s.syncline('sync', id);
      expect(held.code).toBe(3);
      expect(held.stdout).toContain(`run 2: 50 deletions held by the deletion guard`);

      // The user looks first: a plan shows the same 50 deletions held (and is not applied).
      const plan = await s.syncline('plan', id);
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain('delete, held  50');

      // The status still names run 2 as the one to approve; the approval is for those 50 deletions.
      const status = JSON.parse((await s.syncline('status', id, '--json')).stdout) as { heldDeletes: unknown };
      expect(status.heldDeletes).toEqual({ run: 2, count: 50 });
      const approved = await s.syncline('approve-deletes', id, '--run', '2');
      expect(approved.stdout.split('\n')[0]).toBe('50 deletion(s) approved; run 4 deleted 50');
      expect(approved.code).toBe(0);
      expect(await destinationKeys(id)).toBe(0);
    } finally {
      await s.syncline('stop', id, '--wait');
    }
  });

  test('a plan computed between an approval and the run that applies it leaves the approval to that run', async () => {
    const id = uniqueName('heldclaim');
    await s.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 50) g`);
    // The model sleeps as long as the control table says: a run stays under way while the requests below arrive.
    await s.db.query(`CREATE TABLE public.${id}_ctl (secs float8)`);
    await s.db.query(`INSERT INTO public.${id}_ctl VALUES (0)`);
    const doc = {
      ...(mirrorDoc(id) as object),
      source: { sql: `SELECT t.id, t.name FROM public.${id} t, (SELECT pg_sleep((SELECT secs FROM public.${id}_ctl))) z`, key: 'id' },
    };
    const file = path.join(s.dir, `${id}.json`);
    fs.writeFileSync(file, JSON.stringify(doc));
    expect((await s.syncline('activation', 'start', '--file', file)).code).toBe(0);
    try {
      expect((await s.syncline('sync', id)).code).toBe(0);
      await s.db.query(`DELETE FROM public.${id}`); // an empty model: every deletion is held
      expect((await s.syncline('sync', id)).code).toBe(3);

      // Run 3 is under way (its model sleeps) when the deletions of run 2 are approved and a plan is asked for:
      // the plan goes first (plan 4), then the run of the approval (run 5).
      await s.db.query(`UPDATE public.${id}_ctl SET secs = 20`);
      expect((await s.syncline('resync', id)).code).toBe(0);
      await waitFor('run 3 to read its model', async () => {
        const r = await s.db.query(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep%' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`,
          [`${id}_ctl`],
        );
        return Number(r.rows[0].n) > 0;
      });
      await s.db.query(`UPDATE public.${id}_ctl SET secs = 0`); // the runs after it read the model at once
      const approving = s.syncline('approve-deletes', id, '--run', '2');
      await waitFor('the approval recorded', async () => {
        const r = await s.db.query(`SELECT count(*) FILTER (WHERE approved) AS n FROM syncline.held_deletes WHERE activation_id = $1`, [
          id,
        ]);
        return Number(r.rows[0].n) === 50;
      });
      const plan = await s.syncline('plan', id);
      expect(plan.stdout).toContain(`plan 4 of "${id}"`);
      const approved = await approving;
      expect(approved.stdout.split('\n')[0]).toBe('50 deletion(s) approved; run 5 deleted 50');
      expect(approved.code).toBe(0);
      expect(await destinationKeys(id)).toBe(0);
    } finally {
      await s.syncline('stop', id, '--wait');
    }
  });

  test('a run that makes the approved deletions and holds new ones says so in DELETES_HELD, not "Nothing was deleted"', async () => {
    const id = uniqueName('heldmore');
    await startMirror(id, 20);
    try {
      await s.db.query(`DELETE FROM public.${id} WHERE id > 15`); // 5 of 20: over the 10% guard
      expect((await s.syncline('sync', id)).code).toBe(3);
      await s.db.query(`DELETE FROM public.${id} WHERE id > 10`); // 5 more leave before the approval
      const approved = await s.syncline('approve-deletes', id, '--run', '2');
      expect(approved.stdout.split('\n')[0]).toBe(
        '5 deletion(s) approved; run 3 deleted 5; it held 5 other deletion(s) for approval (below)',
      );
      expect(approved.code).toBe(3); // the 5 new ones are held
      expect(await destinationKeys(id)).toBe(15);
      const status = JSON.parse((await s.syncline('status', id, '--json')).stdout) as {
        warnings: Array<{ code: string; message: string }>;
      };
      const held = status.warnings.find((w) => w.code === 'DELETES_HELD')!.message;
      expect(held).toContain(`run 3: 5 deletions held by the deletion guard`);
      expect(held).not.toContain('Nothing was deleted');
      expect(held).toContain('The run made only the 5 deletion(s) approved before it; these 5 were not made.');
    } finally {
      await s.syncline('stop', id, '--wait');
    }
  });

  test('an approval whose run fails stands: the next run deletes the approved keys, the command says so', async () => {
    const id = uniqueName('heldfail');
    await s.db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
    // The model fails (division by zero) while the control table says 0.
    await s.db.query(`CREATE TABLE public.${id}_ctl (ok int)`);
    await s.db.query(`INSERT INTO public.${id}_ctl VALUES (1)`);
    const doc = {
      ...(mirrorDoc(id) as object),
      source: { sql: `SELECT t.id, t.name FROM public.${id} t, public.${id}_ctl c WHERE 1 / c.ok = 1`, key: 'id' },
    };
    const file = path.join(s.dir, `${id}.json`);
    fs.writeFileSync(file, JSON.stringify(doc));
    expect((await s.syncline('activation', 'start', '--file', file)).code).toBe(0);
    try {
      expect((await s.syncline('sync', id)).code).toBe(0);
      await s.db.query(`DELETE FROM public.${id} WHERE id > 15`); // 5 of 20: over the 10% guard
      expect((await s.syncline('sync', id)).code).toBe(3);

      await s.db.query(`UPDATE public.${id}_ctl SET ok = 0`);
      const approved = await s.syncline('approve-deletes', id, '--run', '2');
      expect(await destinationKeys(id)).toBe(20);
      // Approving again is refused, and the refusal says that the approval stands and what runs it.
      const again = await s.syncline('approve-deletes', id, '--run', '2');
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(
        `has no deletions waiting for approval: the approval given before run 3 stands, as that run failed; the next run deletes the approved keys still gone from the model ("syncline sync ${id}" runs it now)`,
      );

      // The model fixed, the next run deletes them: the approval was not lost with the failed run.
      await s.db.query(`UPDATE public.${id}_ctl SET ok = 1`);
      const next = await s.syncline('sync', id);
      expect({ code: next.code, first: next.stdout.split('\n')[0] }).toMatchObject({ code: 0 });
      expect(await destinationKeys(id)).toBe(15);
      const held = await s.db.query(`SELECT count(*) AS n FROM syncline.held_deletes WHERE activation_id = $1`, [id]);
      expect(Number(held.rows[0].n)).toBe(0);
      expect(approved.stdout.split('\n')[0]).toBe(
        `5 deletion(s) approved; run 3 deleted 0 and failed; the approval stands: the next run deletes the approved keys still gone from the model ("syncline sync ${id}" runs it now)`,
      );
    } finally {
      await s.syncline('stop', id, '--wait');
    }
  });

  test('deletions held before a stop can be approved once the activation is started again', async () => {
    const id = uniqueName('heldstop');
    await startMirror(id, 20);
    try {
      await s.db.query(`DELETE FROM public.${id} WHERE id > 15`); // 5 of 20: over the 10% guard
      expect((await s.syncline('sync', id)).code).toBe(3);
      expect((await s.syncline('stop', id, '--wait')).code).toBe(0);
      expect((await s.syncline('activation', 'start', '--file', path.join(s.dir, `${id}.json`))).code).toBe(0);
      const status = JSON.parse((await s.syncline('status', id, '--json')).stdout) as {
        heldDeletes: unknown;
        warnings: Array<{ code: string; message: string }>;
      };
      // What the started activation shows, and what its DELETES_HELD tells to run, must agree.
      const approved = await s.syncline('approve-deletes', id, '--run', '2');
      expect({ stderr: approved.stderr, first: approved.stdout.split('\n')[0], code: approved.code }).toEqual({
        stderr: '',
        first: '5 deletion(s) approved; run 3 deleted 5',
        code: 0,
      });
      expect(status.heldDeletes).toEqual({ run: 2, count: 5 });
      expect(await destinationKeys(id)).toBe(15);
    } finally {
      await s.syncline('stop', id, '--wait');
    }
  });
});
