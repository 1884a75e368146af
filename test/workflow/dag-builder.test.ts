/**
 * A DAG written with defineDag runs on a real Temporal dev server with real Postgres: its spec is the input
 * dagWorkflow takes, the mapped task gets the rows of the task whose reference it was handed.
 */
import { defineDag } from '../../client/index';
import { dagWorkflow } from '../../workflows/dag-workflow';
import { startDagStage } from '../support/dag-stage';

test('a built DAG runs: the mapped task inserts one row per row of its upstream, then the last task runs', async () => {
  const stage = await startDagStage('dag-builder', {
    setupSql: 'DROP SCHEMA IF EXISTS builder_test CASCADE; CREATE SCHEMA builder_test; CREATE TABLE builder_test.got (id int)',
    worker: false,
  });
  const { client, db, taskQueue } = stage;
  try {
    const dag = defineDag('built', { maxParallelism: 2 });
    const ids = dag.sql('ids', { statement: 'SELECT n AS id FROM generate_series(1, 3) n', returnRows: true });
    const load = dag.sql(
      'load',
      { statement: "INSERT INTO builder_test.got VALUES (($1::jsonb->>'id')::int)" },
      { map: ids.field('rows') },
    );
    dag.sql('count', { statement: 'SELECT 1 FROM builder_test.got HAVING count(*) = 3', skipIfNoRows: true }, { after: [load] });

    const result = await stage.runWorker(
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
    await stage.stop();
  }
});
