/**
 * The one composition root: Postgres (DATABASE_URL or embedded), a Temporal connection
 * (TEMPORAL_ADDRESS, default localhost:7233), and a worker carrying the syncline plugin; metrics for
 * Prometheus (SYNCLINE_METRICS_ADDRESS), encrypted payloads (SYNCLINE_CODEC_KEYS or _FILE) and Worker
 * Versioning (SYNCLINE_DEPLOYMENT_NAME and SYNCLINE_BUILD_ID) when configured; logs as text on stderr, or
 * JSON lines on stdout (SYNCLINE_LOG_FORMAT=json, client/logging.ts).
 * SIGINT / SIGTERM drain in-flight activities, then close the pool and the embedded Postgres.
 *
 * Production: `npm run build && npm start` runs the compiled dist/worker.js on the workflow bundle that
 * the build writes beside it (dist/workflow-bundle.js). `npm run worker` runs this file under tsx and
 * bundles workflows/ at start: handy in development, but measured ready at 369 MB (418 MB peak while
 * webpack runs) against 146 MB for `npm start`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Runtime, Worker, type RuntimeOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { loggingFromEnvironment, LoggingConfigError, runtimeLogging } from './client/logging';
import { migrateWhenReachable, StateDatabaseError, synclinePlugin, TASK_QUEUE, whileStarting, WorkerStoppedError } from './client/plugin';
import { codecFromEnvironment, CodecConfigError, type AesGcmCodec } from './client/codec';
import { deploymentFromEnvironment, DeploymentConfigError } from './client/deployment';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { HISTOGRAM_BUCKETS } from './common/metrics';
import { startPostgres } from './scripts/services/postgres';
import { rowLogDays } from './db/row-changes';
import { runHistoryDays } from './db/runs';
import { poolLeaseMs } from './db/dag-pools';
import { startWaitSeconds, temporalMayRecover } from './client/start-wait';

/**
 * Where syncline keeps its state. The production worker never invents a database: without DATABASE_URL it
 * stops and says so. `--embedded-postgres` (what `npm run worker` passes) starts the embedded, durable
 * Postgres under .data/pg for a try-out on one machine.
 */
export function stateDatabaseChoice(argv: string[], env: NodeJS.ProcessEnv): 'url' | 'embedded' | null {
  if (env.DATABASE_URL) return 'url';
  return argv.includes('--embedded-postgres') ? 'embedded' : null;
}

export const NO_DATABASE_MESSAGE = [
  "syncline worker: DATABASE_URL is not set, so there is no database to keep syncline's state in.",
  '  Set it to a PostgreSQL 14+ database, e.g. DATABASE_URL=postgres://syncline:secret@db.internal:5432/syncline npm start',
  '  (the worker creates its schemas there). To try syncline on this machine instead, run `npm run worker`',
  '  or `npm start -- --embedded-postgres`: an embedded Postgres keeps the state in .data/pg.',
].join('\n');

/**
 * How many workflow executions the worker keeps in memory between their tasks (SYNCLINE_MAX_CACHED_WORKFLOWS).
 * The SDK's default grows with the heap limit (about 2,300 on a 4 GB heap): a fleet of 1,000 activations, each
 * asleep between runs, held 2.1 GB when each cached execution cost one to two MB. Since zod and the zod
 * schemas are shared by all executions (client/workflow-bundle.ts) one costs under 1 MB of resident memory
 * (docs/benchmarks.md, Fleet). An execution pushed out of the cache is replayed from its history when its
 * timer fires, which costs CPU, not correctness.
 */
export class WorkerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerConfigError';
  }
}

export const DEFAULT_MAX_CACHED_WORKFLOWS = 250;

export function workerCacheSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SYNCLINE_MAX_CACHED_WORKFLOWS?.trim();
  if (!raw) return DEFAULT_MAX_CACHED_WORKFLOWS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n === 1)
    throw new WorkerConfigError(
      `SYNCLINE_MAX_CACHED_WORKFLOWS="${raw}" is not a cache size: give 0 (no cache: every workflow task replays its history) or a whole number of at least 2, e.g. 250`,
    );
  return n;
}

