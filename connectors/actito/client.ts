/**
 * Thin HTTP client: token (GET /auth/token with the raw key, cached until shortly before expiry,
 * one re-authentication on 401), at most `maxInFlight` calls in flight on the licence across the whole
 * cluster (docs/limits.md), retries of idempotent calls on 429/5xx/network errors. No sync logic; routes
 * and payloads live in routes.ts.
 */
import { parseJsonExact } from '../../common/json-exact';
import { type StreamBody, streamRequest } from '../kit/http-stream';
import { createHash } from 'node:crypto';
import { SyncError } from '../../common/errors';
import type { SharedLimits } from '../types';
import { processLimits } from '../kit/limits';
import { type ActitoConnection, licenceScope } from './config';
import { ActitoHttpError, bodyMessage, isRetryableStatus } from './errors';
import { Limiter } from './limiter';

/** Endpoint families for the API-call metric (`ctx.apiCall`): a fixed set, so label values stay bounded. */
export type ActitoCallKind = 'auth' | 'schema' | 'record' | 'profile' | 'import' | 'import_status' | 'import_errors';

export interface RequestOptions {
  /** What the route is, for the API-call metric (routes.ts names it with the route). */
  kind: ActitoCallKind;
  /** Told of every request sent for this call: the call itself, each retry, a token request it needed. */
  onApiCall?: (kind: ActitoCallKind) => void;
  json?: unknown;
  /** A body streamed from disk (an import file), sent with node:http(s) (kit/http-stream.ts); opened again for a resend. */
  upload?: StreamBody;
  query?: Record<string, string>;
  /** Safe to send again when the answer was lost (GET, PUT, DELETE, upserts). Default: true. */
  idempotent?: boolean;
  /**
   * Not idempotent, yet sent again on a 429: a refusal before anything was applied (a DELETE by a key that may
   * name another record once its own is gone must not be sent twice after a lost answer, but a refused one was
   * never carried out). Default: false (an import's 429 may be its daily quota, which the caller handles).
   */
  resendRefused?: boolean;
  signal?: AbortSignal;
  /** Overrides the connection's requestTimeoutMs (file uploads take longer). */
  timeoutMs?: number;
  /** Number literals of the answer kept as written (`JsonNumber`), not read into doubles. */
  exactNumbers?: boolean;
  /**
   * The path as errors name it (ActitoHttpError's message and `route`, which reach history and logs) when
   * the real one holds a row's value: `…/record/{key}`, `…/profile/customerId={value}`.
   */
  route?: string;
}
export interface Response<T = unknown> {
  status: number;
  body: T;
}

const REFRESH_MARGIN_MS = 60_000;
const RETRIES = 3;
/**
 * A slot is kept (its lease renewed) at most this long past its request's timeout (the fetch is aborted at
 * it). A dead worker's slot comes back sooner: once its worker stops renewing it (docs/limits.md).
 */
const LEASE_MARGIN_MS = 30_000;
/**
 * A request that got no answer (lost connection, timeout) may still be running at Actito: its slot stays
 * taken this long, so the cluster does not go over the licence limit meanwhile.
 */
export const UNANSWERED_HOLD_MS = 2_000;

export class ActitoClient {
  /** This process's share: never more waiting for a licence slot than the licence has. */
  readonly limiter: Limiter;
  /** Where licence slots are taken: the cluster's (the runtime's context), or this process's. */
  limits: SharedLimits = processLimits;
  private token: { value: string; refreshAt: number } | null = null;
  private pendingToken: Promise<string> | null = null;
  /** Tests shorten the backoff. */
  backoffMs = 250;

  constructor(private readonly conn: ActitoConnection) {
    this.limiter = new Limiter(conn.maxInFlight);
  }

  get entity(): string {
    return this.conn.entity;
  }

