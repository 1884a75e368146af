/**
 * Many chunks (issue 13): a run with more chunks than `chunksPerWorkflow` fans its writes out to child
 * workflows (`<run id>/write/<b>`) of at most that many chunks each, so no one history grows with the row
 * count. Small sizes here (13 one-row chunks, 4 per workflow, sObject Collections against the in-process
 * Salesforce emulator); `npm run bench -- chunks` measures 5,000 chunks and reports events per execution.
 *
 *   npx jest --selectProjects integration --testPathPatterns many-chunks
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { sqlClient, startWorker, testClient, uniqueName, type RunningWorker } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { runStateQuery, triggerSyncUpdate } from '../../workflows/messages';
import { PROGRESS_DELAY_MS } from '../../workflows/run-view';
import type { DagState } from '../../common/dag';

const TQ = uniqueName('tq_chunks');
const SENTINEL = 'CHUNKSENTINEL';
let emu: SalesforceEmulator;
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ, connections: { sf } }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
  await emu?.close();
});

type Rec = Record<string, unknown>;

/** An Upsert of public.<id> (id, last_name) into Contacts, plus `extra` settings. */
const contactsActivation = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  mode: 'upsert',
  schedule: { manual: true },
  source: { table: `public.${id}`, key: 'id' },
  destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
  mappings: [
    { from: 'id', to: 'External_Id__c' },
    { from: 'last_name', to: 'LastName' },
  ],
  ...extra,
});
const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);

async function contacts(prefix: string): Promise<Map<string, Rec[]>> {
  const byKey = new Map<string, Rec[]>();
  for (const c of await admin<Rec[]>('/records/Contact')) {
    const key = String(c.External_Id__c);
    if (key.startsWith(prefix)) byKey.set(key, [...(byKey.get(key) ?? []), c]);
  }
  return byKey;
}

interface HistoryEvent {
  eventType?: unknown;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  startChildWorkflowExecutionInitiatedEventAttributes?: {
    workflowId?: string | null;
    workflowType?: { name?: string | null } | null;
  } | null;
  markerRecordedEventAttributes?: { markerName?: string | null } | null;
  signalExternalWorkflowExecutionInitiatedEventAttributes?: {
    input?: { payloads?: Array<{ data?: Uint8Array | null }> | null } | null;
  } | null;
}
async function history(workflowId: string, runId?: string): Promise<{ events: HistoryEvent[]; json: string }> {
  const h = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return { events: (h.events ?? []) as HistoryEvent[], json: JSON.stringify(h) };
}
/** What a run signalled to its activation (runProgress), in order. */
const progress = (events: HistoryEvent[]) =>
  events.flatMap((e) => {
    const payload = e.signalExternalWorkflowExecutionInitiatedEventAttributes?.input?.payloads?.[0]?.data;
    return payload ? [JSON.parse(Buffer.from(payload).toString()) as { phase: string; chunksDone: number }] : [];
  });
/** The phases a run signalled to its activation, in order. */
const progressPhases = (events: HistoryEvent[]) => progress(events).map((p) => p.phase);
/** How long each step of a run lasted (its workflow times), by step. */
async function stepSeconds(runId: string): Promise<Record<string, number>> {
  const state = (await client.workflow.getHandle(runId).query(runStateQuery)) as DagState;
  return Object.fromEntries(
    Object.entries(state.tasks).map(([step, t]) => [step, (Date.parse(t.endedAt!) - Date.parse(t.startedAt!)) / 1000]),
  );
}
/**
 * A step's start is signalled only once it has run PROGRESS_DELAY_MS: every start signalled is of a step
 * that lasted that long, and no step that ended sooner was signalled.
 */
async function expectStartsSignalledAfterDelay(runId: string, events: HistoryEvent[]): Promise<void> {
  const seconds = await stepSeconds(runId);
  // A signal of the chunks written (a tenth) is sent at once; any other is a step's start.
  const starts = progress(events).filter((p) => !(p.phase === 'write' && p.chunksDone > 0));
  for (const p of starts)
    expect({ step: p.phase, lasted: seconds[p.phase]! >= PROGRESS_DELAY_MS / 1000 }).toEqual({ step: p.phase, lasted: true });
  const quick = Object.keys(seconds).filter((step) => seconds[step]! < PROGRESS_DELAY_MS / 1000);
  expect(starts.filter((p) => quick.includes(p.phase))).toEqual([]);
}
const STEPS = ['prepareRun', 'checkDestination', 'extractModel', 'computeDelta', 'commitRun'];
const localMarkers = (events: HistoryEvent[]) =>
  events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
