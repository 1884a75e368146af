/**
 * One warnings workflow per namespace (id `syncline-warnings`), started by the first report through
 * signal-with-start. It keeps the open warnings per (activation, code); each activation reports its
 * complete current set, the diff gives one notice per state change (opened / level changed) and one
 * on recovery (cleared), delivered one activity per notice so a retried webhook never repeats another.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  setWorkflowOptions,
  workflowInfo,
} from '@temporalio/workflow';
import { versioned } from './versioning';
import type { SynclineActivities } from '../activities';
import { applyReport, type OpenWarnings, type WarningReport } from '../common/warnings';
import { openWarningsQuery, reportWarningsSignal } from './messages';

export interface WarningsWorkflowInput {
  /** Carried across continue-as-new. */
  open?: OpenWarnings;
}

export { openWarningsQuery, reportWarningsSignal } from './messages';

/** Reports handled per execution before continuing as new (each costs a few history events per notice). */
export const REPORTS_PER_EXECUTION = 200;

// A webhook that stays down must not hold the queue for ever: after the retries the notice is logged as lost.
const notify = proxyActivities<SynclineActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 },
});

// Worker Versioning: one execution for the namespace, for ever: it moves to the current version like an activation.
setWorkflowOptions(versioned('AUTO_UPGRADE'), warningsWorkflow);

export async function warningsWorkflow(input: WarningsWorkflowInput = {}): Promise<void> {
  let open: OpenWarnings = input.open ?? {};
  const queue: WarningReport[] = [];
  setHandler(reportWarningsSignal, (report) => {
    queue.push(report);
  });
  setHandler(openWarningsQuery, (activationId?: string) =>
    Object.values(open)
      .filter((w) => !activationId || w.activationId === activationId)
      .sort((a, b) => a.since.localeCompare(b.since)),
  );

  let handled = 0;
  for (;;) {
    await condition(() => queue.length > 0 || workflowInfo().continueAsNewSuggested);
    // Reports are applied in arrival order, one at a time: notices of one activation never overtake each other.
    while (queue.length > 0) {
      const report = queue.shift()!;
      const diff = applyReport(open, report);
      open = diff.open;
      handled++;
      for (const notice of diff.notices) {
        try {
          await notify.deliverNotice({ notice, channel: report.channel });
        } catch (err) {
          if (!(err instanceof ActivityFailure)) throw err;
          log.error(`warning notice ${notice.id} could not be delivered: ${err.cause?.message ?? err.message}`);
        }
      }
    }
    if (handled >= REPORTS_PER_EXECUTION || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (queue.length > 0) continue;
      await continueAsNew<typeof warningsWorkflow>({ open });
    }
  }
}
