/**
 * What every syncline workflow bundle is built with: the production build (scripts/bundle-workflows.ts), a
 * worker that bundles workflows/ at start (client/plugin.ts) and the tests' bundles.
 * `preloadModules`: modules evaluated once per worker and shared by all its workflow executions, with what
 * they import: zod (workflows/preload.ts says why and what it must do before the SDK freezes it), the
 * activation document's and the DAG's schemas (built on first use, after the freeze: common/config.ts). A module
 * listed here must keep no per-execution state: every execution sees the same instance.
 */
export const PRELOADED_WORKFLOW_MODULES: string[] = [
  require.resolve('../workflows/preload'),
  require.resolve('../common/config'),
  require.resolve('../common/dag'),
  require.resolve('../common/dag-sensors'),
];

/**
 * The workflow interceptor modules every syncline bundle is built with (BundleOptions.workflowInterceptorModules;
 * client/plugin.ts gives them to a worker that bundles at start): workflows/interceptors.ts says what they do.
 * A bundle without them fails, for good, the workflow task of an activation that got a `__temporal_…` signal.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [require.resolve('../workflows/interceptors')];
