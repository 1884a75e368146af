/**
 * A DAG run in readable form (workflow-safe, pure): `syncline dag show` prints the text table, dagWorkflow
 * sets the markdown as the run's current details in the Temporal Web UI. Both list the tasks upstream first,
 * each with its state, tries, mapped items per state, and duration.
 */
import type { DagSpec, DagState, TaskRun } from './dag';
import { terminalSafe } from './terminal';

const MAX_DETAILS = 4000;

/** Tasks upstream first (Kahn's order; ties keep the order of the DAG file). Tasks the spec lacks come last. */
export function topologicalOrder(spec: Pick<DagSpec, 'tasks'>): string[] {
  const tasks = spec.tasks ?? [];
  const indegree = new Map(tasks.map((t) => [t.id, (t.upstream ?? []).length]));
  const done: string[] = [];
  const placed = new Set<string>();
  while (done.length < tasks.length) {
    const next = tasks.find((t) => !placed.has(t.id) && (t.upstream ?? []).every((u) => placed.has(u) || !indegree.has(u)));
    // A cycle cannot be ordered (validation refuses one): what is left keeps the file's order.
    const batch = next ? [next] : tasks.filter((t) => !placed.has(t.id));
    for (const t of batch) {
      placed.add(t.id);
      done.push(t.id);
    }
  }
  return done;
}

const SYMBOL: Record<string, string> = {
  success: '✓',
  failed: '✗',
  upstream_failed: '↑',
  skipped: '-',
  running: '▶',
  pending: '·',
};

/** "12.3 s", "4 min 05 s", "-" when it has not both ends (or "running"). */
export function duration(run: Pick<TaskRun, 'startedAt' | 'endedAt' | 'state'>): string {
  if (!run.startedAt) return '-';
  if (!run.endedAt) return run.state === 'running' ? 'running' : '-';
  const ms = Date.parse(run.endedAt) - Date.parse(run.startedAt);
  if (!(ms >= 0)) return '-';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 3600
    ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
    : `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/**
 * A mapped task's items per state, e.g. "3 items: 3 success, 1 failed" (a task run in batches adds its
 * batches done, "5000 items in 25 batches (25 done): 5000 success"); "" for a task that is not mapped (or
 * not expanded yet).
 */
export function itemCounts(run: Pick<TaskRun, 'mapped' | 'mapBatches'>): string {
  const b = run.mapBatches;
  if (b) {
    const counts = Object.entries(b.counts).filter(([, n]) => (n ?? 0) > 0);
    return `${b.items} items in ${b.batches} batches (${b.batchesDone} done): ${counts.map(([state, n]) => `${n} ${state}`).join(', ')}`;
  }
  if (!run.mapped) return '';
  const counts = new Map<string, number>();
  for (const item of run.mapped) counts.set(item.state, (counts.get(item.state) ?? 0) + 1);
  return `${run.mapped.length} items: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`;
}

export interface DagRow {
  id: string;
  state: string;
  symbol: string;
  tries: string;
  items: string;
  duration: string;
  upstream: string;
  note: string;
}

/** One row per task, upstream first. `note`: kept from an earlier run, or the error. */
export function dagRows(spec: Pick<DagSpec, 'tasks'>, state: DagState): DagRow[] {
  const upstreamOf = new Map((spec.tasks ?? []).map((t) => [t.id, t.upstream ?? []]));
  const ids = [...topologicalOrder(spec), ...Object.keys(state.tasks).filter((id) => !upstreamOf.has(id))];
  return ids.map((id) => {
    const run: TaskRun = state.tasks[id] ?? { id, state: 'pending' };
    return {
      id,
      state: run.state,
      symbol: SYMBOL[run.state] ?? '?',
      tries: run.tries === undefined ? '-' : String(run.tries),
      items: itemCounts(run),
      duration: duration(run),
      upstream: (upstreamOf.get(id) ?? []).join(', '),
      note: run.kept ? 'kept from the earlier run' : run.error ? `${run.error.type}: ${oneLine(run.error.message, 200)}` : '',
    };
  });
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** For a terminal: a header line, then aligned columns (symbol, task, state, tries, duration, items, upstream, note). */
export function dagText(spec: Pick<DagSpec, 'tasks'>, state: DagState, title: string): string {
  const rows = dagRows(spec, state);
  const cells = [
    ['', 'TASK', 'STATE', 'TRIES', 'DURATION', 'ITEMS', 'UPSTREAM', 'NOTE'],
    // Escaped (terminalSafe): a task's error message acts on nothing and keeps to its row.
    ...rows.map((r) => [r.symbol, r.id, r.state, r.tries, r.duration, r.items, r.upstream || '-', r.note].map(terminalSafe)),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const lines = cells.map((c) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  return [terminalSafe(`${title}: ${state.status}`), ...lines].join('\n');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
}

/** For the Web UI's current details: the same rows as a markdown table, capped below the metadata limits. */
export function dagDetails(spec: Pick<DagSpec, 'tasks'>, state: DagState, rerunOf?: string): string {
  const rows = dagRows(spec, state);
  const head = [
    `**${cell(state.id)}** · **${state.status}**${rerunOf ? ` · re-run of \`${cell(rerunOf)}\`` : ''}`,
    '',
    '| | task | state | tries | duration | items | upstream | note |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const lines = [...head];
  for (const r of rows) {
    const line = `| ${r.symbol} | ${cell(r.id)} | ${r.state} | ${r.tries} | ${r.duration} | ${r.items} | ${cell(r.upstream)} | ${cell(oneLine(r.note, 160))} |`;
    if (lines.join('\n').length + line.length + 40 > MAX_DETAILS) {
      lines.push(`| | … ${rows.length - (lines.length - head.length)} more tasks | | | | | | |`);
      break;
    }
    lines.push(line);
  }
  return lines.join('\n');
}
