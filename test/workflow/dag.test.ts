/**
 * dagWorkflow on a real Temporal dev server with real Postgres (both started by the jest global setup):
 * trigger rules and skips, validation before any side effect, mapping, parallelism, retries, and a run
 * started from the `temporal` CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure, type ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { PRELOADED_WORKFLOW_MODULES, WORKFLOW_INTERCEPTOR_MODULES } from '../../client/workflow-bundle';
import type pg from 'pg';
import { createPool } from '../../db/connect';
import { createDagTaskActivities } from '../../activities/dag-tasks';
import { createConnectionResolver } from '../../connectors/connections';
import { findTemporalCli } from '../../scripts/services/temporal';
import type { DagSpec, DagState, TaskState } from '../../common/dag';
import { dagStateQuery, dagWorkflow } from '../../workflows/dag-workflow';
import { WORKFLOW_TYPES } from '../../common/names';

const run = promisify(execFile);
const TASK_QUEUE = `dag-workflow-test-${process.pid}`;
const address = () => process.env.TEMPORAL_ADDRESS!;
let bundle: WorkflowBundleWithSourceMap;
let native: NativeConnection;
let connection: Connection;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  // The failing tasks are on purpose: keep the worker's WARN lines about them out of the test output.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  [bundle, native, connection] = await Promise.all([
    // Preloaded as in production (client/workflow-bundle.ts): zod and the schemas shared and frozen.
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows/dag-workflow'),
      preloadModules: PRELOADED_WORKFLOW_MODULES,
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: new DefaultLogger('ERROR'),
    }),
    NativeConnection.connect({ address: address() }),
    Connection.connect({ address: address() }),
  ]);
  client = new Client({ connection });
  db = createPool(process.env.DATABASE_URL!);
  await db.query('DROP SCHEMA IF EXISTS dag_test CASCADE; CREATE SCHEMA dag_test');
});

afterAll(async () => {
  await Promise.all([db?.end(), connection?.close(), native?.close()]);
});

function withWorker<T>(fn: () => Promise<T>, connections: Record<string, Record<string, unknown>> = {}): Promise<T> {
  const activities = createDagTaskActivities({
    resolvePg: (name) => {
      if (name !== 'default') throw new Error(`no connection "${name}"`);
      return { url: process.env.DATABASE_URL! };
    },
    // The worker's resolver, on these connections only (none from this process's environment or a secrets file).
    resolveConnection: createConnectionResolver({ stateDbUrl: process.env.DATABASE_URL!, overrides: connections, env: {} }),
    client: () => client,
  });
  return Worker.create({ connection: native, taskQueue: TASK_QUEUE, workflowBundle: bundle, activities }).then((w) => w.runUntil(fn));
}

const workflowId = (name: string) => `dag/${name}/${process.pid}`;
const sql = (id: string, statement: string, extra: Partial<DagSpec['tasks'][number]> = {}) => ({
  id,
  kind: 'sql',
  input: { statement },
  ...extra,
});
const states = (state: DagState) => Object.fromEntries(Object.values(state.tasks).map((t) => [t.id, t.state]));

/** Runs a DAG expected to fail; returns the final state from the failure details and from the query. */
async function runFailing(
  name: string,
  spec: DagSpec,
  connections: Record<string, Record<string, unknown>> = {},
): Promise<{ failure: ApplicationFailure; result: DagState; queried: DagState }> {
  return withWorker(async () => {
    const handle = await client.workflow.start(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: workflowId(name), args: [spec] });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).cause as ApplicationFailure;
    return { failure, result: failure.details?.[0] as DagState, queried: await handle.query(dagStateQuery) };
  }, connections);
}

