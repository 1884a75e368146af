/**
 * The workflow interceptors of every syncline bundle (client/workflow-bundle.ts WORKFLOW_INTERCEPTOR_MODULES:
 * the production bundle, a worker that bundles at start, the tests' and the replay's bundles).
 *
 * A signal whose name begins with Temporal's reserved prefix `__temporal_` (`temporal workflow signal --name
 * __temporal_foo`) is accepted by Temporal, but the SDK throws on it before any handler or interceptor once a
 * workflow has a default signal handler (the activation's takes misspelled signals): the workflow task
 * failed at every retry, for good, and the activation answered no query and ran nothing. Such a signal (no
 * syncline workflow registers a handler of a reserved name; the SDK refuses one but for its own contrib
 * packages, which syncline does not use) is logged here and handed to the workflow under a name of no
 * reserved prefix, `reservedSignalName` below: the activation's default handler takes it as any unknown
 * signal (logged, listed by the status query), a workflow without one keeps it unhandled as it keeps any
 * other. A signal emits no command: the histories recorded before replay as they did.
 */
import {
  log,
  type ActivateInput,
  type Next,
  type WorkflowInterceptorsFactory,
  type WorkflowInternalsInterceptor,
} from '@temporalio/workflow';
import { ignoredSignalLog } from './messages';

/** Temporal's reserved prefix (@temporalio/common TEMPORAL_RESERVED_PREFIX, not exported to workflow code). */
export const TEMPORAL_RESERVED_PREFIX = '__temporal_';

/** What a reserved-prefix signal is delivered as: this, then its name (`reservedSignalName`). */
const RESERVED_MARK = 'syncline.reserved-name:';

/** The name of no reserved prefix a signal named `name` (reserved) is delivered under. */
export function deliveredName(name: string): string {
  return `${RESERVED_MARK}${name}`;
}

/** The name the sender gave a signal the workflow got as `name`: its reserved name when delivered renamed, else `name`. */
export function reservedSignalName(name: string): string {
  const rest = name.startsWith(RESERVED_MARK) ? name.slice(RESERVED_MARK.length) : '';
  return rest.startsWith(TEMPORAL_RESERVED_PREFIX) ? rest : name;
}

/** How many ignored signals (of unknown names) a workflow keeps for its status or state query, newest last. */
const IGNORED_SIGNALS_KEPT = 5;

/**
 * A signal a workflow has no handler for (its default signal handler): logged with `hint`, and `kept` with it
 * added, the last few only, as the status or state query shows them. `delivered`: the name the workflow got
 * (a reserved name renamed above is shown as sent).
 */
export function noteIgnoredSignal(
  subject: string,
  delivered: string,
  hint: string,
  kept: ReadonlyArray<{ name: string; at: string }> = [],
): Array<{ name: string; at: string }> {
  const name = reservedSignalName(delivered);
  const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
  log.warn(ignoredSignalLog(subject, shown, hint));
  return [...kept, { name: shown, at: new Date(Date.now()).toISOString() }].slice(-IGNORED_SIGNALS_KEPT);
}

class ReservedSignalNames implements WorkflowInternalsInterceptor {
  activate(input: ActivateInput, next: Next<WorkflowInternalsInterceptor, 'activate'>): void {
    for (const job of input.activation.jobs ?? []) {
      const signal = job.signalWorkflow;
      const name = signal?.signalName;
      if (!signal || !name?.startsWith(TEMPORAL_RESERVED_PREFIX)) continue;
      const shown = name.length > 100 ? `${name.slice(0, 100)}…` : name;
      log.warn(
        `signal ${JSON.stringify(shown)} has Temporal's reserved prefix "${TEMPORAL_RESERVED_PREFIX}" and no handler: taken as a signal of an unknown name`,
      );
      signal.signalName = deliveredName(name);
    }
    next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ internals: [new ReservedSignalNames()] });
