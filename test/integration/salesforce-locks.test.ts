/**
 * Lock-safe Bulk loads through Temporal (issue 14): the emulator's `lockContention` fault models Salesforce
 * processing a job's internal batches in parallel, a parent locked by the first batch that touches it. The
 * Bulk CSV groups Contacts by Account, so only the parents cut by a batch boundary lock; their rows fail
 * UNABLE_TO_LOCK_ROW, are re-sent within the run, and the run summary counts how many were re-sent and why.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-locks
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { SalesforceEmulator } from '../../emulators/salesforce/server';
import { salesforceStage } from '../support/salesforce-stage';
import { uniqueName } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import type { SynclineClient } from '../../client';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { describeRun } from '../../common/run';
import { statusQuery, triggerSyncUpdate } from '../../workflows/messages';

const stage = salesforceStage('tq_sflock');
const TQ = stage.taskQueue;
let emu: SalesforceEmulator;
let client: Client;
let syncline: SynclineClient;
let db: pg.Pool;
beforeAll(() => ({ emu, client, syncline, db } = stage));

type Rec = Record<string, unknown>;
const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);
const records = (object: string) => admin<Rec[]>(`/records/${object}`);

/**
 * The fault's rule (emulators/salesforce/README.md) applied to a CSV grouped by parent: rows are cut into
 * batches of `batch` in upload order, a parent is held by the batch of its first row, and its rows in any
 * later batch fail. Every parent has `perParent` rows, so parent p occupies rows [p·perParent, (p+1)·perParent)
 * whatever order the grouping puts the parents in: the count does not depend on that order.
 */
function lockedWhenGrouped(parents: number, perParent: number, batch: number): number {
  let locked = 0;
  for (let p = 0; p < parents; p++) {
    const first = p * perParent;
    for (let i = first; i < first + perParent; i++) if (Math.floor(i / batch) !== Math.floor(first / batch)) locked++;
  }
  return locked;
}

test('bulk with lock contention: every Contact written once with its Account; the rows re-sent are counted in the run summary', async () => {
  const id = uniqueName('sflock');
  const p = id.toUpperCase();
  const [parents, perParent, batch] = [20, 6, 25];
  const expected = lockedWhenGrouped(parents, perParent, batch);
  // Boundaries at rows 25, 50, 75 and 100 cut the parents at rows 24-29, 48-53, 72-77 and 96-101: 5 + 4 + 3 + 2.
  expect(expected).toBe(14);
  // Fewer than a batch: the re-sent rows (a job of their own) fit in one batch and none can lock again.
  expect(expected).toBeLessThan(batch);

  const accounts = Array.from({ length: parents }, (_, i) => `${p}-A${i}`);
  await admin('/records/Account', {
    method: 'POST',
    body: JSON.stringify(accounts.map((k) => ({ Name: `Account ${k}`, External_Id__c: k }))),
  });
  await db.query(`CREATE TABLE public.${id} (id text, last_name text, account_key text)`);
  // Round robin over the parents in model order: ungrouped, every parent would be in every batch.
  await db.query(
    `INSERT INTO public.${id} SELECT $1 || '-c' || i, 'Contact ' || i, $1 || '-A' || (i % ${parents}) FROM generate_series(0, ${parents * perParent - 1}) i`,
    [p],
  );
  await admin('/faults', {
    method: 'POST',
    body: JSON.stringify({ lockContention: { column: 'Account.External_Id__c', batchSize: batch } }),
  });
  const config = {
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: {
      kind: 'salesforce',
      connection: 'sf',
      object: 'Contact',
      key: 'External_Id__c',
      options: { bulkPollMs: 0, bulkThreshold: 1 },
    },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'last_name', to: 'LastName' },
      { from: 'account_key', to: 'Account.External_Id__c' },
    ],
  };
  const handle = await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config }],
  });
  await admin('/requests', { method: 'DELETE' });

  const run = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
  const rows = parents * perParent;
  expect(run).toMatchObject({ status: 'success', ops: { upsert: { planned: rows, succeeded: rows, failed: 0 } } });
  expect(run.resent).toEqual({ UNABLE_TO_LOCK_ROW: expected });
  expect(describeRun(run)).toContain(`${expected} re-sent (UNABLE_TO_LOCK_ROW ${expected})`);
  // Two Bulk jobs: the chunk, then its locked rows.
  const jobs = (await admin<{ requests: Array<{ method: string; path: string }> }>('/requests')).requests.filter(
    (r) => r.method === 'POST' && /\/jobs\/ingest\/?$/.test(r.path),
  );
  expect(jobs).toHaveLength(2);

  // Every Contact exactly once, linked to its Account.
  const accountKey = new Map((await records('Account')).map((a) => [a.Id, a.External_Id__c]));
  const mine = (await records('Contact')).filter((c) => String(c.External_Id__c).startsWith(`${p}-c`));
  expect(mine).toHaveLength(rows);
  expect(new Set(mine.map((c) => c.External_Id__c)).size).toBe(rows);
  for (const c of mine) expect(accountKey.get(c.AccountId)).toBe(`${p}-A${Number(String(c.External_Id__c).split('-c')[1]) % parents}`);
  expect(await syncline.errors(id)).toEqual([]);

  // The count is recorded with the run (what `syncline runs` and the status query show), and a run that
  // re-sends nothing carries none.
  expect((await syncline.runs(id))[0]).toMatchObject({ runNumber: run.runNumber, resent: { UNABLE_TO_LOCK_ROW: expected } });
  const next = await handle.executeUpdate(triggerSyncUpdate, { args: [{}] });
  expect(next.status).toBe('success');
  expect(next.resent).toBeUndefined();
  const last = (await handle.query(statusQuery)).lastRuns;
  expect(last.find((r) => r.runNumber === run.runNumber)?.resent).toEqual({ UNABLE_TO_LOCK_ROW: expected });
});
