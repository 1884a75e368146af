/** Request context and response helpers shared by the route modules. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonExact } from '../../common/json-exact';
import type { EmulatorState } from './state';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  state: EmulatorState;
  /**
   * The login and instance URL as this request reached the emulator: `state.url`, or, when it listens on
   * every interface (0.0.0.0, ::), the request's own Host (the name a client in another container called it by).
   */
  baseUrl: string;
  category: string;
  /** Set by the dropResponseAfterCommit fault: the write is applied, then the socket is destroyed. */
  dropAfterCommit: boolean;
  /** The socket was destroyed instead of answering. */
  dropped?: boolean;
  /** Value for `Sforce-Limit-Info`, set on every counted data request. */
  limitInfo?: string;
  status?: number;
}

/** `ctx.baseUrl` of a request (see Ctx). A Host that is not a plain host[:port] is ignored. */
export function baseUrlOf(req: IncomingMessage, state: EmulatorState): string {
  const host = req.headers.host;
  return state.wildcard && host && /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(host) ? `http://${host}` : state.url;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

function finish(ctx: Ctx, status: number, headers: Record<string, string>, body?: string | Buffer): void {
  ctx.status = status;
  if (ctx.dropAfterCommit) {
    ctx.dropped = true;
    ctx.req.socket.destroy();
    return;
  }
  if (ctx.limitInfo) headers['Sforce-Limit-Info'] = ctx.limitInfo;
  ctx.res.writeHead(status, headers);
  ctx.res.end(body);
}

export function sendJson(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
  finish(ctx, status, { 'Content-Type': 'application/json;charset=UTF-8', ...headers }, JSON.stringify(body));
}

export function sendText(ctx: Ctx, status: number, text: string | Buffer, contentType: string): void {
  finish(ctx, status, { 'Content-Type': contentType }, text);
}

export function sendEmpty(ctx: Ctx, status: number, headers: Record<string, string> = {}): void {
  finish(ctx, status, headers);
}

/** Reads the whole body; rejects with 413-style HttpError past `limit` bytes (draining the rest). */
export async function readBody(req: IncomingMessage, limit = 160 * 1024 * 1024, tooLarge?: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) over = true;
    if (!over) chunks.push(b);
  }
  if (over) throw new HttpError(400, tooLarge ?? [{ errorCode: 'INVALID_REQUEST', message: 'Request body too large' }]);
  return Buffer.concat(chunks);
}

/**
 * Parses a JSON body; malformed JSON gives the REST API's 400 JSON_PARSER_ERROR. `exactNumbers`: number
 * literals are read as `JsonNumber`s, their digits kept (record bodies, where Salesforce reads decimals).
 */
export async function readJson(ctx: Ctx, o: { exactNumbers?: boolean } = {}): Promise<unknown> {
  const text = (await readBody(ctx.req)).toString('utf8');
  if (text.trim() === '') return null;
  try {
    return o.exactNumbers ? parseJsonExact(text) : (JSON.parse(text) as unknown);
  } catch (e) {
    throw new HttpError(400, [{ errorCode: 'JSON_PARSER_ERROR', message: `Unexpected character: ${(e as Error).message}` }]);
  }
}
