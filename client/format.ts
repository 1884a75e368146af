/** Text a person reads in a terminal: aligned tables of runs and row errors, and the activation status. */
import { pausesActivation } from '../common/errors';
import { describeRun, resentText, type RunSummary } from '../common/run';
import type { ConfigChange } from '../common/config-diff';
import type { ActivationListing, RetryingActivity } from './index';
import type { RowChange } from '../db/row-changes';
import type { RowOp } from '../common/sync-modes';
import { IGNORED_SIGNAL_HINT, type ActivationStatus } from '../workflows/messages';
import { runRecordFromSummary, type RowErrorRecord, type RunRecord } from './runs';
import { quotedForTerminal, terminalSafe } from '../common/terminal';

export { quotedForTerminal, terminalSafe };

/** Each line of `text` escaped (terminalSafe), its line breaks kept: what a command prints when it is not --json. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

export interface Column<T> {
  header: string;
  /** Printed once above the header, spanning the consecutive columns that share it. */
  group?: string;
  value: (row: T) => string | number;
  align?: 'left' | 'right';
  /** Longer cells are cut with "…". */
  max?: number;
}

/**
 * One line of at most `max` characters, cut at a word boundary when one is near, ending in "…"; what a
 * terminal acts on escaped (terminalSafe), never cut inside an escape.
 */
export function truncate(s: string, max: number): string {
  const flat = terminalSafe(s.replace(/\s+/g, ' ').trim());
  if (flat.length <= max) return flat;
  if (max <= 1) return '…'.slice(0, max);
  let cut = flat.slice(0, max - 1);
  // An escape ("\u001b", "\n") that would be cut is left out whole.
  for (const m of flat.matchAll(ESCAPE)) if (m.index < cut.length && m.index + m[0].length > cut.length) cut = cut.slice(0, m.index);
  const space = cut.lastIndexOf(' ');
  return (space >= max - 16 && space > 0 ? cut.slice(0, space) : cut).trimEnd() + '…';
}

/** The escapes terminalSafe writes. */
const ESCAPE = /\\(?:u[0-9a-f]{4}|[bfnrt])/g;

/**
 * Columns separated by two spaces; numbers right-aligned; no trailing blanks. Cells are escaped (terminalSafe):
 * a key holding an escape sequence or a line break neither acts on the terminal nor splits its row.
 */
