/**
 * Warnings side effects: hand an activation's current warnings to the namespace's warnings workflow
 * (signal-with-start, which a workflow cannot do itself), deliver one notice (webhook + worker log),
 * read a destination's API quota, and re-check a paused activation's destination without writing.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivationConfig } from '../common/config';
import { SyncError } from '../common/errors';
import { withoutSecrets } from '../common/redact';
import { activationConnection, envName } from '../connectors/connections';
import {
  WARNINGS_WORKFLOW_ID,
  healthOf,
  noticeBody,
  type WarningChannel,
  type WarningNotice,
  type WarningReport,
} from '../common/warnings';
import type { SynclineDeps } from './deps';
import { WORKFLOW_TYPES } from '../common/names';
import { recordHealth } from '../db/runs';
import { reportWarningsSignal } from '../workflows/messages';
import { activityLogger, buildContext, connectorFor } from './run-context';
import { describeModel, resolveSource } from '../connectors/postgres/source';
import { buildFields } from './prepare';
import { boundary } from './failure';
import { recordQuota } from './metrics';

export type ReportWarningsInput = WarningReport;
export interface ReportWarningsResult {
  workflowId: string;
}

/**
 * Signal-with-start: the first report of the namespace starts the warnings workflow on this task queue.
 * The activation's health and open warnings are also kept in Postgres, for `syncline list` and the
 * reporting views.
 */
export async function reportWarnings(deps: SynclineDeps, input: ReportWarningsInput): Promise<ReportWarningsResult> {
  const { taskQueue } = Context.current().info;
  await recordHealth(deps.db, input.activationId, healthOf(input.warnings), input.warnings, input.at);
  const workflowId = warningsWorkflowId();
  await deps.client().workflow.signalWithStart(WORKFLOW_TYPES.warnings, {
    workflowId,
    taskQueue,
    args: [{}],
    signal: reportWarningsSignal,
    signalArgs: [input],
    staticSummary: 'syncline warnings: open warnings per (activation, code), one notice per state change',
  });
  return { workflowId };
}

/**
 * `syncline-warnings`, unless SYNCLINE_WARNINGS_WORKFLOW_ID names another: for deployments (and test
 * files) that share a namespace but not a task queue, since the workflow runs on the queue that started it.
 */
export function warningsWorkflowId(): string {
  return process.env.SYNCLINE_WARNINGS_WORKFLOW_ID || WARNINGS_WORKFLOW_ID;
}

export interface DeliverNoticeInput {
  notice: WarningNotice;
  channel?: WarningChannel;
}
export interface DeliverNoticeResult {
  webhook: 'sent' | 'none';
  status?: number;
}

/**
 * Logs the notice and POSTs it as JSON to the activation's webhook (or SYNCLINE_WARNINGS_WEBHOOK).
 * A failed POST throws: the activity retry policy re-sends the same notice (same `id`).
 */
export async function deliverNotice(deps: SynclineDeps, input: DeliverNoticeInput): Promise<DeliverNoticeResult> {
  const { notice } = input;
  const log = activityLogger();
  const line = `syncline warning ${notice.kind}: [${notice.level}] activation "${notice.activationId}" ${notice.code}: ${notice.message}`;
  if (notice.kind === 'cleared') log.info(line, { notice: notice.id });
  else if (notice.level === 'critical') log.error(line, { notice: notice.id });
  else log.warn(line, { notice: notice.id });
  const url = webhookUrl(deps, notice, input.channel);
  if (!url) return { webhook: 'none' };
  // The URL is a credential (a Slack webhook's path, a token): messages (history, logs) say where it is set, never what it is.
  const where = input.channel?.connection
    ? `the URL of connection "${input.channel.connection}"`
    : input.channel?.webhookUrl
      ? 'warnings.webhookUrl'
      : 'SYNCLINE_WARNINGS_WEBHOOK';
  unusableUrl(url, notice, where);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-syncline-notice': notice.id },
      body: JSON.stringify(noticeBody(notice, input.channel?.slack ?? false)),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw ApplicationFailure.retryable(
      `warning webhook unreachable for activation "${notice.activationId}" (${where}): ${(err as Error).message.split(url).join(`<${where}>`)}`,
      'DESTINATION_UNAVAILABLE',
    );
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) {
    const retry = res.status >= 500 || res.status === 429 || res.status === 408;
    const message = `warning webhook answered HTTP ${res.status} for notice ${notice.id}${retry ? '' : `: check ${where}`}`;
    throw retry
      ? ApplicationFailure.retryable(message, 'DESTINATION_UNAVAILABLE')
      : ApplicationFailure.nonRetryable(message, 'CONFIG_INVALID');
  }
  return { webhook: 'sent', status: res.status };
}

