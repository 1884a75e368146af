/**
 * The generic task activities behind dagWorkflow's runners: SQL on a named Postgres connection, an HTTP call,
 * and one sync of an activation through the activation workflow's `triggerSync` update.
 * Results stay small: they are recorded in workflow history.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { SKIP } from '../common/dag';
import { SyncError } from '../common/errors';
import { bindNamed } from '../common/dag-schedule';
import { createClient } from '../db/connect';
import { programLimit, withoutRowValues } from './failure';
import { acquirePoolSlot, poolLeaseMs, poolSizes, releasePoolSlot, renewPoolLeases, type AcquireResult } from '../db/dag-pools';
import { activationWorkflowId } from '../common/names';
import { triggerSyncUpdate } from '../workflows/messages';

export interface DagTaskDeps {
  /**
   * Connection name -> Postgres URL and the role its statements run as (`"role"` in the connection's
   * JSON); the worker resolves credentials, the DAG only names the connection.
   */
  resolvePg(connection: string): { url: string; role?: string };
  client: () => Client;
  /** A named connection's JSON (http tasks: `headers`, `baseUrl`); throws when it is not defined. */
  resolveConnection?(name: string): Record<string, unknown>;
  /** The state database: where the (DAG, logical date) of scheduled runs is recorded (syncline.dag_runs). */
  stateDb?: pg.Pool;
  /** The lease of a pool slot (docs/dag.md "Pools"); unset: SYNCLINE_DAG_POOL_LEASE_SECONDS, read at each acquire. */
  poolLeaseMs?: number;
}

export interface RunSqlInput {
  /** Named connection; default 'default'. */
  connection?: string;
  /** Exactly one statement (parsed with the extended protocol, which refuses a second one). */
  statement: string;
  /** Bind values for $1, $2 ...; objects are sent as JSON. */
  params?: unknown[];
  /** Return the rows too (at most MAX_RETURNED_ROWS), e.g. a short list of ids for a mapped task. */
  returnRows?: boolean;
  /** Skip the task instead of succeeding when the statement touched no row (nothing to do downstream). */
  skipIfNoRows?: boolean;
  /**
   * A dated run's values (`logical_date`, `data_interval_start`, `data_interval_end`, `conf`): the statement
   * names them `:logical_date` and they are sent as bind parameters after `params`.
   */
  bind?: Record<string, unknown>;
}
export interface DagRunKey {
  dagId: string;
  /** ISO instant. */
  logicalDate: string;
}
export type ClaimDagRunResult = { claimed: true } | { claimed: false; by: { workflowId: string; runId: string; status: string } };
export interface RunSqlResult {
  rowCount: number;
  rows?: Record<string, unknown>[];
}
export interface HttpRequestInput {
  /** A full URL; with `connection`, also a path ("/v1/sync") joined to the connection's `baseUrl`, or absent for the `baseUrl` itself. */
  url?: string;
  /** Default GET without a body, POST with one. */
  method?: string;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
  /** Headers that are no secret; credentials come from `connection`. */
  headers?: Record<string, string>;
  /** Named connection whose JSON holds `headers` (credentials) and optionally `baseUrl`, resolved by the worker. */
  connection?: string;
}
export interface HttpRequestResult {
  status: number;
}
export interface TriggerActivationSyncInput {
  activationId: string;
  full?: boolean;
  reason?: string;
}
/** The run summary the activation workflow's triggerSync update returns. */
export type TriggerActivationSyncResult = unknown;

/** Rows are data, not control: a mapped task expands over ids, so a longer list means a wrong query. */
export const MAX_RETURNED_ROWS = 1000;
/** SQLSTATE classes a retry cannot fix: 42 syntax / undefined object / privilege, 22 bad data, 23 constraint (and 54, see sqlFailure). */
const PERMANENT_SQL_CLASSES = new Set(['42', '22', '23']);

export interface DagPoolLeaseInput {
  pool: string;
  /** One task execution of one run: `<workflowId>/<runId>/<taskId>` (`#<index>` for a mapped item). */
  holder: string;
  leaseMs: number;
  /**
   * Set by runs of this release: the slot gets the worker's lease (SYNCLINE_DAG_POOL_LEASE_SECONDS), which the
   * answer carries (`leaseMs`) so that the run renews it in time; `leaseMs` is what a worker of a release before uses.
   */
  workerLease?: boolean;
}

