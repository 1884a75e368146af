/** Helpers for the conformance suite: plain jsforce connections, raw HTTP, and the admin API. */
import jsforce, { type Connection } from 'jsforce';
import { DEMO_CREDENTIALS, type SalesforceEmulator } from './server';

export const VERSION = '62.0';

/** A plain jsforce connection; with `refresh`, a client-credentials refreshFn as the API notes recommend (trap 2). */
export function newConnection(emu: SalesforceEmulator, refresh = true): Connection {
  const oauth2 = { clientId: DEMO_CREDENTIALS.clientId, clientSecret: DEMO_CREDENTIALS.clientSecret, loginUrl: emu.url };
  const refreshFn = (c: Connection, cb: (err: Error | null, token?: string) => void) => {
    c.authorize({ grant_type: 'client_credentials' }).then(
      () => cb(null, c.accessToken ?? undefined),
      (e: Error) => cb(e),
    );
  };
  return new jsforce.Connection({ loginUrl: emu.url, version: VERSION, oauth2, ...(refresh ? { refreshFn } : {}) });
}

export async function connect(emu: SalesforceEmulator, refresh = true): Promise<Connection> {
  const conn = newConnection(emu, refresh);
  await conn.authorize({ grant_type: 'client_credentials' });
  return conn;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

/** Raw HTTP against the emulator (for status codes and headers jsforce hides). */
export async function raw(
  emu: SalesforceEmulator,
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; contentType?: string } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['Content-Type'] = opts.contentType ?? 'application/json';
  }
  const res = await fetch(emu.url + path, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

export async function admin(emu: SalesforceEmulator, method: string, path: string, body?: unknown): Promise<any> {
  const res = await raw(emu, method, `/__admin${path}`, { body });
  if (res.status >= 400) throw new Error(`admin ${method} ${path}: ${res.status} ${res.text}`);
  return res.json();
}

export function dataPath(p: string): string {
  return `/services/data/v${VERSION}${p}`;
}

/** Parses an RFC 4180 CSV string (all rows) for assertions on raw result files. */
export function parseCsv(text: string): string[][] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parse } = require('csv-parse/sync') as { parse: (t: string, o: object) => string[][] };
  return parse(text, { relax_column_count: true });
}