const activities = (events: HistoryEvent[], name: string) =>
  events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;

test('13 one-row chunks at 4 per workflow: written by 4 child workflows, every row once, the run history free of chunk writes', async () => {
  const id = uniqueName('chunks');
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || i, $2 || ' ' || i FROM generate_series(1, 13) i`, [p, SENTINEL]);
  const config = contactsActivation(id, { chunkSize: 1, chunksPerWorkflow: 4 });
  const activation = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });

  const first = await activation.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(first).toMatchObject({ status: 'success', ops: { upsert: { planned: 13, succeeded: 13, failed: 0 } } });
  const written = await contacts(p);
  expect(written.size).toBe(13);
  for (const [key, recs] of written) {
    expect(recs).toHaveLength(1);
    expect(recs[0]!.LastName).toBe(`${SENTINEL} ${key.slice(p.length + 1)}`);
  }

  // The run wrote nothing itself: it started one child per 4 chunks, each wrote its own.
  const runId = runWorkflowId(id, first.runNumber);
  const run = await history(runId);
  expect(activities(run.events, 'writeChunk')).toBe(0);
  const children = run.events
    .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
    .filter((c): c is NonNullable<typeof c> => !!c)
    .map((c) => ({ id: c.workflowId, type: c.workflowType?.name }));
  expect(children).toEqual([1, 2, 3, 4].map((b) => ({ id: `${runId}/write/${b}`, type: WORKFLOW_TYPES.writeChunks })));
  const perChild = await Promise.all(children.map(async (c) => history(c.id!)));
  expect(perChild.map((h) => activities(h.events, 'writeChunk'))).toEqual([4, 4, 4, 1]);
  for (const h of [run, ...perChild]) expect(h.json).not.toContain(SENTINEL);

  // What the run shows of itself: 13 chunks, each written.
  const state = await client.workflow.getHandle(runId).query(runStateQuery);
  expect(state?.tasks.write?.mapped?.map((m) => m.state)).toEqual(Array(13).fill('success'));

  // A second run with every row changed updates the same 13 records through the children again.
  await db.query(`UPDATE public.${id} SET last_name = last_name || ' v2'`);
  const second = await activation.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(second).toMatchObject({ status: 'success', ops: { upsert: { planned: 13, succeeded: 13, failed: 0 } } });
  const again = await contacts(p);
  expect([...again.values()].map((recs) => recs.length)).toEqual(Array(13).fill(1));
  expect([...again.values()].every((recs) => String(recs[0]!.LastName).endsWith(' v2'))).toBe(true);
});

test('at most chunksPerWorkflow chunks the run writes itself, as before', async () => {
  const id = uniqueName('chunks_few');
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || i, 'n' || i FROM generate_series(1, 4) i`, [p]);
  const config = contactsActivation(id, { chunkSize: 1, chunksPerWorkflow: 4 });
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
  const first = await client.workflow.getHandle(activationWorkflowId(id)).executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(first).toMatchObject({ status: 'success', ops: { upsert: { planned: 4, succeeded: 4 } } });
  const run = await history(runWorkflowId(id, first.runNumber));
  expect(activities(run.events, 'writeChunk')).toBe(4);
  expect(run.events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toBe(false);
  expect((await contacts(p)).size).toBe(4);
  // Its activation heard of the chunks' progress (tenths) and of the steps run as activities that lasted
  // PROGRESS_DELAY_MS, nothing in between: every signal is an event in both histories (and a workflow task
  // in each). Local steps (delta, commit: a small run) are short by construction, and the last chunk's tenth
  // is followed at once by the next step.
  expect(progress(run.events).filter((p) => p.chunksDone > 0)).toEqual(
    [1, 2, 3].map((n) => ({ runNumber: 1, phase: 'write', chunksDone: n, chunksTotal: 4 })),
  );
  await expectStartsSignalledAfterDelay(runWorkflowId(id, first.runNumber), run.events);
});

