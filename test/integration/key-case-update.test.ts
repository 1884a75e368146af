/**
 * Update mode where the destination matches keys without regard to case (a Salesforce External ID that is not
 * case sensitive, the default): two model keys that differ only in case ('K-1' and 'k-1') find one record.
 * Sent both, the second update replaced the first's values on it and rewrote its External ID to 'k-1', both rows
 * counted updated (seen on a branch with the case check switched off). A guard for the rejection of case
 * variants as repeated keys (key-case-duplicates.test.ts covers Mirror and Upsert): neither is sent, both are
 * listed, the other rows are updated.
 *
 *   npx jest --selectProjects integration --testPathPatterns key-case-update
 */
import { uniqueName } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { salesforceStage } from '../support/salesforce-stage';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';

const stage = salesforceStage('tq_sfkeycaseupd');
const { contacts: live, sync } = stage;

test('update: two model keys one record matches are neither sent; the others are updated', async () => {
  const id = uniqueName('sf_keycase_upd');
  const prefix = id.toUpperCase();
  const table = `public.${id}`;
  await emulatorAdmin(stage.emu.url, '/records/Contact', {
    method: 'POST',
    body: JSON.stringify([1, 2, 3].map((g) => ({ External_Id__c: `${prefix}-${g}`, LastName: 'Seeded' }))),
  });
  await stage.db.query(`CREATE TABLE ${table} (id text, last_name text)`);
  await stage.db.query(`INSERT INTO ${table} SELECT '${prefix}-' || g, 'Last ' || g FROM generate_series(1, 3) g`);
  await stage.db.query(`INSERT INTO ${table} VALUES ($1, 'Variant')`, [`${prefix.toLowerCase()}-1`]);
  const config = {
    id,
    mode: 'update',
    schedule: { manual: true },
    source: { table, key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { bulkPollMs: 0 } },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'last_name', to: 'LastName' },
    ],
  };
  await stage.client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: stage.taskQueue,
    workflowId: activationWorkflowId(id),
    args: [{ config }],
  });
  const r1 = await sync(id);
  const recs = new Map((await live(prefix)).map((r) => [String(r.External_Id__c), r.LastName]));
  expect(Object.fromEntries(recs)).toEqual({ [`${prefix}-1`]: 'Seeded', [`${prefix}-2`]: 'Last 2', [`${prefix}-3`]: 'Last 3' });
  expect(r1).toMatchObject({ status: 'partial', rejected: 2 });
  expect(r1.ops.update).toMatchObject({ planned: 2, succeeded: 2, failed: 0 });
  const errors = (
    await stage.db.query<{ key: string; code: string }>(
      `SELECT key, code FROM syncline.row_errors WHERE activation_id = $1 ORDER BY key COLLATE "C"`,
      [id],
    )
  ).rows;
  expect(errors).toEqual([
    { key: `${prefix}-1`, code: 'MODEL_DUPLICATE_KEY' },
    { key: `${prefix.toLowerCase()}-1`, code: 'MODEL_DUPLICATE_KEY' },
  ]);
}, 120_000);
