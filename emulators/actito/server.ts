import { stringifyExact } from '../../common/json-exact';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoutes } from './admin';
import type { ApiKeyRights } from './auth';
import { bulkRoutes } from './bulk-routes';
import { apiError, HttpError, readBody, type Reply } from './http';
import { Limits } from './limits';
import { profileRoutes } from './profiles';
import { recordRoutes } from './records';
import { matchRoute, type Route } from './router';
import { schemaRoutes } from './schema';
import { EmulatorState } from './state';

export interface ActitoEmulatorOptions {
  /** 0 = random free port. */
  port?: number;
  host?: string;
  /** Default `syncline-demo-key`. */
  apiKey?: string;
  /** Default `demo`. */
  entity?: string;
  /** Delay before a bulk execution starts running (default 50 ms). */
  bulkProcessingDelayMs?: number;
  /** Per table per day; default 24 (current "MASS IMPORTS API" limit [D S3]). */
  dailyBulkImportQuota?: number;
  /** Concurrent in-flight requests before 429 (default 5 [D S3]). */
  maxConcurrent?: number;
  /** Token lifetime (default 15 minutes [D S1]). */
  tokenTtlMs?: number;
  /** Calls per sliding minute before throttling (default 100 [D S3]). */
  callsPerMinute?: number;
  /** Latency added to each call over the per-minute budget (default 100 ms). */
  throttleDelayMs?: number;
  /** Bulk file size limit (default 100 MB [D S3]). */
  maxBulkFileBytes?: number;
  /** Empty value on update: keep (default) or clear [A]. */
  emptyOnUpdate?: 'keep' | 'clear';
  /** Bulk processing time slice before yielding to the event loop (default 20 ms). */
  bulkSliceMs?: number;
  /** POST STARTED / FINISHED ETL events here [D S18 fields, A envelope]. */
  etlWebhookUrl?: string;
  /** More API keys with restricted rights (403 tests), e.g. `{ 'ro-key': { readOnly: true } }`. */
  extraApiKeys?: Record<string, ApiKeyRights>;
  /** Keep a journal of every record written, read at `GET /__admin/journal` (default off: it grows with every write). */
  journal?: boolean;
}

