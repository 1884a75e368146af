/**
 * What a piece of code holds in ArrayBuffers (Buffers: file pieces, request bodies), read after full
 * collections, for the upload memory tests of the connectors.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** ArrayBuffer bytes alive after a full collection. */
export function arrayBuffersNow(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}

/**
 * Reads `arrayBuffersNow()` at each delay from now and keeps the least in `least`. What the code under test
 * holds stays held across all the readings; a passing allocation elsewhere in the process does not show in all.
 */
export function leastHeldAfter(delaysMs: readonly number[]): { least: number | null } {
  const held: { least: number | null } = { least: null };
  for (const ms of delaysMs)
    setTimeout(() => {
      const now = arrayBuffersNow();
      held.least = held.least === null ? now : Math.min(held.least, now);
    }, ms);
  return held;
}
