/**
 * Daily API quota governor. Salesforce counts every REST call against a rolling 24 h allocation shared
 * with the customer's other integrations; we stop before eating into a reserve instead of failing them.
 *
 * A decision uses the freshest figure at hand: this worker's own (the last Sforce-Limit-Info header it
 * saw) or the cluster's (the freshest any worker published through `ctx.limits.shareFigure`, the state
 * Postgres in the runtime). Freshest by observation time, whatever the value: the org's count is rolling
 * and drops. docs/limits.md ("Salesforce") describes the sharing, its throttle and its failure mode.
 */
import { QuotaWaitError } from '../../common/errors';
import type { Logger, SharedLimits } from '../types';
import type { SalesforceClient } from './client';
import type { SalesforceOptions } from './config';

export interface Usage {
  used: number;
  max: number;
  /** The client the figures came from: a quota wait marks the figures seen until then stale. */
  client?: SalesforceClient;
}

/** A daily API figure and when it was observed, on this worker's clock (ms). */
export interface Figure {
  used: number;
  max: number;
  observedAt: number;
}

/** The one observed later, whatever the values: a fresher lower figure wins (the rolling count dropped). */
export function freshest<F extends Figure>(a: F | null, b: F | null): F | null {
  if (!a) return b;
  if (!b) return a;
  return b.observedAt > a.observedAt ? b : a;
}

/** A worker publishes its figure at most this often per org, besides its decisions (one statement each). */
export const SHARE_INTERVAL_MS = 5_000;
/**
 * A worker with no figure of its own decides on a shared one only if it is younger than this; else it
 * reads GET /limits (as it did before figures were shared). With a figure of its own it takes the fresher.
 */
export const SHARED_MAX_AGE_MS = 5 * 60_000;
/** A decision waits at most this long for the shared store; then it goes on with what it has. */
const SHARE_TIMEOUT_MS = 1_000;
/** After the shared store failed, it is not asked again for this long (no slow decision per chunk). */
const SHARE_BACKOFF_MS = 30_000;

/** The SharedLimits scope of an org's daily API request figure (docs/limits.md): its instance URL. */
export function usageScope(instanceUrl: string): string {
  return `salesforce:org:${instanceUrl.replace(/\/+$/, '').toLowerCase()}:daily-api-requests`;
}

/** This worker's view of one org's shared figure: one per coordinator (a worker) and org. */
interface SharedState {
  /** The freshest figure the store answered (observation time converted to this worker's clock). */
  figure: Figure | null;
  /** When this worker last asked the store (its clock): the throttle. */
  askedAt: number;
  /** The observation time of the last own figure sent: an own figure is sent once. */
  sentObservedAt: number;
  pending: Promise<Figure | null> | null;
  /** The store failed: not asked again before this time. */
  downUntil: number;
  /** The failure was logged (once per outage). */
  warned: boolean;
  failure: unknown;
}
const shared = new WeakMap<SharedLimits, Map<string, SharedState>>();

function stateOf(client: SalesforceClient): SharedState {
  let byScope = shared.get(client.sharedLimits);
  if (!byScope) shared.set(client.sharedLimits, (byScope = new Map()));
  const scope = usageScope(client.conn.instanceUrl);
  let s = byScope.get(scope);
  if (!s)
    byScope.set(
      scope,
      (s = { figure: null, askedAt: -Infinity, sentObservedAt: -Infinity, pending: null, downUntil: 0, warned: false, failure: null }),
    );
  return s;
}

function ownFigure(client: SalesforceClient): Figure | null {
  const u = client.apiUsage;
  return u ? { used: u.used, max: u.limit, observedAt: u.observedAt } : null;
}

/** The figure to decide on: the fresher of the worker's own and the shared one; a shared one alone only while young. */
function decidingFigure(client: SalesforceClient, fromShared: Figure | null): Figure | null {
  const own = ownFigure(client);
  if (own) return freshest(own, fromShared);
  return fromShared && Date.now() - fromShared.observedAt <= SHARED_MAX_AGE_MS ? fromShared : null;
}

/**
 * One exchange with the shared store: this worker's own figure if it has not sent it yet, and the
 * freshest stored back. Never throws: a failing store leaves the worker with its own figures.
 */
function exchange(client: SalesforceClient): Promise<Figure | null> {
  const s = stateOf(client);
  const store = client.sharedLimits;
  if (!store.shareFigure || Date.now() < s.downUntil) return Promise.resolve(s.figure);
  if (s.pending) return s.pending;
  const own = ownFigure(client);
  const send = own && own.observedAt > s.sentObservedAt ? own : null;
  const askedAt = Date.now();
  s.askedAt = askedAt;
  s.pending = store
    .shareFigure(usageScope(client.conn.instanceUrl), send && { used: send.used, max: send.max, ageMs: askedAt - send.observedAt })
    .then(
      (got) => {
        if (send) s.sentObservedAt = Math.max(s.sentObservedAt, send.observedAt);
        // The age is measured on the store's clock: the figure's time on ours is our "now" minus it.
        s.figure = freshest(s.figure, got && { used: got.used, max: got.max, observedAt: Date.now() - got.ageMs });
        s.warned = false;
        s.failure = null;
        return s.figure;
      },
      (err: unknown) => {
        s.downUntil = Date.now() + SHARE_BACKOFF_MS;
        s.failure = err;
        return s.figure;
      },
    )
    .finally(() => {
      s.pending = null;
    });
  return s.pending;
}

