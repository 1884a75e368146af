/**
 * `npm run build:workflows [file]` (also the last step of `npm run build`): bundles workflows/ once
 * (webpack) from the TypeScript sources. A worker started on it (SYNCLINE_WORKFLOW_BUNDLE, or
 * dist/workflow-bundle.js beside the compiled worker) does not run webpack at start.
 *
 * The inline source map keeps its mappings (workflow stack traces still name workflows/*.ts lines) but
 * not the sources' text: the workflow thread parses that map at start, and the text, needed only for
 * the worker option `showStackTraceSources`, costs ~8 MB of resident memory (1.6 MB bundle instead of 3.1).
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { PRELOADED_WORKFLOW_MODULES, WORKFLOW_INTERCEPTOR_MODULES } from '../client/workflow-bundle';

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never;

/** workflows/ bundled as production runs it; the history recorder and the replay test use the same bundle. */
export function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: quiet,
    preloadModules: PRELOADED_WORKFLOW_MODULES,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    webpackConfigHook: (config) => ({ ...config, devtool: 'inline-nosources-source-map' }),
  });
}

export async function writeWorkflowBundle(file: string): Promise<string> {
  const { code } = await bundleWorkflows();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  return file;
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '../.data/workflow-bundle.js'));
  writeWorkflowBundle(out).then(
    (f) => console.log(`workflow bundle written to ${f}; start workers with SYNCLINE_WORKFLOW_BUNDLE=${f}`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
