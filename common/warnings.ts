/**
 * The open-warnings state machine (pure, workflow-safe). An activation reports its *complete* current
 * set of warnings; diffing it against what is open gives at most one notice per (activation, code)
 * and state change: `opened`, `changed` (level went up or down) or `cleared` (recovery). A report
 * that repeats the open set gives no notice, so a threshold fires once while it stays crossed.
 */
import type { RunWarning } from './run';
import type { Health } from './search-attributes';

export { WARNINGS_WORKFLOW_ID } from './names';

export type WarningLevel = 'warning' | 'critical';

export interface OpenWarning {
  activationId: string;
  code: string;
  level: WarningLevel;
  message: string;
  /** ISO time the warning was opened (kept across level changes). */
  since: string;
}

/**
 * Where notices about one activation go: the named connection holding the webhook URL (resolved by the
 * worker), else `webhookUrl` (documents of activations started before connections), else the worker's
 * SYNCLINE_WARNINGS_WEBHOOK.
 */
export interface WarningChannel {
  connection?: string;
  webhookUrl?: string;
  slack?: boolean;
}

export interface WarningReport {
  activationId: string;
  /** Every warning that holds now; anything open for this activation and absent here has recovered. */
  warnings: RunWarning[];
  /** ISO time of the observation (workflow time of the activation). */
  at: string;
  channel?: WarningChannel;
}

export type NoticeKind = 'opened' | 'changed' | 'cleared';

export interface WarningNotice {
  /** `<activation>/<code>/<since>/<kind>[/<level>]`: stable across activity retries, lets receivers drop duplicates. */
  id: string;
  kind: NoticeKind;
  activationId: string;
  code: string;
  /** Level now (for `cleared`: the level it had while open). */
  level: WarningLevel;
  previousLevel?: WarningLevel;
  message: string;
  since: string;
  at: string;
}

export type OpenWarnings = Record<string, OpenWarning>;

export const warningKey = (activationId: string, code: string): string => `${activationId}/${code}`;

/** Only warning and critical levels are thresholds; `info` is shown on the run but opens nothing. */
export function thresholdWarnings(warnings: RunWarning[]): Array<RunWarning & { level: WarningLevel }> {
  const byCode = new Map<string, RunWarning & { level: WarningLevel }>();
  for (const w of warnings) {
    if (w.level === 'info') continue;
    const seen = byCode.get(w.code);
    // One entry per code: the most severe one wins (a run may raise a code twice).
    if (!seen || (seen.level === 'warning' && w.level === 'critical')) byCode.set(w.code, w as RunWarning & { level: WarningLevel });
  }
  return [...byCode.values()];
}

/** Diffs a report against the open set; returns the new open set and the notices to send, in order. */
export function applyReport(open: OpenWarnings, report: WarningReport): { open: OpenWarnings; notices: WarningNotice[] } {
  const next: OpenWarnings = { ...open };
  const notices: WarningNotice[] = [];
  const current = thresholdWarnings(report.warnings);
  const base = { activationId: report.activationId, at: report.at };
  for (const w of current) {
    const key = warningKey(report.activationId, w.code);
    const was = open[key];
    if (!was) {
      next[key] = { activationId: report.activationId, code: w.code, level: w.level, message: w.message, since: report.at };
      notices.push({
        ...base,
        id: `${key}/${report.at}/opened`,
        kind: 'opened',
        code: w.code,
        level: w.level,
        message: w.message,
        since: report.at,
      });
    } else if (was.level !== w.level) {
      next[key] = { ...was, level: w.level, message: w.message };
      notices.push({
        ...base,
        id: `${key}/${was.since}/changed/${w.level}/${report.at}`,
        kind: 'changed',
        code: w.code,
        level: w.level,
        previousLevel: was.level,
        message: w.message,
        since: was.since,
      });
    } else {
      // Same state: the newest message is kept for the query, nobody is notified again.
      next[key] = { ...was, message: w.message };
    }
  }
  const still = new Set(current.map((w) => w.code));
  for (const [key, was] of Object.entries(open)) {
    if (was.activationId !== report.activationId || still.has(was.code)) continue;
    delete next[key];
    notices.push({
      ...base,
      id: `${key}/${was.since}/cleared`,
      kind: 'cleared',
      code: was.code,
      level: was.level,
      message: `${was.code} no longer holds for activation "${was.activationId}" (open since ${was.since}); it was: ${was.message}`,
      since: was.since,
    });
  }
  return { open: next, notices };
}

/** critical if any critical warning holds, warning if any warning, else ok. */
export function healthOf(warnings: RunWarning[]): Health {
  const levels = thresholdWarnings(warnings).map((w) => w.level);
  return levels.includes('critical') ? 'critical' : levels.includes('warning') ? 'warning' : 'ok';
}

/** code -> level, to tell whether a new set differs from the one last reported. */
export function warningSignature(warnings: RunWarning[]): string {
  return thresholdWarnings(warnings)
    .map((w) => `${w.code}:${w.level}`)
    .sort()
    .join(',');
}

/** The JSON body posted to a webhook: the notice itself, or `{text}` for Slack-compatible incoming webhooks. */
export function noticeBody(notice: WarningNotice, slack: boolean): unknown {
  if (!slack) return notice;
  const head =
    notice.kind === 'cleared'
      ? `:white_check_mark: recovered`
      : notice.level === 'critical'
        ? `:rotating_light: critical`
        : `:warning: warning`;
  const change = notice.kind === 'changed' ? ` (was ${notice.previousLevel})` : '';
  return { text: `${head}${change} · activation "${notice.activationId}" · ${notice.code}: ${notice.message}` };
}
