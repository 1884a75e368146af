/** syncRunWorkflow paths (the child `activation/<id>/run/<n>`): Bulk polling, quota waits, failures, a run still going on. */
import { activation, createModel, emulatorAdmin, expectRun, type Stage } from './stage';
import { activityCount, eventCount, type HistoryEvent } from './recorder';
import { activationWorkflowId } from '../../common/names';
import { PROGRESS_DELAY_MS } from '../../workflows/run-view';

const wfId = (id: string) => activationWorkflowId(id);
const signalsNamed = (ev: HistoryEvent[], name: string) =>
  ev.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name).length;

/** 60 rows over a bulkThreshold of 50: a Bulk API 2.0 job, polled on durable timers while the emulator processes it. */
export async function bulk(s: Stage): Promise<void> {
  const id = 'hist_bulk';
  await createModel(s, id, 60);
  const { runId } = await s.syncline.start(activation(s, id, { connection: 'sf-bulk' }));
  expectRun('bulk run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 60);
  const run = await s.rec.child(wfId(id), runId);
  const polls = activityCount(await s.rec.events(run), 'pollChunk');
  if (polls < 1) throw new Error(`${run}: the Bulk job was not polled (bulkProcessingDelayMs too short?)`);
  await s.rec.record(
    'bulk-polling',
    run,
    undefined,
    `60 rows: writeChunk opens a Bulk API 2.0 job and returns pending; pollChunk ${polls} time(s) on durable timers until it completes`,
  );
}

/** 12 one-row chunks at 4 per workflow: the run fans its writes out to three writeChunksWorkflow children. */
export async function manyChunks(s: Stage): Promise<void> {
  const id = 'hist_chunks';
  await createModel(s, id, 12);
  const { runId } = await s.syncline.start(activation(s, id, { extra: { chunkSize: 1, chunksPerWorkflow: 4 } }));
  expectRun('fanned-out run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 12);
  const run = await s.rec.child(wfId(id), runId);
  const children = (await s.rec.events(run)).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
  if (children.length !== 3) throw new Error(`${run}: ${children.length} write children, 3 expected`);
  await s.rec.record(
    'chunk-fan-out',
    run,
    undefined,
    '12 one-row chunks, chunksPerWorkflow 4: three writeChunksWorkflow children, one after the other',
  );
  await s.rec.record(
    'chunk-writer',
    children[1]!,
    undefined,
    'the second child: chunks 5-8, four writeChunk activities at most 4 at a time',
  );
}

/**
 * A fanned-out run reset to its first workflow task while its first write is held (3 s): the new execution's
 * prepare settles the earlier attempt, and its write children take ids of their own (`…/write/<b>~<n>`).
 */
export async function resetFanOut(s: Stage): Promise<void> {
  const id = 'hist_reset';
  await createModel(s, id, 12);
  await s.syncline.start(activation(s, id, { connection: 'sf-reset', extra: { chunkSize: 1, chunksPerWorkflow: 4 } }));
  await emulatorAdmin(s.emulators.reset.url, '/faults', {
    method: 'POST',
    body: JSON.stringify({ slow: { ms: 3000, count: 1, paths: 'composite' } }),
  });
  const sync = s.syncline.triggerSync(id);
  const run = `${wfId(id)}/run/1`;
  await s.rec.until(run, undefined, 'a write child started', (ev) => ev.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes));
  const history = await s.client.workflow.getHandle(run).fetchHistory();
  const first = (history.events ?? []).find((e) => e.workflowTaskCompletedEventAttributes);
  await s.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: run },
    reason: 'histories: an operator resets the run',
    workflowTaskFinishEventId: first!.eventId,
    requestId: `hist-reset-${Date.now()}`,
  });
  expectRun('run started again', await sync, (r) => r.status === 'success' && r.runNumber === 1);
  const againRunId = (await s.client.workflow.getHandle(run).describe()).runId;
  const again = await s.rec.events(run, againRunId);
  const children = again.flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
  if (children.length !== 3 || !children.every((c) => /\/write\/\d+~\d+$/.test(c)))
    throw new Error(`${run}: the run started again wrote through ${JSON.stringify(children)}, not children of its own`);
  await s.rec.record(
    'reset-fan-out',
    run,
    againRunId,
    'a fanned-out run reset to its first workflow task mid-write: its prepare settles the earlier attempt, its three write children take ids of their own',
  );
}

