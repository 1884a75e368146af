/**
 * The invariants, checked once a schedule has settled (faults cleared, final runs done). Each takes the
 * destination's real state and write journal (emulator inspection endpoints), the model's history (every
 * version, with its hashes), and syncline's own tables; docs/chaos.md states each one in words.
 */
import type { Content, Destination, DestRecord, Epoch, JournalWrite } from './destination';
import { isBad, type ModelRow, type Version } from './model';
import type { Schedule } from './schedule';

/** `unconfirmed`: the key's last write went unanswered; syncline sends it again when it can. */
export interface SnapshotRow {
  key: string;
  hash: string;
  destination_id: string | null;
  unconfirmed?: boolean;
}
export interface ErrorRow {
  key: string;
  op: string;
  code: string;
  retryable: boolean;
  hash: string | null;
  run_number: number;
}
export interface HeldRow {
  key: string;
  run_number: number;
  approved: boolean;
}
export interface RunRow {
  run_number: number;
  trigger: string;
  status: string;
  started_at: Date;
  finished_at: Date | null;
}
/**
 * An approveDeletes the activation accepted, read from its history (the caller's answer may say
 * otherwise): the run it named, the keys that run held when it was called, when it was accepted and
 * completed (null: still waiting).
 */
export interface Approval {
  run: number;
  keys: string[];
  acceptedAt: number;
  completedAt: number | null;
}

export interface Facts {
  s: Schedule;
  dest: Destination;
  versions: Version[];
  epoch: Epoch;
  records: DestRecord[];
  journal: JournalWrite[];
  snapshot: SnapshotRow[];
  errors: ErrorRow[];
  held: HeldRow[];
  runs: RunRow[];
  approvals: Approval[];
  preexisting: Set<string>;
  guardPercent: number;
  now: number;
}

interface Known {
  c: Content;
  epoch: Epoch;
}

const eq = (a: unknown, b: unknown): boolean => {
  if ((a ?? null) === null || (b ?? null) === null) return (a ?? null) === (b ?? null);
  if (typeof a === 'number' || typeof b === 'number') return Math.abs(Number(a) - Number(b)) < 1e-6;
  return a === b;
};
const show = (x: unknown): string => JSON.stringify(x);