test('trigger rules and skip propagation around a failing SQL task', async () => {
  const log = (task: string) => `INSERT INTO dag_test.ran VALUES ('${task}')`;
  const spec: DagSpec = {
    id: 'rules',
    tasks: [
      sql('ok', 'CREATE TABLE dag_test.ran (task text)'),
      sql('bad', 'SELEC 1', { upstream: ['ok'] }),
      sql('after_bad', log('after_bad'), { upstream: ['bad'] }),
      sql('after_after_bad', log('after_after_bad'), { upstream: ['after_bad'] }),
      sql('cleanup', log('cleanup'), { upstream: ['bad', 'ok'], triggerRule: 'all_done' }),
      sql('alert', log('alert'), { upstream: ['bad'], triggerRule: 'one_failed' }),
      sql('guarded', log('guarded'), { upstream: ['bad', 'ok'], triggerRule: 'none_failed' }),
      // Skips itself through the activity's SKIP result: the statement touched no row.
      {
        id: 'nothing_to_do',
        kind: 'sql',
        upstream: ['ok'],
        input: { statement: 'DELETE FROM dag_test.ran WHERE false', skipIfNoRows: true },
      },
      sql('after_skip', log('after_skip'), { upstream: ['nothing_to_do'] }),
      sql('after_after_skip', log('after_after_skip'), { upstream: ['after_skip'] }),
      sql('alert_on_skip', log('alert_on_skip'), { upstream: ['nothing_to_do'], triggerRule: 'one_failed' }),
      sql('tolerant', log('tolerant'), { upstream: ['nothing_to_do', 'ok'], triggerRule: 'none_failed' }),
      sql('finally', log('finally'), { upstream: ['after_after_skip'], triggerRule: 'all_done' }),
    ],
  };
  const { failure, result, queried } = await runFailing('rules', spec);
  const expected: Record<string, TaskState> = {
    ok: 'success',
    bad: 'failed',
    after_bad: 'upstream_failed',
    after_after_bad: 'upstream_failed',
    cleanup: 'success',
    alert: 'success',
    guarded: 'upstream_failed',
    nothing_to_do: 'skipped',
    after_skip: 'skipped',
    after_after_skip: 'skipped',
    alert_on_skip: 'skipped',
    tolerant: 'success',
    finally: 'success',
  };
  expect(states(result)).toEqual(expected);
  expect(states(queried)).toEqual(expected);
  expect(result.status).toBe('failed');
  expect(result.tasks.bad!.error).toEqual({ type: 'SQL_42601', message: expect.stringContaining('syntax error') });
  expect(failure.type).toBe('DAG_FAILED');
  expect(failure.message).toBe(
    'DAG "rules" failed: bad (SQL_42601) failed; after_bad, after_after_bad, guarded did not run (upstream_failed)',
  );
  const ran = await db.query<{ task: string }>('SELECT task FROM dag_test.ran ORDER BY task');
  expect(ran.rows.map((r) => r.task)).toEqual(['alert', 'cleanup', 'finally', 'tolerant']);

  // The recorded history replays on the current code.
  const history = await client.workflow.getHandle(workflowId('rules')).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: bundle }, history);
});

test('an invalid DAG is rejected with every problem before any task runs', async () => {
  const spec = {
    id: 'cyclic',
    tasks: [
      sql('create', 'CREATE TABLE dag_test.cycle_probe (id int)'),
      sql('a', 'SELECT 1', { upstream: ['create', 'c'] }),
      sql('b', 'SELECT 1', { upstream: ['a'] }),
      sql('c', 'SELECT 1', { upstream: ['b'] }),
      { id: 'd', kind: 'ftp', upstream: ['create'] },
      { id: 'e', kind: 'sql', upstream: ['create'], input: { statment: 'SELECT 1' } },
    ],
  };
  const { failure } = await runFailing('cyclic', spec as DagSpec);
  expect(failure.type).toBe('DAG_INVALID');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.details?.[0]).toEqual({
    problems: [
      'cycle: a -> b -> c -> a',
      'task "d": kind "ftp" has no runner (known: sql, http, activation, sleep, sql_sensor, wait_for_signal)',
      'task "e": input.statement: Invalid input: expected string, received undefined',
      'task "e": input: Unrecognized key: "statment"',
    ],
  });
  const probe = await db.query<{ t: string | null }>("SELECT to_regclass('dag_test.cycle_probe')::text AS t");
  expect(probe.rows[0]!.t).toBeNull();
});

