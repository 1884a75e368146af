/**
 * The SDK runs every workflow execution of a worker in one V8 context, but evaluates the bundle's modules
 * again for each execution, unless they are preloaded into the context once. zod and the schemas built with
 * it were most of what a cached execution held (1.2 MB of heap each, 125 KB without them, measured on the
 * bundle): these tests check that the production bundle shares them, and that the shared schemas still
 * accept and refuse documents once the SDK has frozen what it shares.
 */
import { TypedSearchAttributes } from '@temporalio/common';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BundleOptions, WorkerOptions } from '@temporalio/worker';
import { bundleWorkflows } from '../../scripts/bundle-workflows';
import { synclinePlugin } from '../../client/plugin';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../client/workflow-bundle';

type Module = { exports: Record<string, (...args: unknown[]) => any> };
type ModuleCache = Map<string, Module>;

/** The modules that hold zod schemas, built on first use in the shared context. */
const SHARED = ['./common/config.ts', './common/dag.ts', './common/dag-schedule.ts', './common/dag-sensors.ts'];

let creator: ReusableVMWorkflowCreator;
const executions: Array<{ dispose(): Promise<void> }> = [];

beforeAll(async () => {
  const { code } = await bundleWorkflows();
  // What the worker does with a bundle: the inline source map feeds the SDK's stack traces.
  const map = code.slice(code.indexOf('base64,', code.lastIndexOf('//# sourceMappingURL=data:')) + 'base64,'.length).trimEnd();
  const sourceMap = JSON.parse(Buffer.from(map, 'base64').toString());
  creator = await ReusableVMWorkflowCreator.create({ code, sourceMap, filename: 'workflow-bundle.js' }, 10_000, new Set());
}, 120_000);

afterAll(async () => {
  for (const e of executions) await e.dispose();
  await creator?.destroy();
});

/** A new execution of the activation workflow; returns the modules evaluated for it alone. */
/** The SDK's V8 context (protected: read here as the SDK's own tests do). */
function sandbox(): {
  __TEMPORAL_ACTIVATOR__: { moduleCache: ModuleCache; interceptors: { internals: object[] } };
  __webpack_module_cache__: Record<string, Module>;
} {
  return (creator as unknown as { context: ReturnType<typeof sandbox> }).context;
}

async function newExecution(n: number): Promise<ModuleCache> {
  const runId = `run-${n}`;
  executions.push(
    await creator.createWorkflow({
      info: {
        workflowId: `activation/sharing-${n}`,
        runId,
        workflowType: 'activationWorkflow',
        searchAttributes: {},
        typedSearchAttributes: new TypedSearchAttributes(),
        taskQueue: 'sharing',
        namespace: 'default',
        firstExecutionRunId: runId,
        originalExecutionRunId: runId,
        startTime: new Date(),
        runStartTime: new Date(),
        taskTimeoutMs: 10_000,
        attempt: 1,
        historyLength: 3,
        historySize: 1_000,
        continueAsNewSuggested: false,
        targetWorkerDeploymentVersionChanged: false,
        suggestedContinueAsNewReasons: [],
        currentBuildId: '',
        unsafe: { now: () => Date.now(), isReplaying: false, isReplayingHistoryEvents: false, random: Math.random },
      } as never,
      randomnessSeed: [1, 2, 3, 4],
      now: Date.now(),
      showStackTraceSources: false,
    }),
  );
  return sandbox().__TEMPORAL_ACTIVATOR__.moduleCache;
}

test('each workflow execution evaluates workflow modules of its own, but zod and the schema modules once per worker', async () => {
  for (const n of [1, 2]) {
    const own = [...(await newExecution(n)).keys()];
    expect(own).toContain('./workflows/activation.ts');
    expect(own.filter((id) => id.includes('/node_modules/zod/') || SHARED.includes(id))).toEqual([]);
  }
});

