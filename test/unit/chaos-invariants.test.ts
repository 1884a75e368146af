/**
 * The chaos campaign's invariants (bench/chaos/invariants.ts) on hand-made facts: a clean state passes,
 * and each defect the campaign is there to catch is reported. A checker that cannot fail proves nothing.
 */
import { ActitoDestination, SalesforceDestination, type Content, type DestRecord, type JournalWrite } from '../../bench/chaos/destination';
import { checkInvariants, type Facts } from '../../bench/chaos/invariants';
import type { ModelRow, Version } from '../../bench/chaos/model';
import type { Dest, Mode, Schedule } from '../../bench/chaos/schedule';

const T0 = Date.parse('2026-12-04T10:00:00Z');
const content = (k: string, v = 1): Content => ({ name: `${k} n${v}`, email: null, amount: `${v}.50`, note: `note ${v}` });
const row = (rid: number, id: string | null, v = 1): ModelRow => ({
  rid,
  id,
  ...content(id ?? 'x', v),
  hA: `a-${id}-${v}`,
  hB: `b-${id}-${v}`,
});
const version = (v: number, t: number, rows: ModelRow[]): Version => ({ v, t0: T0 + t, t1: T0 + t + 10, what: `v${v}`, rows });
const schedule = (dest: Dest, mode: Mode): Schedule => ({
  seed: 1,
  index: 0,
  dest,
  mode,
  primary: 'http_5xx',
  rows: 0,
  chunkSize: 10,
  bulkThreshold: 10,
  schedule: { manual: true },
  preexisting: 0.5,
  steps: [],
});

/** Facts of a schedule whose model went through `versions`, with the destination holding the last version exactly. */
function facts(dest: Dest, mode: Mode, versions: Version[], over: Partial<Facts> = {}): Facts {
  const s = schedule(dest, mode);
  const d = dest === 'salesforce' ? new SalesforceDestination('c', s) : new ActitoDestination('c', s);
  // Record ids follow key numbers (K3 is id2), so a key keeps its id across versions.
  const idOf = (k: string) => `id${Number(k.slice(1)) - 1}`;
  const last = versions.at(-1)!.rows.filter((r) => r.id !== null);
  const first = versions[0]!.rows.filter((r) => r.id !== null);
  const records: DestRecord[] = last.map((r) => ({ id: idOf(r.id!), key: r.id, fields: { ...blank(dest), ...d.expected(r, 'A') } }));
  const created = [...first, ...last.filter((r) => !first.some((x) => x.id === r.id))];
  const journal: JournalWrite[] = created.map((r, i) => ({
    seq: i + 1,
    at: T0 + 100,
    op: 'create',
    id: idOf(r.id!),
    key: r.id,
    fields: { ...blank(dest), ...d.expected(r, 'A') },
  }));
  return {
    s,
    dest: d,
    versions,
    epoch: 'A',
    records,
    journal,
    snapshot: last.map((r) => ({ key: r.id!, hash: r.hA, destination_id: dest === 'salesforce' ? idOf(r.id!) : r.id })),
    errors: [],
    held: [],
    runs: [{ run_number: 0, trigger: 'manual', status: 'success', started_at: new Date(T0 + 50), finished_at: new Date(T0 + 200) }],
    approvals: [],
    preexisting: new Set(),
    guardPercent: 10,
    now: T0 + 10_000,
    ...over,
  };
}
const blank = (dest: Dest) =>
  dest === 'salesforce'
    ? { LastName: null, Email: null, Lifetime_Value__c: null, Description: null }
    : { name: null, email: null, amount: null, note: null };
const ten = Array.from({ length: 10 }, (_, i) => row(i + 1, `K${i + 1}`));

test.each(['salesforce', 'actito'] as const)('a destination holding the model exactly passes (%s, upsert)', (dest) => {
  expect(checkInvariants(facts(dest, 'upsert', [version(0, 0, ten)]))).toEqual([]);
});

test('a record that does not hold what the snapshot says is reported', () => {
  const f = facts('salesforce', 'upsert', [version(0, 0, ten)]);
  f.records[3]!.fields.LastName = 'changed behind syncline';
  expect(checkInvariants(f)).toEqual([expect.stringMatching(/^snapshot: key K4 holds .*changed behind syncline/)]);
});