test('small runs take short steps as local activities (markers, not activity tasks); extract stays an activity', async () => {
  const id = uniqueName('small_local');
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || i, 'n' || i FROM generate_series(1, 20) i`, [p]);
  const config = contactsActivation(id);
  const activation = client.workflow.getHandle(activationWorkflowId(id));
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue: TQ, workflowId: activationWorkflowId(id), args: [{ config }] });
  // The first run knows no model size before its extract: prepare and validate are activities; delta and
  // commit, after an extract of 20 rows, are local.
  const first = await activation.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(first).toMatchObject({ status: 'success', ops: { upsert: { planned: 20, succeeded: 20 } } });
  const one = await history(runWorkflowId(id, first.runNumber));
  expect(STEPS.map((step) => [step, activities(one.events, step)])).toEqual([
    ['prepareRun', 1],
    ['checkDestination', 1],
    ['extractModel', 1],
    ['computeDelta', 0],
    ['commitRun', 0],
  ]);
  expect(localMarkers(one.events)).toBe(2);
  // Its activation hears of the steps that are activities only, once they have run PROGRESS_DELAY_MS: a
  // local step is short by construction, and a quick run costs the activation no signal.
  await expectStartsSignalledAfterDelay(runWorkflowId(id, first.runNumber), one.events);

  await db.query(`UPDATE public.${id} SET last_name = last_name || ' v2' WHERE id IN ($1, $2)`, [`${p}-1`, `${p}-2`]);
  const second = await activation.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(second).toMatchObject({ status: 'success', modelRows: 20, ops: { upsert: { planned: 2, succeeded: 2 } } });
  const two = await history(runWorkflowId(id, second.runNumber));
  // The model query may be long whatever its size: extract stays an activity (long timeout, heartbeats).
  expect(STEPS.map((step) => [step, activities(two.events, step)])).toEqual([
    ['prepareRun', 0],
    ['checkDestination', 0],
    ['extractModel', 1],
    ['computeDelta', 0],
    ['commitRun', 0],
  ]);
  expect(localMarkers(two.events)).toBe(4);
  // The write stays an activity (heartbeats, its own timeout), and the record is the same one.
  expect(activities(two.events, 'writeChunk')).toBe(1);
  expect(two.events.length).toBeLessThan(one.events.length);
  await expectStartsSignalledAfterDelay(runWorkflowId(id, second.runNumber), two.events);
  const written = await contacts(p);
  expect([...written.values()].map((r) => r.length)).toEqual(Array(20).fill(1));
  expect(written.get(`${p}-1`)![0]!.LastName).toBe('n1 v2');
});

test('a step that runs longer than PROGRESS_DELAY_MS is signalled to the activation, quick ones are not', async () => {
  const id = uniqueName('slow_step');
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || i, 'n' || i FROM generate_series(1, 3) i`, [p]);
  const sleep = (PROGRESS_DELAY_MS / 1000) * 2;
  // The model query itself is slow (an aggregate over a big table would be): the extract outlasts the delay.
  const config = {
    ...contactsActivation(id),
    source: { sql: `SELECT id, last_name FROM public.${id}, pg_sleep(${sleep}) s`, key: 'id' },
  };
  const activation = client.workflow.getHandle(activationWorkflowId(id));
  const started = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config }],
  });
  const first = await activation.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(first).toMatchObject({ status: 'success', ops: { upsert: { planned: 3, succeeded: 3 } } });
  const runId = runWorkflowId(id, first.runNumber);
  const run = await history(runId);
  expect((await stepSeconds(runId)).extract).toBeGreaterThanOrEqual(sleep);
  expect(progressPhases(run.events)).toContain('extract');
  await expectStartsSignalledAfterDelay(runId, run.events);
  // The activation heard it: the signal is in the history of its execution that ran the run.
  const heard = await history(activationWorkflowId(id), started.firstExecutionRunId);
  expect(heard.json).toContain('runProgress');
  expect((await contacts(p)).size).toBe(3);
});
