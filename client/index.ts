/**
 * Typed client for internal services and the CLI: starts activations and sends them their messages,
 * and reads run records and row errors from syncline's Postgres.
 *
 *   const syncline = await SynclineClient.connect({ databaseUrl: process.env.DATABASE_URL });
 *   await syncline.start(JSON.parse(fs.readFileSync('contacts.json', 'utf8')));
 *   const run = await syncline.triggerSync('contacts');   // waits for the run
 *   await syncline.close();
 */
import { Client, Connection, WorkflowUpdateFailedError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { sql, type Kysely } from 'kysely';
import { parseJsonKeepingDigits } from '../common/json-exact';
import type pg from 'pg';
import {
  formatProblems,
  parseActivationConfig,
  parseNewActivationConfig,
  type ActivationConfig,
  type ConfigProblem,
} from '../common/config';
import { planConfigUpdate, TARGET_PATHS } from '../common/config-change';
import type { ConfigChange } from '../common/config-diff';
import { causeChainText } from '../common/errors';
import type { RunSummary } from '../common/run';
import { createDb, createPool, databaseUrlMisread, databaseWhere } from '../db/connect';
import { deletePool, listPools, POOL_NAME, poolSizes, setPool, type PoolInfo } from '../db/dag-pools';
import type { Database } from '../db/database';
import { activationWorkflowId, TASK_QUEUE, WARNINGS_WORKFLOW_ID, WORKFLOW_TYPES } from '../common/names';
import { latestConfigVersion, listConfigVersions } from '../db/config-versions';
import { rowHistory, runRowChanges, type RowChange } from '../db/row-changes';
import { purgeActivation, restartState, syncedRowCount, type StoppedPause } from '../db/runs';
import {
  applyPlanUpdate,
  approveDeletesUpdate,
  configQuery,
  planUpdate,
  reportWarningsSignal,
  pauseSignal,
  resumeSignal,
  resyncSignal,
  retryFailedSignal,
  statusQuery,
  stopSignal,
  triggerSyncUpdate,
  updateConfigUpdate,
  type ActivationStatus,
  type ApproveDeletesResponse,
  type UpdateConfigRequest,
  type UpdateConfigResponse,
} from '../workflows/messages';
import { listRowErrors, listRuns, type RowErrorRecord, type RunRecord } from './runs';
import { codecFromEnvironment, withCodec } from './codec';
import { DagRuns } from './dag-runs';
import { DagSchedules } from './dags';
import { untilListed } from './visibility';

export type { ActivationStatus, RunRecord, RowErrorRecord, RunSummary };

/**
 * A plan as recorded in Postgres: counts per op (plus `rejected`, `heldDeletes`) and up to 5 sample rows
 * per op. A number in a sample's json(b) value that a double would change (`12345678901234567890`) is a
 * `JsonNumber` (common/json-exact.ts) holding its literal; `stringifyExact` writes it digit for digit.
 */
export interface PlanDetails {
  activationId: string;
  plan: number;
  status: string;
  createdAt: string;
  counts: Record<string, number>;
  samples: Record<string, Array<{ key: string; values: Record<string, unknown> }>>;
  /** Attributes the destination lacks that applying the plan creates (a connector that creates them: Actito). */
  attributesToCreate?: Array<{ field: string; type: string }>;
}

/** The activation document was refused before anything reached Temporal. */
export class ConfigInvalidError extends Error {
  constructor(
    readonly problems: ConfigProblem[],
    id: unknown,
  ) {
    super(formatProblems(id, problems));
    this.name = 'ConfigInvalidError';
  }
}

/**
 * Why an activation's status query failed, and what to check. The client wraps the server's answer in a
 * message of its own ("Failed to query Workflow"); the cause says what happened. A workflow task that keeps
 * failing (a deploy that changed workflow code without patched(), a bug) is refused at once; otherwise the
 * usual cause is that no worker polls the activation's task queue (the query times out).
 */
export function unansweredQuery(id: string, taskQueue: string, err: unknown): string {
  const said = causeChainText(err);
  if (/workflow task in failed state|failing workflow task/i.test(said))
    return (
      `activation "${id}" cannot answer the status query (${said}): its workflow task keeps failing on the workers of task queue ` +
      `"${taskQueue}". The worker's log and the workflow's pending task in the Web UI say why (a deploy that changed workflow code ` +
      `without patched() does this; README "Changing workflow code")`
    );
  return `activation "${id}" did not answer the status query (${said}): is a syncline worker polling task queue "${taskQueue}"? ("npm run worker" starts one)`;
}

/** A request Temporal or the activation refused, with a message that says what to do. */
export class SynclineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SynclineError';
  }
}

