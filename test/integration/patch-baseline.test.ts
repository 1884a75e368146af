/**
 * What a run and an activation's continue-as-new record of themselves (workflows/patches.ts): a run records
 * one patch marker, its baseline, where it recorded one per patch it asked; an activation continued as new
 * records its baseline's marker and upserts neither its memo nor its search attributes when the execution
 * before passed them on unchanged. The memo and search attributes are still there for `syncline list`.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type pg from 'pg';
import { startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { WORKFLOW_TYPES, activationWorkflowId, runWorkflowId } from '../../common/names';
import { triggerSyncUpdate } from '../../workflows/messages';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const TQ = uniqueName('tq_patchbase');
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;

beforeAll(async () => {
  [worker, client] = await Promise.all([startWorker({ taskQueue: TQ }), testClient()]);
  db = sqlClient();
});
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await client?.connection.close();
});

async function events(workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  return ((await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? []) as HistoryEvent[];
}

/** The ids of the patch markers, in order. */
function patchIds(history: HistoryEvent[]): string[] {
  return history.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return [];
    const data = m.details?.['patch-data']?.payloads?.[0]?.data;
    return [(JSON.parse(Buffer.from(data!).toString('utf8')) as { id: string }).id];
  });
}

/** The search attribute names each upsert in `history` set. */
function upserts(history: HistoryEvent[]): string[][] {
  return history.flatMap((e) => {
    const a = e.upsertWorkflowSearchAttributesEventAttributes;
    return a ? [Object.keys(a.searchAttributes?.indexedFields ?? {}).sort()] : [];
  });
}

const memoUpserts = (history: HistoryEvent[]) => history.filter((e) => e.workflowPropertiesModifiedEventAttributes).length;

test('a run records its baseline marker only; an activation continued as new upserts nothing unchanged', async () => {
  const id = uniqueName('patchbase');
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'n' || g AS name FROM generate_series(1, 20) g`);
  const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [
      {
        config: {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'id' },
          destination: { kind: 'testdb', connection: 'testdb', object: id, key: 'ext_id' },
          mappings: [{ from: 'name', to: 'Name' }],
        },
      },
    ],
  });
  for (let i = 1; i <= 2; i++) {
    await db.query(`UPDATE public.${id} SET name = name || '-' || $1::int WHERE id = $1::int`, [i]);
    const s = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
    expect(s).toMatchObject({ runNumber: i, status: 'success' });
  }

  // Each run: one marker (the baseline), one upsert (the SDK's TemporalChangeVersion with it).
  for (const run of [1, 2]) {
    const history = await events(runWorkflowId(id, run));
    expect(patchIds(history)).toEqual(['sync-run-baseline-2026-12']);
    expect(upserts(history)).toEqual([['TemporalChangeVersion']]);
  }

  // The first execution upserted its search attributes and memo; the one after run 2's continue-as-new
  // (waiting for a request) has them from the execution before, and recorded only its baseline marker.
  const first = await events(activationWorkflowId(id), handle.firstExecutionRunId);
  expect(patchIds(first)).toEqual(['activation-baseline-2026-12']);
  expect(upserts(first)).toEqual([['TemporalChangeVersion'], ['SynclineActivation', 'SynclineDestination', 'SynclineHealth']]);
  expect(memoUpserts(first)).toBeGreaterThan(0);
  // Its first workflow task has run (it waits for the next request).
  const done = (h: HistoryEvent[]) => h.some((e) => e.workflowTaskCompletedEventAttributes);
  await waitFor('the execution continued as new has run its first task', async () => done(await events(activationWorkflowId(id))));
  const current = await events(activationWorkflowId(id));
  expect(current[0]!.workflowExecutionStartedEventAttributes?.continuedExecutionRunId).toBeTruthy();
  expect(patchIds(current)).toEqual(['activation-baseline-2026-12']);
  expect(upserts(current)).toEqual([['TemporalChangeVersion']]);
  expect(memoUpserts(current)).toBe(0);

  // What `syncline list` and the Web UI read is there all the same.
  const desc = await client.workflow.getHandle(activationWorkflowId(id)).describe();
  expect(desc.memo?.syncline).toMatchObject({ state: 'idle', health: 'ok', lastRun: { runNumber: 2, status: 'success' } });
  expect(desc.searchAttributes).toMatchObject({ SynclineActivation: [id], SynclineDestination: ['testdb'], SynclineHealth: ['ok'] });
}, 120_000);
