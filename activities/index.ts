/**
 * createActivities(deps): every activity the syncline workflows call, bound to the worker's
 * resources. Workflows import the *type* of this object only (proxyActivities).
 */
import type { SynclineDeps } from './deps';
import { boundary, withoutSecretsAll } from './failure';
import { alive } from './liveness';
import { prepareRun, checkDestination } from './prepare';
import { extractModel } from './extract';
import { computeDelta } from './delta';
import { ensureAttributes } from './attributes';
import { writeChunk, pollChunk } from './write';
import { commitRun, approveHeldDeletes } from './commit';
import { awaitRunWorkflow, lastRunNumber, recordStop } from './runs';
import { applyConfigUpdate, checkConfigUpdate } from './config';
import { loadPlan, markPlanApplied, recordPlan, supersedePlans } from './plan';
import { createDagTaskActivities } from './dag-tasks';
import { createNotifyActivities } from './notify';

function bind<I, O>(deps: SynclineDeps, fn: (deps: SynclineDeps, input: I) => Promise<O>): (input: I) => Promise<O> {
  return boundary((input: I) => fn(deps, input));
}

/** The same, heartbeating on a timer (activities/liveness.ts): called with a heartbeat timeout. */
function bindAlive<I, O>(deps: SynclineDeps, fn: (deps: SynclineDeps, input: I) => Promise<O>): (input: I) => Promise<O> {
  return alive(bind(deps, fn));
}

export function createActivities(deps: SynclineDeps) {
  return {
    prepareRun: bindAlive(deps, prepareRun),
    checkDestination: bindAlive(deps, checkDestination),
    extractModel: bind(deps, extractModel),
    computeDelta: bind(deps, computeDelta),
    ensureAttributes: bindAlive(deps, ensureAttributes),
    writeChunk: bind(deps, writeChunk),
    pollChunk: bind(deps, pollChunk),
    commitRun: bindAlive(deps, commitRun),
    approveHeldDeletes: bind(deps, approveHeldDeletes),
    lastRunNumber: bind(deps, lastRunNumber),
    awaitRunWorkflow: bindAlive(deps, awaitRunWorkflow),
    recordStop: bind(deps, recordStop),
    checkConfigUpdate: bind(deps, checkConfigUpdate),
    applyConfigUpdate: bind(deps, applyConfigUpdate),
    recordPlan: bindAlive(deps, recordPlan),
    supersedePlans: bind(deps, supersedePlans),
    loadPlan: bindAlive(deps, loadPlan),
    markPlanApplied: bindAlive(deps, markPlanApplied),
    ...createNotifyActivities(deps),
    // DAG tasks type their own failures; what they throw still leaves secrets out (activities/failure.ts).
    ...withoutSecretsAll(
      createDagTaskActivities({
        resolvePg: (name) => dagPg(deps, name),
        client: deps.client,
        resolveConnection: deps.resolveConnection,
        stateDb: deps.pool,
      }),
    ),
  };
}

/** A DAG sql task's database: the connection's URL ("default": the state database) and its role, if any. */
function dagPg(deps: SynclineDeps, name: string): { url: string; role?: string } {
  const conn = deps.resolveConnection(name);
  const role = typeof conn.role === 'string' && conn.role ? conn.role : undefined;
  return { url: name === 'default' ? deps.stateDbUrl : String(conn.url), role };
}

export type SynclineActivities = ReturnType<typeof createActivities>;
export type { SynclineDeps };
