/**
 * The codec server (`syncline codec-server`): POST /encode and /decode with the payload codec, in the
 * JSON the Temporal Web UI and `temporal --codec-endpoint` send ({"payloads": [{"metadata": {k: base64},
 * "data": base64}]}). The Web UI calls it from the browser, so it answers CORS preflights for the origins
 * it is given. It decrypts whatever it is sent: keep it on loopback or behind your own access control.
 */
import http from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  codec: PayloadCodec;
  port: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Web UI origins allowed to call it from a browser, e.g. http://localhost:8080; "*" allows any (without credentials). */
  origins: string[];
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const MAX_BODY = 64 * 1024 * 1024;

export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const server = http.createServer((req, res) => {
    handle(opts, req, res).catch((err: Error) => reply(res, 500, { message: err.message }));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(opts: CodecServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  // A browser sends a "simple" POST from any page without asking first, and a page whose own name was made to
  // resolve to this address (DNS rebinding) even reads the answer: a request from an origin not allowed is
  // refused, not only left without CORS headers. The CLI and other programs send no Origin.
  const origin = req.headers.origin;
  if (origin && !opts.origins.includes('*') && !opts.origins.includes(origin)) {
    reply(res, 403, { message: `origin ${origin} is not allowed: add it with --origins or SYNCLINE_CODEC_CORS_ORIGINS` });
    return;
  }
  cors(opts, req, res);
  if (req.method === 'OPTIONS') {
    res.writeHead(204).end();
    return;
  }
  // The Web UI and the CLI post to <endpoint>/encode and <endpoint>/decode; the endpoint may have a path of its own.
  const route = /\/(encode|decode)\/?$/.exec(new URL(req.url ?? '/', 'http://codec').pathname)?.[1];
  if (req.method !== 'POST' || !route) {
    reply(res, 404, { message: 'POST /encode or /decode with {"payloads": [...]}' });
    return;
  }
  let body: { payloads?: JsonPayload[] };
  try {
    body = JSON.parse(await readBody(req)) as { payloads?: JsonPayload[] };
  } catch (err) {
    reply(res, 400, { message: `the body is not JSON: ${(err as Error).message}` });
    return;
  }
  if (!Array.isArray(body?.payloads)) {
    reply(res, 400, { message: 'the body must be {"payloads": [...]}' });
    return;
  }
  const payloads = body.payloads.map(fromJson);
  const out = route === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
  reply(res, 200, { payloads: out.map(toJson) });
}

function cors(opts: CodecServerOptions, req: http.IncomingMessage, res: http.ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader('Vary', 'Origin');
  const any = opts.origins.includes('*');
  if (!any && !opts.origins.includes(origin)) return;
  res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
  // The Web UI sends X-Namespace, and with "include credentials" its cookies and Authorization header.
  if (!any) res.setHeader('Access-Control-Allow-Credentials', 'true');
  res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
  res.setHeader(
    'Access-Control-Allow-Headers',
    req.headers['access-control-request-headers'] ?? 'Content-Type, X-Namespace, Authorization',
  );
  res.setHeader('Access-Control-Max-Age', '600');
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_BODY) {
        reject(new Error(`more than ${MAX_BODY} bytes`));
        req.destroy();
      } else parts.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p?.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}
