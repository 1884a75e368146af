/**
 * Thin typed wrapper over the Salesforce REST API (auth, quota headers, error mapping, the org's request
 * slots; no sync logic). Every call goes through `call()` or `fetchRaw()`: each request holds one of the
 * org's request slots across the cluster while in flight (docs/limits.md); jsforce refreshes on 401 and
 * replays; we allow at most one quick transport replay, and only for requests that are idempotent.
 * Everything else is Temporal's job.
 */
import type { Connection } from 'jsforce';
import type { Transport } from 'jsforce/lib/transport';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { API_VERSION, DEFAULT_MAX_CONCURRENT_REQUESTS, type SalesforceConnection } from './config';
import type { SharedLimits } from '../types';
import { processLimits } from '../kit/limits';
import { streamRequest } from '../kit/http-stream';
import { openConnection, tokenAccepted } from './auth';
import { toSyncError } from './errors';
import { shareSoon } from './quota';
import type { SfDescribe } from './analyze';
import type { DuplicateResult } from './duplicates';
import { jsonBody } from './json-body';

export interface SaveResult {
  id?: string | null;
  success: boolean;
  created?: boolean;
  errors?: Array<{ statusCode?: string; errorCode?: string; message?: string; fields?: string[]; duplicateResult?: DuplicateResult }>;
}

export interface JobInfo {
  id: string;
  state: 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
  object: string;
  operation: string;
  numberRecordsProcessed?: number;
  numberRecordsFailed?: number;
  errorMessage?: string;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
interface CallOptions {
  where: string;
  /** Safe to send twice (GET, upsert by external id, update, delete): one quick transport replay. */
  idempotent?: boolean;
  text?: boolean;
  quotaWaitMs?: number;
  timeoutMs?: number;
  /** Extra request headers (e.g. Sforce-Duplicate-Rule-Header). */
  headers?: Record<string, string>;
}

const REPLAY_DELAY_MS = 300;
/** A read that has not answered in 2 minutes is retried (jsforce's default is 30 minutes). */
const REQUEST_TIMEOUT_MS = 120_000;
/**
 * Salesforce ends a REST call after 10 minutes. A write is waited for longer than that (the activity
 * heartbeats meanwhile): a client that gave up sooner could leave behind a request Salesforce applies
 * after a retry, or a later run, wrote newer values.
 */
const WRITE_TIMEOUT_MS = 660_000;
/**
 * A slot is kept (its lease renewed) at most this long past its request's timeout. A dead worker's slot
 * comes back sooner: once its worker stops renewing it, within the coordinator's short lease (docs/limits.md).
 */
const LEASE_MARGIN_MS = 30_000;
/**
 * A request that got no answer (timeout, lost connection) may still be running at the org: its slot stays
 * taken this long, so the cluster does not go over the org's limit meanwhile.
 */
export const UNANSWERED_HOLD_MS = 2_000;
/** Salesforce answered (an API error carries its errorCode); anything else may still be running there. */
const answered = (err: unknown): boolean => typeof (err as { errorCode?: unknown } | null)?.errorCode === 'string';
const timeoutFor = (method: string, o: CallOptions): number => o.timeoutMs ?? (method === 'GET' ? REQUEST_TIMEOUT_MS : WRITE_TIMEOUT_MS);
const V = `/services/data/v${API_VERSION}`;

/** Endpoint families for the API-call metric (`ctx.apiCall`): a fixed set, so label values stay bounded. */
export type SalesforceCallKind =
  'auth' | 'describe' | 'query' | 'limits' | 'collections' | 'bulk_job' | 'bulk_upload' | 'bulk_poll' | 'bulk_results' | 'other';

/** The family of a request under the versioned REST root (`path` as given to `call` or `fetchRaw`). */
export function callKind(method: Method, path: string): SalesforceCallKind {
  const p = path.split('?')[0]!;
  if (p.startsWith('/composite/sobjects')) return 'collections';
  if (p === '/jobs/ingest') return 'bulk_job'; // a new job
  if (/^\/jobs\/ingest\/[^/]+\/batches$/.test(p)) return 'bulk_upload';
  if (/^\/jobs\/ingest\/[^/]+\/\w+$/.test(p)) return 'bulk_results'; // successfulResults, failedResults, unprocessedrecords
  if (/^\/jobs\/ingest\/[^/]+$/.test(p)) return method === 'GET' ? 'bulk_poll' : 'bulk_job'; // its state, or a change of it
  if (/^\/sobjects\/[^/]+\/describe$/.test(p)) return 'describe';
  if (p.startsWith('/query')) return 'query';
  if (p === '/limits') return 'limits';
  return 'other';
}

/** The SharedLimits scope of an org's requests in flight (docs/limits.md): its instance URL, whatever the auth flow. */
export function orgScope(instanceUrl: string): string {
  return `salesforce:org:${instanceUrl.replace(/\/+$/, '').toLowerCase()}:requests`;
}

/** Daily API usage from a Sforce-Limit-Info header, and when this worker saw it (its clock, ms). */
export interface ApiUsage {
  used: number;
  limit: number;
  observedAt: number;
}

/**
 * When each connection's current `limitInfo` was seen. jsforce (and `fetchRaw`) put a new object there
 * for each response carrying the header, so a new object is a new observation. Keyed by the connection:
 * activities call through their own views of a shared client.
 */
const observed = new WeakMap<Connection, { info: unknown; at: number }>();

export class SalesforceClient {
  /** Called when the credentials stop working, so the next activity authenticates from scratch. */
  onAuthFailure: () => void = () => undefined;
  /** Wait on a daily-quota refusal when a call names none: the activation's `quotaWaitMs` (set per session). */
  quotaWaitMs: number | undefined;
  /**
   * Counts each request sent: the `ctx.apiCall` of the latest getClient caller. The client is shared by
   * the activities using its connection; the runtime counts on whichever activity is calling, so the
   * latest caller's function serves them all.
   */
  onApiCall: (kind: SalesforceCallKind) => void = () => undefined;

