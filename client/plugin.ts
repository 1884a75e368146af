/**
 * syncline as a Temporal plugin (@temporalio/plugin SimplePlugin): its workflows, activities and data
 * converter (with the payload codec, when SYNCLINE_CODEC_KEYS or _FILE is set), and for workers the Worker
 * Versioning options (SYNCLINE_DEPLOYMENT_NAME and SYNCLINE_BUILD_ID), in one line for a team's own worker and client:
 *
 *   const worker = await Worker.create({ connection, taskQueue: 'syncline', plugins: [synclinePlugin({ databaseUrl })] });
 *   const client = new Client({ connection, plugins: [synclinePlugin({ databaseUrl })] });
 */
import { SimplePlugin } from '@temporalio/plugin';
import { Context } from '@temporalio/activity';
import type { BundleOptions, WorkerOptions, WorkflowBundleOption } from '@temporalio/worker';
import { PRELOADED_WORKFLOW_MODULES, WORKFLOW_INTERCEPTOR_MODULES } from './workflow-bundle';
import { createActivities } from '../activities';
import type { SynclineDeps } from '../activities/deps';
import { PostgresLimits } from '../activities/destination-limits';
import { createDb, createPool, databaseWhere } from '../db/connect';
import { migrateToLatest } from '../db/migrate';
import { postgresMayRecover, startWaitSeconds, StartWaitError, untilReachable } from './start-wait';
import { createConnectionResolver, type ConnectionMap } from '../connectors/connections';
import { builtInConnectors } from '../connectors/registry';
import type { DestinationConnector } from '../connectors/types';
import type { PayloadCodec, WorkerDeploymentVersion } from '@temporalio/common';
import { codecFromEnvironment, withCodec } from './codec';
import { deploymentFromEnvironment, workerDeploymentOptions } from './deployment';
import { runHistoryDays } from '../db/runs';

/** The worker's state database could not be reached (or migrated) as it started: the message says where. */
export class StateDatabaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateDatabaseError';
  }
}

/** A worker asked to stop (SIGINT, SIGTERM) before it polled Temporal: nothing was started, nothing is wrong. */
export class WorkerStoppedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerStoppedError';
  }
}

export { databaseWhere } from '../db/connect';

export interface SynclinePluginOptions {
  /** Postgres that holds syncline's state (and, as connection "default", models in the same database). */
  databaseUrl: string;
  /** Extra destinations (e.g. a test destination); the built-in ones are always there. */
  connectors?: DestinationConnector<any>[];
  /** Named connections given in code; they win over environment variables and the secrets file. */
  connections?: ConnectionMap;
  /** Apply pending migrations when the worker starts (default true). */
  migrate?: boolean;
  /** Postgres pool size for activities (default 10). */
  poolSize?: number;
  /** A prebuilt workflow bundle (tests, replay) instead of bundling workflows/ at worker start. */
  workflowBundle?: WorkflowBundleOption;
  /**
   * Encrypts every payload (client/codec.ts). Default: the codec SYNCLINE_CODEC_KEYS or SYNCLINE_CODEC_KEYS_FILE
   * configure, none when both are unset; null turns it off. A set but unusable variable throws here.
   */
  codec?: PayloadCodec | null;
  /**
   * Worker Versioning (client/deployment.ts): the worker serves this deployment version only. Default: the
   * version SYNCLINE_DEPLOYMENT_NAME and SYNCLINE_BUILD_ID name, none when both are unset; null turns it
   * off. Workers only: a client ignores it.
   */
  deployment?: WorkerDeploymentVersion | null;
  /**
   * Seconds a starting worker waits for a state database it cannot reach yet (client/start-wait.ts).
   * Default: SYNCLINE_START_WAIT_SECONDS, else 120; 0 stops it at once. Only with `migrate`.
   */
  startWaitSeconds?: number;
}

