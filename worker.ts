/**
 * The one composition root: Postgres (DATABASE_URL or embedded), a Temporal connection
 * (TEMPORAL_ADDRESS, default localhost:7233), and a worker carrying the syncline plugin.
 * SIGINT / SIGTERM drain in-flight activities, then close the pool and the embedded Postgres.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { synclinePlugin, TASK_QUEUE } from './client/plugin';
import { startPostgres } from './scripts/services/postgres';

export async function runWorker(): Promise<void> {
  const pg = await startPostgres();
  const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await Worker.create({
      connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', taskQueue: process.env.SYNCLINE_TASK_QUEUE ?? TASK_QUEUE,
      // SYNCLINE_WORKFLOW_BUNDLE: a bundle from `npm run build:workflows`, so the worker does not run webpack at start.
      plugins: [synclinePlugin({ databaseUrl: pg.url, workflowBundle: process.env.SYNCLINE_WORKFLOW_BUNDLE ? { codePath: process.env.SYNCLINE_WORKFLOW_BUNDLE } : undefined })],
      shutdownGraceTime: '30s',
    });
    console.log(`syncline worker on ${address}, task queue "${worker.options.taskQueue}", state in ${pg.embedded ? 'embedded Postgres' : 'DATABASE_URL'}`);
    await worker.run();
  } finally {
    await connection.close();
    await pg.stop();
  }
}

if (require.main === module) {
  runWorker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