/** A second run of a 20-row model: prepare, validate, delta and commit as local activities (markers); extract an activity. */
export async function smallRun(s: Stage): Promise<void> {
  const id = 'hist_small';
  await createModel(s, id, 20);
  await s.syncline.start(activation(s, id));
  const first = expectRun('first run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 20);
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v2' WHERE id = (SELECT min(id) FROM hist.${id})`);
  const second = expectRun('small run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 1);
  const run = `${wfId(id)}/run/${second.runNumber}`;
  const markers = eventCount(await s.rec.events(run), 'MARKER_RECORDED');
  if (markers < 4) throw new Error(`${run}: ${markers} markers, the steps did not run as local activities (first run ${first.runNumber})`);
  await s.rec.record(
    'small-run-local',
    run,
    undefined,
    'a second run of 20 rows, one changed: prepare, validate, delta and commit as local activities; extract and the write activities',
  );
}

/**
 * A run whose model query outlasts PROGRESS_DELAY_MS: the timer holding back the extract's start signal
 * fires and the activation hears of it; the quick steps' timers are cancelled unheard.
 */
export async function slowStep(s: Stage): Promise<void> {
  const id = 'hist_slow_step';
  await createModel(s, id, 5);
  const config = activation(s, id);
  // pg_sleep in the model: the extract lasts about twice the delay.
  config.source = { sql: `SELECT id, last_name, email FROM hist.${id}, pg_sleep(${(PROGRESS_DELAY_MS / 1000) * 2}) z`, key: 'id' };
  await s.syncline.start(config);
  const first = expectRun('slow run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 5);
  const run = `${wfId(id)}/run/${first.runNumber}`;
  const events = await s.rec.events(run);
  if (eventCount(events, 'TIMER_FIRED') < 1) throw new Error(`${run}: no progress timer fired although the extract outlasted it`);
  await s.rec.record(
    'slow-step-progress',
    run,
    undefined,
    "a run whose model query lasts twice PROGRESS_DELAY_MS: the extract's start signal is sent when its timer fires; the other steps' timers are cancelled",
  );
}

/** A Bulk job that never finishes: the run polls on, and is recorded while it does. */
export async function bulkStillRunning(s: Stage): Promise<void> {
  const id = 'hist_bulk_open';
  await createModel(s, id, 60);
  await emulatorAdmin(s.emulators.stuck.url, '/faults', { method: 'POST', body: JSON.stringify({ bulkJobStuck: true }) });
  const { runId } = await s.syncline.start(activation(s, id, { connection: 'sf-stuck' }));
  await s.syncline.resync(id, { reason: 'recording a run that is still polling' });
  const run = await s.rec.child(wfId(id), runId);
  await s.rec.until(run, undefined, 'three polls of the stuck job', (ev) => activityCount(ev, 'pollChunk') >= 3);
  await s.rec.record(
    'open-bulk-polling',
    run,
    undefined,
    'OPEN: a Bulk job still in progress: pollChunk on 1 s durable timers, no end yet',
  );
  await s.client.workflow.getHandle(wfId(id)).terminate('recorded');
}

/**
 * Quota reserve reached: the writes wait on durable timers. Meanwhile the run misses its deadline and two
 * resyncs arrive; both executions are recorded while the run waits, and again once it is over.
 */
export async function quotaWaitMidRun(s: Stage): Promise<void> {
  const id = 'hist_quota';
  const wf = wfId(id);
  await createModel(s, id, 20);
  await emulatorAdmin(s.emulators.reserve.url, '/quota', { method: 'POST', body: JSON.stringify({ used: 95_000 }) }); // limit 100 000, reserve 10%
  const { runId: first } = await s.syncline.start(
    activation(s, id, {
      connection: 'sf-reserve',
      options: { quotaWaitMs: 2000, quotaReservePercent: 10 },
      extra: { thresholds: { deadlineMinutes: 0.05 } },
    }),
  );
  await s.syncline.resync(id, { reason: 'recording a quota wait' });
  const run = await s.rec.child(wf, first);
  await s.rec.until(run, undefined, 'two quota waits', (ev) => eventCount(ev, 'TIMER_FIRED') >= 2);
  await s.rec.until(wf, first, 'the deadline warning', (ev) => activityCount(ev, 'reportWarnings') >= 1);
  await s.syncline.resync(id, { reason: 'requested during the run' });
  await s.syncline.resync(id, { reason: 'requested again during the run' });
  await s.rec.until(wf, first, 'the two resyncs', (ev) => signalsNamed(ev, 'resync') >= 3);
  await s.rec.record(
    'open-mid-run',
    wf,
    first,
    'OPEN: a run under way (waiting for quota): DEADLINE_MISSED reported by the deadline timer, progress signals, two resyncs pending',
  );
  await s.rec.record(
    'open-quota-wait',
    run,
    undefined,
    'OPEN: writes refused by the quota reserve, waiting on a durable timer (QUOTA_LOW)',
  );
  await emulatorAdmin(s.emulators.reserve.url, '/quota', { method: 'POST', body: JSON.stringify({ used: 0 }) });
  await s.rec.nextRun(wf, first);
  await s.rec.record(
    'deadline-missed-coalesced-resync',
    wf,
    first,
    'the run outlives its deadline (DEADLINE_MISSED while it runs, cleared after); the two resyncs are coalesced into one more run in the same execution; continue-as-new',
  );
  const done = await s.rec.record(
    'quota-wait',
    run,
    undefined,
    'writes wait on durable timers while the quota reserve is reached, then complete; the run carries QUOTA_LOW',
  );
  if (done.status !== 'completed') throw new Error(`${run} ended ${done.status}`);
}

/** Daily quota exhausted: the very first destination call (validate) waits on a timer, then the run goes on. */
export async function quotaWaitAtValidate(s: Stage): Promise<void> {
  const id = 'hist_quota_validate';
  await createModel(s, id, 10);
  await emulatorAdmin(s.emulators.exhausted.url, '/faults', { method: 'POST', body: JSON.stringify({ dailyQuotaExhausted: true }) });
  const { runId } = await s.syncline.start(activation(s, id, { connection: 'sf-exhausted', options: { quotaWaitMs: 2000 } }));
  const pending = s.syncline.triggerSync(id);
  const run = await s.rec.child(wfId(id), runId);
  await s.rec.until(run, undefined, 'a quota wait at validate', (ev) => eventCount(ev, 'TIMER_FIRED') >= 1);
  await emulatorAdmin(s.emulators.exhausted.url, '/faults', { method: 'DELETE' });
  expectRun('after the quota wait', await pending, (r) => r.status === 'success' && r.warnings.some((w) => w.code === 'QUOTA_LOW'));
  await s.rec.record(
    'quota-wait-at-validate',
    run,
    undefined,
    'daily quota exhausted: checkDestination refused, a durable timer, checkDestination again, then the run completes with QUOTA_LOW',
  );
}

/**
 * The same refusal met by a small run (the previous run read 10 rows), whose validate is a local activity: its
 * failure reaches the workflow unwrapped, and the run waits on a timer all the same (patch quota-wait-local-activity).
 */
export async function quotaWaitAtLocalValidate(s: Stage): Promise<void> {
  const id = 'hist_quota_local';
  const url = s.emulators.exhaustedSmall.url;
  await createModel(s, id, 10);
  await s.syncline.start(activation(s, id, { connection: 'sf-exhausted-small', options: { quotaWaitMs: 2000 } }));
  const first = expectRun('first run', await s.syncline.triggerSync(id), (r) => r.status === 'success' && r.ops.upsert?.succeeded === 10);
  await s.sql.query(`UPDATE hist.${id} SET last_name = last_name || ' v2' WHERE id = (SELECT min(id) FROM hist.${id})`);
  await emulatorAdmin(url, '/faults', { method: 'POST', body: JSON.stringify({ dailyQuotaExhausted: true }) });
  const pending = s.syncline.triggerSync(id);
  const run = `${wfId(id)}/run/${first.runNumber + 1}`;
  await s.rec.until(run, undefined, 'a quota wait at the local validate', (ev) => eventCount(ev, 'TIMER_FIRED') >= 1);
  await emulatorAdmin(url, '/faults', { method: 'DELETE' });
  expectRun(
    'after the quota wait',
    await pending,
    (r) => r.status === 'success' && r.ops.upsert?.succeeded === 1 && r.warnings.some((w) => w.code === 'QUOTA_LOW'),
  );
  const events = await s.rec.events(run);
  if (activityCount(events, 'checkDestination') > 0) throw new Error(`${run}: validate ran as an activity, not a local activity`);
  await s.rec.record(
    'quota-wait-at-local-validate',
    run,
    undefined,
    "a small run's validate (a local activity) refused by the daily quota: the patch marker quota-wait-local-activity, a durable timer, validate again, then the run completes with QUOTA_LOW",
  );
}

/** A model that does not exist: the run fails; a model error does not pause the activation. */
export async function modelError(s: Stage): Promise<void> {
  const id = 'hist_model_error';
  const wf = wfId(id);
  const { runId: first } = await s.syncline.start(activation(s, id));
  expectRun('missing model', await s.syncline.triggerSync(id), (r) => r.status === 'failed');
  await s.rec.nextRun(wf, first);
  await s.rec.record(
    'run-failed',
    wf,
    first,
    'the run fails on its model (not a configuration pause): recorded as failed, the activation stays scheduled, continue-as-new',
  );
  await s.rec.record(
    'failed-model-error',
    await s.rec.child(wf, first),
    undefined,
    'failed run: the model table does not exist, the run fails and commit records the failure',
  );
}