test('a mapped task fans out over an upstream list, in order; an empty list skips it', async () => {
  await db.query('CREATE TABLE dag_test.mapped (n int, at timestamptz)');
  const spec: DagSpec = {
    id: 'mapped',
    tasks: [
      { id: 'list', kind: 'sql', input: { statement: 'SELECT g AS n FROM generate_series(1, 5) g ORDER BY g', returnRows: true } },
      {
        id: 'each',
        kind: 'sql',
        upstream: ['list'],
        map: { over: 'list', field: 'rows' },
        input: {
          statement: "INSERT INTO dag_test.mapped VALUES (($1::jsonb->>'n')::int, clock_timestamp()) RETURNING n * 10 AS tenfold",
          returnRows: true,
        },
      },
      { id: 'none', kind: 'sql', input: { statement: 'SELECT 1 AS n WHERE false', returnRows: true } },
      sql('each_none', 'SELECT $1::jsonb', { upstream: ['none'], map: { over: 'none', field: 'rows' } }),
      sql('after_each_none', 'SELECT 1', { upstream: ['each_none'] }),
    ],
  };
  const result = await withWorker(() =>
    client.workflow.execute(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: workflowId('mapped'), args: [spec] }),
  );
  expect(result.status).toBe('success');
  const each = result.tasks.each!;
  expect(each.state).toBe('success');
  expect(each.mapped!.map((m) => [m.index, m.state])).toEqual([
    [0, 'success'],
    [1, 'success'],
    [2, 'success'],
    [3, 'success'],
    [4, 'success'],
  ]);
  expect(each.output).toEqual([10, 20, 30, 40, 50].map((tenfold) => ({ rowCount: 1, rows: [{ tenfold }] })));
  const rows = await db.query<{ n: number }>('SELECT n FROM dag_test.mapped ORDER BY n');
  expect(rows.rows.map((r) => r.n)).toEqual([1, 2, 3, 4, 5]);
  expect(states(result)).toMatchObject({ none: 'success', each_none: 'skipped', after_each_none: 'skipped' });
});

test('maxParallelism bounds concurrent executions, mapped items included', async () => {
  await db.query('CREATE TABLE dag_test.spans (task text, started timestamptz, ended timestamptz)');
  // statement_timestamp() is when the statement began; clock_timestamp() is read after the sleep. Each
  // statement lasts 2 s: the three started together overlap even when a loaded machine starts them
  // hundreds of ms apart (0.4 s left too little room for the peak of 3 to show).
  const span = (label: string) => `INSERT INTO dag_test.spans SELECT ${label}, statement_timestamp(), clock_timestamp() FROM pg_sleep(2)`;
  const spec: DagSpec = {
    id: 'parallel',
    maxParallelism: 3,
    tasks: [
      ...['p1', 'p2', 'p3', 'p4'].map((id) => sql(id, span(`'${id}'`))),
      { id: 'ids', kind: 'sql', input: { statement: "SELECT 'm' || g AS id FROM generate_series(1, 4) g", returnRows: true } },
      sql('fan', span("$1::jsonb->>'id'"), { upstream: ['ids'], map: { over: 'ids', field: 'rows' } }),
    ],
  };
  const result = await withWorker(() =>
    client.workflow.execute(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: workflowId('parallel'), args: [spec] }),
  );
  expect(result.status).toBe('success');
  const spans = await db.query<{ task: string; started: Date; ended: Date }>('SELECT * FROM dag_test.spans');
  expect(spans.rows).toHaveLength(8);
  // Sweep over start/end events; an end sorts before a start at the same instant.
  const events = spans.rows
    .flatMap(
      (s) =>
        [
          [s.started.getTime(), 1],
          [s.ended.getTime(), -1],
        ] as const,
    )
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let peak = 0;
  for (const [, delta] of events) peak = Math.max(peak, (open += delta));
  expect(peak).toBe(3);
});

test('a sql task runs exactly one statement: a second one is refused and nothing runs', async () => {
  await db.query('CREATE TABLE dag_test.kept (n int)');
  const spec: DagSpec = { id: 'two_statements', tasks: [sql('two', 'INSERT INTO dag_test.kept VALUES (1); DROP TABLE dag_test.kept')] };
  const { result } = await runFailing('two_statements', spec);
  expect(result.tasks.two!.error).toEqual({ type: 'SQL_42601', message: expect.stringContaining('a sql task runs exactly one statement') });
  expect((await db.query('SELECT count(*)::int AS n FROM dag_test.kept')).rows[0].n).toBe(0);
});

