/**
 * activationWorkflow paths. The activation continues as new after every run, so each recorded
 * execution is one step: the scenario drives it, waits for the next execution, and stores the one before.
 */
import { WorkflowUpdateStage } from '@temporalio/client';
import { activation, createModel, emulatorAdmin, expectRun, sfConnection, type Stage } from './stage';
import { activityCount, eventCount, waitFor } from './recorder';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import {
  approveDeletesUpdate,
  configQuery,
  resyncSignal,
  statusQuery,
  stopSignal,
  triggerSyncUpdate,
  updateConfigUpdate,
} from '../../workflows/messages';

const wfId = (id: string) => activationWorkflowId(id);

/** Interval fires on durable timers, pause/resume, and the open execution that waits for its next fire. */
export async function scheduled(s: Stage): Promise<void> {
  const id = 'hist_schedule';
  const wf = wfId(id);
  await createModel(s, id, 20);
  // 12 s between fires leaves time to pause the third execution before its timer fires.
  const { runId: first } = await s.syncline.start(activation(s, id, { schedule: { every: '12s' } }));
  const second = await s.rec.nextRun(wf, first);
  await s.rec.record(
    'scheduled-first-fire',
    wf,
    first,
    'interval schedule, first fire due at once (1 ms timer): the first run, then continue-as-new',
  );
  await s.rec.record(
    'collections',
    await s.rec.child(wf, first),
    undefined,
    'a new model of 20 rows: 20 creates through sObject Collections (below bulkThreshold), commit, warnings',
  );
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v2' WHERE id LIKE '%-1_'`);
  const third = await s.rec.nextRun(wf, second);
  await s.rec.record(
    'scheduled-interval-fire',
    wf,
    second,
    'waits on a durable timer for the next interval fire (12 s), a run, then continue-as-new',
  );
  await s.syncline.pause(id, 'recording pause and resume');
  await s.rec.until(wf, third, 'the pause to cancel the fire timer', (ev) => eventCount(ev, 'TIMER_CANCELED') > 0);
  await s.syncline.resume(id);
  const fourth = await s.rec.nextRun(wf, third);
  await s.rec.record(
    'pause-resume',
    wf,
    third,
    'pause signal while waiting for the fire (timer cancelled, waits unscheduled), resume signal (timer again), a run at the fire time',
  );
  await s.rec.until(wf, fourth, 'the timer of the next fire', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  await s.rec.record('open-waiting-on-timer', wf, fourth, 'OPEN: an idle activation on its timer, waiting for the next interval fire');
  await s.syncline.pause(id, 'recording an open paused activation');
  await s.rec.until(wf, fourth, 'the pause', (ev) => eventCount(ev, 'TIMER_CANCELED') > 0);
  await s.rec.record('open-paused', wf, fourth, 'OPEN: the same execution after a pause signal: fire timer cancelled, waiting for resume');
}

/** triggerSync (update), resync and retryFailed (signals) on a manual activation. */
export async function signalsAndUpdates(s: Stage): Promise<void> {
  const id = 'hist_signals';
  const wf = wfId(id);
  await createModel(s, id, 20);
  const { runId: first } = await s.syncline.start(activation(s, id));
  expectRun(
    'triggerSync',
    await s.syncline.triggerSync(id, { reason: 'recording' }),
    (r) => r.status === 'success' && r.ops.upsert?.succeeded === 20,
  );
  const second = await s.rec.nextRun(wf, first);
  await s.rec.record(
    'trigger-sync-update',
    wf,
    first,
    'manual schedule: a triggerSync update runs the first run and is answered with its summary, then continue-as-new',
  );
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v2' WHERE id LIKE '%-1_'`);
  await s.syncline.resync(id, { full: true, reason: 'recording a full resync' });
  const third = await s.rec.nextRun(wf, second);
  await s.rec.record('resync-signal', wf, second, 'a resync {full: true} signal: a run (full_resync), then continue-as-new');
  await s.rec.record(
    'full-resync',
    await s.rec.child(wf, second),
    undefined,
    'a full re-sync: every row sent, no DELTA_LARGE (the patch marker no-delta-large-on-full-resync)',
  );
  await s.syncline.retryFailed(id);
  const fourth = await s.rec.nextRun(wf, third);
  await s.rec.record(
    'retry-failed-signal',
    wf,
    third,
    'a retryFailed signal: a run (retry_failed: only rows that failed before), then continue-as-new',
  );
  // A script's --input '{"full":"false"}': the text is not a boolean (no type reaches a signal's payload).
  await s.client.workflow.getHandle(wf).signal(resyncSignal, { full: 'false' as unknown as boolean });
  await s.rec.nextRun(wf, fourth);
  await s.rec.record(
    'resync-full-text',
    wf,
    fourth,
    'a resync {full: "false"} signal: a normal run, not a full re-sync (the patch marker resync-full-text), then continue-as-new',
  );
}

/** plan (update), apply (update), and a normal run that supersedes an open plan. */
export async function planAndApply(s: Stage): Promise<void> {
  const id = 'hist_plan';
  const wf = wfId(id);
  await createModel(s, id, 20);
  const { runId: first } = await s.syncline.start(
    activation(s, id, { mode: 'mirror', extra: { deletionGuard: { maxDeletePercent: 50 } } }),
  );
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  const second = await s.rec.nextRun(wf, first);
  await s.sql.query(`UPDATE hist.${id} SET last_name = 'changed' WHERE id LIKE '%-1' OR id LIKE '%-2';
    DELETE FROM hist.${id} WHERE id LIKE '%-20'; INSERT INTO hist.${id} SELECT id || '-new', last_name, email FROM hist.${id} WHERE id LIKE '%-5'`);
  const plan = await s.syncline.plan(id);
  if (plan.counts.delete !== 1 || plan.counts.upsert !== 3) throw new Error(`plan: unexpected ${JSON.stringify(plan.counts)}`);
  const third = await s.rec.nextRun(wf, second);
  await s.rec.record(
    'plan-update',
    wf,
    second,
    'a plan update: a run computes the delta only and is recorded as the open plan, then continue-as-new',
  );
  await s.rec.record(
    'plan-only',
    await s.rec.child(wf, second),
    undefined,
    'planOnly: validate, extract, delta, recordPlan; nothing written or committed',
  );
  expectRun('apply', await s.syncline.apply(id, plan.plan), (r) => r.status === 'success' && r.ops.delete?.succeeded === 1);
  const fourth = await s.rec.nextRun(wf, third);
  await s.rec.record(
    'apply-plan-update',
    wf,
    third,
    "an apply update: the plan's frozen rows are written under the plan's run number (child run/<n>/apply), then continue-as-new",
  );
  await s.rec.record(
    'apply-plan',
    await s.rec.child(wf, third),
    undefined,
    'applyPlan: loadPlan, the frozen chunks written, commit, markPlanApplied',
  );
  await s.sql.query(`UPDATE hist.${id} SET last_name = 'changed again' WHERE id LIKE '%-3'`);
  await s.syncline.plan(id);
  const fifth = await s.rec.nextRun(wf, fourth);
  expectRun('superseding run', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  await s.rec.nextRun(wf, fifth);
  await s.rec.record(
    'plan-superseded-by-run',
    wf,
    fifth,
    'a triggerSync while a plan is open: supersedePlans (patch "plan-apply"), the run, then continue-as-new',
  );
}

/** Mirror: deletions held by the guard, then approveDeletes (update) runs them. */
export async function mirrorDeletionGuard(s: Stage): Promise<void> {
  const id = 'hist_mirror';
  const wf = wfId(id);
  await createModel(s, id, 20);
  // Its notices go to a webhook that refuses them: the warnings workflow's undeliverable-notice path.
  const { runId: first } = await s.syncline.start(activation(s, id, { mode: 'mirror', hook: 'hooks-refusing' }));
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 20);
  const second = await s.rec.nextRun(wf, first);
  await s.sql.query(`DELETE FROM hist.${id}`);
  const held = expectRun('held deletions', await s.syncline.triggerSync(id), (r) => r.heldDeletes === 20);
  const third = await s.rec.nextRun(wf, second);
  await s.rec.record(
    'mirror-deletes-held',
    wf,
    second,
    'Mirror run of an emptied model: the deletion guard holds 20 deletions (DELETES_HELD), then continue-as-new',
  );
  await s.rec.record(
    'mirror-deletes-held',
    await s.rec.child(wf, second),
    undefined,
    'Mirror with every row removed: deletions held by the guard, nothing written',
  );
  const approved = await s.syncline.approveDeletes(id, held.runNumber);
  if (approved.approved !== 20 || approved.run.ops.delete?.succeeded !== 20)
    throw new Error(`approveDeletes: unexpected ${JSON.stringify(approved)}`);
  await s.rec.nextRun(wf, third);
  await s.rec.record(
    'approve-deletes',
    wf,
    third,
    'an approveDeletes update: approveHeldDeletes, a run (trigger approval) deletes them, answered, then continue-as-new',
  );
  await s.rec.record(
    'mirror-approved-deletes',
    await s.rec.child(wf, third),
    undefined,
    'Mirror run after approval: 20 deletions through Collections',
  );
}

/** Deletions held, then a run that fails on its model: DELETES_HELD stays open (patched 'warnings-kept-when-unknown'). */
export async function heldDeletesThroughFailedRun(s: Stage): Promise<void> {
  const id = 'hist_mirror_failed';
  const wf = wfId(id);
  await createModel(s, id, 10);
  const { runId: first } = await s.syncline.start(activation(s, id, { mode: 'mirror' }));
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 10);
  const second = await s.rec.nextRun(wf, first);
  await s.sql.query(`DELETE FROM hist.${id}`);
  expectRun('held deletions', await s.syncline.triggerSync(id), (r) => r.heldDeletes === 10);
  const third = await s.rec.nextRun(wf, second);
  await s.sql.query(`DROP TABLE hist.${id}`);
  expectRun('failed on its model', await s.syncline.triggerSync(id), (r) => r.status === 'failed');
  await s.rec.nextRun(wf, third);
  await s.rec.record(
    'failed-run-keeps-deletes-held',
    wf,
    third,
    'a run fails on its model while deletions wait for approval: DELETES_HELD stays open (a patch marker), RUN_FAILED opens, then continue-as-new',
  );
}

