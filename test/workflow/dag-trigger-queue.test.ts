/**
 * `syncline dag trigger` runs the deployed DAG where its schedule runs it: on the task queue it was deployed
 * with, not on the one the triggering shell happens to name (SYNCLINE_TASK_QUEUE unset on an on-call laptop
 * sends it to "syncline", where no worker of that DAG may poll). Real dev server; no worker is needed: the
 * run is only started, looked at and terminated.
 */
import { Client, Connection } from '@temporalio/client';
import { DagSchedules, dagScheduleId } from '../../client/dags';

let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

test('a manual trigger starts the run on the task queue the DAG was deployed with', async () => {
  const id = `trigger-queue-${process.pid}`;
  const deployedOn = `dag-deployed-${process.pid}`;
  await new DagSchedules(client, deployedOn).deploy({
    id,
    schedule: { cron: '0 2 * * *', paused: true },
    tasks: [{ id: 'noop', kind: 'sql', input: { statement: 'SELECT 1' } }],
  });
  try {
    const { workflowId } = await new DagSchedules(client, 'syncline-elsewhere').trigger(id);
    const handle = client.workflow.getHandle(workflowId);
    expect((await handle.describe()).taskQueue).toBe(deployedOn);
    await handle.terminate('test over');
  } finally {
    await client.schedule.getHandle(dagScheduleId(id)).delete();
  }
});