test('an unconfirmed key may hold a lost write while it is listed with a reason; unlisted, it must have been sent again', () => {
  const v1 = version(1, 1000, [...ten.slice(0, 3), row(4, 'K4', 2), ...ten.slice(4)]);
  const f = facts('salesforce', 'upsert', [version(0, 0, ten), v1, version(2, 2000, ten)]);
  // The record holds v1's content (a write never acknowledged); the snapshot still says v0's.
  f.records[3]!.fields = { ...f.records[3]!.fields, ...f.dest.expected(v1.rows[3]!, 'A') };
  expect(checkInvariants(f)).toEqual([expect.stringMatching(/^snapshot: key K4 holds /)]);
  f.snapshot[3]!.unconfirmed = true;
  expect(checkInvariants(f)).toEqual([expect.stringMatching(/^snapshot: key K4 is still unconfirmed after the final runs/)]);
  // Listed with a permanent error (whether the model explains that error is another invariant's business).
  f.errors = [{ key: 'K4', op: 'upsert', code: 'INVALID_FIELD', retryable: false, hash: ten[3]!.hA, run_number: 3 }];
  expect(checkInvariants(f).filter((x) => x.startsWith('snapshot:'))).toEqual([]);
  // Gone from the model in Upsert (campaign seed 20261206, schedule 189): nothing is to be sent, no error stands.
  f.errors = [];
  f.versions.push(version(3, 3000, [...ten.slice(0, 3), ...ten.slice(4)]));
  expect(checkInvariants(f).filter((x) => x.startsWith('snapshot:'))).toEqual([]);
});

test('a model row neither in the destination nor listed is reported; listed with a cause, it is not', () => {
  const v1 = version(1, 1000, [...ten.slice(0, 9), row(10, 'K10', 2)]);
  const f = facts('actito', 'upsert', [version(0, 0, ten), v1]);
  f.snapshot[9]!.hash = ten[9]!.hA;
  f.records[9]!.fields = { ...f.records[9]!.fields, ...f.dest.expected(ten[9]!, 'A') };
  expect(checkInvariants(f)).toEqual([expect.stringMatching(/^model row K10 .* is not in the destination as upsert says/)]);
  f.errors = [{ key: 'K10', op: 'upsert', code: 'ACTITO_IMPORT_UNCONFIRMED', retryable: true, hash: v1.rows[9]!.hA, run_number: 3 }];
  expect(checkInvariants(f)).toEqual(
    expect.arrayContaining([
      expect.stringMatching(
        /^1 row error\(s\) upsert ACTITO_IMPORT_UNCONFIRMED \(run 3\) still wait for a retry after the final runs .*: key K10$/,
      ),
    ]),
  );
});

test('Update: a created record is reported, a missing one listed NOT_FOUND is fine', () => {
  const f = facts('salesforce', 'update', [version(0, 0, ten)], { preexisting: new Set(ten.slice(1).map((r) => r.id!)) });
  expect(checkInvariants(f)).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^update: key K1 did not exist in the destination, yet it has a record now/),
      expect.stringMatching(/^update: record id0 \(key K1\) was created/),
    ]),
  );
  f.records.shift();
  f.snapshot.shift();
  f.journal = f.journal.filter((w) => w.key !== 'K1');
  f.errors = [{ key: 'K1', op: 'update', code: 'NOT_FOUND', retryable: false, hash: ten[0]!.hA, run_number: 0 }];
  f.dest.seededUpTo = 0;
  expect(checkInvariants(f).filter((v) => !/was created/.test(v))).toEqual([]);
});

test('Insert on Salesforce: two records of one key with the same content are reported', () => {
  const f = facts('salesforce', 'insert', [version(0, 0, ten)]);
  f.records.push({ ...f.records[0]!, id: 'dup' });
  expect(checkInvariants(f)).toEqual([expect.stringMatching(/^insert: 2 records for key K1 with the same content/)]);
});