  /** Where the org's request slots are taken: the cluster's (the runtime's `ctx.limits`), or this process's. */
  sharedLimits: SharedLimits = processLimits;
  /** The calling activity's cancellation (`ctx.signal`), set on its own view only (`forActivity`). */
  readonly signal: AbortSignal | undefined;

  constructor(
    readonly conn: Connection,
    /** The connection's `maxConcurrentRequests`: syncline's share of the org's concurrent requests. */
    readonly maxConcurrentRequests = DEFAULT_MAX_CONCURRENT_REQUESTS,
  ) {}

  /**
   * Runs one request while holding one of the org's slots. Every request takes one, short ones too:
   * whether a request lasts the 20 s that make it count at Salesforce is known only once it has, and a
   * slow org makes any request slow. The request's own timeout starts inside (a wait for a slot is not the request).
   */
  private inSlot<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    const signal = this.signal;
    return this.sharedLimits.withSlot(
      orgScope(this.conn.instanceUrl),
      this.maxConcurrentRequests,
      () => {
        // Cancelled while the slot was being handed over: a request sent now would land after the
        // activity's retry (or a later run) has written newer values.
        signal?.throwIfAborted();
        return fn().finally(() => {
          // The answer's figure (success or error) is noted as it arrives, not when a decision reads it.
          if (this.noteUsage()) this.onUsageObserved(this);
        });
      },
      { leaseMs: timeoutMs + LEASE_MARGIN_MS, holdAfter: (err) => (answered(err) ? 0 : UNANSWERED_HOLD_MS), signal },
    );
  }

  /**
   * This client as one activity uses it: its requests stop waiting for a slot, and are not sent, once
   * `signal` (the activity's cancellation) aborts. The client is shared by every activity of the
   * connection, so the signal lives on a view of it (token, counters and limits stay the shared ones);
   * per-activity settings (`quotaWaitMs`) set on the view stay its own too.
   */
  forActivity(signal: AbortSignal): SalesforceClient {
    return Object.create(this, { signal: { value: signal, enumerable: true } }) as SalesforceClient;
  }