export { activationWorkflowId } from '../common/names';
export { defineDag, DagBuilder, type TaskRef, type ListRef, type TaskOptions, type DagOptions } from '../common/dag-builder';

/** The activation's bookkeeping in its state database that it tries again until the database answers (workflows/activation-runs.ts STATE_WAIT). */
const STATE_BOOKKEEPING = new Set(['applyConfigUpdate', 'supersedePlans', 'lastRunNumber']);

/** Far longer than the listing lags on a loaded server; short enough that `list` reads few closed executions. */
const CONTINUED_LISTING_WINDOW_MS = 10 * 60_000;

/** One line of `syncline list`. */
export interface ActivationListing {
  id: string;
  state: string;
  health: string;
  mode: string;
  destination: string;
  nextRunAt: string | null;
  lastRun: { runNumber: number; status: string; finishedAt: string | null } | null;
}

export interface StartOptions {
  /** Accept a new target (destination or model key) against the last document the activation ran. */
  retarget?: boolean;
  /** Accept that Insert mode creates every synced row again as a new record. */
  confirm?: boolean;
  /** Check only: nothing is started or dropped. */
  dryRun?: boolean;
  /** Why (recorded with a new target's version). */
  reason?: string;
  /** Started unpaused even when it was paused when it was stopped (which it otherwise stays). */
  resume?: boolean;
}
export interface StartResult {
  workflowId: string;
  /** Empty for a dry run. */
  runId: string;
  started: boolean;
  /** What differs from the last document the activation ran (empty for a first start, or without a databaseUrl). */
  changes: ConfigChange[];
  consequences: string[];
  /** The pause it was stopped in (read with a databaseUrl): it stays paused, unless started with `resume`. */
  paused?: StoppedPause;
}
interface StartCheck {
  changes: ConfigChange[];
  consequences: string[];
  retarget: boolean;
}

/** What `start` says of the pause an activation was stopped in (workflows/activation.ts carryOn keeps it). */
function pauseConsequence(id: string, paused: StoppedPause, resume?: boolean): string {
  if (resume) return `started unpaused (--resume): the pause it was stopped in is lifted (${paused.reason})`;
  return paused.auto
    ? `it was paused by a configuration error before it was stopped (${paused.reason}): it stays paused; the destination is checked now, and it resumes with a run if it checks out ("syncline resume ${id}" resumes it at once)`
    : `it was paused before it was stopped (${paused.reason}): it stays paused; "syncline resume ${id}" resumes it (or start it with --resume)`;
}

/**
 * Whether an activation was paused just before a pause or resume signal was sent, as its status query
 * answered (a paused activation has a paused reason, also while a run finishes). `wasPaused` is absent when no
 * worker answered within PAUSE_QUERY_MS: the signal is sent anyway (a signal needs no worker), and the
 * activation takes it when one polls. A pause or resume sent by someone else between the query and the
 * signal is not seen.
 */
export interface PauseOutcome {
  wasPaused?: boolean;
  pausedReason?: string;
  /** Paused by a configuration error, not by an operator: an operator's pause makes it stay paused past the re-check. */
  autoPaused?: boolean;
}
const PAUSE_QUERY_MS = 5000;

