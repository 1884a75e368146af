/**
 * Mirror while the model has rows without a key: the keys those rows had look removed from the model, yet
 * the rows may still be there (a LEFT JOIN gone wrong nulls the key column). Nothing the user did not remove
 * is deleted: the deletion guard holds every deletion of such a run, under its threshold too, until the user
 * fixes the model or approves them (`approveDeletes`), as for any held deletion.
 *
 *   npx jest --selectProjects integration --testPathPatterns mirror-null-key
 */
import { uniqueName } from '../support/harness';
import { salesforceStage } from '../support/salesforce-stage';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { approveDeletesUpdate } from '../../workflows/messages';
import { formatPlan } from '../../client/cli-run';

const stage = salesforceStage('tq_sfnullkey');
const { contacts: live, sync } = stage;

test('rows whose key became NULL: their records are not deleted; the deletions are held until approved', async () => {
  const rows = 20;
  const id = uniqueName('sf_nullkey');
  const prefix = id.toUpperCase();
  const table = `public.${id}`;
  await stage.db.query(`CREATE TABLE ${table} (g int, id text, last_name text)`);
  await stage.db.query(`INSERT INTO ${table} SELECT g, '${prefix}-' || g, 'Last ' || g FROM generate_series(1, ${rows}) g`);
  const config = {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT id, last_name FROM ${table}`, key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'last_name', to: 'LastName' },
    ],
  };
  const handle = await stage.client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: stage.taskQueue,
    workflowId: activationWorkflowId(id),
    args: [{ config }],
  });
  try {
    expect((await sync(id)).status).toBe('success');
    expect(await live(prefix)).toHaveLength(rows);

    // A model bug: 2 synced rows lose their key (2 of 20: within the guard's 10%, which would let them go).
    await stage.db.query(`UPDATE ${table} SET id = NULL WHERE g IN (1, 2)`);
    const r2 = await sync(id);
    expect(r2.rejected).toBe(2);
    expect(r2.heldDeletes).toBe(2);
    expect(r2.ops.delete).toMatchObject({ held: 2, succeeded: 0 });
    expect(await live(prefix)).toHaveLength(rows);
    const held = r2.warnings.find((w) => w.code === 'DELETES_HELD');
    expect(held?.level).toBe('critical');
    expect(held?.message).toContain(`activation "${id}" run ${r2.runNumber}: 2 deletions held`);
    expect(held?.message).toContain('2 model rows have no key (column "id")');
    expect(held?.message).toContain('the removed keys may be theirs');
    expect(held?.message).toContain(`syncline approve-deletes ${id} --run ${r2.runNumber}`);
    const stored = await stage.db.query(`SELECT count(*) AS n FROM syncline.held_deletes WHERE activation_id = $1`, [id]);
    expect(Number(stored.rows[0].n)).toBe(2);

    // A plan computed now says why as well (and, as any plan, leaves the held deletions to run 2).
    const plan = await stage.syncline.plan(id);
    expect(plan.counts).toMatchObject({ heldDeletes: 2, nullKeyRows: 2 });
    const text = formatPlan(plan);
    expect(text).toContain('2 deletion(s) are held by the deletion guard: 2 model rows have no key, so the removed keys may be theirs');
    expect(text).not.toContain('nullKeyRows');

    // The user checked: those keys are gone indeed. Approved, the next run deletes them (the rows without a key stay listed).
    const approved = await handle.executeUpdate(approveDeletesUpdate, { args: [{ run: r2.runNumber }] });
    expect(approved.approved).toBe(2);
    expect(approved.run.ops.delete).toMatchObject({ succeeded: 2, failed: 0 });
    expect(approved.run.heldDeletes).toBe(0);
    const left = await live(prefix);
    expect(left).toHaveLength(rows - 2);
    expect(left.map((r) => r.External_Id__c)).not.toContain(`${prefix}-1`);
  } finally {
    await handle.terminate().catch(() => undefined);
  }
});
