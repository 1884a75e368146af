/**
 * What the Temporal Web UI shows of an activation and its runs (workflow-safe, pure): the activation's
 * current details (state, health, next run, the last runs as a small table, open warnings), a run's
 * static details (what it syncs, where, why) and its current details (where it is; at the end, its
 * counts). Markdown, as the Web UI renders it; every text is capped so a long model SQL or many
 * warnings never approach the server's metadata limits.
 */
import type { ActivationConfig } from './config';
import type { RunSummary, RunWarning } from './run';

const MAX_DETAILS = 4000;
const LAST_RUNS = 5;

/** 12345 -> "12,345" without Intl (not guaranteed in every sandbox). */
export function count(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function cap(text: string, max = MAX_DETAILS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
}

export function targetOf(config: ActivationConfig): string {
  const d = config.destination;
  return `${d.kind} ${d.object ?? d.table ?? ''} (connection "${d.connection}", key ${d.key})`.replace('  ', ' ');
}

export function modelOf(config: ActivationConfig): string {
  const s = config.source;
  const what = s.sql !== undefined ? `SQL \`${cap(s.sql.replace(/\s+/g, ' ').trim(), 160)}\`` : `table \`${s.table}\``;
  return `${what} on "${s.connection}", key \`${s.key}\``;
}

export interface ActivationView {
  state: 'idle' | 'running' | 'paused';
  pausedReason?: string;
  health: string;
  nextRunAt: string | null;
  currentRun?: { runNumber: number; phase: string; chunksDone: number; chunksTotal: number } | null;
  recent: RunSummary[];
  warnings: RunWarning[];
  heldDeletes: { run: number; count: number } | null;
}

export function activationDetails(config: ActivationConfig, v: ActivationView): string {
  const lines = [
    `**${config.id}** · ${config.mode} → ${config.destination.kind} ${config.destination.object ?? config.destination.table ?? ''}`,
    '',
    `- State **${v.state}**${v.pausedReason ? ` (${cell(cap(v.pausedReason, 300))})` : ''} · health **${v.health}** · next run ${v.nextRunAt ?? (v.state === 'paused' ? 'none while paused' : 'on request')}`,
  ];
  if (v.currentRun)
    lines.push(
      `- Run ${v.currentRun.runNumber}: ${v.currentRun.phase}${v.currentRun.chunksTotal ? `, ${v.currentRun.chunksDone}/${v.currentRun.chunksTotal} chunks` : ''}`,
    );
  if (v.heldDeletes)
    lines.push(
      `- Deletions held: ${count(v.heldDeletes.count)} by run ${v.heldDeletes.run}; approve with \`syncline approve-deletes ${config.id} --run ${v.heldDeletes.run}\``,
    );
  if (v.warnings.length)
    lines.push('', 'Open warnings:', ...v.warnings.map((w) => `- **${w.code}** (${w.level}): ${cell(cap(w.message, 300))}`));
  const runs = v.recent.slice(-LAST_RUNS).reverse();
  if (runs.length) {
    lines.push('', '| run | trigger | status | sent | failed | rejected | finished |', '|---|---|---|---|---|---|---|');
    for (const r of runs) {
      const ops = Object.values(r.ops);
      const sent = ops.reduce((a, o) => a + o.succeeded, 0);
      const failed = ops.reduce((a, o) => a + o.failed, 0);
      lines.push(
        `| ${r.runNumber} | ${r.trigger} | ${r.status} | ${count(sent)} | ${count(failed)} | ${count(r.rejected)} | ${(r.finishedAt ?? '').replace('T', ' ').slice(0, 19)} |`,
      );
    }
  }
  return cap(lines.join('\n'));
}

export function runStaticDetails(
  config: ActivationConfig,
  r: { runNumber: number; trigger: string; full: boolean; reason?: string; planOnly?: boolean; applyPlan?: number },
): string {
  const kind = r.planOnly
    ? 'plan (computes the delta, writes nothing)'
    : r.applyPlan !== undefined
      ? `apply of plan ${r.applyPlan}`
      : 'sync';
  return cap(
    [
      `**${config.id}** · run ${r.runNumber} · ${kind}`,
      '',
      `- Trigger: ${r.trigger}${r.full ? ' (full re-sync)' : ''}${r.reason ? ` — ${cell(cap(r.reason, 200))}` : ''}`,
      `- Mode: ${config.mode}`,
      `- Model: ${modelOf(config)}`,
      `- Destination: ${targetOf(config)}`,
      `- Fields: ${config.mappings.map((m) => `${m.from}→${m.to}`).join(', ')}`,
    ].join('\n'),
  );
}

/** A finished run in readable form: its status and counts per operation. */
export function runResultDetails(s: RunSummary): string {
  const lines = [`Run ${s.runNumber} **${s.status}**${s.error ? `: ${s.error.type} — ${cell(cap(s.error.message, 400))}` : ''}`];
  const ops = Object.entries(s.ops);
  if (ops.length) {
    lines.push('', '| operation | planned | succeeded | failed | skipped | held |', '|---|---|---|---|---|---|');
    for (const [op, c] of ops)
      lines.push(`| ${op} | ${count(c.planned)} | ${count(c.succeeded)} | ${count(c.failed)} | ${count(c.skipped)} | ${count(c.held)} |`);
  } else {
    lines.push('', 'Nothing to send: the destination already matched the model.');
  }
  const unsent = ops.reduce((a, [, c]) => a + (c.unsent ?? 0), 0);
  if (unsent)
    lines.push(
      '',
      `${count(unsent)} planned rows not sent: their chunk's write never began (the run ended first, or a worker of a release before took it during a rolling deploy); the next run sends them`,
    );
  const kept = ops.reduce((a, [, c]) => a + (c.kept ?? 0), 0);
  if (kept)
    lines.push(
      '',
      `${count(kept)} deletions not sent, kept: the model still has their key in another case, and the destination takes both for one record`,
    );
  const back = ops.reduce((a, [, c]) => a + (c.backInModel ?? 0), 0);
  if (back)
    lines.push(
      '',
      `${count(back)} planned deletion(s) not made: their key is back in the model since the plan was computed, and its record is kept`,
    );
  const resent = Object.entries(s.resent ?? {}).filter(([, n]) => n > 0);
  if (resent.length)
    lines.push(
      '',
      `Re-sent within the run after a passing failure: ${resent.map(([code, n]) => `${count(n)} ${code}`).join(', ')} (each row counted once above, with its final outcome)`,
    );
  if (s.rejected)
    lines.push(
      '',
      `${count(s.rejected)} model rows rejected (null, too long or repeated key): see \`syncline errors ${s.activationId} --run ${s.runNumber}\``,
    );
  if (s.warnings.length) lines.push('', ...s.warnings.map((w) => `- **${w.code}** (${w.level}): ${cell(cap(w.message, 300))}`));
  return cap(lines.join('\n'));
}

/** "chunk 3/75 · upsert · 5,000 rows" (chunk numbers shown from 1). */
export function chunkSummary(index: number, total: number, label?: string): string {
  return `chunk ${index + 1}/${total}${label ? ` · ${label}` : ''}`;
}
