/**
 * Daily API quota governor. Salesforce counts every REST call against a rolling 24 h allocation shared
 * with the customer's other integrations; we stop before eating into a reserve instead of failing them.
 */
import { QuotaWaitError } from '../../common/errors';
import type { SalesforceClient } from './client';
import type { SalesforceOptions } from './config';

export interface Usage {
  used: number;
  max: number;
  /** The client the figures came from: a quota wait marks its header figures stale. */
  client?: SalesforceClient;
}

/**
 * Connections whose last header figures led to a quota wait: after the wait no call has refreshed the
 * header, so the next decision must read GET /limits instead of waiting again on stale figures. Keyed by
 * the connection (which holds the figures), not the client: each activity uses its own view of the client.
 */
const staleAfterWait = new WeakSet<SalesforceClient['conn']>();

/** Latest usage: the Sforce-Limit-Info header if a call was made (and no wait since), else GET /limits. */
export async function currentUsage(client: SalesforceClient, where: string): Promise<Usage | null> {
  const header = client.apiUsage;
  if (header && !staleAfterWait.has(client.conn)) return { used: header.used, max: header.limit, client };
  staleAfterWait.delete(client.conn);
  const limits = await client.limits(where);
  const daily = limits.DailyApiRequests;
  return daily ? { used: daily.Max - daily.Remaining, max: daily.Max, client } : null;
}

/** Throws QuotaWaitError when `plannedCalls` more calls would leave less than the reserve. */
export function ensureQuota(usage: Usage | null, plannedCalls: number, options: SalesforceOptions, where: string): void {
  if (!usage || usage.max <= 0) return;
  const reserve = Math.ceil((usage.max * options.quotaReservePercent) / 100);
  const remainingAfter = usage.max - usage.used - plannedCalls;
  if (remainingAfter < reserve) {
    if (usage.client) staleAfterWait.add(usage.client.conn);
    throw new QuotaWaitError(
      `${where}: Salesforce daily API requests ${usage.used}/${usage.max} used; ${plannedCalls} more call(s) would go below the ${options.quotaReservePercent}% reserve (${reserve}); waiting ${Math.round(options.quotaWaitMs / 60000)} min`,
      options.quotaWaitMs,
    );
  }
}

/** Checks against the header value seen on the last response (no extra call). */
export function ensureQuotaFromHeader(client: SalesforceClient, plannedCalls: number, options: SalesforceOptions, where: string): void {
  const u = client.apiUsage;
  ensureQuota(u ? { used: u.used, max: u.limit, client } : null, plannedCalls, options, where);
}