/**
 * How many activities the worker runs at once (SYNCLINE_MAX_CONCURRENT_ACTIVITIES; unset: the SDK's
 * default, 100). Lower it to bound what one worker process takes on (memory of Bulk files under way, CPU,
 * connections to the state database); raise the worker count to go faster. Local activities (a small
 * run's quick steps) have slots of their own.
 */
export function workerActivitySlots(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.SYNCLINE_MAX_CONCURRENT_ACTIVITIES?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new WorkerConfigError(
      `SYNCLINE_MAX_CONCURRENT_ACTIVITIES="${raw}" is not a number of activities: give a whole number of at least 1, e.g. 20, or leave it unset for 100`,
    );
  return n;
}

/**
 * How long the row log and the run records are kept (SYNCLINE_ROW_LOG_DAYS, SYNCLINE_RUN_HISTORY_DAYS;
 * db/row-changes.ts, db/runs.ts), checked before the worker starts: each commit reads them, and a value
 * that cannot be used would fail every commit.
 */
export function workerRetention(env: NodeJS.ProcessEnv = process.env): { rowLogDays: number; runHistoryDays: number } {
  try {
    return { rowLogDays: rowLogDays(env), runHistoryDays: runHistoryDays(env) };
  } catch (err) {
    throw new WorkerConfigError((err as Error).message);
  }
}

/** SYNCLINE_DAG_POOL_LEASE_SECONDS (db/dag-pools.ts), checked before the worker starts: each pool slot acquire reads it. */
export function workerPoolLease(env: NodeJS.ProcessEnv = process.env): number {
  try {
    return poolLeaseMs(env);
  } catch (err) {
    throw new WorkerConfigError((err as Error).message);
  }
}

/** SYNCLINE_START_WAIT_SECONDS (client/start-wait.ts), checked before the worker starts. */
export function workerStartWait(env: NodeJS.ProcessEnv = process.env): number {
  try {
    return startWaitSeconds(env);
  } catch (err) {
    throw new WorkerConfigError((err as Error).message);
  }
}

/** Temporal's frontend could not be reached at start (after the wait, or with a refusal no wait mends). */
export class TemporalUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemporalUnreachableError';
  }
}

/** A telemetry setting that cannot be used: the message names the variable. */
export class TelemetryConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TelemetryConfigError';
  }
}

/**
 * The SDK Runtime's options from the environment: the logs (SYNCLINE_LOG_FORMAT, SYNCLINE_LOG_LEVEL;
 * client/logging.ts) and, when SYNCLINE_METRICS_ADDRESS (host:port, e.g. 0.0.0.0:9464) is set, the SDK's
 * runtime metrics and syncline's own (common/metrics.ts) for Prometheus at /metrics. Throws, naming the
 * variable, before anything is installed.
 */
export function runtimeOptions(env: NodeJS.ProcessEnv = process.env): { options: RuntimeOptions; metrics: string | null } {
  const { logger, logging } = runtimeLogging(loggingFromEnvironment(env));
  const address = env.SYNCLINE_METRICS_ADDRESS?.trim() || null;
  if (address && !/^[^\s:]*:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
    throw new TelemetryConfigError(
      `SYNCLINE_METRICS_ADDRESS is "${address}": write host:port, e.g. 0.0.0.0:9464 (or leave it unset to export no metrics)`,
    );
  }
  const metrics = address ? { prometheus: { bindAddress: address, histogramBucketOverrides: HISTOGRAM_BUCKETS } } : undefined;
  return { options: { logger, telemetryOptions: { logging, ...(metrics ? { metrics } : {}) } }, metrics: address };
}

/**
 * Installs the SDK's Runtime with runtimeOptions(): once per process, before any connection or worker, so
 * call this first. Returns the metrics address, or null.
 */
export function installTelemetry(env: NodeJS.ProcessEnv = process.env): string | null {
  const { options, metrics } = runtimeOptions(env);
  Runtime.install(options);
  return metrics;
}