/** A document accepted while a plan is open makes the plan stale (patched 'config-supersedes-plan'). */
export async function documentSupersedesPlan(s: Stage): Promise<void> {
  const id = 'hist_doc_plan';
  const wf = wfId(id);
  await createModel(s, id, 10);
  const doc = activation(s, id);
  const { runId: first } = await s.syncline.start(doc);
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  const second = await s.rec.nextRun(wf, first);
  await s.sql.query(`UPDATE hist.${id} SET last_name = 'changed' WHERE id LIKE '%-1'`);
  await s.syncline.plan(id);
  const third = await s.rec.nextRun(wf, second);
  const answer = await s.syncline.updateConfig(id, { config: { ...doc, thresholds: { failedRowPercent: 20 } }, reason: 'recording' });
  if (!answer.applied) throw new Error(`updateConfig: not applied ${JSON.stringify(answer)}`);
  expectRun('the run after the document', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  await s.rec.nextRun(wf, third);
  await s.rec.record(
    'config-supersedes-plan',
    wf,
    third,
    'an updateConfig while a plan is open: supersedePlans, applyConfigUpdate (the marker config-supersedes-plan), a run, then continue-as-new',
  );
}

/** A new target while deletions wait for approval: they are dropped with the old target's snapshot (patched 'retarget-drops-held-deletes'). */
export async function retargetDropsHeldDeletes(s: Stage): Promise<void> {
  const id = 'hist_retarget_held';
  const wf = wfId(id);
  await createModel(s, id, 10);
  const doc = activation(s, id, { mode: 'mirror' });
  const { runId: first } = await s.syncline.start(doc);
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 10);
  const second = await s.rec.nextRun(wf, first);
  await s.sql.query(`DELETE FROM hist.${id}`);
  expectRun('held deletions', await s.syncline.triggerSync(id), (r) => r.heldDeletes === 10);
  const third = await s.rec.nextRun(wf, second);
  const moved = { ...doc, destination: { ...(doc.destination as Record<string, unknown>), object: 'Lead' } };
  const answer = await s.syncline.updateConfig(id, { config: moved, retarget: true, reason: 'recording a retarget with deletions held' });
  if (!answer.applied) throw new Error(`updateConfig: not applied ${JSON.stringify(answer)}`);
  await s.rec.nextRun(wf, third);
  const status = await s.client.workflow.getHandle(wf).query(statusQuery);
  if (status.heldDeletes !== null || status.warnings?.some((w) => w.code === 'DELETES_HELD'))
    throw new Error(
      `retarget: the held deletions were kept ${JSON.stringify({ heldDeletes: status.heldDeletes, warnings: status.warnings })}`,
    );
  await s.rec.record(
    'retarget-drops-held-deletes',
    wf,
    third,
    'an updateConfig with a new object (retarget) while 10 deletions wait for approval: applyConfigUpdate, the marker retarget-drops-held-deletes, health upserted, DELETES_HELD cleared (reportWarnings), then continue-as-new',
  );
}

