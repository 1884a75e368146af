/** Request dispatch: admin, OAuth, identity, versions, then the versioned data API. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { handleAdmin } from './admin';
import { handleIdentity, handleRevoke, handleToken } from './auth';
import { handleIngest } from './bulk2';
import { handleCollections } from './collections';
import { restError } from './errors';
import { categorize } from './faults';
import { admitApiCall, injectFaults } from './gate';
import { HttpError, baseUrlOf, sendJson, type Ctx } from './http';
import { handleLimits, handleResources, handleVersions, supportedVersion } from './limits';
import { handleQuery } from './query';
import { handleSoapLogin } from './soap-login';
import { handleSobjects } from './sobjects';
import type { EmulatorState } from './state';

const NOT_FOUND = () => new HttpError(404, restError('NOT_FOUND', 'The requested resource does not exist'));

async function dataApi(ctx: Ctx, version: string, seg: string[]): Promise<void> {
  if (!(await admitApiCall(ctx))) return;
  const [head, second, ...rest] = seg;
  if (head === undefined) return handleResources(ctx, version);
  if (head === 'sobjects') return handleSobjects(ctx, version, seg.slice(1));
  if (head === 'composite' && second === 'sobjects') return handleCollections(ctx, version, rest);
  if ((head === 'query' || head === 'queryAll') && ctx.method === 'GET') return handleQuery(ctx, version, second, head === 'queryAll');
  if (head === 'limits' && ctx.method === 'GET') return handleLimits(ctx);
  if (head === 'jobs' && second === 'ingest') return handleIngest(ctx, version, rest);
  throw NOT_FOUND();
}

async function route(ctx: Ctx): Promise<void> {
  const seg = ctx.path.split('/').filter(Boolean).map(decodeURIComponent);
  if (seg[0] === '__admin') return handleAdmin(ctx, seg.slice(1));
  if (await injectFaults(ctx)) return;
  if (ctx.method === 'POST' && ctx.path === '/services/oauth2/token') return handleToken(ctx);
  if (ctx.method === 'POST' && ctx.path === '/services/oauth2/revoke') return handleRevoke(ctx);
  if (seg[0] === 'id' && seg.length === 3 && ctx.method === 'GET') return handleIdentity(ctx);
  const soap = /^\/services\/Soap\/u\/(\d+\.\d)$/.exec(ctx.path);
  if (soap?.[1] && ctx.method === 'POST') return handleSoapLogin(ctx, soap[1]);
  if (seg[0] === 'services' && seg[1] === 'data') {
    if (seg.length === 2) return handleVersions(ctx);
    const v = /^v(\d+\.\d)$/.exec(seg[2] ?? '')?.[1];
    if (!v || !supportedVersion(v)) throw NOT_FOUND();
    return dataApi(ctx, v, seg.slice(3));
  }
  throw NOT_FOUND();
}

export function createHandler(state: EmulatorState) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ctx: Ctx = {
      req,
      res,
      state,
      baseUrl: baseUrlOf(req, state),
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      query: url.searchParams,
      category: categorize(url.pathname),
      dropAfterCommit: false,
    };
    const started = Date.now();
    const admin = url.pathname.startsWith('/__admin');
    const log = () => {
      if (admin) return;
      state.logRequest({
        method: ctx.method,
        path: url.pathname + url.search,
        category: ctx.category,
        status: ctx.status ?? 0,
        time: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        ...(ctx.dropped ? { dropped: true } : {}),
      });
    };
    res.once('close', log);
    route(ctx).catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) return sendJson(ctx, e.status, e.body);
      sendJson(ctx, 500, restError('UNKNOWN_EXCEPTION', `An unexpected error occurred: ${(e as Error).message}`));
    });
  };
}
