/**
 * What every syncline workflow bundle is built with: the production build (scripts/bundle-workflows.ts), a
 * worker that bundles workflows/ at start (client/plugin.ts) and the tests' bundles.
 * `preloadModules`: modules evaluated once per worker and shared by all its workflow executions
 * (workflows/preload.ts says why and what it must do before the SDK freezes them).
 */
export const PRELOADED_WORKFLOW_MODULES: string[] = [require.resolve('../workflows/preload')];