export function renderTable<T>(columns: Column<T>[], rows: T[]): string {
  const cells = rows.map((r) =>
    columns.map((c) => {
      const v = c.value(r);
      return c.max ? truncate(String(v), c.max) : terminalSafe(String(v));
    }),
  );
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (parts: string[]) =>
    parts
      .map((p, i) => (columns[i]!.align === 'right' ? p.padStart(widths[i]!) : p.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out: string[] = [];
  if (columns.some((c) => c.group)) out.push(groupLine(columns, widths));
  out.push(line(columns.map((c) => c.header)), ...cells.map(line));
  return out.join('\n');
}

/** "---- upsert ----" centred over the columns of each group. */
function groupLine<T>(columns: Column<T>[], widths: number[]): string {
  let text = '';
  let col = 0;
  for (let i = 0; i < columns.length;) {
    const group = columns[i]!.group;
    let j = i;
    let span = -2;
    while (j < columns.length && columns[j]!.group === group) span += widths[j++]! + 2;
    if (group) {
      const label = ` ${group} `;
      const left = Math.max(0, Math.floor((span - label.length) / 2));
      text = text.padEnd(col) + '-'.repeat(left) + label + '-'.repeat(Math.max(0, span - left - label.length));
    }
    col += span + 2;
    i = j;
  }
  return text.trimEnd();
}

/** "2026-11-22 14:05:09" in UTC (headers say so). */
export function formatTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toISOString().slice(0, 19).replace('T', ' ') : '-';
}

export function formatDuration(ms: number): string {
  if (ms < 0) return '-';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const OP_ORDER: RowOp[] = ['create', 'update', 'upsert', 'delete'];
const COUNT_COLUMNS = [
  ['planned', 'PLANNED'],
  ['succeeded', 'OK'],
  ['failed', 'FAILED'],
  ['skipped', 'SKIPPED'],
  ['held', 'HELD'],
] as const;

/** One line per run: planned / ok / failed / skipped / held for each operation the runs used. */
export function runsTable(runs: RunRecord[], now = Date.now()): string {
  if (runs.length === 0) return '(no runs)';
  const ops = OP_ORDER.filter((op) => runs.some((r) => r.ops[op]));
  const columns: Column<RunRecord>[] = [
    { header: 'RUN', value: (r) => r.runNumber, align: 'right' },
    { header: 'TRIGGER', value: (r) => r.trigger + (r.full && r.trigger !== 'full_resync' ? ' (full)' : '') },
    { header: 'STATUS', value: (r) => r.status },
    { header: 'STARTED (UTC)', value: (r) => formatTime(r.startedAt) },
    {
      header: 'DURATION',
      value: (r) => formatDuration((r.finishedAt ? Date.parse(r.finishedAt) : now) - Date.parse(r.startedAt)),
      align: 'right',
    },
    ...ops.flatMap((op) =>
      COUNT_COLUMNS.map(([field, header]): Column<RunRecord> => ({
        header,
        group: op,
        align: 'right',
        value: (r) => r.ops[op]?.[field] ?? '-',
      })),
    ),
    { header: 'REJECTED', value: (r) => r.rejected, align: 'right' },
  ];
  // Only when a run re-sent rows within itself (record locks...): the usual table keeps its width.
  const resent = runs.filter((r) => resentText(r.resent));
  if (resent.length)
    columns.push({ header: 'RE-SENT', value: (r) => Object.values(r.resent ?? {}).reduce((a, n) => a + n, 0), align: 'right' });
  const notes = [
    ...resent.map((r) => `run ${r.runNumber}: ${resentText(r.resent)} within the run, counted once in OK or FAILED`),
    // Counted in PLANNED only: said under the table rather than in a column of their own (rare).
    ...runs
      .filter((r) => r.ops.delete?.kept)
      .map(
        (r) =>
          `run ${r.runNumber}: ${r.ops.delete!.kept} deletions kept, not sent: the model still has their key in another case, and the destination takes both for one record ("syncline rows ${r.activationId} --run ${r.runNumber} --op delete")`,
      ),
    ...runs
      .filter((r) => r.ops.delete?.backInModel)
      .map(
        (r) =>
          `run ${r.runNumber}: ${r.ops.delete!.backInModel} planned deletion(s) not made: their key is back in the model since the plan was computed, and its record is kept ("syncline rows ${r.activationId} --run ${r.runNumber} --op delete")`,
      ),
    // Whole (up to 2,000 characters): what to do comes at the end of the message.
    ...runs.filter((r) => r.error).map((r) => `run ${r.runNumber} failed: ${truncate(r.error!, 2000)}`),
  ];
  return [renderTable(columns, runs), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

/** Row errors; the message gets whatever width the terminal has left (at least 40 characters). */
export function errorsTable(errors: RowErrorRecord[], width = 200): string {
  if (errors.length === 0) return '(no row errors)';
  const columns: Column<RowErrorRecord>[] = [
    // Escaped before it is cut: a line break in a key is shown as "\n", not made a space.
    { header: 'KEY', value: (e) => terminalSafe(e.key), max: 36 },
    { header: 'OP', value: (e) => e.op },
    { header: 'CODE', value: (e) => e.code },
    { header: 'RUN', value: (e) => e.runNumber, align: 'right' },
    { header: 'ATTEMPTS', value: (e) => e.attempts, align: 'right' },
    { header: 'FIRST SEEN (UTC)', value: (e) => formatTime(e.firstSeen) },
    { header: 'LAST SEEN (UTC)', value: (e) => formatTime(e.lastSeen) },
  ];
  const used = renderTable(columns, errors).split('\n')[0]!.length + 2;
  return renderTable([...columns, { header: 'MESSAGE', value: (e) => e.message, max: Math.max(40, width - used) }], errors);
}

export function formatSchedule(schedule: unknown): string {
  const s = (schedule ?? {}) as { every?: string; cron?: string; timezone?: string; manual?: boolean };
  if (s.every) return `every ${s.every}`;
  if (s.cron) return `cron "${s.cron}" (${s.timezone ?? 'UTC'})`;
  return 'manual (runs only when asked)';
}

function relative(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  return ms >= 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

/** The `status` screen: a block of facts, then the last runs. */
export function formatStatus(st: ActivationStatus & { retrying?: RetryingActivity[] }, now = Date.now()): string {
  const facts: Array<[string, string]> = [
    ['Activation', st.activationId],
    ['State', st.state === 'paused' ? `paused: ${st.pausedReason ?? 'no reason given'}` : st.state],
    ['Health', `${st.health}${st.consecutiveFailures ? ` (${st.consecutiveFailures} failed run(s) in a row)` : ''}`],
    ['Schedule', formatSchedule(st.schedule)],
    [
      'Next run',
      st.nextRunAt
        ? `${formatTime(st.nextRunAt)} UTC (${relative(st.nextRunAt, now)})`
        : st.state === 'paused'
          ? '- (paused)'
          : '- (not scheduled)',
    ],
  ];
  const c = st.currentRun;
  if (c)
    facts.push([
      'Current run',
      `run ${c.runNumber} · ${c.phase}${c.chunksTotal ? ` · ${c.chunksDone}/${c.chunksTotal} chunks written` : ''}`,
    ]);
  if (st.pending)
    facts.push([
      'Pending',
      `${st.pending.trigger}${st.pending.full ? ' (full)' : ''} run requested, starts ${c ? 'after the current run' : 'now'}`,
    ]);
  if (st.heldDeletes) {
    facts.push([
      'Held deletions',
      `${st.heldDeletes.count} held by run ${st.heldDeletes.run}: approve with "syncline approve-deletes ${st.activationId} --run ${st.heldDeletes.run}"`,
    ]);
  }
  // Why the health is what it is: each warning names what to look at or run.
  (st.warnings ?? []).forEach((w, i) => facts.push([i === 0 ? 'Warnings' : '', `${w.level} ${w.code}: ${w.message}`]));
  // Signals of an unknown name (a misspelled `temporal workflow signal --name`): Temporal accepted them, nothing was done.
  (st.ignoredSignals ?? []).forEach((s, i) =>
    facts.push([i === 0 ? 'Ignored signals' : '', `${quotedForTerminal(s.name)} at ${formatTime(s.at)} UTC: ${IGNORED_SIGNAL_HINT}`]),
  );
  // What the activation is stuck on: an activity of its own tried again (its state database down, say).
  (st.retrying ?? []).forEach((r, i) =>
    facts.push([
      i === 0 ? 'Retrying' : '',
      `${r.activity}${r.stateDatabase ? ' (its bookkeeping in the state database)' : ''}: ${r.attempt - 1} ${r.attempt - 1 === 1 ? 'try' : 'tries'} failed, the last with "${r.lastFailure}"`,
    ]),
  );
  const width = Math.max(...facts.map(([k]) => k.length));
  const runs = [...st.lastRuns].reverse().slice(0, 10).map(runRecordFromSummary);
  // A pause reason, a warning's message, a failure: anyone's text, escaped (one line each, acting on nothing).
  return [...facts.map(([k, v]) => `${k.padEnd(width)}  ${terminalSafe(v)}`), '', 'Last runs', runsTable(runs, now)].join('\n');
}

/**
 * What `sync` and `approve-deletes` print: the one-line description, the counts, warnings and error; each line
 * but the table (escaped cell by cell) escaped: a warning's message acts on nothing and keeps to its line.
 */
export function formatRunSummary(s: RunSummary, now = Date.now()): string {
  const lines = [describeRun(s), '', runsTable([runRecordFromSummary(s)], now)];
  for (const w of s.warnings) lines.push(`${w.level}: ${w.message}`);
  // A connector that creates missing attributes (Actito) changed the destination's table: a typo in "to" is
  // a permanent new attribute, so say so (summaries recorded before the field existed lack it).
  const created = s.attributesCreated ?? [];
  if (created.length > 0)
    lines.push(
      `run ${s.runNumber} of "${s.activationId}" created ${created.length} attribute${created.length === 1 ? '' : 's'} in the destination: ${created.map((f) => JSON.stringify(f)).join(', ')}. syncline never removes an attribute: if a name is wrong, fix "to" in "mappings" ("syncline activation update --file ${s.activationId}.json") and delete the attribute in the destination`,
    );
  // The activation paused itself on this failure before answering (workflows/activation-runs.ts recordRun).
  if (s.status === 'failed' && s.error && pausesActivation(s.error.type))
    lines.push(
      `activation "${s.activationId}" is now paused (CONFIG_BROKEN): no scheduled runs until this is fixed. Fix the document ("syncline activation update --file ${s.activationId}.json" checks it again and resumes), or fix the connection or destination and run "syncline resume ${s.activationId}"`,
    );
  return lines.map((l, i) => (i === 2 ? l : terminalSafe(l))).join('\n');
}

/** A document diff and what it means, one line each. */
export function formatChanges(changes: ConfigChange[], consequences: string[]): string[] {
  const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));
  return [...changes.map((c) => `${c.path}: ${show(c.before)} -> ${show(c.after)}`), ...consequences.map((c) => `=> ${c}`)].map(
    terminalSafe,
  );
}

export function listTable(all: ActivationListing[]): string {
  const rows: string[][] = [
    ['ID', 'STATE', 'HEALTH', 'MODE', 'DESTINATION', 'LAST RUN', 'NEXT RUN'],
    ...all.map((a) =>
      [
        a.id,
        a.state,
        a.health,
        a.mode,
        a.destination,
        a.lastRun
          ? `${a.lastRun.runNumber} ${a.lastRun.status}${a.lastRun.finishedAt ? ` ${a.lastRun.finishedAt.replace('T', ' ').slice(0, 19)}` : ''}`
          : '-',
        a.nextRunAt ? a.nextRunAt.replace('T', ' ').slice(0, 19) : '-',
      ].map(terminalSafe),
    ),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `syncline rows`; cells escaped as renderTable's. */
export function rowsTable(rows: RowChange[]): string {
  const cells = [
    ['RUN', 'KEY', 'OP', 'OUTCOME', 'DESTINATION ID', 'CODE', 'AT'],
    ...rows.map((r) =>
      [String(r.runNumber), r.key, r.op, r.outcome, r.destinationId ?? '', r.code ?? '', r.at.replace('T', ' ').slice(0, 19)].map(
        terminalSafe,
      ),
    ),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
