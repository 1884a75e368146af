import type { IncomingHttpHeaders } from 'node:http';
import type { Reply } from './http';

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Route {
  method: string;
  /** e.g. `/v4/entity/:entity/customTable/:table/record/:key`; also the name used in the request log. */
  pattern: string;
  handler: (ctx: RouteContext) => Reply | Promise<Reply>;
  /** Body size cap in bytes (bulk uploads need more). */
  bodyLimit?: number;
  /** The token route takes the raw API key, not a bearer token. */
  public?: boolean;
}

export type Match = { route: Route; params: Record<string, string> } | { methodNotAllowed: true } | undefined;

/**
 * Category prefixes (`/profiles/v4/…`, `/custom-table-structure/v5/…` [D S5]) are stripped before
 * matching, so every route answers both prefixed and unprefixed — any one-segment prefix is accepted
 * because the record-route prefix is unknown [A].
 */
export function normalizePath(path: string): string {
  const m = /^\/[a-z][a-z0-9-]*(\/v[45]\/.*)$/.exec(path);
  return m ? m[1]! : path;
}

export function matchRoute(routes: Route[], method: string, path: string): Match {
  const segs = normalizePath(path).split('/').filter(Boolean);
  let methodNotAllowed = false;
  for (const route of routes) {
    const pat = route.pattern.split('/').filter(Boolean);
    if (pat.length !== segs.length) continue;
    const params: Record<string, string> = {};
    const ok = pat.every((p, i) => {
      const s = segs[i]!;
      if (p.startsWith(':')) {
        params[p.slice(1)] = decodeURIComponent(s);
        return true;
      }
      return p === s;
    });
    if (!ok) continue;
    if (route.method === method) return { route, params };
    methodNotAllowed = true;
  }
  return methodNotAllowed ? { methodNotAllowed: true } : undefined;
}