/** An acquire's answer; `leaseMs`: the lease the slot got, when the run asked for the worker's (`workerLease`). */
export type DagPoolAcquired = AcquireResult & { leaseMs?: number };

export interface DagPoolRenewal {
  renewed: number;
  lost: string[];
}

/** The pool activities (docs/dag.md "Pools"): each one short query on the state database. */
function dagPoolActivities(deps: DagTaskDeps) {
  return {
    /** Pool name -> size, for a run's check of the pools its tasks name before anything runs. */
    async dagPoolSizes(): Promise<Record<string, number>> {
      return poolSizes(stateDb(deps));
    },
    /** One try: a slot now, or none (the workflow sleeps on a timer and tries again; no worker slot is held). */
    async acquireDagPoolSlot(input: DagPoolLeaseInput): Promise<DagPoolAcquired> {
      const leaseMs = input.workerLease ? (deps.poolLeaseMs ?? poolLeaseMs()) : input.leaseMs;
      const r = await acquirePoolSlot(stateDb(deps), input.pool, input.holder, leaseMs);
      return r.acquired && input.workerLease ? { ...r, leaseMs } : r;
    },
    /**
     * Renews the run's leases; `lost`: the `holders` the run says it holds whose lease is not its own any more
     * (ran out and taken by another run). Workflows before `holders` was passed read nothing of the answer.
     */
    async renewDagPoolLeases(input: { holderPrefix: string; leaseMs: number; holders?: string[] }): Promise<DagPoolRenewal> {
      const renewed = new Set(await renewPoolLeases(stateDb(deps), input.holderPrefix, input.leaseMs));
      return { renewed: renewed.size, lost: (input.holders ?? []).filter((h) => !renewed.has(h)) };
    },
    async releaseDagPoolSlot(input: Omit<DagPoolLeaseInput, 'leaseMs'>): Promise<void> {
      await releasePoolSlot(stateDb(deps), input.pool, input.holder);
    },
  };
}

export interface ActivationRunSinceInput {
  activationId: string;
  /** ISO instant: only a run that finished after it counts. */
  since: string;
  statuses: string[];
}
export interface ActivationRunFound {
  runNumber: number;
  status: string;
  finishedAt: string;
}

/** The activation_sensor's poke (docs/dag.md "activation_sensor"): one query on the activation's run records. */
function activationSensorActivities(deps: DagTaskDeps) {
  return {
    /** The first run of the activation that ended in one of `statuses` after `since`, or null; an unknown activation fails. */
    async activationRunSince(input: ActivationRunSinceInput): Promise<ActivationRunFound | null> {
      const db = stateDb(deps);
      const found = await db.query<{ run_number: number; status: string; finished_at: Date }>(
        `SELECT run_number, status, finished_at FROM syncline.runs
         WHERE activation_id = $1 AND status = ANY($2::text[]) AND finished_at > $3
         ORDER BY finished_at LIMIT 1`,
        [input.activationId, input.statuses, input.since],
      );
      const run = found.rows[0];
      if (run) return { runNumber: run.run_number, status: run.status, finishedAt: run.finished_at.toISOString() };
      const known = await db.query('SELECT 1 FROM syncline.activations WHERE id = $1', [input.activationId]);
      if (known.rowCount === 0 && !(await workflowExists(deps.client(), activationWorkflowId(input.activationId)))) {
        throw ApplicationFailure.nonRetryable(
          `activation "${input.activationId}" is not known: it has no run recorded and no workflow "${activationWorkflowId(input.activationId)}"; ` +
            'check the id ("syncline list" shows the activations)',
          'ACTIVATION_UNKNOWN',
        );
      }
      return null;
    },
  };
}

async function workflowExists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