/** SimplePlugin takes no worker deployment options: this adds them to the worker's (unless it sets its own). */
class SynclinePlugin extends SimplePlugin {
  constructor(
    options: ConstructorParameters<typeof SimplePlugin>[0],
    private readonly deployment: WorkerDeploymentVersion | null,
  ) {
    super(options);
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    if (!this.deployment || configured.workerDeploymentOptions) return configured;
    return { ...configured, workerDeploymentOptions: workerDeploymentOptions(this.deployment) };
  }

  /** A worker that bundles workflows/ at start shares zod between executions as the production bundle does. */
  override configureBundler(options: BundleOptions): BundleOptions {
    const configured = super.configureBundler(options);
    return { ...configured, preloadModules: [...new Set([...(configured.preloadModules ?? []), ...PRELOADED_WORKFLOW_MODULES])] };
  }
}

/**
 * Connections of the destination limits' own pool (docs/limits.md). Its queries are short (lease, release,
 * count) and a worker sends at most one lease query per org at a time, so a few are enough.
 */
const LIMITS_POOL_SIZE = 3;
/** A limits query that cannot get a connection fails (its request is retried) instead of waiting forever. */
const LIMITS_CONNECT_TIMEOUT_MS = 10_000;

export interface WorkerDeps {
  deps: SynclineDeps;
  /** Ends the worker's Postgres pools (at shutdown, once its activities are done). */
  close(): Promise<void>;
}

/**
 * The activities' dependencies as the worker builds them. The destination limits lease their slots
 * through a pool of their own: an activity may hold a connection of the activities' pool while one of its
 * requests waits for a slot (a Bulk results recorder keeps its transaction open while it downloads the
 * results). On one shared pool, as many such activities as connections would leave no connection to lease
 * or release a slot with, and the worker would stop for good.
 */
export function createWorkerDeps(opts: SynclinePluginOptions): WorkerDeps {
  const connectors = new Map([...builtInConnectors(), ...(opts.connectors ?? [])].map((c) => [c.kind, c]));
  const pool = createPool(opts.databaseUrl, opts.poolSize ?? 10);
  const limitsPool = createPool(opts.databaseUrl, LIMITS_POOL_SIZE, {
    application_name: 'syncline-limits',
    connectionTimeoutMillis: LIMITS_CONNECT_TIMEOUT_MS,
  });
  const limits = new PostgresLimits(createDb(limitsPool));
  const deps: SynclineDeps = {
    pool,
    db: createDb(pool),
    limits,
    stateDbUrl: opts.databaseUrl,
    connectors,
    resolveConnection: createConnectionResolver({ stateDbUrl: opts.databaseUrl, overrides: opts.connections }),
    client: () => Context.current().client,
  };
  return {
    deps,
    close: async () => {
      limits.close();
      try {
        await pool.end();
      } finally {
        await limitsPool.end();
      }
    },
  };
}

// Defined with the other names; re-exported for the worker and a team's own code that import it from here.
export { TASK_QUEUE } from '../common/names';

export function synclinePlugin(opts: SynclinePluginOptions): SimplePlugin {
  let worker: WorkerDeps | undefined;
  const codec = opts.codec === undefined ? codecFromEnvironment() : opts.codec;
  const deployment = opts.deployment === undefined ? deploymentFromEnvironment() : opts.deployment;
  return new SynclinePlugin(
    {
      name: 'syncline',
      // Worker and client alike: what one encrypts, the other must read (the worker's activities use its client too).
      ...(codec ? { dataConverter: (existing) => withCodec(existing, codec)! } : {}),
      ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
      // Bundled in by a worker that bundles workflows/ at start (a prebuilt bundle holds them: WORKFLOW_INTERCEPTOR_MODULES).
      workerInterceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES },
      activities: (existing) => {
        // Each commit reads the retentions: a value that cannot be used fails the worker's creation, not every commit.
        runHistoryDays();
        worker ??= createWorkerDeps(opts);
        const activities = createActivities(worker.deps);
        return { ...(existing ?? {}), ...activities };
      },
      runContext: async (next) => {
        if (opts.migrate !== false) await migrateWhenReachable(opts);
        try {
          await next();
        } finally {
          await worker?.close();
          worker = undefined;
        }
      },
    },
    deployment,
  );
}

