/**
 * Loaded once into the worker's shared workflow context (the bundler's `preloadModules`, set in
 * client/workflow-bundle.ts) instead of once per workflow execution: the SDK evaluates a bundle's other
 * modules again for every execution it creates, and zod alone cost some 700 KB of heap for each execution
 * a worker keeps in its cache (docs/benchmarks.md, Fleet).
 *
 * The SDK freezes what is preloaded. zod sets its default locale and memoizer on the first schema it
 * builds and caches whether it may compile parsers on the first object it parses; all three are done
 * here, before the freeze, or the first schema a workflow builds would throw on zod's frozen config.
 */
import { z } from 'zod';

z.object({ preloaded: z.string() }).safeParse({ preloaded: 'yes' });
void z.util.allowsEval.value;
