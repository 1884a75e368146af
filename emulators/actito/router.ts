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
  /**
   * The route family's category prefix since Actito's 2025 URL reorganisation, e.g. `/custom-data`
   * (connectors/actito/README.md "Routes"). The route answers under it and unprefixed (the legacy form a connection can still
   * choose with `routePrefix: ""`), never under another prefix.
   */
  prefix?: string;
}

export type Match = { route: Route; params: Record<string, string> } | { methodNotAllowed: true } | undefined;

/** Splits `/<category>/v4|v5/…` into its category prefix and the versioned path; no prefix → `prefix: null`. */
export function splitPrefix(path: string): { prefix: string | null; rest: string } {
  const m = /^(\/[a-z][a-z0-9-]*)(\/v[45]\/.*)$/.exec(path);
  return m ? { prefix: m[1]!, rest: m[2]! } : { prefix: null, rest: path };
}

export function matchRoute(routes: Route[], method: string, path: string): Match {
  const { prefix, rest } = splitPrefix(path);
  const segs = rest.split('/').filter(Boolean);
  let methodNotAllowed = false;
  for (const route of routes) {
    if (prefix !== null && route.prefix !== prefix) continue;
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