export function checkInvariants(f: Facts): string[] {
  const v: string[] = [];
  const { s, dest } = f;
  const sfInsert = s.dest === 'salesforce' && s.mode === 'insert';
  const axInsert = s.dest === 'actito' && s.mode === 'insert';

  // What every (key, hash) the model ever had stands for.
  const known = new Map<string, Map<string, Known>>();
  for (const ver of f.versions) {
    for (const r of ver.rows) {
      if (r.id === null) continue;
      const m = known.get(r.id) ?? new Map<string, Known>();
      m.set(r.hA, { c: r, epoch: 'A' });
      m.set(r.hB, { c: r, epoch: 'B' });
      known.set(r.id, m);
    }
  }
  const finalRows = f.versions[f.versions.length - 1]!.rows;
  const rowsOf = new Map<string, ModelRow[]>();
  let nullRows = 0;
  for (const r of finalRows) {
    if (r.id === null) nullRows++;
    else rowsOf.set(r.id, [...(rowsOf.get(r.id) ?? []), r]);
  }
  const hashOf = (r: ModelRow) => (f.epoch === 'A' ? r.hA : r.hB);
  const recsByKey = group(f.records, (r) => r.key ?? '(none)');
  const snap = new Map(f.snapshot.map((x) => [x.key, x]));
  const errs = new Map(f.errors.map((x) => [x.key, x]));
  const held = new Set(f.held.map((h) => h.key));

  /** A record holds what `k` was written with under that content's epoch (Insert on Salesforce: a record made under A never got a note). */
  const holds = (rec: DestRecord, k: Known): boolean => {
    const want = dest.expected(k.c, k.epoch);
    if (!Object.entries(want).every(([field, value]) => eq(rec.fields[field], value))) return false;
    return !(sfInsert && k.epoch === 'A' && rec.fields.Description !== null);
  };
  const lostAndHeld = (key: string): boolean =>
    s.mode === 'mirror' && held.has(key) && !snap.has(key) && errs.get(key)?.code === 'NOT_ACKNOWLEDGED';
  const everHeld = (rec: DestRecord): boolean => [...(known.get(rec.key ?? '')?.values() ?? [])].some((k) => holds(rec, k));

  // 1. The snapshot matches the destination: each (key, hash) it holds is a record holding that content.
  for (const x of f.snapshot) {
    const k = known.get(x.key)?.get(x.hash);
    if (!k) {
      v.push(`snapshot: key ${x.key} has hash ${x.hash}, which matches no content the model ever had`);
      continue;
    }
    const recs = recsByKey.get(x.key) ?? [];
    // An unanswered write may have landed: the destination need not hold the snapshot's content while the
    // key cannot be sent (listed with a reason); once it can, the final runs must have sent it again.
    if (x.unconfirmed) {
      const why = f.errors.find((e) => e.key === x.key && !e.retryable);
      // Gone from the model, in a mode that leaves the destination alone: nothing is to be sent.
      if (!(f.versions.at(-1)?.rows ?? []).some((r) => r.id === x.key)) continue;
      if (!why)
        v.push(
          `snapshot: key ${x.key} is still unconfirmed after the final runs (its last write went unanswered), yet no run sent it again and no row error says why`,
        );
      else if (!recs.every(everHeld))
        v.push(`snapshot: key ${x.key} (unconfirmed, listed ${why.code}) holds content the model never had: ${show(recs)}`);
      continue;
    }
    if (sfInsert) {
      const target = x.destination_id ? recs.find((r) => r.id === x.destination_id) : recs.find((r) => holds(r, k));
      if (!target)
        v.push(
          `snapshot: key ${x.key} is recorded as record ${x.destination_id ?? '?'} holding ${show(dest.expected(k.c, k.epoch))}; no such record in Salesforce (records of the key: ${show(recs)})`,
        );
      else if (!holds(target, k))
        v.push(
          `snapshot: record ${target.id} of key ${x.key} holds ${show(target.fields)}; the snapshot says ${show(dest.expected(k.c, k.epoch))}`,
        );
      continue;
    }
    if (recs.length !== 1) {
      v.push(
        `snapshot: key ${x.key} should be one record holding ${show(dest.expected(k.c, k.epoch))}; the destination has ${recs.length}: ${show(recs)}`,
      );
      continue;
    }
    const rec = recs[0]!;
    if (!holds(rec, k))
      v.push(
        `snapshot: key ${x.key} holds ${show(rec.fields)} in the destination; the snapshot says ${show(dest.expected(k.c, k.epoch))} (epoch ${k.epoch})`,
      );
    if (s.dest === 'salesforce' && x.destination_id && rec.id !== x.destination_id)
      v.push(`snapshot: key ${x.key} is recorded as record ${x.destination_id}; Salesforce has it as ${rec.id}`);
  }

  // 2. Every model row is in the destination as the mode says, or listed with a reason.
  const notFound = (e: ErrorRow | undefined) => !!e && !e.retryable && /NOT_FOUND/.test(e.code);
  const permanentForContent = (e: ErrorRow | undefined, r: ModelRow) => !!e && !e.retryable && isBad(r) && e.hash === hashOf(r);
  for (const [key, rows] of rowsOf) {
    if (rows.length !== 1) continue;
    const r = rows[0]!;
    const x = snap.get(key);
    const e = errs.get(key);
    if (s.mode === 'update' && !f.preexisting.has(key)) {
      if ((recsByKey.get(key) ?? []).length)
        v.push(`update: key ${key} did not exist in the destination, yet it has a record now: Update never creates`);
      if (!notFound(e) && !permanentForContent(e, r))
        v.push(`update: key ${key} has no record to update and is not listed as not found (row error: ${show(e)})`);
      continue;
    }
    if (axInsert ? x : x?.hash === hashOf(r)) continue;
    if (permanentForContent(e, r)) continue;
    v.push(
      `model row ${key} ${show(dest.expected(r, f.epoch))} is not in the destination as ${s.mode} says (snapshot ${show(x)}) and not listed with a reason (row error: ${show(e)})`,
    );
  }
  for (const [key, rows] of rowsOf) {
    if (rows.length > 1 && errs.get(key)?.code !== 'MODEL_DUPLICATE_KEY')
      v.push(
        `key ${key} appears ${rows.length} times in the model but is not listed as MODEL_DUPLICATE_KEY (row error: ${show(errs.get(key))})`,
      );
  }
  // Found by its code: the key it is listed under is NULL_KEY (db/delta.ts), or '(null)' in releases before.
  if (nullRows > 0 && !f.errors.some((e) => e.code === 'MODEL_NULL_KEY'))
    v.push(`${nullRows} model rows have no key but no MODEL_NULL_KEY row error lists them`);

  // 3. Row errors say why: nothing retryable is left after the final runs, and permanent ones have a cause in the model.
  const waiting = new Map<string, string[]>();
  for (const e of f.errors) {
    const rows = rowsOf.get(e.key);
    if (e.code === 'MODEL_NULL_KEY' || (rows && rows.length > 1)) continue;
    // A new key whose write went unanswered, gone from the model, its deletion held: the error is the only
    // mark of the record the lost write may have made; the approved deletion deletes it (db/commit.ts).
    if (!rows && lostAndHeld(e.key)) continue;
    if (e.retryable && (rows || s.mode === 'mirror')) {
      const what = `${e.op} ${e.code} (run ${e.run_number})${rows ? '' : ' of keys that left the model'}`;
      waiting.set(what, [...(waiting.get(what) ?? []), e.key]);
      continue;
    }
    if (!rows) continue;
    const r = rows[0]!;
    if (!(isBad(r) && e.hash === hashOf(r)) && !(s.mode === 'update' && !f.preexisting.has(e.key) && notFound(e))) {
      v.push(
        `row ${e.key}: permanent ${e.op} error ${e.code} (run ${e.run_number}) that its model content does not explain: ${show(dest.expected(r, f.epoch))}`,
      );
    }
  }
  for (const [what, keys] of waiting) {
    v.push(
      `${keys.length} row error(s) ${what} still wait for a retry after the final runs (no run sends them again): key ${keys.slice(0, 8).join(', key ')}${keys.length > 8 ? ', …' : ''}`,
    );
  }

  // 4. What each mode may do to records.
  const writes = f.journal.filter((w) => w.seq > f.dest.seededUpTo);
  for (const w of writes.filter((x) => x.op === 'rollback'))
    v.push(`journal: record ${w.id} (key ${w.key}) was rolled back by an allOrNone request`);
  if (s.mode !== 'mirror')
    for (const w of writes.filter((x) => x.op === 'delete'))
      v.push(`${s.mode}: record ${w.id} (key ${w.key}) was deleted at ${iso(w.at)}; only Mirror deletes`);
  if (s.mode === 'update')
    for (const w of writes.filter((x) => x.op === 'create'))
      v.push(`update: record ${w.id} (key ${w.key}) was created at ${iso(w.at)}; Update never creates`);
  if (s.mode === 'insert') {
    const last = new Map<string, JournalWrite>();
    for (const w of f.journal) {
      const before = last.get(w.id);
      if (
        w.seq > f.dest.seededUpTo &&
        w.op === 'update' &&
        before &&
        !Object.keys(w.fields).every((k) => eq(w.fields[k], before.fields[k]))
      ) {
        v.push(`insert: record ${w.id} (key ${w.key}) was overwritten at ${iso(w.at)}: ${show(before.fields)} -> ${show(w.fields)}`);
      }
      last.set(w.id, w);
    }
  }
  for (const [key, recs] of recsByKey) {
    if (sfInsert) {
      const same = group(recs, (r) => show(r.fields));
      for (const [content, list] of same)
        if (list.length > 1)
          v.push(`insert: ${list.length} records for key ${key} with the same content ${content}: ${list.map((r) => r.id).join(', ')}`);
      for (const r of recs)
        if (!everHeld(r)) v.push(`insert: record ${r.id} of key ${key} holds ${show(r.fields)}, content the key never had`);
      continue;
    }
    if (recs.length > 1) v.push(`${recs.length} records for key ${key}: ${show(recs)}`);
    if (snap.has(key)) continue;
    const seeded = s.mode === 'update' && f.preexisting.has(key);
    if (s.mode === 'mirror' && lostAndHeld(key)) continue;
    if (s.mode === 'mirror')
      v.push(
        `mirror: record ${recs[0]!.id} for key ${key} is in the destination but not in syncline's snapshot: nothing will ever delete it (${show(recs[0]!.fields)})`,
      );
    else if (!seeded && !recs.every(everHeld))
      v.push(`${s.mode}: record for key ${key} holds ${show(recs[0]!.fields)}, content the key never had`);
  }
  if (s.mode === 'mirror') {
    for (const x of f.snapshot) {
      if (!rowsOf.has(x.key) && !held.has(x.key))
        v.push(`mirror: key ${x.key} left the model, its record is still in the destination (snapshot) and no deletion of it is held`);
    }
    v.push(...deletionAudit(f, writes));
  }
  return v;
}

