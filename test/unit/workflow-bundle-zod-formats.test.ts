/**
 * zod is preloaded into the workflow context every execution shares (client/workflow-bundle.ts), and the SDK
 * deep-freezes what a preloaded module exports, zod's own regular expressions (zod/v4/core/regexes) included.
 * zod's string formats test with those: they set `pattern.lastIndex = 0` first, which a frozen RegExp refuses.
 * Outside the worker (CLI, activities, unit tests) the same schemas work, so a document the CLI accepts could
 * be refused or crash inside the workflow. These check, in the production bundle's shared context, that a
 * workflow building such a schema gets the answers zod gives outside it.
 */
import { TypedSearchAttributes } from '@temporalio/common';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import { z } from 'zod';
import { bundleWorkflows } from '../../scripts/bundle-workflows';

let creator: ReusableVMWorkflowCreator;
let execution: { dispose(): Promise<void> } | undefined;

beforeAll(async () => {
  const { code } = await bundleWorkflows();
  const map = code.slice(code.indexOf('base64,', code.lastIndexOf('//# sourceMappingURL=data:')) + 'base64,'.length).trimEnd();
  const sourceMap = JSON.parse(Buffer.from(map, 'base64').toString());
  creator = await ReusableVMWorkflowCreator.create({ code, sourceMap, filename: 'workflow-bundle.js' }, 10_000, new Set());
  const runId = 'zod-formats';
  execution = await creator.createWorkflow({
    info: {
      workflowId: 'activation/zod-formats',
      runId,
      workflowType: 'activationWorkflow',
      searchAttributes: {},
      typedSearchAttributes: new TypedSearchAttributes(),
      taskQueue: 'zod-formats',
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
  });
}, 120_000);

afterAll(async () => {
  await execution?.dispose();
  await creator?.destroy();
});

/** The zod every workflow execution of this worker uses (the shared copy, frozen by the SDK). */
function sharedZod(): typeof z {
  const { code } = (creator as unknown as { workflowBundle: { code: string } }).workflowBundle;
  const id = /"([^"]*\/node_modules\/zod\/v4\/classic\/schemas\.js)"/.exec(code)![1]!;
  const context = (creator as unknown as { context: { __webpack_module_cache__: Record<string, { exports: typeof z }> } }).context;
  return context.__webpack_module_cache__[id]!.exports;
}

const CASES: Array<[string, (zod: typeof z) => { safeParse(v: unknown): { success: boolean } }, string]> = [
  ['z.email()', (zod) => zod.email(), 'ops@example.com'],
  ['z.string().email()', (zod) => zod.string().email(), 'ops@example.com'],
  ['z.httpUrl()', (zod) => zod.httpUrl(), 'https://hooks.example.com/x'],
  ['z.ipv4()', (zod) => zod.ipv4(), '10.0.0.1'],
  ['z.guid()', (zod) => zod.guid(), '123e4567-e89b-12d3-a456-426614174000'],
];

test.each(CASES)('inside the shared workflow context, %s accepts what it accepts outside', (_name, build, value) => {
  expect(build(z).safeParse(value).success).toBe(true); // outside the worker: accepted
  const answer = (() => {
    try {
      return build(sharedZod()).safeParse(value).success;
    } catch (err) {
      return `throws: ${(err as Error).message}`;
    }
  })();
  expect(answer).toBe(true);
});