test('inside the shared context, the frozen zod and the shared schemas accept a valid activation and name the problems of a bad one', async () => {
  await newExecution(3);
  const config = sandbox().__webpack_module_cache__['./common/config.ts']!.exports;
  const valid = {
    id: 'contacts',
    mode: 'upsert',
    schedule: { cron: '0 6 * * 1', timezone: 'Europe/Brussels' },
    source: { sql: 'SELECT * FROM contacts', key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
    mappings: [{ from: 'email', to: 'Email' }],
    warnings: { connection: 'alerts' },
  };
  for (let twice = 0; twice < 2; twice++) {
    expect(config.parseActivationConfig!(valid)).toMatchObject({ ok: true, config: { id: 'contacts', source: { connection: 'default' } } });
    const bad = config.parseActivationConfig!({ ...valid, id: 'bad id!', mode: 'merge', schedule: { every: 'soon' }, mappings: 'none' });
    expect(bad.ok).toBe(false);
    expect(bad.problems.map((p: { path: string }) => p.path)).toEqual(expect.arrayContaining(['id', 'mode', 'schedule.every', 'mappings']));
    expect(config.formatProblems!('bad id!', bad.problems)).toMatch(/Invalid configuration for activation "bad id!"/);
    const newDoc = config.parseNewActivationConfig!({ ...valid, warnings: { webhookUrl: 'https://hooks.example.com/x' } });
    expect(newDoc.problems.map((p: { path: string }) => p.path)).toEqual(['warnings.webhookUrl']);
  }
});

test('inside the shared context, the shared DAG schemas accept a valid DAG and name the problems of a bad one', async () => {
  await newExecution(4);
  const modules = sandbox().__webpack_module_cache__;
  const dag = modules['./common/dag.ts']!.exports;
  const sensors = modules['./common/dag-sensors.ts']!.exports;
  const valid = {
    id: 'nightly',
    schedule: { cron: '0 2 * * *', timezone: 'Europe/Brussels' },
    tasks: [
      { id: 'ready', kind: 'sql_sensor', input: { statement: 'SELECT 1', timeoutSeconds: 600 } },
      { id: 'load', kind: 'sql', upstream: ['ready'], input: { statement: 'SELECT 1' } },
    ],
  };
  for (let twice = 0; twice < 2; twice++) {
    expect(dag.validateDag!(valid)).toMatchObject({ ok: true, spec: { id: 'nightly' } });
    expect(sensors.sensorProblems!(valid)).toEqual([]);
    const bad = dag.validateDag!({
      ...valid,
      schedule: { every: 'soon', timezone: 'UTC' },
      tasks: [{ id: 'bad id!', kind: 'sql', upstream: ['nowhere'] }],
    });
    expect(bad.ok).toBe(false);
    expect(bad.problems.join('\n')).toMatch(/tasks\.0\.id/);
    expect(bad.problems.join('\n')).toMatch(/schedule/);
    expect(sensors.sensorInputProblems!({ id: 'ready', kind: 'sql_sensor', input: { statement: 'SELECT 1' } })).toEqual([
      expect.stringContaining('task "ready": input.timeoutSeconds: a sensor needs "timeoutSeconds"'),
    ]);
  }
});

/**
 * Every string check zod builds with a RegExp in `def.pattern` (formats, `.regex()`), reachable from `root`.
 * Walks zod's definitions: a schema's `_zod.def`, its checks, shapes, options, inner and element types.
 */
function patternChecks(root: unknown): Array<{ format: string; pattern: RegExp }> {
  const found: Array<{ format: string; pattern: RegExp }> = [];
  const seen = new Set<object>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) return value.forEach(visit);
    const def = (value as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (def) {
      // The sandbox has RegExps of its own realm: `instanceof RegExp` would miss them.
      const pattern = def.pattern as RegExp | undefined;
      if (Object.prototype.toString.call(pattern) === '[object RegExp]') found.push({ format: String(def.format), pattern: pattern! });
      for (const [key, v] of Object.entries(def)) if (key !== 'pattern') visit(v);
      if (typeof def.getter === 'function') visit((def.getter as () => unknown)());
      return;
    }
    // Plain containers in a definition (a shape, a record of kinds).
    if (Object.getPrototypeOf(value) === null || Object.getPrototypeOf(Object.getPrototypeOf(value)) === null)
      Object.values(value).forEach(visit);
  };
  visit(root);
  return found;
}