async function pausedBefore(h: WorkflowHandle): Promise<PauseOutcome> {
  try {
    const st = await h.client.connection.withDeadline(Date.now() + PAUSE_QUERY_MS, () => h.query(statusQuery));
    const wasPaused = st.state === 'paused' || st.pausedReason !== undefined;
    return { wasPaused, ...(wasPaused && { pausedReason: st.pausedReason, autoPaused: !!st.autoPaused }) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw err;
    return {};
  }
}

function alreadyRunning(id: string, workflowId: string, cause?: unknown): SynclineError {
  return new SynclineError(
    `activation "${id}" is already running (workflow ${workflowId}): sync it now with "syncline resync ${id}", ` +
      `or terminate it first ("temporal workflow terminate --workflow-id ${workflowId}") to start it with a new configuration`,
    cause === undefined ? undefined : { cause },
  );
}

/** An activity the activation tries again (SynclineClient.retrying). */
export interface RetryingActivity {
  activity: string;
  /** The try under way (or next): the tries failed are one fewer. */
  attempt: number;
  lastFailure: string;
  /** The activation's own bookkeeping in the state database, tried until the database answers. */
  stateDatabase: boolean;
}

export class SynclineClient {
  private readonly client: Client;
  private readonly taskQueue: string;
  private readonly databaseUrl?: string;
  private db?: Kysely<Database>;
  private ownsConnection = false;

  constructor(opts: { client: Client; taskQueue?: string; databaseUrl?: string }) {
    this.client = opts.client;
    this.taskQueue = opts.taskQueue ?? TASK_QUEUE;
    this.databaseUrl = opts.databaseUrl;
  }

  /**
   * Connects to TEMPORAL_ADDRESS (or localhost:7233) in TEMPORAL_NAMESPACE (or "default").
   * `lazy` defers the connection to the first Temporal call (runs/errors only read Postgres).
   */
  static async connect(
    opts: { address?: string; namespace?: string; taskQueue?: string; databaseUrl?: string; lazy?: boolean } = {},
  ): Promise<SynclineClient> {
    const address = opts.address ?? process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
    // The workers' codec (SYNCLINE_CODEC_KEYS / _FILE): what the activations write is read, and requests are sent, encrypted.
    const dataConverter = withCodec(undefined, codecFromEnvironment());
    let connection: Connection;
    try {
      connection = opts.lazy ? Connection.lazy({ address }) : await Connection.connect({ address, connectTimeout: '5s' });
    } catch (err) {
      throw new SynclineError(
        `cannot reach Temporal at ${address} (${(err as Error).message}): start it with "npm run services" or set --address / TEMPORAL_ADDRESS`,
        { cause: err },
      );
    }
    const client = new Client({ connection, namespace: opts.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default', dataConverter });
    const syncline = new SynclineClient({ client, taskQueue: opts.taskQueue, databaseUrl: opts.databaseUrl });
    syncline.ownsConnection = true;
    return syncline;
  }

  /**
   * Validates the document, then starts `activation/<id>`; an activation already running is an error. Returns
   * once the visibility listing shows it (`list`), or after 30 s if the listing lags more.
   * The document enters workflow history: one that carries a credential (`warnings.webhookUrl`) is refused.
   *
   * An activation started again (stopped, or stopped by `apply --prune`) carries on from the state its
   * earlier runs left in Postgres: with a `databaseUrl`, the document is checked against the last one it
   * ran, as `updateConfig` checks a change (`changes`, `consequences`). A new target is refused unless
   * `retarget` (then the execution it starts drops its snapshot before its first run: the next run sends every model row to the new target),
   * an Insert-mode change that re-creates every record unless `confirm`. `dryRun` checks and starts nothing.
   */
  async start(config: unknown, opts: StartOptions = {}): Promise<StartResult> {
    const parsed = parseNewActivationConfig(config);
    if (!parsed.ok) throw new ConfigInvalidError(parsed.problems, (config as { id?: unknown } | null)?.id);
    const id = parsed.config.id;
    const workflowId = activationWorkflowId(id);
    let check: StartCheck = { changes: [], consequences: [], retarget: false };
    let paused: StoppedPause | null = null;
    if (this.databaseUrl) {
      // Asked first: a running activation is refused as such, not for what its document would change.
      if (await this.isRunning(id)) throw alreadyRunning(id, workflowId);
      check = await this.read(() => this.checkStart(parsed.config, opts));
      paused = await this.read(() => this.stoppedPause(id));
      if (paused) check.consequences.push(pauseConsequence(id, paused, opts.resume));
    }
    const kept = paused && !opts.resume ? { paused } : {};
    if (opts.dryRun) return { workflowId, runId: '', started: false, changes: check.changes, consequences: check.consequences, ...kept };
    try {
      // The raw document goes in: the workflow validates it again with the same schema (defaults applied there).
      const handle = await this.client.workflow.start(WORKFLOW_TYPES.activation, {
        taskQueue: this.taskQueue,
        workflowId,
        // A new target: the execution that starts forgets the old one's state first, with the new version
        // recorded (workflows/activation.ts `retarget`). Not done here: a start that lost the workflow id to
        // another would have dropped the state of the activation that won.
        args: [
          {
            config,
            ...(check.retarget ? { retarget: { ...(opts.reason ? { reason: opts.reason } : {}) } } : {}),
            ...(opts.resume ? { resume: true } : {}),
          },
        ],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      // `syncline list` names the activations from the lagging listing: one just started shows there once this returns.
      const runId = handle.firstExecutionRunId;
      await untilListed(async () => (await this.client.workflow.count(`WorkflowId = "${workflowId}" AND RunId = "${runId}"`)).count > 0);
      return { workflowId, runId, started: true, changes: check.changes, consequences: check.consequences, ...kept };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw alreadyRunning(id, workflowId, err);
      throw err;
    }
  }

  /** The pause the activation was stopped in (its stop recorded it); null without one, or on a database of a release before. */
  private async stoppedPause(id: string): Promise<StoppedPause | null> {
    return (
      await restartState(this.database(), id).catch((err: { code?: unknown }) => {
        // No syncline tables, or not the column yet (workers of a release before): nothing recorded.
        if (err?.code === '42P01' || err?.code === '42703') return { paused: null };
        throw err;
      })
    ).paused;
  }

  /** The document against the last one the activation ran (config_versions), with the refusals of `updateConfig`. */
  private async checkStart(next: ActivationConfig, opts: StartOptions): Promise<StartCheck> {
    const db = this.database();
    const latest = await latestConfigVersion(db, next.id).catch((err: { code?: unknown }) => {
      // No syncline tables (no worker ever ran on this database): nothing of the activation can be recorded here.
      if (err?.code === '42P01') return null;
      throw err;
    });
    if (latest === null)
      return {
        changes: [],
        consequences: [
          `starts the activation; syncline's Postgres at ${databaseWhere(this.databaseUrl!)} has no syncline tables yet, so it was not checked against a document it ran before (set DATABASE_URL to the workers' database)`,
        ],
        retarget: false,
      };
    if (!latest) return { changes: [], consequences: [`starts the activation: ${firstRunWhen(next)}`], retarget: false };
    const before = parseActivationConfig(latest.document);
    const synced = await syncedRowCount(db, next.id);
    const plan = planConfigUpdate((before.ok ? before.config : latest.document) as ActivationConfig, next, synced);
    const carries = `carries on from the state of its earlier runs (version ${latest.version}, ${synced} synced rows)`;
    if (plan.retarget && !opts.retarget) {
      const paths = plan.changes.map((c) => c.path).filter((p) => TARGET_PATHS.includes(p));
      throw new SynclineError(
        `activation "${next.id}" ran before with another target (${paths.join(', ')}). Started as it is, it would carry on from the state of its earlier runs, the old target's (version ${latest.version}, ${synced} synced rows): ` +
          'the new target would get only the rows changed since, and Mirror would take the old keys for removed. Refused, nothing started: ' +
          'start it with --retarget to start the new target from an empty snapshot (the next run sends every model row to it; nothing is deleted in the old one), or keep the previous target in the document',
      );
    }
    if (plan.duplicatesRecords && !opts.confirm) {
      throw new SynclineError(
        `activation "${next.id}": started again, it ${carries}, and ${plan.consequences.find((c) => c.includes('Insert mode'))}. Refused, nothing started: start it with --confirm if that is what you want`,
      );
    }
    const consequences = plan.changes.length ? plan.consequences : ['the document is the one it ran last'];
    return {
      changes: plan.changes,
      consequences: plan.retarget ? consequences : [`${carries}: the next run sends what changed since`, ...consequences],
      retarget: plan.retarget,
    };
  }

  resync(id: string, opts: { full?: boolean; reason?: string } = {}): Promise<void> {
    return this.call(id, resyncSignal.name, (h) => h.signal(resyncSignal, { full: opts.full, reason: opts.reason }));
  }

  /**
   * Asks for a run and waits for it (a run already going on is finished first, then this one runs).
   */
  triggerSync(id: string, opts: { full?: boolean; reason?: string } = {}): Promise<RunSummary> {
    return this.call(id, triggerSyncUpdate.name, async (h) => {
      const requestedAt = Date.now();
      try {
        return await h.executeUpdate(triggerSyncUpdate, { args: [{ full: opts.full, reason: opts.reason }] });
      } catch (err) {
        // An update answered in the workflow task that continues the activation as new can be reported
        // "not found" to a client that polls for it again (it then looks in the new run): the run did
        // happen, so its summary is read from the status query instead.
        if (!/update .* not found/i.test(String((err as Error)?.message ?? ''))) throw err;
        const served = (await h.query(statusQuery)).lastRuns.find(
          (r) => r.finishedAt !== undefined && Date.parse(r.finishedAt) >= requestedAt,
        );
        if (!served) throw err;
        return served;
      }
    });
  }

  /** Pauses the activation; answers whether it was paused already (see PauseOutcome). */
  pause(id: string, reason?: string): Promise<PauseOutcome> {
    return this.call(id, pauseSignal.name, async (h) => {
      const before = await pausedBefore(h);
      await h.signal(pauseSignal, { reason });
      return before;
    });
  }

  /** Resumes the activation; answers whether it was paused (see PauseOutcome). */
  resume(id: string): Promise<PauseOutcome> {
    return this.call(id, resumeSignal.name, async (h) => {
      const before = await pausedBefore(h);
      await h.signal(resumeSignal);
      return before;
    });
  }

  retryFailed(id: string): Promise<void> {
    return this.call(id, retryFailedSignal.name, (h) => h.signal(retryFailedSignal));
  }

  /** Approves the deletions held by run `run` and waits for the run that applies them. */
  approveDeletes(id: string, run: number): Promise<ApproveDeletesResponse> {
    return this.call(id, approveDeletesUpdate.name, (h) => h.executeUpdate(approveDeletesUpdate, { args: [{ run }] }));
  }

  /**
   * Computes the delta without writing to the destination and returns the plan with its samples
   * (read from Postgres: rows never travel through workflow history).
   *
   *   const p = await syncline.plan('contacts');          // { plan: 7, counts: { upsert: 300 }, samples: ... }
   *   const { run } = await syncline.apply('contacts', p.plan);
   */
  async plan(id: string): Promise<PlanDetails> {
    const r = await this.call(id, planUpdate.name, (h) => h.executeUpdate(planUpdate, { args: [] }));
    return (
      (await this.planDetails(id, r.plan)) ?? {
        activationId: id,
        plan: r.plan,
        status: 'open',
        createdAt: new Date().toISOString(),
        counts: r.counts,
        samples: {},
      }
    );
  }

  /** The recorded plan, or null when there is none with that number. */
  async planDetails(id: string, plan: number): Promise<PlanDetails | null> {
    const row = await this.read(() =>
      this.database()
        .selectFrom('syncline.plans')
        .selectAll('syncline.plans')
        // The samples' text: node-postgres's JSON.parse would round the numbers of json(b) values.
        .select(sql<string>`samples::text`.as('samples_text'))
        // What the plan's check found missing: applying it creates those attributes (activities/attributes.ts).
        .select((eb) =>
          eb
            .selectFrom('syncline.runs')
            .select('missing_attributes')
            .whereRef('syncline.runs.id', '=', 'syncline.plans.run_id')
            .as('missing_attributes'),
        )
        .where('syncline.plans.activation_id', '=', id)
        .where('syncline.plans.run_number', '=', plan)
        .executeTakeFirst(),
    );
    if (!row) return null;
    return {
      activationId: id,
      plan,
      status: row.status,
      createdAt: new Date(row.created_at).toISOString(),
      counts: row.counts,
      samples: parseJsonKeepingDigits(row.samples_text) as PlanDetails['samples'],
      attributesToCreate: row.missing_attributes ?? [],
    };
  }

  /** Writes exactly the rows frozen in plan `plan`, and waits for that run's summary. Applied, stale or superseded plans are refused. */
  apply(id: string, plan: number): Promise<RunSummary> {
    return this.call(id, applyPlanUpdate.name, (h) => h.executeUpdate(applyPlanUpdate, { args: [{ plan }] }));
  }

  status(id: string): Promise<ActivationStatus> {
    return this.call(id, statusQuery.name, async (h) => {
      // A query on a closed activation would replay it; say plainly that it is not running instead.
      const d = await h.describe();
      if (d.status.name !== 'RUNNING') {
        throw new SynclineError(
          `activation "${id}" is not running (its workflow is ${d.status.name.toLowerCase()}): start it with "syncline activation start --file ${id}.json"`,
        );
      }
      try {
        return await h.query(statusQuery);
      } catch (err) {
        throw new SynclineError(unansweredQuery(id, d.taskQueue, err), { cause: err });
      }
    });
  }

  /** A new document for a running activation (see updateConfigUpdate): answered with what changes, applied between runs. */
  updateConfig(id: string, req: UpdateConfigRequest): Promise<UpdateConfigResponse> {
    return this.call(id, updateConfigUpdate.name, (h) => h.executeUpdate(updateConfigUpdate, { args: [req] }));
  }

  /** The document the activation runs now. */
  currentConfig(id: string): Promise<unknown> {
    return this.call(id, configQuery.name, (h) => h.query(configQuery));
  }

  /** Finishes the current run, then ends the workflow; its state stays for a later start. `wait` waits for the end. */
  async stop(id: string, opts: { reason?: string; wait?: boolean } = {}): Promise<void> {
    await this.call(id, stopSignal.name, async (h) => {
      await h.signal(stopSignal, { reason: opts.reason });
      if (opts.wait) await h.result();
    });
  }

  /**
   * Every activation the namespace runs: id, state, health, mode, destination, next run, last run. Sorted by id.
   * Temporal's visibility listing lags behind the executions (right after a pause it still shows the memo
   * from before; an activation stopped since still shows as running; one that continued as new may show
   * twice, and one that just did may be listed only as closed until its new execution is): the listing only
   * names the activations, and each one's short state (its memo) is read from the execution itself
   * (describe), so a command's effect shows at once.
   */
  async list(opts: { health?: string } = {}): Promise<ActivationListing[]> {
    const ids = new Set<string>();
    // An execution continued as new in the last minutes names an activation whose new execution may not be listed yet.
    const recently = new Date(Date.now() - CONTINUED_LISTING_WINDOW_MS).toISOString();
    for await (const wf of this.client.workflow.list({
      query:
        `WorkflowType = '${WORKFLOW_TYPES.activation}' AND ` +
        `(ExecutionStatus = 'Running' OR (ExecutionStatus = 'ContinuedAsNew' AND CloseTime > '${recently}'))`,
    })) {
      ids.add(wf.workflowId.replace(/^activation\//, ''));
    }
    const out: ActivationListing[] = [];
    const all = [...ids];
    const described: Array<WorkflowExecutionDescription | undefined> = [];
    for (let i = 0; i < all.length; i += 20)
      described.push(...(await Promise.all(all.slice(i, i + 20).map((id) => this.describeRunning(id)))));
    for (const [i, id] of all.entries()) {
      const d = described[i];
      if (!d) continue;
      const memo = (d.memo?.syncline ?? {}) as Partial<ActivationListing>;
      const health = memo.health ?? (d.searchAttributes?.SynclineHealth as string[] | undefined)?.[0] ?? 'ok';
      if (opts.health && health !== opts.health) continue;
      out.push({
        id,
        state: memo.state ?? 'unknown',
        health,
        mode: memo.mode ?? '',
        destination: memo.destination ?? '',
        nextRunAt: memo.nextRunAt ?? null,
        lastRun: memo.lastRun ?? null,
      });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Whether `activation/<id>` runs now, asked of the execution itself (not of the lagging visibility listing). */
  async isRunning(id: string): Promise<boolean> {
    return (await this.describeRunning(id)) !== undefined;
  }

  /**
   * What the activation itself tries again now: each activity of its own whose last try failed, with the
   * tries so far and the last failure (`describe`'s pending activities). A client waiting for an update says
   * so instead of looking hung: while its state database is unreachable the activation's bookkeeping there
   * (`stateDatabase`) is tried again, at least every minute, until it answers (workflows/activation-runs.ts
   * STATE_WAIT). Empty when nothing failed, or the activation is not running.
   */
  async retrying(id: string): Promise<RetryingActivity[]> {
    const d = await this.describeRunning(id);
    return (d?.raw.pendingActivities ?? [])
      .filter((a) => (a.attempt ?? 0) > 1 && a.lastFailure)
      .map((a) => ({
        activity: a.activityType?.name ?? '?',
        attempt: a.attempt ?? 0,
        lastFailure: a.lastFailure?.message ?? '',
        stateDatabase: STATE_BOOKKEEPING.has(a.activityType?.name ?? ''),
      }));
  }

  /**
   * The task queue of a running activation when no worker polls it (Temporal keeps the pollers of the last
   * minutes): nothing of the activation runs until one does. Undefined when a worker polls it, or the
   * activation is not running.
   */
  async unpolledQueue(id: string): Promise<string | undefined> {
    const d = await this.describeRunning(id);
    if (!d) return undefined;
    const r = await this.client.workflowService.describeTaskQueue({
      namespace: this.client.options.namespace,
      taskQueue: { name: d.taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    return (r.pollers ?? []).length === 0 ? d.taskQueue : undefined;
  }

  private async describeRunning(id: string): Promise<WorkflowExecutionDescription | undefined> {
    try {
      const d = await this.client.workflow.getHandle(activationWorkflowId(id)).describe();
      return d.status.name === 'RUNNING' ? d : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** Every accepted document of the activation, oldest first, with what changed. */
  async history(id: string): Promise<Awaited<ReturnType<typeof listConfigVersions>>> {
    return this.read(() => listConfigVersions(this.database(), id));
  }

  /** What happened to one key run by run, or a run's row changes (optionally of one operation). */
  async rows(id: string, opts: { key?: string; run?: number; op?: string; limit?: number }): Promise<RowChange[]> {
    if (opts.key !== undefined) return this.read(() => rowHistory(this.database(), id, opts.key!));
    if (opts.run === undefined)
      throw new SynclineError('say which rows: --key <key>, or --run <n> (with --op create|update|upsert|delete)');
    return this.read(() => runRowChanges(this.database(), id, opts.run!, { op: opts.op, limit: opts.limit }));
  }

  /**
   * Drops everything syncline keeps of a stopped activation (snapshot, row errors, held deletions, runs,
   * row changes, config versions, connector state): a later start begins from nothing. The destination's
   * records are not touched. Refused while the activation runs.
   */
  async purge(id: string): Promise<Record<string, number>> {
    if (await this.isRunning(id)) throw new SynclineError(`activation "${id}" is running: stop it first ("syncline stop ${id}")`);
    const latest = await this.read(() => latestConfigVersion(this.database(), id));
    const dropped = await this.read(() => purgeActivation(this.database(), id));
    // The warnings workflow keeps what the stopped activation reported open (a DELETES_HELD, say): an empty
    // report closes it, with its notice on the activation's channel. An activation re-created with this id
    // starts from nothing open. The workflow id as the workers name it (activities/notify.ts warningsWorkflowId).
    const channel = parseActivationConfig(latest?.document);
    try {
      await this.client.workflow.getHandle(process.env.SYNCLINE_WARNINGS_WORKFLOW_ID || WARNINGS_WORKFLOW_ID).signal(reportWarningsSignal, {
        activationId: id,
        warnings: [],
        at: new Date().toISOString(),
        ...(channel.ok && channel.config.warnings ? { channel: channel.config.warnings } : {}),
      });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // no warnings workflow: nothing is open
    }
    return dropped;
  }

  /** Run records from Postgres, newest first. */
  async runs(id: string, opts: { limit?: number } = {}): Promise<RunRecord[]> {
    return this.read(() => listRuns(this.database(), id, opts.limit));
  }

  /** Row errors from Postgres, most recently seen first. */
  async errors(id: string, opts: { run?: number; limit?: number } = {}): Promise<RowErrorRecord[]> {
    return this.read(() => listRowErrors(this.database(), id, opts));
  }

  /** The DAGs deployed as Temporal Schedules (`syncline dag ...`). */
  dags(): DagSchedules {
    return new DagSchedules(this.client, this.taskQueue, this.databaseUrl ? () => this.withPg(poolSizes) : undefined);
  }

  /** Creates a DAG pool (docs/dag.md "Pools") or changes its size. */
  async setPool(name: string, size: number): Promise<void> {
    if (!POOL_NAME.test(name)) throw new SynclineError(`pool name "${name}": use letters, digits, "_", "-" or "." (at most 100)`);
    if (!Number.isInteger(size) || size < 1)
      throw new SynclineError(
        `pool "${name}": the size is how many tasks may run in it at once, a whole number of at least 1 (not ${size})`,
      );
    await this.withPg((db) => setPool(db, name, size));
  }

  /** The DAG pools with their sizes and slots leased right now. */
  async listPools(): Promise<PoolInfo[]> {
    return this.withPg(listPools);
  }

  /** Deletes a DAG pool; a DAG naming it is refused at its next run or deploy. */
  async deletePool(name: string): Promise<void> {
    if (!(await this.withPg((db) => deletePool(db, name))))
      throw new SynclineError(`pool "${name}" is not defined ("syncline pool list" shows the pools)`);
  }

  private async withPg<T>(fn: (db: pg.Pool) => Promise<T>): Promise<T> {
    if (!this.databaseUrl)
      throw new SynclineError('DAG pools live in Postgres: give the client a databaseUrl (the CLI reads DATABASE_URL)');
    const pool = createPool(this.databaseUrl, 1);
    try {
      return await this.read(() => fn(pool));
    } finally {
      await pool.end();
    }
  }

  /** One DAG run: shown, or cleared and re-run (`syncline dag show` / `dag rerun`). */
  dagRuns(): DagRuns {
    return new DagRuns(this.client);
  }

  async close(): Promise<void> {
    await this.db?.destroy();
    if (this.ownsConnection) await this.client.connection.close();
  }

  private async call<T>(id: string, what: string, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
    try {
      return await sentAgainWhileClosing(() => fn(this.client.workflow.getHandle(activationWorkflowId(id))));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new SynclineError(`activation "${id}" is not running: start it with "syncline activation start --file ${id}.json"`, {
          cause: err,
        });
      }
      if (err instanceof WorkflowUpdateFailedError) {
        throw new SynclineError(`activation "${id}" refused ${what}: ${err.cause?.message ?? err.message}`, { cause: err });
      }
      throw err;
    }
  }

  private database(): Kysely<Database> {
    if (!this.databaseUrl)
      throw new SynclineError('run records live in Postgres: give the client a databaseUrl (the CLI reads DATABASE_URL)');
    this.db ??= createDb(createPool(this.databaseUrl, 2));
    return this.db;
  }

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === '42P01') {
        throw new SynclineError(
          'this database has no syncline tables yet: point DATABASE_URL at the database the worker uses, or run "npm run migrate"',
          { cause: err },
        );
      }
      // No connection: a socket error (ECONNREFUSED, ENOTFOUND, ...), SQLSTATE class 08 (connection), 28 (authentication),
      // 3D000 (no such database), 57P0x (shutting down, starting up). Said as one line naming where, never the password.
      if (typeof code === 'string' && /^(E[A-Z]+|08...|28...|3D000|57P0[1-3])$/.test(code)) {
        // A misread URL sent pg to part of its user or password as host and port: the socket error would name them.
        const said = databaseUrlMisread(this.databaseUrl!) ? '' : ` (${(err as Error).message})`;
        throw new SynclineError(
          `cannot reach syncline's Postgres at ${databaseWhere(this.databaseUrl!)}${said}: check DATABASE_URL and that PostgreSQL is up`,
          { cause: err },
        );
      }
      throw err;
    }
  }
}

/**
 * The activation continues as new after each run. A signal or update that meets it at that instant (a
 * burst of them, while the server retries the continue-as-new) is refused with "workflow is closing" and
 * was not delivered: it is sent again, to the new execution, a few times before the error is shown.
 */
export async function sentAgainWhileClosing<T>(send: () => Promise<T>, attempts = 6, delayMs = 250): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await send();
    } catch (err) {
      if (
        i >= attempts ||
        !/workflow is closing/i.test(`${(err as Error)?.message ?? ''} ${(err as { cause?: Error })?.cause?.message ?? ''}`)
      )
        throw err;
      await new Promise((r) => setTimeout(r, delayMs * i));
    }
  }
}

/** When a new activation's first run comes, which sends every model row: a manual schedule runs only when asked. */
function firstRunWhen(config: ActivationConfig): string {
  const s = config.schedule as { every?: string; cron?: string; timezone?: string; manual?: boolean };
  const first = 'its first run sends every model row';
  if (s.every) return `${first}, at once, then every ${s.every}`;
  if (s.cron) return `${first} at the schedule's next time (cron "${s.cron}", ${s.timezone ?? 'UTC'})`;
  return `${first}, when asked ("syncline sync ${config.id}"): its schedule is manual`;
}