/**
 * The state database refuses the activation's bookkeeping with a failure no retry mends (patched
 * 'bookkeeping-failure-survived'): an accepted document that cannot be recorded is the caller's answer and the
 * activation goes on with the one it ran; an open plan that cannot be marked superseded before a run does not
 * stop the run. Executions before the patch failed the activation workflow at either.
 */
export async function bookkeepingRefused(s: Stage): Promise<void> {
  const id = 'hist_bookkeeping';
  const wf = wfId(id);
  await createModel(s, id, 10);
  const doc = activation(s, id);
  const { runId: first } = await s.syncline.start(doc);
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  const second = await s.rec.nextRun(wf, first);
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v2' WHERE id LIKE '%-1'`);
  await s.syncline.plan(id);
  const third = await s.rec.nextRun(wf, second);
  s.refuseNext('applyConfigUpdate', id);
  const refused = await s.syncline.updateConfig(id, { config: { ...doc, thresholds: { failedRowPercent: 20 } }, reason: 'recording' }).then(
    (a) => `applied: ${JSON.stringify(a)}`,
    (e: Error) => `${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`,
  );
  if (!/the new document could not be recorded in the state database/.test(refused)) throw new Error(`updateConfig: ${refused}`);
  const kept = (await s.client.workflow.getHandle(wf).query(configQuery)) as { thresholds?: { failedRowPercent?: number } };
  if (kept.thresholds?.failedRowPercent === 20) throw new Error(`the refused document runs: ${JSON.stringify(kept.thresholds)}`);
  const fourth = await s.rec.nextRun(wf, third);
  await s.rec.record(
    'bookkeeping-refused-document',
    wf,
    third,
    'an updateConfig while a plan is open: supersedePlans, applyConfigUpdate refused (non-retryable, SQLSTATE 54000; the marker bookkeeping-failure-survived), the caller answered, the activation lives on with the document it ran, then continue-as-new',
  );
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v3' WHERE id LIKE '%-2'`);
  await s.syncline.plan(id);
  const fifth = await s.rec.nextRun(wf, fourth);
  s.refuseNext('supersedePlans', id);
  expectRun('the run over a plan not superseded', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  await s.rec.nextRun(wf, fifth);
  await s.rec.record(
    'bookkeeping-refused-supersede',
    wf,
    fifth,
    'a triggerSync while a plan is open: supersedePlans refused (non-retryable, SQLSTATE 54000; the marker bookkeeping-failure-survived), the run goes on, then continue-as-new',
  );
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
}

/**
 * A document sent while another waits for the run in progress supersedes it (patched 'config-update-supersedes'):
 * the waiting one is answered CONFIG_SUPERSEDED, the later one applied after the run. The run takes Bulk API 2.0 on
 * the "slow" emulator (a job takes 8 s), long enough for both documents to arrive while it writes.
 */
export async function configUpdateSupersedes(s: Stage): Promise<void> {
  const id = 'hist_doc_supersedes';
  const wf = wfId(id);
  await createModel(s, id, 60);
  const doc = activation(s, id, { connection: 'sf-slow' });
  const { runId: first } = await s.syncline.start(doc);
  const h = s.client.workflow.getHandle(wf);
  const run = s.syncline.triggerSync(id, { reason: 'recording a run that writes while documents arrive' });
  await waitFor('the run to write', async () => (await h.query(statusQuery)).state === 'running');
  const sent = (failedRowPercent: number) => ({ ...doc, thresholds: { failedRowPercent } });
  const waiting = await h.startUpdate(updateConfigUpdate, {
    args: [{ config: sent(20), reason: 'recording: the document that waits' }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await waitFor(
    'the first document to wait for the run',
    async () => ((await h.query(configQuery)) as { thresholds?: { failedRowPercent?: number } }).thresholds?.failedRowPercent === 20,
  );
  const later = await h.startUpdate(updateConfigUpdate, {
    args: [{ config: sent(30), reason: 'recording: the later document' }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  const dropped = await waiting.result().then(
    () => 'applied',
    (e: Error) => (e.cause as Error | undefined)?.message ?? e.message,
  );
  if (!/a later document was sent/.test(dropped)) throw new Error(`the waiting document: ${dropped}`);
  if ((await h.query(statusQuery)).state !== 'running')
    throw new Error('the run ended before the later document superseded the waiting one');
  const applied = await later.result();
  if (!applied.applied) throw new Error(`the later document: not applied ${JSON.stringify(applied)}`);
  expectRun('the run', await run, (r) => r.status === 'success' && r.ops.upsert?.succeeded === 60);
  await s.rec.nextRun(wf, first);
  await s.rec.record(
    'config-update-supersedes',
    wf,
    first,
    'a run writes (Bulk, 8 s); an updateConfig waits for it; a later one supersedes it (the marker config-update-supersedes, the first answered CONFIG_SUPERSEDED); after the run applyConfigUpdate of the later one, then continue-as-new',
  );
}

/** Stopped, then started again: its first run reports its warnings even when none hold (patched 'report-after-restart'). */
export async function restartedReportsWarnings(s: Stage): Promise<void> {
  const id = 'hist_restart';
  const wf = wfId(id);
  await createModel(s, id, 10);
  const doc = activation(s, id);
  const { runId: first } = await s.syncline.start(doc);
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  await s.rec.nextRun(wf, first);
  await s.syncline.stop(id, { wait: true, reason: 'recording a restart' });
  const { runId: again } = await s.syncline.start(doc);
  expectRun('the first run after the restart', await s.syncline.triggerSync(id), (r) => r.status === 'success');
  await s.rec.nextRun(wf, again);
  // Stopped again, then started with another object: the new execution forgets the old target first.
  await s.syncline.stop(id, { wait: true, reason: 'recording a retarget' });
  const moved = { ...doc, destination: { ...(doc.destination as Record<string, unknown>), object: 'Lead' } };
  const { runId: retargeted } = await s.syncline.start(moved, { retarget: true, reason: 'recording a retarget' });
  await s.rec.until(wf, retargeted, 'the retarget', (ev) => activityCount(ev, 'applyConfigUpdate') >= 1);
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
  await s.rec.record(
    'start-with-retarget',
    wf,
    retargeted,
    'started again with a new object (--retarget): applyConfigUpdate (retarget) before anything else, then stopped',
  );
  await s.rec.record(
    'report-after-restart',
    wf,
    again,
    'started again after a stop: lastRunNumber, a run, an empty warnings report (the marker report-after-restart), then continue-as-new',
  );
}

/**
 * Paused, stopped, started again: the stop records the pause (patched 'stop-records-pause'); the new execution
 * keeps it and carries its interval on from the last fire (patched 'restart-keeps-pause', 'restart-keeps-interval').
 */
export async function restartKeepsPause(s: Stage): Promise<void> {
  const id = 'hist_restart_paused';
  const wf = wfId(id);
  await createModel(s, id, 10);
  const doc = activation(s, id, { schedule: { every: '1h' } });
  const { runId: first } = await s.syncline.start(doc);
  const second = await s.rec.nextRun(wf, first); // the first fire, at once
  await s.syncline.pause(id, 'recording a pause kept across a stop');
  await s.syncline.stop(id, { wait: true, reason: 'recording a stop while paused' });
  await s.rec.record(
    'stop-records-pause',
    wf,
    second,
    'paused on its interval timer (cancelled), then a stop signal: recordStop (the marker stop-records-pause) records the pause, the workflow completes',
  );
  const { runId: again, paused } = await s.syncline.start(doc);
  if (!paused) throw new Error('start: the pause recorded at the stop was not read');
  await waitFor('the kept pause', async () => (await s.client.workflow.getHandle(wf).query(statusQuery)).state === 'paused');
  await s.syncline.resume(id);
  await s.rec.until(wf, again, 'the timer of the next fire', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  const st = await s.client.workflow.getHandle(wf).query(statusQuery);
  if (st.state !== 'idle' || st.lastRuns.length !== 0 || st.nextRunAt === null || Date.parse(st.nextRunAt) < Date.now() + 50 * 60_000)
    throw new Error(`started again: not paused then waiting for its fire an hour after the last ${JSON.stringify(st)}`);
  await s.rec.record(
    'restart-keeps-pause',
    wf,
    again,
    'OPEN: started again after a stop while paused: lastRunNumber (with the last fire and the pause), the markers restart-keeps-interval and restart-keeps-pause, paused; a resume signal, then a timer to the last fire + 1h',
  );
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
}

/**
 * Deletions held, a stop, a start: the new execution shows the held deletions (patched 'restart-keeps-held-deletes')
 * and an approveDeletes of the run that held them is served (a run deletes them).
 */
export async function restartKeepsHeldDeletes(s: Stage): Promise<void> {
  const id = 'hist_restart_held';
  const wf = wfId(id);
  await createModel(s, id, 20);
  const doc = activation(s, id, { mode: 'mirror' });
  await s.syncline.start(doc);
  expectRun('first sync', await s.syncline.triggerSync(id), (r) => r.ops.upsert?.succeeded === 20);
  await s.sql.query(`DELETE FROM hist.${id} WHERE id IN (SELECT id FROM hist.${id} ORDER BY id LIMIT 5)`); // 5 of 20: over the guard
  const held = expectRun('held deletions', await s.syncline.triggerSync(id), (r) => r.heldDeletes === 5);
  await s.syncline.stop(id, { wait: true, reason: 'recording a stop while deletions are held' });
  const { runId: again } = await s.syncline.start(doc);
  await waitFor('the held deletions shown', async () => (await s.client.workflow.getHandle(wf).query(statusQuery)).heldDeletes !== null);
  const approved = await s.syncline.approveDeletes(id, held.runNumber);
  if (approved.approved !== 5 || approved.run.ops.delete?.succeeded !== 5)
    throw new Error(`approveDeletes after the start: unexpected ${JSON.stringify(approved)}`);
  await s.rec.record(
    'restart-keeps-held-deletes',
    wf,
    again,
    'started again after a stop while 5 deletions were held: lastRunNumber (with the held deletions), the marker restart-keeps-held-deletes; an approveDeletes of the run that held them, a run (trigger approval) deletes them, then continue-as-new',
  );
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
}

/** Paused by a configuration error, stopped, fixed, started again: the destination is re-checked at once and a run follows. */
export async function restartRechecks(s: Stage): Promise<void> {
  const id = 'hist_restart_broken';
  const wf = wfId(id);
  const conn = 'sf-revoked-restart';
  await createModel(s, id, 10);
  const doc = activation(s, id, { connection: conn });
  const { runId: first } = await s.syncline.start(doc);
  expectRun('revoked credential', await s.syncline.triggerSync(id), (r) => r.status === 'failed' && r.error?.type === 'AUTH_FAILED');
  await s.rec.nextRun(wf, first);
  await s.syncline.stop(id, { wait: true, reason: 'recording a stop while paused by a configuration error' });
  s.connections[conn] = sfConnection(s.emulators.main);
  const { runId: again, paused } = await s.syncline.start(doc);
  if (!paused?.auto) throw new Error(`start: the automatic pause recorded at the stop was not read ${JSON.stringify(paused)}`);
  await s.rec.nextRun(wf, again);
  await s.rec.record(
    'restart-rechecks',
    wf,
    again,
    'started again after a stop while paused by a configuration error, the credential fixed: lastRunNumber (with the pause), the marker restart-keeps-pause, recheckDestination passes, a catch-up run, then continue-as-new',
  );
}

/**
 * Paused by a configuration error, stopped, started again still broken: the start's re-check fails, CONFIG_BROKEN
 * stays open (patched 'restart-keeps-config-broken'; sets recorded before it hold the path without), it stays
 * paused and re-checks on its timer (2 s); recorded open, then the credential fixed: the re-check passes,
 * CONFIG_BROKEN clears, a catch-up run, continue-as-new.
 */
export async function restartStillBroken(s: Stage): Promise<void> {
  const id = 'hist_restart_still_broken';
  const wf = wfId(id);
  const conn = 'sf-revoked-still';
  await createModel(s, id, 10);
  const doc = activation(s, id, { connection: conn, extra: { recheck: '2s' } });
  const { runId: first } = await s.syncline.start(doc);
  expectRun('revoked credential', await s.syncline.triggerSync(id), (r) => r.status === 'failed' && r.error?.type === 'AUTH_FAILED');
  await s.rec.nextRun(wf, first);
  await s.syncline.stop(id, { wait: true, reason: 'recording a stop while paused by a configuration error' });
  const { runId: again, paused } = await s.syncline.start(doc);
  if (!paused?.auto) throw new Error(`start: the automatic pause recorded at the stop was not read ${JSON.stringify(paused)}`);
  await s.rec.until(wf, again, 'two failed re-checks after the start', (ev) => activityCount(ev, 'recheckDestination') >= 2);
  const st = await s.client.workflow.getHandle(wf).query(statusQuery);
  if (st.state !== 'paused') throw new Error(`started again still broken: not paused ${JSON.stringify(st)}`);
  await s.rec.record(
    'open-restart-still-broken',
    wf,
    again,
    'OPEN: started again after a stop while paused by a configuration error, still broken: lastRunNumber (with the pause), the marker restart-keeps-pause, recheckDestination fails, CONFIG_BROKEN reported again (the marker restart-keeps-config-broken, health critical), re-check timers (2 s) fail',
  );
  s.connections[conn] = sfConnection(s.emulators.main);
  await s.rec.nextRun(wf, again);
  await s.rec.record(
    'restart-still-broken',
    wf,
    again,
    'started again after a stop while paused by a configuration error, still broken: the start re-check fails (CONFIG_BROKEN kept: the marker restart-keeps-config-broken), timer re-checks fail; the credential fixed, a re-check passes, CONFIG_BROKEN cleared, a catch-up run, then continue-as-new',
  );
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
}

/**
 * Started with a resync (signal-with-start) on an interval schedule: the first fire, due at once, joins the resync's
 * run (patched 'request-serves-due-fire'), which records that fire as its scheduled_at (patched
 * 'merged-run-records-fire'); stopped and started again, it waits for that fire + 1h, no run at once.
 */
export async function requestServesDueFire(s: Stage): Promise<void> {
  const id = 'hist_request_fire';
  const wf = wfId(id);
  await createModel(s, id, 10);
  const handle = await s.client.workflow.signalWithStart(WORKFLOW_TYPES.activation, {
    taskQueue: s.taskQueue,
    workflowId: wf,
    args: [{ config: activation(s, id, { schedule: { every: '1h' } }) }],
    signal: resyncSignal,
    signalArgs: [{ reason: 'recording a request with the first fire due' }],
  });
  const first = handle.signaledRunId;
  await s.rec.nextRun(wf, first);
  const st = await s.client.workflow.getHandle(wf).query(statusQuery);
  if (st.lastRuns.map((r) => r.trigger).join() !== 'manual')
    throw new Error(`the first fire and the resync: not one run ${JSON.stringify(st.lastRuns.map((r) => r.trigger))}`);
  await s.rec.record(
    'request-serves-due-fire',
    wf,
    first,
    'signal-with-start (resync) of an interval activation: lastRunNumber, the first fire due at once joins the request (the marker request-serves-due-fire), one run recording that fire (the marker merged-run-records-fire), then continue-as-new',
  );
  const fireAt = (await s.sql.query(`SELECT scheduled_at FROM syncline.runs WHERE activation_id = $1 AND run_number = 1`, [id])).rows[0]
    ?.scheduled_at as Date | null;
  if (!fireAt) throw new Error('the resync that served the first fire: no scheduled_at recorded');
  await s.syncline.stop(id, { wait: true, reason: 'stopped after the request that served the fire' });
  const again = await s.syncline.start(activation(s, id, { schedule: { every: '1h' } }));
  await s.rec.until(wf, again.runId, 'the timer of the next fire', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  const after = await s.client.workflow.getHandle(wf, again.runId).query(statusQuery);
  if (after.lastRuns.length !== 0 || after.currentRun !== null || Date.parse(after.nextRunAt ?? '') !== fireAt.getTime() + 3_600_000)
    throw new Error(`started again after the request that served the fire: not waiting for that fire + 1h ${JSON.stringify(after)}`);
  await s.rec.record(
    'restart-after-request-fire',
    wf,
    again.runId,
    'OPEN: started again after a stop that followed a resync run serving the first fire: lastRunNumber (that fire, recorded by the resync run), the marker restart-keeps-interval, a timer to that fire + 1h',
  );
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
}

/**
 * No worker while an interval's fires come due: when one polls again, the late timer's fire stands for every fire
 * missed, one run, and the schedule carries on from the latest (patched 'late-fire-stands-for-missed').
 */
export async function lateFireStandsForMissed(s: Stage): Promise<void> {
  const id = 'hist_late_fire';
  const wf = wfId(id);
  const taskQueue = `${s.taskQueue}-late-fire`;
  await createModel(s, id, 10);
  let stopWorker = await s.worker(taskQueue);
  const handle = await s.client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue,
    workflowId: wf,
    args: [{ config: activation(s, id, { schedule: { every: '3s' } }) }],
  });
  const second = await s.rec.nextRun(wf, handle.firstExecutionRunId);
  await s.rec.until(wf, second, 'the timer of the next fire', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  await stopWorker();
  await new Promise((r) => setTimeout(r, 11_000)); // the fire timer, then three more fire times, with no worker
  stopWorker = await s.worker(taskQueue);
  const third = await s.rec.nextRun(wf, second);
  const st = await s.client.workflow.getHandle(wf).query(statusQuery);
  if (st.lastRuns.map((r) => r.trigger).join() !== 'schedule,schedule')
    throw new Error(`the late fire: not one run ${JSON.stringify(st.lastRuns.map((r) => r.trigger))}`);
  await s.rec.record(
    'late-fire-stands-for-missed',
    wf,
    second,
    'an interval fire whose timer fired with no worker polling for three more fire times: the marker late-fire-stands-for-missed, one run, then continue-as-new',
  );
  await s.rec.until(wf, third, 'the timer of the next fire', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
  await stopWorker();
}

/**
 * No worker while an interval's fires come due, the late run standing for them (its scheduled_at the first), a
 * stop, and a start before the next fire: the start carries the interval on from the latest fire that run served,
 * counted up to its start (patched 'restart-from-latest-fire'), not at once from the first.
 */
export async function restartFromLatestFire(s: Stage): Promise<void> {
  const id = 'hist_restart_late';
  const wf = wfId(id);
  const every = 8_000;
  const taskQueue = `${s.taskQueue}-restart-late`;
  await createModel(s, id, 10);
  let stopWorker = await s.worker(taskQueue);
  const doc = activation(s, id, { schedule: { every: '8s' } });
  const handle = await s.client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: wf, args: [{ config: doc }] });
  const second = await s.rec.nextRun(wf, handle.firstExecutionRunId);
  await s.rec.until(wf, second, 'the timer of the next fire', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  const fireAt = Date.parse((await s.client.workflow.getHandle(wf, second).query(statusQuery)).nextRunAt!);
  await stopWorker();
  // The fires at fireAt, +8 s and +16 s come due with no worker; back just after the last, well before +24 s.
  await new Promise((r) => setTimeout(r, Math.max(0, fireAt + 2 * every + 500 - Date.now())));
  stopWorker = await s.worker(taskQueue);
  const third = await s.rec.nextRun(wf, second);
  await s.client.workflow.getHandle(wf, third).signal(stopSignal, { reason: 'stopped after the late run' });
  await s.client.workflow.getHandle(wf, third).result();
  const again = await s.client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: wf, args: [{ config: doc }] });
  await s.rec.until(wf, again.firstExecutionRunId, 'the timer of the next fire', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  const st = await again.query(statusQuery);
  if (st.lastRuns.length !== 0 || st.currentRun !== null || Date.parse(st.nextRunAt ?? '') !== fireAt + 3 * every)
    throw new Error(`started again after the late run: not waiting for the fire after the latest it served ${JSON.stringify(st)}`);
  await s.rec.record(
    'restart-from-latest-fire',
    wf,
    again.firstExecutionRunId,
    'OPEN: started again after a stop that followed a late interval run standing for three fires: lastRunNumber (the first fire it served, and its start), the markers restart-keeps-interval and restart-from-latest-fire, a timer to the latest of those fires + 8 s',
  );
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
  await stopWorker();
}

/**
 * A stop signal after a run while an updateConfig (dry run) still checks its document: the activation ends there,
 * not continued as new (patched 'stop-while-handler-ends').
 */
export async function stopWhileHandlerEnds(s: Stage): Promise<void> {
  const id = 'hist_stop_handler';
  const wf = wfId(id);
  const taskQueue = `${s.taskQueue}-stop-handler`;
  await createModel(s, id, 10);
  const stopWorker = await s.worker(taskQueue, { checkConfigUpdate: 15_000 });
  const doc = activation(s, id);
  const handle = await s.client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: wf, args: [{ config: doc }] });
  const first = handle.firstExecutionRunId;
  await s.rec.until(wf, first, 'the first task', (ev) => eventCount(ev, 'WORKFLOW_TASK_COMPLETED') > 0);
  await s.client.workflow.getHandle(wf).signal(resyncSignal, { reason: 'a run before the stop' });
  const dry = await s.client.workflow.getHandle(wf).startUpdate(updateConfigUpdate, {
    args: [{ config: { ...doc, thresholds: { failedRowPercent: 20 } }, dryRun: true }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await waitFor('the run to end', async () => {
    const st = await s.client.workflow.getHandle(wf).query(statusQuery);
    return st.lastRuns.length === 1 && st.currentRun === null;
  });
  await s.client.workflow.getHandle(wf).signal(stopSignal, { reason: 'recorded while a document is checked' });
  await dry.result();
  await s.client.workflow.getHandle(wf, first).result();
  const ended = await s.client.workflow.getHandle(wf, first).describe();
  if (ended.status.name !== 'COMPLETED') throw new Error(`the stop while the check went on: ${ended.status.name}, not ended there`);
  await s.rec.record(
    'stop-while-handler-ends',
    wf,
    first,
    'a resync run, an updateConfig (dry run) whose check is still under way when the run ends, a stop signal meanwhile: the marker stop-while-handler-ends, the stop recorded, completed (not continued as new)',
  );
  await stopWorker();
}

/**
 * A stop signal while an approveDeletes handler still records the approval (its activity under way): its request
 * for a run is answered at once with the stop's answer, and the activation ends (patched 'stop-answers-late-requests').
 */
export async function stopAnswersLateRequests(s: Stage): Promise<void> {
  const id = 'hist_stop_approval';
  const wf = wfId(id);
  const taskQueue = `${s.taskQueue}-stop-approval`;
  await createModel(s, id, 20);
  const stopWorker = await s.worker(taskQueue, { approveHeldDeletes: 8_000 });
  const doc = activation(s, id, { mode: 'mirror' });
  await s.client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: wf, args: [{ config: doc }] });
  const h = s.client.workflow.getHandle(wf);
  expectRun('first sync', await h.executeUpdate(triggerSyncUpdate, { args: [{}] }), (r) => r.ops.upsert?.succeeded === 20);
  await s.sql.query(`DELETE FROM hist.${id} WHERE id IN (SELECT id FROM hist.${id} ORDER BY id LIMIT 5)`); // 5 of 20: over the guard
  const held = expectRun('held deletions', await h.executeUpdate(triggerSyncUpdate, { args: [{}] }), (r) => r.heldDeletes === 5);
  const current = (await h.describe()).runId;
  const approval = await h.startUpdate(approveDeletesUpdate, {
    args: [{ run: held.runNumber }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await h.signal(stopSignal, { reason: 'recorded while an approval is recorded' });
  const refused = await approval.result().then(
    () => null,
    (err: Error) => String((err.cause as Error | undefined)?.message ?? err.message),
  );
  if (!refused?.includes('is recorded: the first run after the activation is started again deletes'))
    throw new Error(`the approval at the stop: ${refused ?? 'answered with a run'}`);
  await s.client.workflow.getHandle(wf, current).result();
  await s.rec.record(
    'stop-answers-late-requests',
    wf,
    current,
    'held deletions, an approveDeletes whose activity is still under way when a stop signal arrives: the marker stop-answers-late-requests, the approval answered with the stop, completed',
  );
  await stopWorker();
}

/** Paused by a configuration error, a document applied re-checks at once and resumes (patched 'update-rechecks-now'). */
export async function fixingDocumentRechecksNow(s: Stage): Promise<void> {
  const id = 'hist_fix_doc';
  const wf = wfId(id);
  const conn = 'sf-revoked-update';
  await createModel(s, id, 10);
  const doc = activation(s, id, { connection: conn });
  const { runId: first } = await s.syncline.start(doc);
  expectRun('revoked credential', await s.syncline.triggerSync(id), (r) => r.status === 'failed' && r.error?.type === 'AUTH_FAILED');
  const second = await s.rec.nextRun(wf, first);
  await s.rec.until(wf, second, 'the re-check timer', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  s.connections[conn] = sfConnection(s.emulators.main);
  const answer = await s.syncline.updateConfig(id, { config: { ...doc, thresholds: { failedRowPercent: 20 } }, reason: 'the fix' });
  if (!answer.applied) throw new Error(`updateConfig: not applied ${JSON.stringify(answer)}`);
  await s.rec.nextRun(wf, second);
  await s.rec.record(
    'update-rechecks-now',
    wf,
    second,
    'auto-paused: an updateConfig re-checks the destination at once (the marker update-rechecks-now), resumes with a run, then continue-as-new',
  );
}

/** A configuration error pauses the activation; the periodic re-check resumes it once the credential works. */
export async function configErrorRecheck(s: Stage): Promise<void> {
  const id = 'hist_recheck';
  const wf = wfId(id);
  const conn = 'sf-revoked-recheck';
  await createModel(s, id, 10);
  const { runId: first } = await s.syncline.start(activation(s, id, { connection: conn, extra: { recheck: '2s' } }));
  expectRun('revoked credential', await s.syncline.triggerSync(id), (r) => r.status === 'failed' && r.error?.type === 'AUTH_FAILED');
  const second = await s.rec.nextRun(wf, first);
  await s.rec.record(
    'config-error-auto-pause',
    wf,
    first,
    'the first run fails AUTH_FAILED (a configuration error): paused automatically, CONFIG_BROKEN reported, then continue-as-new',
  );
  await s.rec.record(
    'failed-config-error',
    await s.rec.child(wf, first),
    undefined,
    'failed run: validate (checkDestination) fails AUTH_FAILED, the rest upstream_failed, commit records the failure',
  );
  await s.rec.until(wf, second, 'two failed re-checks', (ev) => activityCount(ev, 'recheckDestination') >= 2);
  s.connections[conn] = sfConnection(s.emulators.main);
  await s.rec.nextRun(wf, second);
  await s.rec.record(
    'recheck-resumes',
    wf,
    second,
    'auto-paused: re-check timers every 2 s (recheckDestination fails, then passes), resumes, CONFIG_BROKEN cleared, a catch-up run, continue-as-new',
  );
}

/** A configuration error, then the operator's resume signal after fixing it. */
export async function configErrorResume(s: Stage): Promise<void> {
  const id = 'hist_resume';
  const wf = wfId(id);
  const conn = 'sf-revoked-resume';
  await createModel(s, id, 10);
  const { runId: first } = await s.syncline.start(activation(s, id, { connection: conn }));
  expectRun('revoked credential', await s.syncline.triggerSync(id), (r) => r.status === 'failed' && r.error?.type === 'AUTH_FAILED');
  const second = await s.rec.nextRun(wf, first);
  await s.rec.until(wf, second, 'the re-check timer', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  s.connections[conn] = sfConnection(s.emulators.main);
  await s.syncline.resume(id);
  await s.rec.nextRun(wf, second);
  await s.rec.record(
    'resume-after-config-error',
    wf,
    second,
    'auto-paused with the hourly re-check pending: a resume signal syncs at once (a catch-up run), then continue-as-new',
  );
}

/**
 * An interval activation paused by a configuration error (its first fire fails AUTH_FAILED), then the operator's
 * resume after fixing it: the catch-up run records the time it was asked for as its scheduled_at, which the
 * interval carries on from (patched 'catch-up-records-fire').
 */
export async function catchUpRecordsFire(s: Stage): Promise<void> {
  const id = 'hist_catch_up_fire';
  const wf = wfId(id);
  const conn = 'sf-revoked-catchup';
  await createModel(s, id, 10);
  const { runId: first } = await s.syncline.start(activation(s, id, { connection: conn, schedule: { every: '1h' } }));
  const second = await s.rec.nextRun(wf, first);
  await s.rec.until(wf, second, 'the re-check timer', (ev) => eventCount(ev, 'TIMER_STARTED') > 0);
  s.connections[conn] = sfConnection(s.emulators.main);
  await s.syncline.resume(id);
  await s.rec.nextRun(wf, second);
  await s.rec.record(
    'catch-up-records-fire',
    wf,
    second,
    'an interval activation auto-paused by its first fire failing, the hourly re-check pending: a resume signal syncs at once (a catch-up run recording the time it was asked for as its scheduledAt: the marker catch-up-records-fire), then continue-as-new',
  );
  await s.syncline.stop(id, { wait: true, reason: 'recorded' });
}

/** A document the workflow itself refuses (started around the client, which would refuse it first). */
export async function invalidConfig(s: Stage): Promise<void> {
  const id = 'hist_invalid';
  const handle = await s.client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: s.taskQueue,
    workflowId: wfId(id),
    args: [{ config: { id, mode: 'sideways' } }],
  });
  await handle.result().catch(() => undefined);
  await s.rec.record(
    'invalid-config',
    wfId(id),
    handle.firstExecutionRunId,
    'an invalid activation document: the workflow fails CONFIG_INVALID before anything runs',
  );
}

/**
 * An activation reset to the start of its continued execution while its run writes (the write held 3 s): the
 * reset execution serves the signal again with the same run number, meets the run's workflow still open
 * (start child failed: WorkflowExecutionAlreadyStarted), waits for it (awaitRunWorkflow) and takes its
 * outcome as the run's, then continues as new.
 */
export async function resetWhileRunOpen(s: Stage): Promise<void> {
  const id = 'hist_act_reset';
  const wf = wfId(id);
  await createModel(s, id, 12);
  const { runId: first } = await s.syncline.start(activation(s, id, { connection: 'sf-held' }));
  expectRun('first run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 12);
  const second = await s.rec.nextRun(wf, first);
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v2' WHERE id LIKE '%-1_'`);
  await emulatorAdmin(s.emulators.held.url, '/faults', {
    method: 'POST',
    body: JSON.stringify({ slow: { ms: 3000, count: 1, paths: 'composite' } }),
  });
  await s.syncline.resync(id, { reason: 'recording a reset of the activation' });
  const run = `${wf}/run/2`;
  await s.rec.until(run, undefined, 'the held write', (ev) => activityCount(ev, 'writeChunk') > 0);
  const events = await s.rec.events(wf, second);
  const task = events.find((e) => e.workflowTaskCompletedEventAttributes);
  await s.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: wf, runId: second },
    reason: 'histories: an operator resets the activation',
    workflowTaskFinishEventId: task!.eventId,
    requestId: `hist-act-reset-${Date.now()}`,
  });
  const again = await s.rec.nextRun(wf, second);
  const after = await s.rec.nextRun(wf, again);
  const ev = await s.rec.events(wf, again);
  if (eventCount(ev, 'START_CHILD_WORKFLOW_EXECUTION_FAILED') !== 1 || activityCount(ev, 'awaitRunWorkflow') !== 1)
    throw new Error(`${wf}: the reset execution did not wait for the open run (next execution ${after})`);
  await s.rec.record(
    'reset-meets-open-run',
    wf,
    again,
    'reset to the start of a continued execution while its run wrote: the signal served again, run 2 meets its open workflow of the reset execution, waits for it (awaitRunWorkflow), records its summary, continue-as-new',
  );
}

/**
 * A run prepared again after a reset meets a later run of the reset execution still writing: its prepare is
 * refused (RUN_STILL_OPEN) at once, and the run waits for that run's workflow (awaitRunWorkflow, step
 * `waiting_run`), then prepares again and goes on. Patch `run-waits-for-open-run`.
 */
export async function resetMeetsLaterRun(s: Stage): Promise<void> {
  const id = 'hist_act_reset_later';
  const wf = wfId(id);
  await createModel(s, id, 12);
  const { runId: first } = await s.syncline.start(activation(s, id, { connection: 'sf-waits' }));
  expectRun('first run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 12);
  const second = await s.rec.nextRun(wf, first);
  // Runs 2 and 3 of the second execution each hold their write 6 s.
  await emulatorAdmin(s.emulators.waits.url, '/faults', {
    method: 'POST',
    body: JSON.stringify({ slow: { ms: 6000, count: 2, paths: 'composite' } }),
  });
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v2' WHERE id LIKE '%-1_'`);
  await s.syncline.resync(id, { reason: 'recording run 2' });
  await s.rec.until(`${wf}/run/2`, undefined, 'run 2 writing', (ev) => activityCount(ev, 'writeChunk') > 0);
  // Changed after run 2's extract: run 3, served by the same execution after run 2, has them to write.
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v3' WHERE id LIKE '%-2'`);
  await s.syncline.resync(id, { reason: 'recording run 3' });
  const run3 = `${wf}/run/3`;
  await waitFor(`${run3} writing`, async () => {
    const d = await s.client.workflow.getHandle(run3).describe();
    return d.parentExecution?.runId === second && activityCount(await s.rec.events(run3, d.runId), 'writeChunk') > 0;
  });
  const task = (await s.rec.events(wf, second)).find((e) => e.workflowTaskCompletedEventAttributes);
  await s.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: wf, runId: second },
    reason: 'histories: an operator resets the activation while its second run writes',
    workflowTaskFinishEventId: task!.eventId,
    requestId: `hist-act-reset-later-${Date.now()}`,
  });
  const again = await s.rec.nextRun(wf, second);
  const run2 = `${wf}/run/2`;
  const waited = await waitFor(
    `${run2} of the reset execution ended`,
    async () => {
      const d = await s.client.workflow.getHandle(run2).describe();
      return d.parentExecution?.runId === again && d.status.name !== 'RUNNING' && d;
    },
    120_000,
  );
  const ev = await s.rec.events(run2, waited.runId);
  if (waited.status.name !== 'COMPLETED' || activityCount(ev, 'awaitRunWorkflow') !== 1)
    throw new Error(`${run2}: it did not wait for run 3 and go on (${waited.status.name})`);
  await s.rec.record(
    'run-waits-for-open-run',
    run2,
    waited.runId,
    'run 2 served again by an activation reset while its run 3 wrote: the prepare refused (RUN_STILL_OPEN) at once, the run waits for run 3 (awaitRunWorkflow, step waiting_run), prepares again and syncs',
  );
}