/**
 * The migrations, once the state database answers: a worker started while Postgres is down (restarting,
 * failing over) waits for it, saying so, for up to the configured seconds (client/start-wait.ts); the
 * worker polls Temporal only after this. A refusal no wait can mend, or the end of the wait, stops the
 * worker with an error naming where it looked. worker.ts calls it itself, before its ready line, and gives
 * the plugin `migrate: false`.
 */
export async function migrateWhenReachable(
  opts: Pick<SynclinePluginOptions, 'databaseUrl' | 'startWaitSeconds'> & { logger?: StartLog },
): Promise<void> {
  const where = databaseWhere(opts.databaseUrl);
  // A newer release migrated it (a rolling deploy, a rollback): its migrations only add, so this release runs on it.
  const onNewer = (log: StartLog) => (names: string[]) =>
    log.warn(
      `the state database at ${where} has migrations of a newer release (${names.join(', ')}): this worker runs on it as it is (README, "Rolling deploy")`,
    );
  await whileStarting((log) => migrateToLatest(opts.databaseUrl, { onNewer: onNewer(log) }), {
    what: `the state database at ${where}`,
    mayRecover: postgresMayRecover,
    waitSeconds: opts.startWaitSeconds ?? startWaitSeconds(),
    logger: opts.logger,
    check: 'check DATABASE_URL and that PostgreSQL is up and lets this user create the syncline schemas',
    failed: (message, cause) => new StateDatabaseError(message, { cause }),
  });
}

/** Where a starting worker's wait writes its lines. */
export interface StartLog {
  warn(message: string): void;
  info(message: string): void;
}

/**
 * `attempt` until it succeeds, waiting up to `waitSeconds` while its refusals may recover
 * (client/start-wait.ts), logged on `logger` or the worker's runtime (the attempt gets the same log). The runtime does not hand SIGINT/SIGTERM to a
 * worker until it polls: until then a stop ends the wait (WorkerStoppedError, nothing started). A refusal
 * that may not recover, or the end of the wait, throws `failed(message, last refusal)`.
 */
export async function whileStarting<T>(
  attempt: (log: StartLog) => Promise<T>,
  opts: {
    what: string;
    mayRecover: (err: unknown) => boolean;
    waitSeconds: number;
    /** What to check, said after what was refused. */
    check: string;
    /** The error to stop the worker with, given its message ("cannot reach …") and the last refusal. */
    failed: (message: string, cause: unknown) => Error;
    /**
     * Where the wait's lines go; default the runtime's logger. worker.ts gives its own: the runtime's
     * buffers lines with the SDK core's and was seen holding them back after a failed Temporal connection.
     */
    logger?: StartLog;
  },
): Promise<T> {
  // Loaded here, on the worker: a client that uses this plugin does not load the worker's native runtime.
  const { Runtime } = await import('@temporalio/worker');
  const runtime = Runtime.instance();
  const to = opts.logger ?? runtime.logger;
  const log = { warn: (m: string) => to.warn(m), info: (m: string) => to.info(m) };
  const stop = new AbortController();
  const onStop = () => stop.abort();
  runtime.registerShutdownSignalCallback(onStop);
  try {
    return await untilReachable(() => attempt(log), {
      what: opts.what,
      mayRecover: opts.mayRecover,
      waitSeconds: opts.waitSeconds,
      log,
      signal: stop.signal,
    });
  } catch (err) {
    if (err instanceof StartWaitError && err.stopped)
      throw new WorkerStoppedError(`stopped while waiting for ${opts.what}; the worker started nothing`);
    const waited = err instanceof StartWaitError ? err.waitedSeconds : 0;
    throw opts.failed(
      `cannot reach ${opts.what} (${(err as Error).message})` +
        (waited > 0 ? ` after waiting ${waited} s (SYNCLINE_START_WAIT_SECONDS)` : '') +
        `: ${opts.check}; the worker started nothing`,
      err,
    );
  } finally {
    runtime.deregisterShutdownSignalCallback(onStop);
  }
}
