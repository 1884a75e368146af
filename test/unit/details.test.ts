/** What the Web UI shows (common/details.ts): readable counts, capped texts, the pieces each view needs. */
import { activationDetails, chunkSummary, count, runResultDetails, runStaticDetails } from '../../common/details';
import { parseActivationConfig, type ActivationConfig } from '../../common/config';
import { describeRun, type RunSummary } from '../../common/run';

const parsed = parseActivationConfig({
  id: 'contacts',
  mode: 'mirror',
  source: { sql: `SELECT * FROM marts.contacts WHERE note <> '${'x'.repeat(500)}'`, key: 'id' },
  destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
  mappings: [{ from: 'email', to: 'Email' }],
});
if (!parsed.ok) throw new Error('config');
const config: ActivationConfig = parsed.config;
const run = (n: number, over: Partial<RunSummary> = {}): RunSummary => ({
  activationId: 'contacts',
  runNumber: n,
  trigger: 'schedule',
  mode: 'mirror',
  full: false,
  status: 'success',
  startedAt: '2026-12-04T10:00:00.000Z',
  finishedAt: '2026-12-04T10:01:00.000Z',
  ops: { upsert: { planned: 12345, succeeded: 12340, failed: 5, skipped: 0, held: 0 } },
  rejected: 0,
  heldDeletes: 0,
  attributesCreated: [],
  warnings: [],
  ...over,
});

test('counts read with thousands separators; chunk summaries count from 1', () => {
  expect(count(1234567)).toBe('1,234,567');
  expect(count(12)).toBe('12');
  expect(chunkSummary(2, 75, 'upsert · 5,000 rows')).toBe('chunk 3/75 · upsert · 5,000 rows');
});

test('the activation: state, held deletions with the command that approves them, open warnings, the last five runs newest first', () => {
  const text = activationDetails(config, {
    state: 'idle',
    health: 'critical',
    nextRunAt: '2026-12-05T06:00:00.000Z',
    recent: Array.from({ length: 8 }, (_, i) => run(i + 1)),
    warnings: [{ code: 'DELETES_HELD', level: 'critical', message: 'a | b' }],
    heldDeletes: { run: 8, count: 2400 },
  });
  expect(text).toContain('**contacts** · mirror → salesforce Contact');
  expect(text).toContain('health **critical** · next run 2026-12-05T06:00:00.000Z');
  expect(text).toContain('Deletions held: 2,400 by run 8; approve with `syncline approve-deletes contacts --run 8`');
  expect(text).toContain('**DELETES_HELD** (critical): a \\| b');
  expect(text.match(/^\| \d+ \|/gm)).toEqual(['| 8 |', '| 7 |', '| 6 |', '| 5 |', '| 4 |']);
  expect(text).toContain('| 8 | schedule | success | 12,340 | 5 | 0 | 2026-12-04 10:01:00 |');
});

test('a run: what it syncs (the model SQL cut short), then its counts; every text stays under the cap', () => {
  const details = runStaticDetails(config, { runNumber: 3, trigger: 'manual', full: true, reason: 'new field' });
  expect(details).toContain('- Trigger: manual (full re-sync) — new field');
  expect(details).toMatch(/- Model: SQL `SELECT \* FROM marts\.contacts WHERE note <> 'x+…` on "default", key `id`/);
  expect(details.length).toBeLessThan(1000);
  const result = runResultDetails(
    run(3, { status: 'partial', rejected: 2, warnings: [{ code: 'FAILED_ROWS', level: 'warning', message: 'm'.repeat(5000) }] }),
  );
  expect(result).toContain('| upsert | 12,345 | 12,340 | 5 | 0 | 0 |');
  expect(result).toContain('2 model rows rejected');
  expect(result.length).toBeLessThanOrEqual(4000);
  expect(runResultDetails(run(4, { ops: {} }))).toContain('Nothing to send');
});

test('rows re-sent within the run: counted by code in the run line and the run details; nothing said when none', () => {
  const locked = run(5, { resent: { UNABLE_TO_LOCK_ROW: 1500 } });
  expect(describeRun(locked)).toBe(
    'run 5 · mirror · schedule · success · upsert 12345 (12340 ok, 5 failed) · 1500 re-sent (UNABLE_TO_LOCK_ROW 1500)',
  );
  expect(runResultDetails(locked)).toContain('Re-sent within the run after a passing failure: 1,500 UNABLE_TO_LOCK_ROW');
  expect(describeRun(run(6))).not.toContain('re-sent');
  expect(runResultDetails(run(6))).not.toContain('Re-sent');
});

test('rows never sent (their chunk write never began): said in the run line and the run details, not counted failed', () => {
  const settled = run(7, {
    status: 'cancelled',
    ops: { upsert: { planned: 12, succeeded: 5, failed: 0, skipped: 0, held: 0, unsent: 7 } },
  });
  expect(describeRun(settled)).toBe('run 7 · mirror · schedule · cancelled · upsert 12 (5 ok, 7 not sent)');
  expect(runResultDetails(settled)).toContain(
    "7 planned rows not sent: their chunk's write never began (the run ended first, or a worker of a release before took it during a rolling deploy); the next run sends them",
  );
  expect(runResultDetails(run(8))).not.toContain('not sent');
});

test('deletions kept for a case variant of their key: said in the run line and the run details, counted neither ok nor failed', () => {
  const kept = run(9, { ops: { delete: { planned: 3, succeeded: 1, failed: 0, skipped: 0, held: 0, kept: 2 } } });
  expect(describeRun(kept)).toBe('run 9 · mirror · schedule · success · delete 3 (1 ok, 2 kept)');
  expect(runResultDetails(kept)).toContain(
    '2 deletions not sent, kept: the model still has their key in another case, and the destination takes both for one record',
  );
  expect(runResultDetails(run(8))).not.toContain('kept');
});