  /**
   * `inSlot` for a response whose body the caller reads later (a results download): the slot is held
   * until the body is read to its end, cancelled or broken, or the request's timeout has passed.
   */
  private inSlotUntilRead(timeoutMs: number, fn: () => Promise<Response>): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      this.inSlot(timeoutMs, async () => {
        const res = await fn();
        if (!res.body || [204, 205, 304].includes(res.status)) return resolve(res);
        let read!: () => void;
        const done = new Promise<void>((r) => (read = r));
        const timer = setTimeout(() => read(), timeoutMs);
        const reader = res.body.getReader();
        const body = new ReadableStream<Uint8Array>(
          {
            async pull(ctrl) {
              try {
                const r = await reader.read();
                if (r.done) {
                  ctrl.close();
                  read();
                } else ctrl.enqueue(r.value);
              } catch (err) {
                read();
                ctrl.error(err);
              }
            },
            async cancel(reason) {
              read();
              await reader.cancel(reason);
            },
          },
          { highWaterMark: 0 },
        );
        resolve(new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers }));
        await done;
        clearTimeout(timer);
      }).catch(reject);
    });
  }

  /** Daily API usage from the last response's Sforce-Limit-Info header, if any was seen, with when it was seen. */
  get apiUsage(): ApiUsage | null {
    const info = this.conn.limitInfo as { apiUsage?: { used: number; limit: number } } | undefined;
    if (!info?.apiUsage) return null;
    this.noteUsage();
    const { used, limit } = info.apiUsage;
    return { used, limit, observedAt: observed.get(this.conn)!.at };
  }

  /**
   * Called once a response's figure has been noted (at most one per response): the quota governor shares
   * it across the cluster from there (throttled, quota.ts).
   */
  onUsageObserved: (client: SalesforceClient) => void = () => undefined;

  /** Records when the connection's current figure was seen: now, if it is one not noted yet. */
  private noteUsage(): boolean {
    const info = this.conn.limitInfo as { apiUsage?: unknown } | undefined;
    if (!info?.apiUsage || observed.get(this.conn)?.info === info) return false;
    observed.set(this.conn, { info, at: Date.now() });
    return true;
  }

  async call<T>(method: Method, path: string, body: unknown, o: CallOptions): Promise<T> {
    try {
      const result = await this.send<T>(method, path, body, o);
      tokenAccepted(this.conn);
      return result;
    } catch (err) {
      const e = toSyncError(err, o.where, { quotaWaitMs: o.quotaWaitMs ?? this.quotaWaitMs });
      if (e.code === 'AUTH_FAILED') this.onAuthFailure();
      // One quick replay for idempotent calls only. jsforce's own transport retry is off: it re-sends
      // an already consumed body stream for PATCH/PUT and then waits forever.
      if (!o.idempotent || (e.code !== 'DESTINATION_UNAVAILABLE' && e.code !== 'RATE_LIMITED')) throw e;
      await new Promise((r) => setTimeout(r, REPLAY_DELAY_MS));
      try {
        return await this.send<T>(method, path, body, o);
      } catch (again) {
        throw toSyncError(again, o.where, { quotaWaitMs: o.quotaWaitMs ?? this.quotaWaitMs });
      }
    }
  }

  private send<T>(method: Method, path: string, body: unknown, o: CallOptions): Promise<T> {
    const isText = typeof body === 'string';
    const headers: Record<string, string> = {
      ...(o.headers ?? {}),
      ...(body === undefined ? {} : { 'content-type': isText ? 'text/csv' : 'application/json' }),
    };
    const timeout = timeoutFor(method, o);
    return this.inSlot(timeout, () =>
      this.conn.request<T>(
        { method, url: `${V}${path}`, headers, ...(body === undefined ? {} : { body: isText ? body : jsonBody(body) }) },
        {
          retry: { maxRetries: 0 },
          timeout,
          transport: this.counted(callKind(method, path)),
          ...(o.text ? { responseType: 'text/plain' } : {}),
        },
      ),
    );
  }

  /**
   * jsforce's transport, counting each request it sends. Counted here rather than per `send()`: after a
   * 401 jsforce refreshes the token and sends the request again through the same transport.
   */
  private counted(kind: SalesforceCallKind): Transport {
    const transport = this.conn._transport;
    return {
      httpRequest: (req, options) => {
        this.onApiCall(kind);
        return transport.httpRequest(req, options);
      },
    } as Transport;
  }

  /**
   * A request sent without jsforce, for bodies and answers too big to hold in memory (jsforce buffers
   * both): fetch, or node:http(s) for a body streamed from `body` (see `streamRequest`). Same contract
   * as `call()`: quota header noted, errors mapped, one session refresh on 401 (`body` is opened again),
   * never a transport replay of a stream.
   */
  async fetchRaw(
    method: Method,
    path: string,
    body: (() => Readable) | undefined,
    o: CallOptions & { contentType?: string; contentLength?: number },
  ): Promise<Response> {
    const kind = callKind(method, path);
    const timeoutMs = timeoutFor(method, o);
    const send = () => {
      this.onApiCall(kind);
      const headers: Record<string, string> = { authorization: `Bearer ${this.conn.accessToken ?? ''}` };
      if (o.contentType) headers['content-type'] = o.contentType;
      // A known length rather than chunked transfer encoding, as Salesforce's upload expects.
      if (o.contentLength !== undefined) headers['content-length'] = String(o.contentLength);
      const url = `${this.conn.instanceUrl}${V}${path}`;
      const signal = AbortSignal.timeout(timeoutMs);
      if (body) return streamRequest(method, url, headers, body(), signal);
      return fetch(url, { method, headers, signal });
    };
    try {
      const res = await this.inSlotUntilRead(timeoutMs, async () => {
        let res = await send();
        if (res.status === 401) {
          await res.body?.cancel();
          const delegate = (this.conn as unknown as { _refreshDelegate?: { refresh(since: number): Promise<void> } })._refreshDelegate;
          if (!delegate)
            throw Object.assign(new Error('Session expired or invalid'), { name: 'INVALID_SESSION_ID', errorCode: 'INVALID_SESSION_ID' });
          await delegate.refresh(Date.now());
          res = await send();
        }
        const limit = /api-usage=(\d+)\/(\d+)/.exec(res.headers.get('sforce-limit-info') ?? '');
        if (limit)
          (this.conn as unknown as { limitInfo: unknown }).limitInfo = { apiUsage: { used: Number(limit[1]), limit: Number(limit[2]) } };
        // Noted now: a download's slot (and the `inSlot` that notes figures) lasts until its body is read.
        if (this.noteUsage()) this.onUsageObserved(this);
        if (!res.ok) throw await responseError(res);
        return res;
      });
      tokenAccepted(this.conn);
      return res;
    } catch (err) {
      const e = toSyncError(err, o.where, { quotaWaitMs: o.quotaWaitMs ?? this.quotaWaitMs });
      if (e.code === 'AUTH_FAILED') this.onAuthFailure();
      throw e;
    }
  }

  describe(object: string, where: string): Promise<SfDescribe> {
    return this.call<SfDescribe>('GET', `/sobjects/${encodeURIComponent(object)}/describe`, undefined, { where, idempotent: true });
  }

  limits(where: string): Promise<Record<string, { Max: number; Remaining: number }>> {
    return this.call('GET', '/limits', undefined, { where, idempotent: true });
  }

  /** All records of a SOQL query (follows nextRecordsUrl). */
  async query<R>(soql: string, where: string): Promise<R[]> {
    const out: R[] = [];
    let page = await this.call<{ records: R[]; done: boolean; nextRecordsUrl?: string }>(
      'GET',
      `/query?q=${encodeURIComponent(soql)}`,
      undefined,
      { where, idempotent: true },
    );
    out.push(...page.records);
    while (!page.done && page.nextRecordsUrl) {
      const next = page.nextRecordsUrl.replace(/^.*\/query\//, '/query/');
      page = await this.call('GET', next, undefined, { where, idempotent: true });
      out.push(...page.records);
    }
    return out;
  }

  // sObject Collections: ≤ 200 records per call, allOrNone=false, results in request order.
  createRecords(records: object[], o: CallOptions): Promise<SaveResult[]> {
    return this.call('POST', '/composite/sobjects', { allOrNone: false, records }, o);
  }
  updateRecords(records: object[], o: CallOptions): Promise<SaveResult[]> {
    return this.call('PATCH', '/composite/sobjects', { allOrNone: false, records }, { ...o, idempotent: true });
  }
  upsertRecords(object: string, extIdField: string, records: object[], o: CallOptions): Promise<SaveResult[]> {
    return this.call('PATCH', `/composite/sobjects/${object}/${extIdField}`, { allOrNone: false, records }, { ...o, idempotent: true });
  }
  deleteRecords(ids: string[], o: CallOptions): Promise<SaveResult[]> {
    return this.call('DELETE', `/composite/sobjects?ids=${ids.map(encodeURIComponent).join(',')}&allOrNone=false`, undefined, {
      ...o,
      idempotent: true,
    });
  }

  // Bulk API 2.0 ingest.
  createJob(spec: { object: string; operation: string; externalIdFieldName?: string }, o: CallOptions): Promise<JobInfo> {
    return this.call('POST', '/jobs/ingest', { ...spec, contentType: 'CSV', lineEnding: 'LF', columnDelimiter: 'COMMA' }, o);
  }
  /** Streams a job's CSV from a file-backed source (`open` is called again if a 401 forces a resend). */
  async uploadJobStream(jobId: string, open: () => Readable, bytes: number, o: CallOptions): Promise<void> {
    // Up to 100 MB: allow Salesforce's own 10-minute call limit.
    const res = await this.fetchRaw('PUT', `/jobs/ingest/${jobId}/batches`, open, {
      ...o,
      contentType: 'text/csv',
      contentLength: bytes,
      timeoutMs: 600_000,
    });
    await res.body?.cancel();
  }
  /** A results CSV as a byte stream, never held whole in memory. */
  async jobResultsStream(
    jobId: string,
    kind: 'successfulResults' | 'failedResults' | 'unprocessedrecords',
    o: CallOptions,
  ): Promise<Readable> {
    const res = await this.fetchRaw('GET', `/jobs/ingest/${jobId}/${kind}`, undefined, { ...o, timeoutMs: o.timeoutMs ?? 1_800_000 });
    return res.body ? Readable.fromWeb(res.body as WebReadableStream) : Readable.from([]);
  }
  setJobState(jobId: string, state: 'UploadComplete' | 'Aborted', o: CallOptions): Promise<JobInfo> {
    return this.call('PATCH', `/jobs/ingest/${jobId}`, { state }, { ...o, idempotent: true });
  }
  getJob(jobId: string, o: CallOptions): Promise<JobInfo> {
    return this.call('GET', `/jobs/ingest/${jobId}`, undefined, { ...o, idempotent: true });
  }
  /** Raw results CSV (we parse it ourselves: jsforce's parser would guess types). */
  jobResults(jobId: string, kind: 'successfulResults' | 'failedResults' | 'unprocessedrecords', o: CallOptions): Promise<string> {
    return this.call<string>('GET', `/jobs/ingest/${jobId}/${kind}`, undefined, { ...o, idempotent: true, text: true }).then((s) =>
      typeof s === 'string' ? s : '',
    );
  }
}

