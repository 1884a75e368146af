/**
 * A DAG written with defineDag runs on a real Temporal dev server with real Postgres: its spec is the input
 * dagWorkflow takes, the mapped task gets the rows of the task whose reference it was handed.
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createPool } from '../../db/connect';
import { createDagTaskActivities } from '../../activities/dag-tasks';
import { defineDag } from '../../client/index';
import { dagWorkflow } from '../../workflows/dag-workflow';

test('a built DAG runs: the mapped task inserts one row per row of its upstream, then the last task runs', async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = process.env.TEMPORAL_ADDRESS!;
  const [bundle, native, connection] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows/dag-workflow'), logger: new DefaultLogger('ERROR') }),
    NativeConnection.connect({ address }),
    Connection.connect({ address }),
  ]);
  const client = new Client({ connection });
  const db = createPool(process.env.DATABASE_URL!);
  try {
    await db.query('DROP SCHEMA IF EXISTS builder_test CASCADE; CREATE SCHEMA builder_test; CREATE TABLE builder_test.got (id int)');
    const dag = defineDag('built', { maxParallelism: 2 });
    const ids = dag.sql('ids', { statement: 'SELECT n AS id FROM generate_series(1, 3) n', returnRows: true });
    const load = dag.sql(
      'load',
      { statement: "INSERT INTO builder_test.got VALUES (($1::jsonb->>'id')::int)" },
      { map: ids.field('rows') },
    );
    dag.sql('count', { statement: 'SELECT 1 FROM builder_test.got HAVING count(*) = 3', skipIfNoRows: true }, { after: [load] });

    const activities = createDagTaskActivities({ resolvePg: () => ({ url: process.env.DATABASE_URL! }), client: () => client });
    const taskQueue = `dag-builder-test-${process.pid}`;
    const worker = await Worker.create({ connection: native, taskQueue, workflowBundle: bundle, activities });
    const result = await worker.runUntil(
      client.workflow.execute(dagWorkflow, { taskQueue, workflowId: `dag/built/${process.pid}`, args: [dag.toSpec()] }),
    );
    expect(result.status).toBe('success');
    expect(Object.fromEntries(Object.values(result.tasks).map((t) => [t.id, t.state]))).toEqual({
      ids: 'success',
      load: 'success',
      count: 'success',
    });
    expect(result.tasks.load!.mapped).toHaveLength(3);
    expect((await db.query('SELECT id FROM builder_test.got ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  } finally {
    await Promise.all([db.end(), connection.close(), native.close()]);
  }
});