test('per-task retries and timeouts', async () => {
  await db.query('CREATE SEQUENCE dag_test.flaky_seq; CREATE SEQUENCE dag_test.too_flaky_seq');
  // Sequences are not rolled back with the failed statement, so they count attempts.
  const flaky = (seq: string) => `DO $$ BEGIN IF nextval('dag_test.${seq}') < 3 THEN RAISE EXCEPTION 'not ready yet'; END IF; END $$`;
  const retry = { initialIntervalSeconds: 0.1, backoffCoefficient: 1 };
  const spec: DagSpec = {
    id: 'retries',
    tasks: [
      sql('flaky', flaky('flaky_seq'), { retry: { ...retry, maximumAttempts: 3 } }),
      sql('too_flaky', flaky('too_flaky_seq'), { retry: { ...retry, maximumAttempts: 2 } }),
      sql('slow', 'SELECT pg_sleep(10)', { timeoutSeconds: 1, retry: { maximumAttempts: 1 } }),
    ],
  };
  const { result } = await runFailing('retries', spec);
  expect(states(result)).toEqual({ flaky: 'success', too_flaky: 'failed', slow: 'failed' });
  expect(result.tasks.too_flaky!.error).toEqual({ type: 'SQL_P0001', message: expect.stringContaining('not ready yet') });
  expect(result.tasks.slow!.error).toEqual({ type: 'SQL_57014', message: expect.stringContaining('statement timeout') });
  const attempts = await db.query(
    'SELECT (SELECT last_value FROM dag_test.flaky_seq) AS flaky, (SELECT last_value FROM dag_test.too_flaky_seq) AS too_flaky',
  );
  expect(attempts.rows[0]).toEqual({ flaky: '3', too_flaky: '2' });
});

test('http tasks succeed on 2xx and fail as HTTP_<status> after their retries; a stopped activation fails clearly', async () => {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      hits.push(`${req.method} ${req.url} ${body}`);
      res.statusCode = req.url === '/down' ? 503 : 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const spec: DagSpec = {
      id: 'notify',
      tasks: [
        { id: 'notify', kind: 'http', input: { url: `${base}/hook`, body: { dag: 'notify' } } },
        { id: 'down', kind: 'http', input: { url: `${base}/down` }, retry: { maximumAttempts: 2, initialIntervalSeconds: 0.1 } },
        { id: 'sync', kind: 'activation', input: { activationId: 'not-deployed', reason: 'dag test' } },
      ],
    };
    const { result } = await runFailing('notify', spec);
    expect(states(result)).toEqual({ notify: 'success', down: 'failed', sync: 'failed' });
    expect(result.tasks.notify!.output).toEqual({ status: 204 });
    expect(result.tasks.down!.error!.type).toBe('HTTP_503');
    expect(result.tasks.sync!.error).toEqual({
      type: 'ACTIVATION_NOT_RUNNING',
      message: expect.stringContaining('activation "not-deployed" is not running'),
    });
    expect(hits.sort()).toEqual(['GET /down ', 'GET /down ', 'POST /hook {"dag":"notify"}']);
  } finally {
    server.close();
  }
});