/** Mirror deletes only keys that left the model, and beyond the guard only what an approval released. */
function deletionAudit(f: Facts, writes: JournalWrite[]): string[] {
  const v: string[] = [];
  const windows = f.runs.map((r) => ({
    n: r.run_number,
    trigger: r.trigger,
    start: r.started_at.getTime(),
    end: r.finished_at ? r.finished_at.getTime() + 1000 : r.status === 'running' ? f.now : r.started_at.getTime(),
  }));
  const live = (a: number, b: number): Version[] => f.versions.filter((ver, i) => ver.t0 <= b && (f.versions[i + 1]?.t1 ?? Infinity) >= a);
  const deletes = writes.filter((w) => w.op === 'delete');
  for (const d of deletes) {
    const within = windows.filter((w) => w.start <= d.at && d.at <= w.end);
    if (!within.length) {
      v.push(`mirror: key ${d.key} was deleted at ${iso(d.at)}, outside every run`);
      continue;
    }
    const from = Math.min(...within.map((w) => w.start));
    if (live(from, d.at).every((ver) => ver.rows.some((r) => r.id === d.key))) {
      v.push(
        `mirror: key ${d.key} was deleted at ${iso(d.at)} by run ${within.map((w) => w.n).join('/')}, but it was in the model all along since ${iso(from)}`,
      );
    }
  }
  // The guard, against the records that existed when the run started (never fewer than the synced rows it compares with).
  const liveAt = (t: number): number => {
    const ids = new Set<string>();
    for (const w of f.journal) {
      if (w.at >= t) break;
      if (w.op === 'create') ids.add(w.id);
      if (w.op === 'delete') ids.delete(w.id);
    }
    return ids.size;
  };
  // Runs never overlap, but their windows do by the second of slack after each: a deletion belongs to the
  // last run started before it (the one before had finished).
  const owner = (d: JournalWrite) => windows.filter((w) => w.start <= d.at && d.at <= w.end).sort((a, b) => b.start - a.start)[0];
  for (const w of windows) {
    const mine = deletes.filter((d) => owner(d) === w);
    if (!mine.length) continue;
    // An approval belongs to the run that starts after it; the update completes once that run has.
    const approved = new Set(
      f.approvals
        .filter((a) => a.acceptedAt <= w.start + 1000 && (a.completedAt === null || w.start <= a.completedAt))
        .flatMap((a) => a.keys),
    );
    const unapproved = mine.filter((d) => !approved.has(d.key ?? ''));
    if (!unapproved.length) continue;
    const base = liveAt(w.start);
    if (unapproved.length * 100 > f.guardPercent * base) {
      v.push(
        `mirror: run ${w.n} (${w.trigger}) deleted ${unapproved.length} keys without an approval, over the deletion guard (${f.guardPercent}% of ${base} records): ${unapproved
          .slice(0, 10)
          .map((d) => d.key)
          .join(', ')}`,
      );
    }
    if (live(w.start, w.end).every((ver) => ver.rows.length === 0))
      v.push(`mirror: run ${w.n} deleted ${unapproved.length} keys without an approval while the model was empty`);
  }
  return v;
}

function group<T>(items: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of items) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

const iso = (t: number): string => new Date(t).toISOString();