  /** Calls a route; a non-2xx answer throws ActitoHttpError, a lost answer a retryable SyncError. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions): Promise<Response<T>> {
    const idempotent = opts.idempotent ?? true;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.authorized<T>(method, path, opts);
      } catch (err) {
        const transient =
          err instanceof ActitoHttpError ? isRetryableStatus(err.status) : !(err instanceof SyncError) && !opts.signal?.aborted;
        const resendable = idempotent || (opts.resendRefused === true && err instanceof ActitoHttpError && err.status === 429);
        if (!transient || !resendable || attempt >= RETRIES) throw err;
        await sleep(this.backoffMs * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  private async authorized<T>(method: string, path: string, opts: RequestOptions): Promise<Response<T>> {
    const used = await this.accessToken(opts.onApiCall);
    try {
      return await this.send<T>(method, path, opts, `Bearer ${used}`);
    } catch (err) {
      if (!(err instanceof ActitoHttpError) || err.status !== 401) throw err;
      // Expired or revoked token: get a fresh one once (unless a parallel call already did); a second
      // 401 is a real authentication failure.
      if (this.token?.value === used) this.token = null;
      try {
        return await this.send<T>(method, path, opts, `Bearer ${await this.accessToken(opts.onApiCall)}`);
      } catch (again) {
        if (again instanceof ActitoHttpError && again.status === 401) throw authFailed(again);
        throw again;
      }
    }
  }

  private accessToken(onApiCall: RequestOptions['onApiCall']): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAt) return Promise.resolve(this.token.value);
    // One token request at a time, shared by all callers waiting for it (counted for the one that sent it).
    this.pendingToken ??= this.fetchToken(onApiCall).finally(() => (this.pendingToken = null));
    return this.pendingToken;
  }

  private async fetchToken(onApiCall: RequestOptions['onApiCall']): Promise<string> {
    let res: Response<{ accessToken?: string; expiresIn?: string | number }>;
    try {
      res = await this.send('GET', '/auth/token', { kind: 'auth', onApiCall }, this.conn.apiKey);
    } catch (err) {
      if (err instanceof ActitoHttpError && (err.status === 401 || err.status === 403)) throw authFailed(err);
      throw err;
    }
    const value = res.body?.accessToken;
    if (typeof value !== 'string' || !value)
      throw new SyncError('DESTINATION_UNAVAILABLE', 'Actito /auth/token answered without an accessToken', { retryable: true });
    const ttl = parseExpiresIn(res.body.expiresIn);
    // Renew shortly before expiry: 1 minute before the 15-minute lifetime, proportionally for short ones.
    this.token = { value, refreshAt: Date.now() + ttl - Math.min(REFRESH_MARGIN_MS, ttl / 10) };
    return value;
  }

  private async send<T>(method: string, path: string, opts: RequestOptions, authorization: string): Promise<Response<T>> {
    const url = new URL(this.conn.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: authorization };
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.upload) {
      headers['Content-Type'] = opts.upload.contentType;
      headers['Content-Length'] = String(opts.upload.length);
    }
    const leaseMs = (opts.timeoutMs ?? this.conn.requestTimeoutMs) + LEASE_MARGIN_MS;
    return this.limiter.run(() =>
      this.limits.withSlot(
        licenceScope(this.conn),
        this.conn.maxInFlight,
        async () => {
          // The request's own timeout starts once it holds a slot: a wait for the licence is not the request.
          const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.conn.requestTimeoutMs);
          const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
          opts.onApiCall?.(opts.kind);
          const res = opts.upload
            ? await streamRequest(method, url.toString(), headers, opts.upload.open(), signal)
            : await fetch(url, { method, headers, body, signal });
          const text = await res.text();
          const parsed = parseBody(text, opts.exactNumbers === true);
          if (!res.ok) throw new ActitoHttpError(res.status, method, opts.route ?? path, parsed);
          return { status: res.status, body: parsed as T };
        },
        { leaseMs, holdAfter: (err) => (err instanceof ActitoHttpError ? 0 : UNANSWERED_HOLD_MS), signal: opts.signal },
      ),
    );
  }
}

/** `expiresIn` is documented as a string like "900s"; numbers are taken as seconds. Default 15 min. */
export function parseExpiresIn(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number.parseFloat(v) : NaN;
  return (Number.isFinite(n) && n > 0 ? n : 900) * 1000;
}

function parseBody(text: string, exactNumbers: boolean): unknown {
  if (!text) return null;
  try {
    return exactNumbers ? parseJsonExact(text) : JSON.parse(text);
  } catch {
    return text;
  }
}

function authFailed(err: ActitoHttpError): SyncError {
  const why = bodyMessage(err.body);
  return new SyncError(
    'AUTH_FAILED',
    `Actito refused the API key${why ? ` (${why})` : ''}. Check the key, and that it belongs to the environment host in the connection.`,
    {
      // `why` lets the connector name the activation and the connection (index.ts namingAuth).
      details: { status: err.status, refusedKey: true, ...(why && { why }) },
    },
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const clients = new Map<string, ActitoClient>();

/**
 * One client per connection and process, so the token and the in-flight limit are shared by all
 * activities writing through the same connection. The connection is the whole of it (connectionKey):
 * connections differing in any setting (the licence whose slots a request takes, the request timeout, ...)
 * never share a client, since the one made first would run the other with its settings. `limits`: the
 * cluster-wide ones the runtime hands to every context (the same object for the whole worker).
 */
export function clientFor(conn: ActitoConnection, limits?: SharedLimits): ActitoClient {
  const id = connectionKey(conn);
  let c = clients.get(id);
  if (!c) clients.set(id, (c = new ActitoClient(conn)));
  if (limits) c.limits = limits;
  return c;
}

/**
 * Every field of the parsed connection (defaults applied), in one order whatever order they were written
 * in; hashed, as it holds the API key. A field added to the connection later is in it without a change here.
 */
export function connectionKey(conn: ActitoConnection): string {
  const sorted = (_: string, v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v;
  return createHash('sha256').update(JSON.stringify(conn, sorted)).digest('hex');
}