/**
 * A URL fetch can never post to, refused before it tries: one it cannot parse, or one with a user name or
 * password (fetch refuses those). fetch's own error would quote the URL whole; no retry would help.
 */
function unusableUrl(url: string, notice: WarningNotice, where: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const problem = !parsed
    ? 'is not a URL fetch can parse'
    : parsed.username || parsed.password
      ? 'holds a user name or password, which fetch refuses to send'
      : '';
  if (problem)
    throw ApplicationFailure.nonRetryable(
      `warning webhook of activation "${notice.activationId}": ${where} ${problem}; fix it (put a token in the path or the query string)`,
      'CONFIG_INVALID',
    );
}

/**
 * The URL to post to. A named connection is resolved here, in the worker, so the URL (a credential: a
 * Slack webhook URL lets anyone post) never enters workflow history; its JSON is `{"url": "https://..."}`.
 */
function webhookUrl(deps: SynclineDeps, notice: WarningNotice, channel: WarningChannel | undefined): string | undefined {
  if (!channel?.connection) return channel?.webhookUrl ?? process.env.SYNCLINE_WARNINGS_WEBHOOK;
  const name = channel.connection;
  const url = activationConnection(deps.resolveConnection, notice.activationId, 'warnings.connection', name).url;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    throw new SyncError(
      'CONFIG_INVALID',
      `warnings of activation "${notice.activationId}": connection "${name}" has no webhook URL; give it as {"url": "https://..."} (${envName(name)} or the secrets file)`,
    );
  }
  return url;
}

export interface CheckQuotaInput {
  config: ActivationConfig;
}
export type CheckQuotaResult = { used: number; max: number } | null;

/** The connector's quota figures, or null when it has none. */
export async function checkQuota(deps: SynclineDeps, input: CheckQuotaInput): Promise<CheckQuotaResult> {
  const connector = connectorFor(deps, input.config);
  if (!connector.quota) return null;
  const quota = await connector.quota(buildContext(deps, { activationId: input.config.id, runNumber: 0, config: input.config }, []));
  if (!quota) return null;
  recordQuota(input.config.id, connector.kind, quota);
  // The figures only: the answer is a Temporal payload, and a connector may return more (an API client did).
  return { used: quota.used, max: quota.max };
}

export interface RecheckDestinationInput {
  config: ActivationConfig;
}
export type RecheckDestinationResult = { ok: true } | { ok: false; code: string; message: string };

/** checkDestination's checks (describe the model, build fields, connector.check) with nothing written to run state. */
export async function recheckDestination(deps: SynclineDeps, input: RecheckDestinationInput): Promise<RecheckDestinationResult> {
  const { config } = input;
  try {
    const fields = buildFields(config, await describeModel(resolveSource(deps, config), config, deps.pool));
    await connectorFor(deps, config).check(buildContext(deps, { activationId: config.id, runNumber: 0, config }, fields));
    return { ok: true };
  } catch (err) {
    // A configuration error is the answer ("still broken"); anything else is retried by the policy.
    // Returned, not thrown: the failure boundary does not see it, and the activation's paused warning quotes it.
    if (err instanceof SyncError && !err.retryable) return { ok: false, code: err.code, message: withoutSecrets(err.message) };
    throw err;
  }
}

/** The warnings activities bound to the worker's resources (spread into createActivities). */
export function createNotifyActivities(deps: SynclineDeps) {
  return {
    reportWarnings: boundary((input: ReportWarningsInput) => reportWarnings(deps, input)),
    deliverNotice: boundary((input: DeliverNoticeInput) => deliverNotice(deps, input)),
    checkQuota: boundary((input: CheckQuotaInput) => checkQuota(deps, input)),
    recheckDestination: boundary((input: RecheckDestinationInput) => recheckDestination(deps, input)),
  };
}