export async function runWorker(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (stateDatabaseChoice(argv, process.env) === null) {
    console.error(NO_DATABASE_MESSAGE);
    process.exitCode = 2;
    return;
  }
  let codec: AesGcmCodec | null;
  let deployment: WorkerDeploymentVersion | null;
  let metrics: string | null;
  let cacheSize: number;
  let activitySlots: number | undefined;
  let startWait: number;
  try {
    // Before anything starts: a worker asked to encrypt must not run, and write readable payloads, without its keys.
    codec = codecFromEnvironment();
    // Nor should half a deployment version make an unversioned worker take another version's tasks.
    deployment = deploymentFromEnvironment();
    cacheSize = workerCacheSize();
    activitySlots = workerActivitySlots();
    workerRetention();
    workerPoolLease();
    startWait = workerStartWait();
    // Last: once the SDK's runtime is installed its threads keep the process alive, so a setting refused
    // after it would leave a worker that said why but never exited.
    metrics = installTelemetry();
  } catch (err) {
    if (
      !(err instanceof CodecConfigError) &&
      !(err instanceof DeploymentConfigError) &&
      !(err instanceof LoggingConfigError) &&
      !(err instanceof TelemetryConfigError) &&
      !(err instanceof WorkerConfigError)
    )
      throw err;
    console.error(`syncline worker: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  const log = Runtime.instance().logger;
  const pg = await startPostgres();
  const address = process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  let connection: NativeConnection;
  try {
    // Before the ready line below: scripts take it for a worker that polls, and one still waiting for its
    // state database or for Temporal (up to SYNCLINE_START_WAIT_SECONDS each) does not, and may yet exit 1.
    // The wait's lines straight to the log's output: the runtime's logger held them back while Temporal was refused.
    const logger = runtimeLogging(loggingFromEnvironment()).logger;
    await migrateWhenReachable({ databaseUrl: pg.url, startWaitSeconds: startWait, logger });
    connection = await whileStarting(() => NativeConnection.connect({ address }), {
      logger,
      what: `Temporal at ${address}`,
      mayRecover: temporalMayRecover,
      waitSeconds: startWait,
      check: 'check TEMPORAL_ADDRESS and that the Temporal frontend is up',
      failed: (message, cause) => new TemporalUnreachableError(message, { cause }),
    });
  } catch (err) {
    await pg.stop();
    throw err;
  }
  try {
    const worker = await Worker.create({
      connection,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      taskQueue: process.env.SYNCLINE_TASK_QUEUE ?? TASK_QUEUE,
      plugins: [synclinePlugin({ databaseUrl: pg.url, workflowBundle: prebuiltBundle(), codec, deployment, migrate: false })],
      shutdownGraceTime: '30s',
      maxCachedWorkflows: cacheSize,
      ...(activitySlots === undefined ? {} : { maxConcurrentActivityTaskExecutions: activitySlots }),
    });
    const started = `syncline worker on ${address}, task queue "${worker.options.taskQueue}", state in ${pg.embedded ? 'embedded Postgres' : 'DATABASE_URL'}${metrics ? `, metrics on http://${metrics}/metrics` : ''}${codec ? `, payloads encrypted with key "${codec.currentKeyId}"` : ''}${deployment ? `, deployment "${deployment.deploymentName}" build "${deployment.buildId}"` : ''}`;
    // On stdout in both formats: scripts wait for this line (bench/, the chaos campaign).
    if (loggingFromEnvironment().format === 'json') log.info(started);
    else console.log(started);
    await worker.run();
  } finally {
    // A worker that failed to start may still hold the connection; its own error is the one to show.
    await connection.close().catch(() => undefined);
    await pg.stop();
  }
}

/**
 * SYNCLINE_WORKFLOW_BUNDLE, else the bundle `npm run build` writes next to the compiled worker: with it
 * the worker does not run webpack at start. Under tsx (worker.ts) there is none and workflows/ is bundled.
 */
function prebuiltBundle(): WorkflowBundleOption | undefined {
  if (process.env.SYNCLINE_WORKFLOW_BUNDLE) return { codePath: process.env.SYNCLINE_WORKFLOW_BUNDLE };
  const beside = path.join(__dirname, 'workflow-bundle.js');
  return __filename.endsWith('.js') && fs.existsSync(beside) ? { codePath: beside } : undefined;
}

if (require.main === module) {
  runWorker().catch((err) => {
    const known = err instanceof StateDatabaseError || err instanceof TemporalUnreachableError || err instanceof WorkerStoppedError;
    console.error(known ? `syncline worker: ${err.message}` : err);
    process.exit(err instanceof WorkerStoppedError ? 0 : 1);
  });
}
