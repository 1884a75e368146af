/**
 * The (DAG, logical date) claim of a dated run (syncline.dag_runs, activities/dag-tasks.ts claimDagRun) on real
 * Postgres and a real Temporal dev server (it asks Temporal whether the run holding the date is still open):
 * two runs racing for a date whose holder closed without saying how.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { createDagTaskActivities } from '../../activities/dag-tasks';

let connection: Connection;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection });
  db = createPool(process.env.DATABASE_URL!);
});

afterAll(async () => {
  await Promise.all([db?.end(), connection?.close()]);
});

/** The real client, whose describe of a workflow answers only after `ms` (a slow Temporal, a loaded worker). */
function slowDescribe(ms: number): Client {
  return {
    workflow: {
      getHandle: (workflowId: string, runId?: string) => {
        const handle = client.workflow.getHandle(workflowId, runId);
        return {
          describe: async () => {
            await new Promise((r) => setTimeout(r, ms));
            return handle.describe();
          },
        };
      },
    },
  } as unknown as Client;
}

test('two runs racing for a date whose holder closed unrecorded: one runs it, the other names that run, not the closed one', async () => {
  const dagId = `claim-race-${process.pid}`;
  const logicalDate = '2026-12-05T02:00:00.000Z';
  // What a terminated run leaves: its date still marked running, its workflow gone.
  await db.query(
    `INSERT INTO syncline.dag_runs (dag_id, logical_date, workflow_id, run_id, status, started_at)
     VALUES ($1, $2, $3, $4, 'running', now())`,
    [dagId, logicalDate, `dag/${dagId}/gone`, randomUUID()],
  );
  const stateDb = db;
  const resolvePg = () => ({ url: process.env.DATABASE_URL! });
  const slow = createDagTaskActivities({ resolvePg, client: () => slowDescribe(1500), stateDb });
  const quick = createDagTaskActivities({ resolvePg, client: () => client, stateDb });

  // The run that wins: open (no worker polls its queue), so the loser must find it running.
  const b = await client.workflow.start('dagWorkflow', {
    taskQueue: `nobody-polls-${process.pid}`,
    workflowId: `dag/${dagId}/b`,
    args: [{ id: dagId, tasks: [] }],
  });
  try {
    // The slow one reads the closed holder first, then asks Temporal; the quick one frees the date and claims it meanwhile.
    const first = slow.claimDagRun({ dagId, logicalDate, workflowId: `dag/${dagId}/a`, runId: randomUUID() });
    await new Promise((r) => setTimeout(r, 300));
    const second = await quick.claimDagRun({ dagId, logicalDate, workflowId: b.workflowId, runId: b.firstExecutionRunId });
    expect(second).toEqual({ claimed: true });
    expect(await first).toEqual({ claimed: false, by: { workflowId: b.workflowId, runId: b.firstExecutionRunId, status: 'running' } });
    const held = await db.query('SELECT run_id, status FROM syncline.dag_runs WHERE dag_id = $1', [dagId]);
    expect(held.rows).toEqual([{ run_id: b.firstExecutionRunId, status: 'running' }]);
  } finally {
    await b.terminate('test over');
  }
});
