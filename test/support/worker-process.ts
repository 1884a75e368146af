/**
 * A syncline worker in its own process (crash tests, metrics, benchmarks): env TEMPORAL_ADDRESS, DATABASE_URL,
 * SYNCLINE_TASK_QUEUE, SYNCLINE_CONNECTIONS (JSON), SYNCLINE_WORKFLOW_BUNDLE (optional prebuilt bundle), and
 * SYNCLINE_METRICS_ADDRESS / SYNCLINE_CODEC_KEYS as the production worker reads them. SIGUSR2 stops its
 * polling (Worker.shutdown) and keeps the process, and so its metrics endpoint, up: "WORKER STOPPED".
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { synclinePlugin } from '../../client/plugin';
import { installTelemetry } from '../../worker';
import { testdbConnector } from './testdb-connector';

async function main(): Promise<void> {
  // The SDK runtime is per process: this is why the metrics test runs its worker here, not in jest.
  installTelemetry();
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await Worker.create({
    connection,
    taskQueue: process.env.SYNCLINE_TASK_QUEUE!,
    plugins: [
      synclinePlugin({
        databaseUrl: process.env.DATABASE_URL!,
        connectors: [testdbConnector],
        connections: JSON.parse(process.env.SYNCLINE_CONNECTIONS ?? '{}'),
        migrate: false,
        workflowBundle: process.env.SYNCLINE_WORKFLOW_BUNDLE ? { codePath: process.env.SYNCLINE_WORKFLOW_BUNDLE } : undefined,
      }),
    ],
  });
  process.once('SIGUSR2', () => worker.shutdown());
  console.log('WORKER READY');
  await worker.run();
  if (worker.getState() === 'STOPPED' && process.env.SYNCLINE_TEST_KEEP_UP) {
    console.log('WORKER STOPPED');
    setInterval(() => undefined, 60_000);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
