/**
 * A small run (the previous run read at most SMALL_RUN_ROWS model rows) validates as a local activity
 * (workflows/sync-run.ts). A local activity's failure reaches the workflow as the ApplicationFailure itself,
 * not wrapped in an ActivityFailure: the quota wait must know both forms, or a small run whose validate
 * meets the quota reserve fails where a large run waits on a durable timer.
 *
 *   npx jest --selectProjects integration --testPathPatterns quota-wait-small-run
 */
import type { SalesforceEmulator } from '../../emulators/salesforce/server';
import type pg from 'pg';
import type { Client } from '@temporalio/client';
import type { SynclineClient } from '../../client';
import type { RunSummary } from '../../common/run';
import { runWorkflowId } from '../../common/names';
import { salesforceStage } from '../support/salesforce-stage';
import { uniqueName, waitFor } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';

const stage = salesforceStage('tq_qsmall');
let emu: SalesforceEmulator;
let client: Client;
let syncline: SynclineClient;
let db: pg.Pool;
beforeAll(() => ({ emu, client, syncline, db } = stage));

type Rec = Record<string, unknown>;
const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);
afterEach(() => admin('/faults', { method: 'DELETE' }));

test('daily quota exhausted at a small run’s validate (a local activity): the run waits on a durable timer, warns QUOTA_LOW, then writes', async () => {
  const id = uniqueName('qsmall');
  const p = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || g, 'Last ' || g FROM generate_series(1, 10) g`, [p]);
  await syncline.start({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c', options: { quotaWaitMs: 2000 } },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'last_name', to: 'LastName' },
    ],
  });
  const first = await syncline.triggerSync(id);
  expect(first).toMatchObject({ status: 'success', ops: { upsert: { succeeded: 10 } } });

  // Run 2 is small (run 1 read 10 rows): its validate is a local activity. The first call it makes to
  // Salesforce (checkDestination's describe) is refused: 403 REQUEST_LIMIT_EXCEEDED, QUOTA_RESERVE_REACHED.
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || g, 'Last ' || g FROM generate_series(11, 15) g`, [p]);
  await admin('/faults', { method: 'POST', body: JSON.stringify({ dailyQuotaExhausted: true }) });
  let settled: RunSummary | Error | undefined;
  const pending = syncline.triggerSync(id).then(
    (r) => (settled = r),
    (e: Error) => (settled = e),
  );
  const run = client.workflow.getHandle(runWorkflowId(id, first.runNumber + 1));
  const events = async () => (await run.fetchHistory()).events ?? [];
  // The run waits on a timer (a wait of 2 s, fired at least once) instead of ending.
  const waited = await waitFor(
    'run 2 waiting on a quota timer, or ended',
    async () => (settled ? 'ended' : (await events().catch(() => [])).some((e) => e.timerFiredEventAttributes) && 'waited'),
    30_000,
  );
  expect({ waited, settled: settled instanceof Error ? settled.message : settled }).toEqual({ waited: 'waited', settled: undefined });
  await admin('/faults', { method: 'DELETE' });
  await pending;
  const second = settled as RunSummary;
  expect(second).toMatchObject({ status: 'success', runNumber: first.runNumber + 1, ops: { upsert: { succeeded: 5, failed: 0 } } });
  expect(second.warnings.map((w) => w.code)).toContain('QUOTA_LOW');

  // It was the local validate that waited: its marker, no checkDestination activity task.
  const history = await events();
  const scheduled = history.flatMap((e) =>
    e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : [],
  );
  expect(scheduled).not.toContain('checkDestination');
  expect(history.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(true);
  // The wait on a local activity's failure is asked as a patch: run 2 holds its marker, run 1 (no wait) none.
  expect(patchIds(history)).toContain('quota-wait-local-activity');
  const firstRun = (await client.workflow.getHandle(runWorkflowId(id, first.runNumber)).fetchHistory()).events ?? [];
  expect(patchIds(firstRun)).not.toContain('quota-wait-local-activity');

  // Salesforce holds every model row, once.
  const mine = (await admin<Rec[]>('/records/Contact')).filter((c) => String(c.External_Id__c).startsWith(`${p}-`));
  expect(mine.map((c) => c.External_Id__c).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `${p}-${i + 1}`).sort());
});

/** The patch ids of a history's patch markers. */
function patchIds(
  events: Array<{ markerRecordedEventAttributes?: { markerName?: string | null; details?: Rec | null } | null }>,
): string[] {
  return events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return [];
    const data = (m.details as { 'patch-data'?: { payloads?: Array<{ data?: Uint8Array }> } } | null)?.['patch-data']?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data).toString()) as { id: string }).id] : [];
  });
}
