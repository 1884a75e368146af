/**
 * Patches asked through a baseline (README "Changing workflow code", "Baselines").
 *
 * Every `patched()` that a new execution takes costs its history two events (the marker and the
 * `TemporalChangeVersion` search attribute the SDK upserts with it) and the server one visibility update.
 * An activation continues as new after every run and asks its patches again in each new execution, and a
 * small run asked five: of a small run's 35 events, 10 were these. A baseline is one patch standing for a
 * set of earlier ones that every new execution takes:
 *
 * - a new execution asks the baseline first, records its one marker, and takes every patch it covers
 *   without asking them (no marker each);
 * - an execution recorded before the baseline has no marker of it: on replay the baseline answers false
 *   and each patch is asked as before, so its history replays unchanged;
 * - an execution started by an older worker during a rolling deploy (unversioned workers) asks the
 *   patches themselves and records their markers; a newer worker replaying it finds no baseline marker and
 *   asks them too, matching those markers.
 *
 * An execution recorded before the baseline that goes on live on the new code asks the baseline when it
 * next needs a covered patch, records its marker then, and takes the patch: the branch it would have taken
 * live anyway, since the baseline covers only patches every live execution takes.
 *
 * A baseline's list never grows: an execution that took it never asked the patches on it, so a patch added
 * later would read as taken where it was never asked. Newer patches use `patched()` until a new baseline
 * (with a new id, asking this one for what it covered) takes them in.
 */
import { patched } from '@temporalio/workflow';

export class Patches<Id extends string> {
  private taken = false;

  /** `covered`: the patches the baseline stands for (their ids type `has`; the list is the record of them). */
  constructor(
    private readonly baseline: string,
    _covered: readonly Id[],
  ) {}

  /**
   * Whether this execution takes the baseline. Ask it before anything the baseline covers, so a new
   * execution records its marker first. A `false` while replaying is not final (the SDK's rule for every
   * patch): the execution may go on live and take it then.
   */
  baselineTaken(): boolean {
    if (!this.taken) this.taken = patched(this.baseline);
    return this.taken;
  }

  /** `patched(id)`, answered by the baseline when it covers `id` and this execution took it. */
  has(id: Id): boolean {
    return this.baselineTaken() || patched(id);
  }
}

/** The activation's baseline: `activation-queue`, `activation-memo`; with it, its first task upserts nothing unchanged (activation.ts). */
export function activationPatches() {
  return new Patches('activation-baseline-2026-12', ['activation-queue', 'activation-memo'] as const);
}

/** A run's baseline: every patch `syncRunWorkflow` asked before it. */
export function runPatches() {
  return new Patches('sync-run-baseline-2026-12', [
    'sync-run-straight',
    'small-run-local-steps',
    'write-chunk-workflows',
    'run-progress-steps-only',
    'run-progress-activities-only',
    'run-progress-after-delay',
  ] as const);
}

export type RunPatches = ReturnType<typeof runPatches>;
export type ActivationPatches = ReturnType<typeof activationPatches>;
