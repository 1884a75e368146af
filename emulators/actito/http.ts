import type { IncomingMessage } from 'node:http';
import type { FieldError } from './types';

/** What a handler returns; the server decides to send it or (fault) drop it. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export const json = (status: number, body?: unknown, headers?: Record<string, string>): Reply => ({ status, body, headers });

/** Error body [A: the real shape is undocumented, API notes §7]: `{status, message, errors[]}`. */
export function apiError(status: number, message: string, errors: FieldError[] = []): Reply {
  return json(status, { status, message, errors });
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads the whole body. Past `limit` bytes the rest is drained and discarded, then the promise
 * rejects with HttpError(400) — the client gets a proper answer instead of a reset (Actito answers
 * 400, not 413, for an oversized file [D S3]).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Given up on by the client while it waited (a `slow` fault): its 'close' has passed, no event would settle this.
    if (req.destroyed) return reject(new HttpError(400, 'request aborted by the client'));
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => {
      ended = true;
      if (size > limit) reject(new HttpError(400, `request body of ${size} bytes exceeds the limit of ${limit} bytes`));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!ended) reject(new HttpError(400, 'request aborted by the client'));
    });
  });
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `[{name, value}]` -> entries; throws 400 for a malformed list (v4 payload shape [C C1]). */
export function nameValuePairs(list: unknown, field: string): [string, unknown][] {
  if (!Array.isArray(list)) throw new HttpError(400, `'${field}' must be an array of {name, value}`);
  return list.map((p: unknown) => {
    if (!isObject(p) || typeof p.name !== 'string') throw new HttpError(400, `each '${field}' entry needs a string 'name'`);
    return [p.name, p.value] as [string, unknown];
  });
}
