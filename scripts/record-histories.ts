/**
 * `npm run histories:record [-- outDir] [--allow-dirty]`: records a set of workflow histories from the
 * workflow code as it is now, into test/histories/<version>/ (see scripts/histories/set.ts). The replay
 * test (test/replay/histories.test.ts) replays every stored set on the current code: a change that would
 * break executions recorded by this version fails CI.
 *
 * It starts everything itself, on free ports, and needs no internet: a Temporal dev server from the
 * `temporal` CLI, a fresh embedded Postgres (DATABASE_URL is ignored: nothing of a developer's state
 * enters a set), Salesforce emulators (one per fault set), a webhook receiver and a syncline worker
 * on the production workflow bundle. Then it drives real executions along every path of the four
 * workflow types, some of them recorded while still open.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { SynclineClient } from '../client';
import { synclinePlugin, TASK_QUEUE } from '../client/plugin';
import type { ConnectionMap } from '../connectors/connections';
import { createPool } from '../db/connect';
import { migrateToLatest } from '../db/migrate';
import { startSalesforceEmulator, type SalesforceEmulator } from '../emulators/salesforce/server';
import { toFailure } from '../activities/failure';
import { bundleWorkflows } from './bundle-workflows';
import { findTemporalCli, startTemporalDevServer } from './services/temporal';
import { startPostgres } from './services/postgres';
import * as activations from './histories/activation-scenarios';
import * as runs from './histories/run-scenarios';
import * as others from './histories/other-scenarios';
import { Recorder } from './histories/recorder';
import { HISTORIES_ROOT, MANIFEST, WRONG_SECRET, forbiddenIn, setVersion, type Manifest } from './histories/set';
import { sfConnection, type EmulatorName, type Stage } from './histories/stage';

const ROOT = path.resolve(__dirname, '..');
const say = (m: string) => console.log(`[histories] ${m}`);

async function main(): Promise<void> {
  const began = Date.now();
  const args = process.argv.slice(2);
  const { version, commit } = setVersion({ allowDirty: args.includes('--allow-dirty') });
  const dir = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(HISTORIES_ROOT, version));
  if (!findTemporalCli()) throw new Error('no Temporal CLI found (TEMPORAL_CLI, PATH, .data/bin): run "npm run temporal:install" first');
  // Always our own services and defaults: the set must not depend on the developer's environment.
  for (const v of ['DATABASE_URL', 'SYNCLINE_WARNINGS_WORKFLOW_ID', 'SYNCLINE_WARNINGS_WEBHOOK']) delete process.env[v];
  // The failing paths are on purpose: their error lines (undeliverable notices...) are kept to one line each.
  Runtime.install({ logger: new DefaultLogger('ERROR', (e) => console.log(`[worker] ${e.message.slice(0, 200)}`)) });
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.json')) fs.rmSync(path.join(dir, f));

  say(`recording ${version} into ${path.relative(ROOT, dir)}: starting Temporal, Postgres, emulators; bundling workflows/`);
  const pgDir = path.join(ROOT, `.data/pg-histories-${process.pid}`);
  const [temporal, pg, bundle, hook, ...emus] = await Promise.all([
    startTemporalDevServer({ headless: true, quiet: true }),
    startPostgres({ dataDir: pgDir, fresh: true }),
    bundleWorkflows(),
    startHookReceiver(),
    ...(['main', 'bulk', 'stuck', 'reserve', 'exhausted', 'exhaustedSmall', 'reset', 'slow', 'held', 'waits'] as const).map((name) =>
      // bulk: a job takes 2.5 s, so the run polls it on timers at least once; slow: 8 s, a run that writes while documents arrive.
      startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: { bulk: 2500, slow: 8000 }[name as string] ?? 50 }).then(
        (e) => [name, e] as const,
      ),
    ),
  ]);
  const emulators = Object.fromEntries(emus) as Record<EmulatorName, SalesforceEmulator>;
  const native = await NativeConnection.connect({ address: temporal.address });
  const connection = await Connection.connect({ address: temporal.address });
  const sql = createPool(pg.url, 4);
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    await migrateToLatest(pg.url);
    await sql.query('CREATE SCHEMA hist');
    const connections: ConnectionMap = {
      sf: sfConnection(emulators.main),
      'sf-bulk': sfConnection(emulators.bulk),
      'sf-stuck': sfConnection(emulators.stuck),
      'sf-reserve': sfConnection(emulators.reserve),
      'sf-exhausted': sfConnection(emulators.exhausted),
      'sf-exhausted-small': sfConnection(emulators.exhaustedSmall),
      'sf-reset': sfConnection(emulators.reset),
      'sf-slow': sfConnection(emulators.slow),
      'sf-held': sfConnection(emulators.held),
      'sf-waits': sfConnection(emulators.waits),
      'sf-revoked-recheck': sfConnection(emulators.main, WRONG_SECRET),
      'sf-revoked-resume': sfConnection(emulators.main, WRONG_SECRET),
      'sf-revoked-update': sfConnection(emulators.main, WRONG_SECRET),
      'sf-revoked-restart': sfConnection(emulators.main, WRONG_SECRET),
      'sf-revoked-still': sfConnection(emulators.main, WRONG_SECRET),
      'sf-revoked-catchup': sfConnection(emulators.main, WRONG_SECRET),
      // Warning webhooks are named connections: their URLs never enter a document, so never a history.
      hooks: { url: hook.url },
      'hooks-refusing': { url: `${hook.url}?refuse` },
    };
    const refusals = new Set<string>();
    worker = await Worker.create({
      connection: native,
      taskQueue: TASK_QUEUE,
      interceptors: { activity: [refusing(refusals)] },
      // Stored histories stay in clear whatever SYNCLINE_CODEC_KEYS says: the replay test reads them without keys.
      plugins: [synclinePlugin({ databaseUrl: pg.url, connections, migrate: false, workflowBundle: { code: bundle.code }, codec: null })],
    });
    running = worker.run();
    const client = new Client({ connection });
    const rec = new Recorder(client, dir);
    const stage: Stage = {
      rec,
      client,
      sql,
      connections,
      emulators,
      taskQueue: TASK_QUEUE,
      hookUrl: hook.url,
      syncline: new SynclineClient({ client, taskQueue: TASK_QUEUE, databaseUrl: pg.url }),
      refuseNext: (activity, activationId) => void refusals.add(`${activity} ${activationId}`),
      worker: async (taskQueue, delays = {}) => {
        const own = await Worker.create({
          connection: native,
          taskQueue,
          interceptors: { activity: [delaying(delays)] },
          plugins: [
            synclinePlugin({ databaseUrl: pg.url, connections, migrate: false, workflowBundle: { code: bundle.code }, codec: null }),
          ],
        });
        const polling = own.run();
        return async () => {
          own.shutdown();
          await polling;
        };
      },
    };
    // Independent scenarios (own activations, tables and emulators) run side by side: most of the time is timers.
    const scenarios = [
      activations.scheduled,
      activations.signalsAndUpdates,
      activations.planAndApply,
      activations.mirrorDeletionGuard,
      activations.heldDeletesThroughFailedRun,
      activations.documentSupersedesPlan,
      activations.configUpdateSupersedes,
      activations.retargetDropsHeldDeletes,
      activations.restartKeepsPause,
      activations.restartRechecks,
      activations.restartStillBroken,
      activations.catchUpRecordsFire,
      activations.requestServesDueFire,
      activations.lateFireStandsForMissed,
      activations.restartFromLatestFire,
      activations.stopWhileHandlerEnds,
      activations.stopAnswersLateRequests,
      activations.restartKeepsHeldDeletes,
      activations.restartedReportsWarnings,
      activations.fixingDocumentRechecksNow,
      activations.configErrorRecheck,
      activations.configErrorResume,
      activations.invalidConfig,
      activations.bookkeepingRefused,
      activations.resetWhileRunOpen,
      activations.resetMeetsLaterRun,
      runs.bulk,
      runs.manyChunks,
      runs.resetFanOut,
      runs.smallRun,
      runs.slowStep,
      runs.bulkStillRunning,
      runs.quotaWaitMidRun,
      runs.quotaWaitAtValidate,
      runs.quotaWaitAtLocalValidate,
      runs.modelError,
      others.warningsContinueAsNew,
      others.dagRules,
      others.dagMapBatches,
      others.dagActivation,
      others.dagInvalid,
      others.dagScheduled,
      others.dagSensors,
      others.dagPools,
      others.dagActivationSensor,
      others.dagWaitingOnSignal,
      others.dagRerun,
      others.dagCredentialHeader,
      others.dagCancelSettles,
    ];
    const results = await Promise.allSettled(scenarios.map((scenario) => scenario(stage)));
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${scenarios[i]!.name}: ${(r.reason as Error).stack ?? String(r.reason)}`] : [],
    );
    if (failed.length) throw new Error(`scenario(s) failed:\n${failed.join('\n')}`);
    await others.warningsOpen(stage);

    const leaks = rec.entries.flatMap((e) =>
      forbiddenIn(JSON.parse(fs.readFileSync(path.join(dir, e.file), 'utf8'))).map((s) => `${e.file}: ${s}`),
    );
    if (leaks.length) throw new Error(`credentials or row values in history:\n${leaks.join('\n')}`);
    const manifest: Manifest = {
      version,
      commit,
      recordedAt: new Date().toISOString(),
      temporalSdk: sdkVersion(),
      histories: [...rec.entries].sort((a, b) => a.file.localeCompare(b.file)),
    };
    fs.writeFileSync(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    say(
      `${manifest.histories.length} histories, ${(bytes / 1024).toFixed(0)} KiB, in ${((Date.now() - began) / 1000).toFixed(0)} s: ${path.relative(ROOT, dir)}`,
    );
  } finally {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await Promise.allSettled([
      sql.end(),
      connection.close(),
      native.close(),
      hook.close(),
      ...Object.values(emulators).map((e) => e.close()),
    ]);
    await Promise.allSettled([temporal.stop(), pg.stop()]);
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
}

/**
 * Refuses the next try of an activity for an activation (`<activityType> <activationId>` in `refusals`) the way
 * the state database refuses a statement over one of its limits: non-retryable, SQLSTATE 54000.
 */
function refusing(refusals: Set<string>): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const arg = input.args[0] as { activationId?: unknown; config?: { id?: unknown } } | undefined;
        const key = `${ctx.info.activityType} ${String(arg?.activationId ?? arg?.config?.id)}`;
        if (refusals.delete(key)) {
          const limit = Object.assign(new Error('total size of jsonb object elements exceeds the maximum of 268435455 bytes'), {
            code: '54000',
          });
          throw toFailure(limit);
        }
        return next(input);
      },
    },
  });
}

/** Each activity of a type in `delays` starts that many ms late (a check a scenario needs still under way). */
function delaying(delays: Record<string, number>): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const ms = delays[ctx.info.activityType];
        if (ms) await new Promise((r) => setTimeout(r, ms));
        return next(input);
      },
    },
  });
}

/** Receives warning notices and DAG http calls: 204, or 400 when the URL says "refuse". */
async function startHookReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url?.includes('refuse') ? 400 : 204).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function sdkVersion(): string {
  return (JSON.parse(fs.readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')) as { version: string }).version;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