export interface ActitoEmulator {
  url: string;
  entity: string;
  apiKey: string;
  /** Direct access for tests: `state.tables`, `state.profiles`, `state.requests`, `state.faults`, `state.imports`. */
  state: EmulatorState;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | undefined;
  if (reply.body !== undefined && reply.status !== 204) {
    payload = stringifyExact(reply.body);
    headers['Content-Type'] = 'application/json';
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** `Accept` must allow JSON [D S6: 406 otherwise; D S10 checklist: missing → 406]. */
function acceptsJson(req: IncomingMessage): boolean {
  const a = req.headers.accept;
  return a !== undefined && /application\/json|application\/\*|\*\/\*/i.test(a);
}

/**
 * Starts the emulator. Pipeline for API routes: concurrency (429) → throttling latency → faults
 * (socket reset, slow, 429, 5xx) → route → Accept (406) → bearer token (401) → handler → dropResponse fault.
 *
 * @example
 *   const emu = await startActitoEmulator({ port: 0, tokenTtlMs: 1000 });
 *   const { accessToken } = await (await fetch(`${emu.url}/auth/token`, { headers: { Authorization: emu.apiKey, Accept: 'application/json' } })).json();
 */
export async function startActitoEmulator(opts: ActitoEmulatorOptions = {}): Promise<ActitoEmulator> {
  const limits = new Limits(opts.maxConcurrent ?? 5, opts.callsPerMinute ?? 100, opts.throttleDelayMs ?? 100);
  const state = new EmulatorState(
    {
      entity: opts.entity ?? 'demo',
      apiKey: opts.apiKey ?? 'syncline-demo-key',
      bulkProcessingDelayMs: opts.bulkProcessingDelayMs ?? 50,
      dailyBulkImportQuota: opts.dailyBulkImportQuota ?? 24,
      maxBulkFileBytes: opts.maxBulkFileBytes ?? 100 * 1024 * 1024,
      emptyOnUpdate: opts.emptyOnUpdate ?? 'keep',
      sliceMs: opts.bulkSliceMs ?? 20,
      etlWebhookUrl: opts.etlWebhookUrl ?? null,
      journal: opts.journal ?? false,
    },
    opts.tokenTtlMs ?? 15 * 60 * 1000,
    limits,
    opts.extraApiKeys,
  );
  const tokenRoute: Route = { method: 'GET', pattern: '/auth/token', public: true, handler: (ctx) => state.tokens.issue(ctx.headers) };
  const api: Route[] = [tokenRoute, ...schemaRoutes(state), ...recordRoutes(state), ...profileRoutes(state), ...bulkRoutes(state)];
  const admin = adminRoutes(state);

  async function dispatch(req: IncomingMessage, routes: Route[], url: URL, checks: boolean): Promise<Reply> {
    const match = matchRoute(routes, req.method ?? 'GET', url.pathname);
    if (!match) return apiError(404, `no route for ${req.method} ${url.pathname}`);
    if ('methodNotAllowed' in match) return apiError(405, `method ${req.method} not allowed on ${url.pathname}`);
    const body = await readBody(req, match.route.bodyLimit ?? DEFAULT_BODY_LIMIT);
    if (checks && !acceptsJson(req)) return apiError(406, 'the Accept header must allow application/json');
    if (checks && !match.route.public) {
      const auth = state.tokens.check(req.headers, req.method ?? 'GET', url.pathname);
      if (auth === 'forbidden') return apiError(403, `this API key has no access right for ${req.method} ${url.pathname}`);
      if (auth !== 'ok')
        return apiError(
          401,
          auth === 'expired' ? 'access token expired; request a new one at /auth/token' : 'missing or invalid bearer token',
        );
    }
    return match.route.handler({ params: match.params, query: url.searchParams, headers: req.headers, body });
  }

  const routeName = (req: IncomingMessage, url: URL, routes: Route[]): string => {
    const m = matchRoute(routes, req.method ?? 'GET', url.pathname);
    return m && 'route' in m ? `${req.method} ${m.route.pattern}` : 'unmatched';
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const guarded = async (): Promise<Reply> => {
      try {
        return await dispatch(req, url.pathname.startsWith('/__admin') ? admin : api, url, !url.pathname.startsWith('/__admin'));
      } catch (e) {
        if (e instanceof HttpError) return apiError(e.status, e.message);
        return apiError(500, `emulator error: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    if (url.pathname.startsWith('/__admin')) return send(res, await guarded());

    const started = Date.now();
    const path = url.pathname;
    let throttledMs = 0;
    const log = (status: number): void =>
      state.requests.add({
        at: new Date(started).toISOString(),
        method: req.method ?? 'GET',
        path,
        route: routeName(req, url, api),
        status,
        durationMs: Date.now() - started,
        ...(throttledMs > 0 && { throttledMs }),
      });
    if (!limits.tryAcquire()) {
      log(429);
      return send(res, { ...apiError(429, `more than ${limits.maxConcurrent} concurrent requests`), headers: { Connection: 'close' } });
    }
    const open = state.requests.open(req.method ?? 'GET', path);
    try {
      throttledMs = limits.throttle();
      if (throttledMs) await sleep(throttledMs);
      const method = req.method ?? 'GET';
      // Before anything is applied: the client sees a reset connection and must not assume a write happened.
      if (state.faults.take('socketReset', path, method)) {
        log(0);
        req.socket.destroy();
        return;
      }
      const slow = state.faults.take('slow', path, method);
      if (slow) await sleep(slow.ms);
      let reply: Reply | undefined;
      if (state.faults.take('tooManyRequests', path, method)) reply = apiError(429, 'too many requests (injected fault)');
      const err = reply ? undefined : state.faults.take('serverError', path, method);
      if (err) reply = apiError(err.status ?? 500, 'internal server error (injected fault)');
      reply ??= await guarded();
      if (state.faults.take('dropResponse', path, method)) {
        log(0);
        req.socket.destroy();
        return;
      }
      log(reply.status);
      send(res, reply);
    } finally {
      state.requests.close(open);
      limits.release();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, apiError(500, `emulator error: ${String(e)}`));
    });
  });
  // Long idle keep-alive so a client that pauses (or blocks its event loop) does not race a server-side close.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    url: `http://${host}:${port}`,
    entity: state.config.entity,
    apiKey: state.config.apiKey,
    state,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