test('http headers come from a named connection; inline headers that look like credentials are refused before anything runs', async () => {
  const hits: Array<{ line: string; authorization?: string; source?: string }> = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push({
        line: `${req.method} ${req.url}`,
        authorization: req.headers.authorization,
        source: req.headers['x-request-source'] as string | undefined,
      });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const inline: DagSpec = {
      id: 'inline-secrets',
      tasks: [
        sql('probe', 'CREATE TABLE dag_test.header_probe (id int)'),
        {
          id: 'bearer',
          kind: 'http',
          input: { url: `${base}/x`, headers: { Authorization: 'Bearer inline-s3cret', 'X-Request-Source': 'dag' } },
        },
        { id: 'key', kind: 'http', input: { url: `${base}/x`, headers: { 'x-api-key': 'inline-k3y', Cookie: 'sid=inline-c00kie' } } },
      ],
    };
    const { failure } = await runFailing('inline-secrets', inline);
    expect(failure.type).toBe('DAG_INVALID');
    const problems = (failure.details?.[0] as { problems: string[] }).problems;
    expect(problems).toEqual([
      expect.stringMatching(/^task "bearer": input.headers.Authorization looks like a credential/),
      expect.stringMatching(/^task "key": input.headers.x-api-key looks like a credential/),
      expect.stringMatching(/^task "key": input.headers.Cookie looks like a credential/),
    ]);
    expect(problems[0]).toContain('"connection"');
    expect(JSON.stringify(problems)).not.toMatch(/inline-s3cret|inline-k3y|inline-c00kie/);
    expect((await db.query("SELECT to_regclass('dag_test.header_probe')::text AS t")).rows[0].t).toBeNull();
    expect(hits).toEqual([]);

    const crm = { headers: { Authorization: 'Bearer conn-s3cret' }, baseUrl: `${base}/api` };
    const spec: DagSpec = {
      id: 'conn-headers',
      tasks: [
        {
          id: 'push',
          kind: 'http',
          input: { url: '/v1/sync', connection: 'crm-api', body: { n: 1 }, headers: { 'X-Request-Source': 'dag' } },
        },
        { id: 'ping', kind: 'http', input: { url: `${base}/api/v1/ping`, connection: 'crm-api' } },
        // The connection's headers never go to another host than its baseUrl.
        { id: 'elsewhere', kind: 'http', input: { url: `${base}/other`, connection: 'crm-api' }, retry: { maximumAttempts: 1 } },
        { id: 'unknown', kind: 'http', input: { url: '/v1/sync', connection: 'nope' }, retry: { maximumAttempts: 1 } },
        // A webhook whose URL is the secret: the connection's baseUrl is the target.
        { id: 'hook', kind: 'http', input: { connection: 'team-hook', body: { dag: 'conn-headers' } } },
      ],
    };
    const { result } = await runFailing('conn-headers', spec, {
      'crm-api': crm,
      'team-hook': { baseUrl: `${base}/hooks/T0/B0/hook-t0ken` },
    });
    expect(states(result)).toEqual({ push: 'success', ping: 'success', elsewhere: 'failed', unknown: 'failed', hook: 'success' });
    expect(result.tasks.elsewhere!.error).toEqual({
      type: 'CONFIG_INVALID',
      message: expect.stringContaining(`${base}/other is not under the base URL of connection "crm-api"`),
    });
    expect(result.tasks.unknown!.error!.type).toBe('CONNECTION_UNKNOWN');
    // Said once, with where to define it (not "connection "nope" is not defined on this worker: " twice).
    expect(result.tasks.unknown!.error!.message).toBe(
      `connection "nope" is not defined on this worker: set SYNCLINE_CONNECTION_NOPE to its JSON in the worker's environment (then restart the worker), ` +
        `or add "nope" under "connections" in the secrets file named by SYNCLINE_SECRETS_FILE (read on every use: no restart)`,
    );
    expect(hits.sort((a, b) => a.line.localeCompare(b.line))).toEqual([
      { line: 'GET /api/v1/ping', authorization: 'Bearer conn-s3cret', source: undefined },
      { line: 'POST /api/v1/sync', authorization: 'Bearer conn-s3cret', source: 'dag' },
      { line: 'POST /hooks/T0/B0/hook-t0ken', authorization: undefined, source: undefined },
    ]);
    const history = await client.workflow.getHandle(workflowId('conn-headers')).fetchHistory();
    const text = JSON.stringify(history, (k, v: unknown) =>
      k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v,
    );
    expect(text).toContain('crm-api');
    expect(text).not.toMatch(/conn-s3cret|hook-t0ken/);
    await Worker.runReplayHistory({ workflowBundle: bundle }, history);
  } finally {
    server.close();
  }
});