/** A jsforce-shaped error (errorCode, message) from a failed fetch response, for toSyncError. */
async function responseError(res: Response): Promise<Error> {
  const text = await res.text().catch(() => '');
  let first: { errorCode?: string; message?: string } | undefined;
  try {
    const j = JSON.parse(text) as unknown;
    first = (Array.isArray(j) ? j[0] : j) as typeof first;
  } catch {
    /* not JSON */
  }
  const errorCode = first?.errorCode ?? `ERROR_HTTP_${res.status}`;
  return Object.assign(new Error(first?.message ?? (text.slice(0, 500) || res.statusText)), { name: errorCode, errorCode });
}

const clients = new Map<string, Promise<SalesforceClient>>();

/**
 * One authenticated client per named connection per worker process (tokens are reused across activities).
 * `onApiCall` (the caller's `ctx.apiCall`) becomes the client's request counter; `limits` (the caller's
 * `ctx.limits`, the cluster's) where its requests take the org's slots.
 */
export async function getClient(
  c: SalesforceConnection,
  where: string,
  onApiCall: (kind: SalesforceCallKind) => void = () => undefined,
  limits?: SharedLimits,
  /** The connection's name (`destination.connection`), for a refusal of its credentials to name it. */
  connectionName?: string,
): Promise<SalesforceClient> {
  const client = await sharedClient(c, where, onApiCall, connectionName);
  client.onApiCall = onApiCall;
  // The runtime's limits are one object per worker: any caller's will do for all.
  if (limits) client.sharedLimits = limits;
  return client;
}