export function createDagTaskActivities(deps: DagTaskDeps) {
  return {
    ...dagPoolActivities(deps),
    ...activationSensorActivities(deps),
    async runSql(input: RunSqlInput): Promise<RunSqlResult | typeof SKIP> {
      const connection = input.connection ?? 'default';
      let target: { url: string; role?: string };
      try {
        target = deps.resolvePg(connection);
      } catch (err) {
        throw unknownConnection(connection, err);
      }
      // Postgres cancels the statement a little before the attempt times out: no query outlives its attempt, and
      // the task reports the clear SQL_57014 "canceling statement due to statement timeout" instead of a bare timeout.
      const statementTimeout = Math.floor(Context.current().info.startToCloseTimeoutMs * 0.9);
      const client = createClient({ connectionString: target.url, application_name: 'syncline-dag', statement_timeout: statementTimeout });
      try {
        await client.connect();
        // The connection is this task's own: a session-level role ends with it (REFRESH ... CONCURRENTLY and
        // other statements that refuse a transaction block still run).
        if (target.role) await client.query(`SET ROLE "${target.role.replace(/"/g, '""')}"`);
        const named = bindNamed(input.statement, input.bind, input.params?.length ?? 0);
        if (named.missing.length > 0) {
          throw ApplicationFailure.nonRetryable(
            `the statement uses ${named.missing.map((m) => `:${m}`).join(', ')}, but this run has no logical date: ` +
              'deploy the DAG with a schedule ("syncline dag deploy") and run it from there or with "syncline dag trigger"',
            'DAG_RUN_NOT_DATED',
          );
        }
        const last = await client.query({
          text: named.text,
          values: [...(input.params ?? []), ...named.params],
          queryMode: 'extended',
        } as pg.QueryConfig);
        const rowCount = last.rowCount ?? 0;
        if (input.skipIfNoRows && rowCount === 0) return SKIP;
        if (!input.returnRows) return { rowCount };
        if (last.rows.length > MAX_RETURNED_ROWS) {
          throw ApplicationFailure.nonRetryable(
            `the statement returned ${last.rows.length} rows; returnRows allows ${MAX_RETURNED_ROWS}: return ids, keep data in Postgres`,
            'SQL_TOO_MANY_ROWS',
          );
        }
        return { rowCount, rows: last.rows };
      } catch (err) {
        throw sqlFailure(err, connection);
      } finally {
        await client.end().catch(() => undefined);
      }
    },

    /**
     * Takes (DAG, logical date) for this run, unless a run of that date already succeeded or is still open:
     * a second backfill of the same interval, or a late duplicate start, then runs nothing. A date whose run
     * failed, or whose run was terminated or cancelled (closed while still marked running), is taken over.
     * A re-run (`syncline dag rerun`) names the run it re-runs in `replaces`: it takes the date over from
     * that run once it has closed, whatever its outcome, as a new try of the same date.
     */
    async claimDagRun(input: DagRunKey & { workflowId: string; runId: string; replaces?: string }): Promise<ClaimDagRunResult> {
      const db = stateDb(deps);
      for (;;) {
        const taken = await db.query(
          `INSERT INTO syncline.dag_runs (dag_id, logical_date, workflow_id, run_id, status, started_at)
           VALUES ($1, $2, $3, $4, 'running', now())
           ON CONFLICT (dag_id, logical_date) DO UPDATE
             SET workflow_id = EXCLUDED.workflow_id, run_id = EXCLUDED.run_id, status = 'running', started_at = now(), ended_at = NULL
             WHERE syncline.dag_runs.status = 'failed' OR syncline.dag_runs.run_id = EXCLUDED.run_id
                OR (syncline.dag_runs.run_id = $5 AND syncline.dag_runs.status <> 'running')
           RETURNING run_id`,
          [input.dagId, input.logicalDate, input.workflowId, input.runId, input.replaces ?? null],
        );
        if (taken.rowCount === 1) return { claimed: true };
        const held = await db.query<{ workflow_id: string; run_id: string; status: string }>(
          'SELECT workflow_id, run_id, status FROM syncline.dag_runs WHERE dag_id = $1 AND logical_date = $2',
          [input.dagId, input.logicalDate],
        );
        const by = held.rows[0];
        if (!by) continue; // deleted in between: insert again
        const result = { claimed: false as const, by: { workflowId: by.workflow_id, runId: by.run_id, status: by.status } };
        if (by.status !== 'running' || (await isOpen(deps.client(), by.workflow_id, by.run_id))) return result;
        // Its run closed without saying how (terminated, cancelled, timed out): the date is free; compare-and-set on
        // its run id. Whether this frees it or another claim got there first, try again: the answer then names the
        // run that holds the date now, not the closed one.
        await db.query(
          `UPDATE syncline.dag_runs SET status = 'failed', ended_at = now()
           WHERE dag_id = $1 AND logical_date = $2 AND run_id = $3 AND status = 'running'`,
          [input.dagId, input.logicalDate, by.run_id],
        );
      }
    },

    /** Records how the run that claimed (DAG, logical date) ended. */
    async finishDagRun(input: DagRunKey & { runId: string; status: 'success' | 'failed' | 'running' }): Promise<void> {
      await stateDb(deps).query(
        `UPDATE syncline.dag_runs SET status = $4, ended_at = now() WHERE dag_id = $1 AND logical_date = $2 AND run_id = $3`,
        [input.dagId, input.logicalDate, input.runId, input.status === 'running' ? 'failed' : input.status],
      );
    },

    async httpRequest(input: HttpRequestInput): Promise<HttpRequestResult> {
      const method = (input.method ?? (input.body === undefined ? 'GET' : 'POST')).toUpperCase();
      const { url, headers, shown } = httpTarget(input, deps.resolveConnection);
      const target = `${method} ${shown}`;
      const isText = typeof input.body === 'string';
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: { ...(input.body !== undefined && !isText && { 'content-type': 'application/json' }), ...input.headers, ...headers },
          body: input.body === undefined ? undefined : isText ? (input.body as string) : JSON.stringify(input.body),
          signal: Context.current().cancellationSignal,
        });
      } catch (err) {
        // fetch quotes the URL it refused ("Failed to parse URL from …", "… a URL that includes credentials: …").
        throw ApplicationFailure.retryable(`${target} failed: ${(err as Error).message.split(url).join(shown)}`, 'HTTP_UNREACHABLE');
      }
      await res.body?.cancel();
      // Every non-2xx is retryable here; a DAG makes e.g. 400 final with retry.nonRetryableErrorTypes ["HTTP_400"].
      if (!res.ok) throw ApplicationFailure.retryable(`${target} answered ${res.status} ${res.statusText}`, `HTTP_${res.status}`);
      return { status: res.status };
    },

    async triggerActivationSync(input: TriggerActivationSyncInput): Promise<TriggerActivationSyncResult> {
      const workflowId = activationWorkflowId(input.activationId);
      const ctx = Context.current();
      const { info } = ctx;
      // The update id is stable across attempts: a retried attempt re-attaches to the same sync instead of starting another.
      const run = info.workflowExecution;
      const updateId = `dag/${run?.workflowId}/${run?.runId}/${info.activityId}`;
      const beat = setInterval(() => ctx.heartbeat(), 5000);
      try {
        return await deps
          .client()
          .workflow.getHandle(workflowId)
          .executeUpdate(triggerSyncUpdate, { args: [{ full: input.full, reason: input.reason }], updateId });
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) {
          throw ApplicationFailure.nonRetryable(
            `activation "${input.activationId}" is not running (no open workflow "${workflowId}"): start the activation first, then re-run this DAG`,
            'ACTIVATION_NOT_RUNNING',
          );
        }
        if (err instanceof WorkflowUpdateFailedError) {
          const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
          throw ApplicationFailure.create({
            message: `activation "${input.activationId}" sync failed: ${cause?.message ?? err.message}`,
            type: cause?.type ?? 'ACTIVATION_SYNC_FAILED',
            nonRetryable: cause?.nonRetryable ?? false,
          });
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type DagTaskActivities = ReturnType<typeof createDagTaskActivities>;

function stateDb(deps: DagTaskDeps): pg.Pool {
  if (!deps.stateDb) throw ApplicationFailure.nonRetryable('this worker has no state database to record DAG runs in', 'CONFIG_INVALID');
  return deps.stateDb;
}

async function isOpen(client: Client, workflowId: string, runId: string): Promise<boolean> {
  try {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    return d.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** SQL errors become SQL_<SQLSTATE> (e.g. SQL_42601 for a syntax error); connection errors stay retryable. */
function sqlFailure(err: unknown, connection: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  const code = (err as { code?: unknown }).code;
  const text = withoutRowValues((err as Error).message, err);
  const message =
    code === '42601' && /multiple commands/i.test(text)
      ? `SQL on connection "${connection}" failed: a sql task runs exactly one statement; split the statements into tasks of their own (upstream keeps their order)`
      : `SQL on connection "${connection}" failed: ${text}`;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    // A program limit (class 54) is met again by the same statement, except a wraparound stop (programLimit).
    const permanent = PERMANENT_SQL_CLASSES.has(code.slice(0, 2)) || programLimit(err) !== null;
    return ApplicationFailure.create({ message, type: `SQL_${code}`, nonRetryable: permanent });
  }
  return ApplicationFailure.retryable(message, 'SQL_CONNECTION');
}

/**
 * A task's connection the worker cannot resolve: in the resolver's own words when they name it and say where to
 * define it (or that its JSON does not parse), else named here.
 */
function unknownConnection(name: string, err: unknown): ApplicationFailure {
  const said =
    err instanceof SyncError && err.code === 'CONNECTION_UNKNOWN'
      ? err.message
      : `connection "${name}" is not defined on this worker: ${(err as Error).message}`;
  return ApplicationFailure.nonRetryable(said, 'CONNECTION_UNKNOWN');
}

/**
 * The URL and the connection's headers of an http task. The credentials stay in the worker: the task
 * input (workflow history) names the connection only. With a `baseUrl`, the headers go nowhere else.
 * `shown` is how error messages (kept in history, logged) name the URL: a connection's `baseUrl` may be
 * the secret itself (a Slack webhook), so it is named by its connection, never printed.
 */
function httpTarget(
  input: HttpRequestInput,
  resolve: DagTaskDeps['resolveConnection'],
): { url: string; headers: Record<string, string>; shown: string } {
  if (input.connection === undefined) return { url: input.url ?? '', headers: {}, shown: withoutQuery(input.url ?? '') };
  const name = input.connection;
  let conn: Record<string, unknown>;
  try {
    if (!resolve) throw new Error('this worker resolves no connections for DAG tasks');
    conn = resolve(name);
  } catch (err) {
    throw unknownConnection(name, err);
  }
  const headers = conn.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw ApplicationFailure.nonRetryable(
      `connection "${name}": "headers" must be an object of strings, e.g. {"headers": {"Authorization": "Bearer ..."}}`,
      'CONFIG_INVALID',
    );
  }
  const rawBase = typeof conn.baseUrl === 'string' && conn.baseUrl !== '' ? conn.baseUrl : undefined;
  const base = rawBase?.replace(/\/+$/, '');
  if (input.url === undefined || input.url.startsWith('/')) {
    if (!rawBase || !base)
      throw ApplicationFailure.nonRetryable(
        `${input.url === undefined ? 'no url is given' : `the url "${input.url}" is a path`}, but connection "${name}" has no "baseUrl": give a full url, or add "baseUrl" to the connection`,
        'CONFIG_INVALID',
      );
    return {
      url: input.url === undefined ? rawBase : base + input.url,
      headers: headers as Record<string, string>,
      shown: `<baseUrl of connection "${name}">${withoutQuery(input.url ?? '')}`,
    };
  }
  if (base && input.url !== base && !input.url.startsWith(`${base}/`) && !input.url.startsWith(`${base}?`)) {
    // The base URL is not printed: it may carry a token of its own.
    throw ApplicationFailure.nonRetryable(
      `${withoutQuery(input.url)} is not under the base URL of connection "${name}": its headers are sent there only; give a path ("/v1/...") or a URL under it`,
      'CONFIG_INVALID',
    );
  }
  // A full URL is the task's own input, already in history; the part that is the base URL is not repeated.
  return {
    url: input.url,
    headers: headers as Record<string, string>,
    shown: base ? `<baseUrl of connection "${name}">${withoutQuery(input.url.slice(base.length))}` : withoutQuery(input.url),
  };
}

/** Webhook URLs often carry a token in the query string or a password before the host; error messages (kept in history) leave them out. */
function withoutQuery(url: string): string {
  const q = url.search(/[?#]/);
  return (q < 0 ? url : url.slice(0, q)).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}