test('a failing task names no secret base URL and no value: the history and the logged failures stay clean', async () => {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 404;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await db.query(`CREATE TABLE dag_test.leaky (v text); INSERT INTO dag_test.leaky VALUES ('row-v4lue@example.com')`);
    const spec: DagSpec = {
      id: 'no-leaks',
      tasks: [
        // The connection's baseUrl is the secret (a Slack-style webhook); the hook answers 404.
        { id: 'hook', kind: 'http', input: { connection: 'team-hook', body: { n: 1 } }, retry: { maximumAttempts: 1 } },
        { id: 'hookpath', kind: 'http', input: { url: '/x', connection: 'team-hook' }, retry: { maximumAttempts: 1 } },
        // A base URL that fetch refuses (credentials in it): its message quotes the whole URL.
        { id: 'userinfo', kind: 'http', input: { connection: 'basic-hook' }, retry: { maximumAttempts: 1 } },
        // Postgres quotes the value it could not read: a row value of the user's data.
        sql('cast', 'INSERT INTO dag_test.leaky SELECT v::int::text FROM dag_test.leaky', { retry: { maximumAttempts: 1 } }),
      ],
    };
    const { result } = await runFailing('no-leaks', spec, {
      'team-hook': { baseUrl: `${base}/hooks/T0/B0/hook-t0ken` },
      'basic-hook': { baseUrl: 'https://hook-user:basic-s3cret@hooks.example.com/h' },
    });
    expect(states(result)).toEqual({ hook: 'failed', hookpath: 'failed', userinfo: 'failed', cast: 'failed' });
    expect(result.tasks.hook!.error!.type).toBe('HTTP_404');
    expect(result.tasks.hook!.error!.message).toContain('connection "team-hook"');
    expect(result.tasks.hookpath!.error!.message).toContain('/x');
    expect(result.tasks.cast!.error!.type).toBe('SQL_22P02');
    expect(result.tasks.cast!.error!.message).toContain('invalid input syntax for type integer');
    const history = await client.workflow.getHandle(workflowId('no-leaks')).fetchHistory();
    const text = JSON.stringify(history, (k, v: unknown) =>
      k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v,
    );
    expect(text).toContain('team-hook');
    expect(text).not.toMatch(/hook-t0ken|basic-s3cret|row-v4lue/);
  } finally {
    server.close();
  }
});

test('cancelling the workflow cancels its running tasks and runs nothing more', async () => {
  const spec: DagSpec = {
    id: 'cancel',
    tasks: [
      { id: 'wait', kind: 'sleep', input: { seconds: 60 } },
      sql('never', 'CREATE TABLE dag_test.never_created (id int)', { upstream: ['wait'], triggerRule: 'all_done' }),
    ],
  };
  const err = await withWorker(async () => {
    const handle = await client.workflow.start(dagWorkflow, { taskQueue: TASK_QUEUE, workflowId: workflowId('cancel'), args: [spec] });
    // Up to a minute: a worker just created serves the first task slowly on a loaded machine.
    for (let i = 0; i < 1200 && (await handle.query(dagStateQuery)).tasks.wait?.state !== 'running'; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await handle.query(dagStateQuery)).tasks).toMatchObject({ wait: { state: 'running' }, never: { state: 'pending' } });
    await handle.cancel();
    return handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
  });
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const probe = await db.query<{ t: string | null }>("SELECT to_regclass('dag_test.never_created')::text AS t");
  expect(probe.rows[0]!.t).toBeNull();
});

test('a DAG started with the temporal CLI from a dag.json file', async () => {
  const cli = findTemporalCli() ?? 'temporal';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dag-cli-'));
  const file = path.join(dir, 'dag.json');
  await writeFile(
    file,
    JSON.stringify({
      id: 'nightly-refresh',
      tasks: [
        {
          id: 'create',
          kind: 'sql',
          input: { statement: 'CREATE TABLE dag_test.cli_log (step text, at timestamptz DEFAULT clock_timestamp())' },
        },
        { id: 'refresh', kind: 'sql', upstream: ['create'], input: { statement: "INSERT INTO dag_test.cli_log(step) VALUES ('refresh')" } },
        { id: 'settle', kind: 'sleep', upstream: ['refresh'], input: { seconds: 1 } },
        { id: 'done', kind: 'sql', upstream: ['settle'], input: { statement: "INSERT INTO dag_test.cli_log(step) VALUES ('done')" } },
      ],
    }),
  );
  const id = workflowId('nightly-refresh');
  const out = await withWorker(async () => {
    await run(cli, [
      'workflow',
      'start',
      '--address',
      address(),
      '--task-queue',
      TASK_QUEUE,
      '--type',
      WORKFLOW_TYPES.dag,
      '--workflow-id',
      id,
      '--input-file',
      file,
    ]);
    return run(cli, ['workflow', 'result', '--address', address(), '--workflow-id', id, '--output', 'json']);
  });
  expect(JSON.parse(out.stdout)).toMatchObject({ status: 'COMPLETED', result: { id: 'nightly-refresh', status: 'success' } });
  const rows = await db.query<{ step: string; gap: number }>(
    'SELECT step, extract(epoch FROM at - lag(at) OVER (ORDER BY at))::float AS gap FROM dag_test.cli_log ORDER BY at',
  );
  expect(rows.rows.map((r) => r.step)).toEqual(['refresh', 'done']);
  expect(rows.rows[1]!.gap).toBeGreaterThanOrEqual(1);
});