function sharedClient(
  c: SalesforceConnection,
  where: string,
  onApiCall: (kind: SalesforceCallKind) => void,
  connectionName: string | undefined,
): Promise<SalesforceClient> {
  const cacheKey = JSON.stringify(c);
  let p = clients.get(cacheKey);
  if (!p) {
    let client: SalesforceClient | undefined;
    // Token requests: the first one before the client exists, refreshes later through its current counter.
    p = openConnection(c, () => (client ? client.onApiCall('auth') : onApiCall('auth'))).then(
      (conn) => {
        client = new SalesforceClient(conn, c.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS);
        client.onUsageObserved = shareSoon;
        client.onAuthFailure = () => {
          if (clients.get(cacheKey) === p) clients.delete(cacheKey);
        };
        return client;
      },
      (err: unknown) => {
        clients.delete(cacheKey);
        const e = toSyncError(err, where, { connection: connectionName });
        // A refused grant is a credential problem; an unreachable login host is a retryable outage.
        throw e.code === 'DESTINATION_UNAVAILABLE' || e.code === 'RATE_LIMITED' ? e : toAuthError(err, where, connectionName);
      },
    );
    clients.set(cacheKey, p);
  }
  return p;
}

function toAuthError(err: unknown, where: string, connection: string | undefined) {
  const e = toSyncError(err, where, { connection });
  if (e.code === 'AUTH_FAILED') return e;
  return toSyncError(
    Object.assign(new Error(`authentication failure: ${(err as Error)?.message ?? String(err)}`), { errorCode: 'invalid_grant' }),
    where,
    { connection },
  );
}

/** Forgets cached clients (tests; or after credentials change). */
export function resetClients(): void {
  clients.clear();
}