test('Insert on Actito: a record overwritten with other content is reported', () => {
  const f = facts('actito', 'insert', [version(0, 0, ten)]);
  f.journal.push({ seq: 11, at: T0 + 150, op: 'update', id: 'id0', key: 'K1', fields: { ...f.journal[0]!.fields, name: 'other' } });
  expect(checkInvariants(f)).toEqual([expect.stringMatching(/^insert: record id0 \(key K1\) was overwritten/)]);
});

describe('Mirror', () => {
  // K10 leaves the model at +1 s; run 1 (+2 s .. +3 s) deletes it.
  const v1 = version(1, 1000, ten.slice(0, 9));
  const mirror = (over: Partial<Facts> = {}): Facts => {
    const f = facts('salesforce', 'mirror', [version(0, 0, ten), v1], over);
    f.runs.push({ run_number: 1, trigger: 'manual', status: 'success', started_at: new Date(T0 + 2000), finished_at: new Date(T0 + 3000) });
    f.journal.push({ seq: 11, at: T0 + 2500, op: 'delete', id: 'id9', key: 'K10', fields: {} });
    return f;
  };

  test('deleting a key that left the model, within the guard, passes', () => {
    expect(checkInvariants(mirror())).toEqual([]);
  });

  test('deleting a key that never left the model is reported', () => {
    const f = mirror();
    f.journal.push({ seq: 12, at: T0 + 2600, op: 'delete', id: 'id2', key: 'K3', fields: {} });
    f.records = f.records.filter((r) => r.key !== 'K3');
    f.snapshot = f.snapshot.filter((x) => x.key !== 'K3');
    expect(checkInvariants(f)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^mirror: key K3 was deleted .* by run 1, but it was in the model all along/)]),
    );
  });

  test('deleting beyond the guard without an approval is reported; with an approval for that run it is not', () => {
    const v2 = version(2, 1500, ten.slice(0, 7));
    const f = facts('salesforce', 'mirror', [version(0, 0, ten), v2]);
    f.runs.push({
      run_number: 1,
      trigger: 'approval',
      status: 'success',
      started_at: new Date(T0 + 2000),
      finished_at: new Date(T0 + 3000),
    });
    for (const [i, k] of ['K8', 'K9', 'K10'].entries())
      f.journal.push({ seq: 11 + i, at: T0 + 2500, op: 'delete', id: `id${7 + i}`, key: k, fields: {} });
    expect(checkInvariants(f)).toEqual([
      expect.stringMatching(
        /^mirror: run 1 \(approval\) deleted 3 keys without an approval, over the deletion guard \(10% of 10 records\)/,
      ),
    ]);
    f.approvals = [{ run: 0, keys: ['K8', 'K9', 'K10'], acceptedAt: T0 + 1900, completedAt: T0 + 3100 }];
    expect(checkInvariants(f)).toEqual([]);
  });

  test('approved deletions of the next run, made within the second after the previous run finished, are not charged to that run', () => {
    // Campaign seed 20261205, schedule 56: run 3 ran 1000-3000 and the approval came during it (2500), so
    // it went to run 4 (3100-3500), whose deletions at 3200-3400 fall
    // inside run 3's window too (its end plus one second of slack).
    const v2 = version(2, 1500, ten.slice(0, 7));
    const f = facts('actito', 'mirror', [version(0, 0, ten), v2]);
    f.runs.push({ run_number: 3, trigger: 'manual', status: 'success', started_at: new Date(T0 + 1000), finished_at: new Date(T0 + 3000) });
    f.runs.push({
      run_number: 4,
      trigger: 'approval',
      status: 'success',
      started_at: new Date(T0 + 3100),
      finished_at: new Date(T0 + 3500),
    });
    for (const [i, k] of ['K8', 'K9', 'K10'].entries())
      f.journal.push({ seq: 11 + i, at: T0 + 3200 + 100 * i, op: 'delete', id: `id${7 + i}`, key: k, fields: {} });
    f.approvals = [{ run: 3, keys: ['K8', 'K9', 'K10'], acceptedAt: T0 + 2500, completedAt: T0 + 3600 }];
    expect(checkInvariants(f)).toEqual([]);
    // The same deletions with no approval at all are still reported.
    f.approvals = [];
    expect(checkInvariants(f)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^mirror: run 4 \(approval\) deleted 3 keys without an approval/)]),
    );
  });

  test('deletions of a run within the guard, in the second after the first run finished, are not charged to the first run', () => {
    // Campaign seed 20261205, schedule 115: run 1 created every record (0 existed when it started), run 2
    // started 350 ms after it finished and deleted 1 of 10 keys (within the 10 % guard) 150 ms later.
    const f = facts('actito', 'mirror', [version(0, 0, ten), version(1, 1500, ten.slice(0, 9))]);
    f.journal = f.journal.map((w) => ({ ...w, at: T0 + 900 }));
    f.runs = [
      { run_number: 1, trigger: 'manual', status: 'success', started_at: new Date(T0 + 500), finished_at: new Date(T0 + 1000) },
      { run_number: 2, trigger: 'manual', status: 'success', started_at: new Date(T0 + 1350), finished_at: new Date(T0 + 1700) },
    ];
    f.journal.push({ seq: 11, at: T0 + 1500, op: 'delete', id: 'id9', key: 'K10', fields: {} });
    f.records = f.records.filter((r) => r.key !== 'K10');
    f.snapshot = f.snapshot.filter((x) => x.key !== 'K10');
    expect(checkInvariants(f)).toEqual([]);
  });

  test('a record syncline no longer tracks, or a removed key neither deleted nor held, is reported', () => {
    const f = mirror();
    f.snapshot = f.snapshot.filter((x) => x.key !== 'K2');
    expect(checkInvariants(f)).toEqual([
      expect.stringMatching(/^model row K2 .* is not in the destination as mirror says/),
      expect.stringMatching(/^mirror: record id1 for key K2 is in the destination but not in syncline's snapshot/),
    ]);
    const g = facts('salesforce', 'mirror', [version(0, 0, ten)]);
    g.versions = [version(0, 0, ten), v1];
    expect(checkInvariants(g)).toEqual([
      expect.stringMatching(
        /^mirror: key K10 left the model, its record is still in the destination \(snapshot\) and no deletion of it is held/,
      ),
    ]);
    g.held = [{ key: 'K10', run_number: 0, approved: false }];
    expect(checkInvariants(g)).toEqual([]);
  });

  test('a new key whose write went unanswered, gone from the model: its record and its error stand while its deletion is held', () => {
    const g = facts('salesforce', 'mirror', [version(0, 0, ten)]);
    g.records.push({ id: 'id10', key: 'K11', fields: { ...blank('salesforce'), LastName: 'lost' } });
    g.errors = [{ key: 'K11', op: 'upsert', code: 'NOT_ACKNOWLEDGED', retryable: true, hash: null, run_number: 0 }];
    expect(checkInvariants(g)).toEqual([
      expect.stringMatching(/^1 row error\(s\) upsert NOT_ACKNOWLEDGED \(run 0\) of keys that left the model still wait for a retry/),
      expect.stringMatching(/^mirror: record id10 for key K11 is in the destination but not in syncline's snapshot/),
    ]);
    g.held = [{ key: 'K11', run_number: 0, approved: false }];
    expect(checkInvariants(g)).toEqual([]);
  });
});

test('repeated and missing keys must be listed as such', () => {
  const f = facts('actito', 'upsert', [version(0, 0, [...ten, row(11, 'K1', 2), row(12, null)])]);
  f.records = f.records.slice(0, 10);
  f.snapshot = f.snapshot.slice(0, 10);
  f.journal = f.journal.slice(0, 10);
  expect(checkInvariants(f)).toEqual([
    expect.stringMatching(/^key K1 appears 2 times in the model but is not listed as MODEL_DUPLICATE_KEY/),
    expect.stringMatching(/^1 model rows have no key but no MODEL_NULL_KEY row error lists them/),
  ]);
  f.errors = [
    { key: 'K1', op: 'duplicate_key', code: 'MODEL_DUPLICATE_KEY', retryable: false, hash: null, run_number: 0 },
    { key: '(null)', op: 'null_key', code: 'MODEL_NULL_KEY', retryable: false, hash: null, run_number: 0 },
  ];
  expect(checkInvariants(f)).toEqual([]);
});