test('no schema built in the shared context uses a zod string format, whose RegExp the SDK has frozen', async () => {
  // zod's formats (z.email(), .email(), z.ipv4(), z.guid(), iso dates, z.httpUrl()...) test against RegExps that
  // zod's module holds, frozen with the rest of the preloaded zod; zod resets `pattern.lastIndex` before each test,
  // which throws on a frozen RegExp (or, for z.httpUrl(), refuses every URL). A `.regex(/.../)` of our own is built
  // with the schema, after the freeze, and works. README, "Modules every execution shares".
  await newExecution(5);
  const modules = sandbox().__webpack_module_cache__;
  const roots = {
    config: modules['./common/config.ts']!.exports.configSchemas!(),
    dag: modules['./common/dag.ts']!.exports.dagSpecSchema!(),
    schedule: modules['./common/dag-schedule.ts']!.exports.dagScheduleSchema!(),
    sensors: modules['./common/dag-sensors.ts']!.exports.sensorSchemas!(),
  };
  const checks = Object.entries(roots).flatMap(([name, root]) => patternChecks(root).map((c) => ({ name, ...c })));
  // The walk reaches the checks: the activation id's and the task id's own `.regex()`.
  expect(checks.filter((c) => c.format === 'regex').map((c) => c.name)).toEqual(expect.arrayContaining(['config', 'dag']));
  expect(checks.filter((c) => Object.isFrozen(c.pattern)).map((c) => `${c.name}: ${c.format} ${String(c.pattern)}`)).toEqual([]);
});

test('every execution of the production bundle has the workflow interceptors, and every bundle in the repository is built with them', async () => {
  await newExecution(3);
  // workflows/interceptors.ts: a `__temporal_…` signal would otherwise fail an activation's workflow task for good.
  expect(sandbox().__TEMPORAL_ACTIVATOR__.interceptors.internals.map((i) => i.constructor.name)).toEqual(['ReservedSignalNames']);
  const root = path.resolve(__dirname, '../..');
  const tracked = execFileSync('git', ['ls-files', '*.ts'], { cwd: root, encoding: 'utf8' }).trim().split('\n');
  const bundling = tracked.filter((f) => fs.readFileSync(path.join(root, f), 'utf8').includes('bundleWorkflowCode({'));
  expect(bundling.length).toBeGreaterThan(3);
  const without = bundling.filter(
    (f) => !fs.readFileSync(path.join(root, f), 'utf8').includes('workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES'),
  );
  expect(without).toEqual([]);
});

test('the plugin builds the workflow interceptors into a bundle it makes at worker start, and leaves a prebuilt bundle alone', () => {
  const plugin = (workflowBundle?: { code: string }) =>
    synclinePlugin({ databaseUrl: 'postgres://unused', codec: null, deployment: null, workflowBundle });
  const base = { taskQueue: 'syncline' } as WorkerOptions;
  // worker.ts under tsx, a team's own worker: the worker bundles workflows/ with these modules.
  expect(plugin().configureWorker(base).interceptors?.workflowModules).toEqual(WORKFLOW_INTERCEPTOR_MODULES);
  expect(plugin().configureBundler({ workflowsPath: 'x' } as BundleOptions).workflowInterceptorModules).toEqual(
    WORKFLOW_INTERCEPTOR_MODULES,
  );
  // A prebuilt bundle holds them already (the SDK would warn that it ignores them).
  expect(plugin({ code: '' }).configureWorker(base).interceptors?.workflowModules ?? []).toEqual([]);
});