/** Shares a figure the client just observed, at most every SHARE_INTERVAL_MS per org and worker (not awaited). */
export function shareSoon(client: SalesforceClient): void {
  if (!client.sharedLimits.shareFigure) return;
  if (Date.now() - stateOf(client).askedAt < SHARE_INTERVAL_MS) return;
  void exchange(client);
}

/** The shared figure for a decision: asked for (bounded wait), or the last one answered. */
async function sharedFigure(client: SalesforceClient, log: Logger | undefined, where: string): Promise<Figure | null> {
  const s = stateOf(client);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Figure | null>((resolve) => {
    timer = setTimeout(() => {
      // Too slow (Postgres unreachable, its pool waiting for a connection): decide without it, and leave it alone a while.
      s.downUntil = Date.now() + SHARE_BACKOFF_MS;
      s.failure ??= new Error(`no answer within ${SHARE_TIMEOUT_MS} ms`);
      resolve(s.figure);
    }, SHARE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([exchange(client), timeout]);
  } finally {
    clearTimeout(timer);
    if (s.failure && !s.warned) {
      s.warned = true;
      log?.warn(
        `${where}: the cluster's shared Salesforce daily API figure is unavailable (${(s.failure as Error)?.message ?? String(s.failure)}); deciding on this worker's own figure until the state database answers again`,
      );
    }
  }
}

/**
 * When the last quota wait on a connection ends (this worker's clock: decided at + `quotaWaitMs`).
 * Figures observed until then led to the wait or were seen while it lasted (another worker's, or the
 * answer of a request in flight when it was decided): after it, the next decision needs one observed
 * later, or reads GET /limits, instead of waiting another `quotaWaitMs` on an hour-old figure. Kept
 * until a decision after that time has used a fresh figure. Keyed by the connection: each activity uses
 * its own view of the client.
 */
const waitEnds = new WeakMap<SalesforceClient['conn'], number>();

/**
 * Latest usage: the freshest of this worker's own Sforce-Limit-Info figure and the cluster's shared one
 * (see `decidingFigure`), if observed after the end of the last quota wait; else GET /limits.
 */
export async function currentUsage(client: SalesforceClient, where: string, log?: Logger): Promise<Usage | null> {
  const best = decidingFigure(client, await sharedFigure(client, log, where));
  const waitEnd = waitEnds.get(client.conn);
  if (best && (waitEnd === undefined || best.observedAt > waitEnd)) {
    waitEnds.delete(client.conn);
    return { used: best.used, max: best.max, client };
  }
  const limits = await client.limits(where);
  // Read during another activation's wait, the figure decides this one decision only: the mark stays
  // for the decision that follows the wait.
  if (waitEnd !== undefined && Date.now() >= waitEnd) waitEnds.delete(client.conn);
  const daily = limits.DailyApiRequests;
  return daily ? { used: daily.Max - daily.Remaining, max: daily.Max, client } : null;
}

/** Throws QuotaWaitError when `plannedCalls` more calls would leave less than the reserve. */
export function ensureQuota(usage: Usage | null, plannedCalls: number, options: SalesforceOptions, where: string): void {
  if (!usage || usage.max <= 0) return;
  const reserve = Math.ceil((usage.max * options.quotaReservePercent) / 100);
  const remainingAfter = usage.max - usage.used - plannedCalls;
  if (remainingAfter < reserve) {
    if (usage.client) {
      const end = Date.now() + options.quotaWaitMs;
      waitEnds.set(usage.client.conn, Math.max(end, waitEnds.get(usage.client.conn) ?? end));
    }
    throw new QuotaWaitError(
      `${where}: Salesforce daily API requests ${usage.used}/${usage.max} used; ${plannedCalls} more call(s) would go below the ${options.quotaReservePercent}% reserve (${reserve}); waiting ${Math.round(options.quotaWaitMs / 60000)} min`,
      options.quotaWaitMs,
    );
  }
}

/**
 * Checks against the freshest figure already at hand (no extra call, no Postgres query): the header of
 * the last response, or the shared figure last answered (refreshed by `shareSoon` as responses come).
 */
export function ensureQuotaFromHeader(client: SalesforceClient, plannedCalls: number, options: SalesforceOptions, where: string): void {
  const best = decidingFigure(client, stateOf(client).figure);
  ensureQuota(best && { used: best.used, max: best.max, client }, plannedCalls, options, where);
}
