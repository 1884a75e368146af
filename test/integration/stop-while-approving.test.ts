/**
 * A stop signal that arrives while an approveDeletes handler still records the approval (its activity under
 * way): the activation must end as the stop says, and the approval's caller must be answered, not left
 * waiting for a run that a stopped activation never serves.
 */
import type { Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { activationWorkflowId, WORKFLOW_TYPES } from '../../common/names';
import { approveDeletesUpdate, statusQuery, stopSignal, triggerSyncUpdate } from '../../workflows/messages';
import { WorkflowUpdateStage } from '@temporalio/client';

const TQ = uniqueName('tq_stopapprove');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
let slowApproval = false;

/** approveHeldDeletes takes 6 s while `slowApproval`: the stop arrives while the approval is being recorded. */
const slow: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      if (ctx.info.activityType === 'approveHeldDeletes' && slowApproval) await new Promise((r) => setTimeout(r, 6000));
      return next(input);
    },
  },
});

beforeAll(async () => {
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, activityInterceptors: [slow] }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

test('a stop while an approval is recorded: the activation ends and the approval is answered', async () => {
  const id = uniqueName('stopapprove');
  const wid = activationWorkflowId(id);
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name FROM generate_series(1, 20) g`);
  const config = {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: wid, args: [{ config }] });
  const h = client.workflow.getHandle(wid);
  await h.executeUpdate(triggerSyncUpdate, { args: [{}] });
  await db.query(`DELETE FROM public.${id} WHERE id > 15`); // 5 of 20: over the 10% guard
  const held = await h.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(held.heldDeletes).toBe(5);

  slowApproval = true;
  const approval = await h.startUpdate(approveDeletesUpdate, {
    args: [{ run: held.runNumber }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await h.signal(stopSignal, { reason: 'stopped while an approval is recorded' });
  const answered = await Promise.race([
    approval.result().then(
      (r) => ({ ok: r }),
      (err: Error) => ({ error: String((err.cause as Error | undefined)?.message ?? err.message) }),
    ),
    new Promise<'unanswered'>((r) => setTimeout(() => r('unanswered'), 30_000)),
  ]);
  slowApproval = false;
  const status = (await h.describe()).status.name;
  expect({ answered, status }).toEqual({
    answered: {
      error: expect.stringContaining(
        `The approval of the 5 deletion(s) held by run ${held.runNumber} is recorded: the first run after the activation is started again deletes those still gone from the model`,
      ),
    },
    status: 'COMPLETED',
  });
  expect((answered as { error: string }).error).toContain(`activation "${id}" was stopped (stopped while an approval is recorded)`);
  const records = async () => Number((await db.query(`SELECT count(*) AS n FROM test_dest.records WHERE object = $1`, [id])).rows[0].n);
  // Nothing was deleted: the stopped activation ran no run for the approval.
  expect(await records()).toBe(20);

  // As the answer says: started again, its first run deletes the approved keys.
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: wid, args: [{ config }] });
  await waitFor('the activation idle', async () => (await h.query(statusQuery)).state === 'idle', 30_000);
  const next = await h.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(next.ops.delete).toMatchObject({ succeeded: 5 });
  expect(await records()).toBe(15);
  await h.signal(stopSignal, { reason: 'test done' });
});
