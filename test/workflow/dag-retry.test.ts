/**
 * What a retried task does on a real Temporal dev server and real Postgres: a sql task whose statement committed
 * but whose answer never reached Temporal (the worker died after the commit) runs its statement again. A task
 * runs at least once, not exactly once (docs/dag.md "Retries run a task again"): an INSERT ... SELECT doubles its
 * rows, the delete-then-insert form the docs give for a data interval does not.
 */
import { ApplicationFailure } from '@temporalio/common';
import { startDagStage, type DagActivities, type DagStage } from '../support/dag-stage';
import { dagWorkflow } from '../../workflows/dag-workflow';

let stage: DagStage;

beforeAll(async () => {
  stage = await startDagStage('dag-retry', {
    setupSql: `DROP SCHEMA IF EXISTS retry_test CASCADE; CREATE SCHEMA retry_test;
      CREATE TABLE retry_test.daily (form text, at timestamptz, n int)`,
    // The first attempt of a statement marked "lose-first-answer" commits, then its answer is lost.
    activities: (real: DagActivities) => {
      const lost = new Set<string>();
      return {
        ...real,
        async runSql(input: Parameters<typeof real.runSql>[0]) {
          const result = await real.runSql(input);
          if (input.statement.includes('lose-first-answer') && !lost.has(input.statement)) {
            lost.add(input.statement);
            throw ApplicationFailure.retryable('the worker died after the commit', 'WORKER_LOST');
          }
          return result;
        },
      };
    },
  });
});

afterAll(() => stage?.stop());

test('a sql task retried after its commit runs its statement again: INSERT ... SELECT doubles, delete-then-insert does not', async () => {
  const interval = `'2026-12-05T00:00:00Z'::timestamptz`;
  const rows = (form: string) => `SELECT '${form}', ${interval} + g * interval '1 hour', g FROM generate_series(1, 3) g`;
  const result = await stage.client.workflow.execute(dagWorkflow, {
    taskQueue: stage.taskQueue,
    workflowId: `dag/retry/${process.pid}`,
    args: [
      {
        id: 'retry',
        tasks: [
          {
            id: 'naive',
            kind: 'sql',
            retry: { initialIntervalSeconds: 0.1 },
            input: { statement: `INSERT INTO retry_test.daily ${rows('naive')} /* lose-first-answer */` },
          },
          {
            id: 'idempotent',
            kind: 'sql',
            retry: { initialIntervalSeconds: 0.1 },
            input: {
              // docs/dag.md: one statement that deletes the interval's rows and inserts them again.
              statement: `WITH gone AS (DELETE FROM retry_test.daily WHERE form = 'idempotent' AND at >= ${interval} AND at < ${interval} + interval '1 day')
                INSERT INTO retry_test.daily ${rows('idempotent')} /* lose-first-answer */`,
            },
          },
        ],
      },
    ],
  });
  expect(Object.values(result.tasks).map((t) => [t.id, t.state, t.tries])).toEqual([
    ['naive', 'success', 1],
    ['idempotent', 'success', 1],
  ]);
  const counts = await stage.db.query('SELECT form, count(*)::int AS n FROM retry_test.daily GROUP BY form ORDER BY form');
  expect(counts.rows).toEqual([
    { form: 'idempotent', n: 3 },
    { form: 'naive', n: 6 },
  ]);
});
