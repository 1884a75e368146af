/**
 * Uploads streamed from a file, for the connectors' Bulk CSVs (Salesforce) and import files (Actito):
 * sent with node:http(s) instead of fetch, and multipart bodies written piece by piece with their length
 * known in advance.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * A request whose body is streamed from `body`, sent with node:http(s) and answered as a fetch Response.
 * Not fetch: undici's fetch (Node 20's, and later ones at the time of writing) keeps every piece of a
 * streamed request body until the answer comes, as it tees the body in case of a redirect
 * (https://github.com/nodejs/undici/issues/4058): four 32 MB Bulk CSVs uploaded at once held 128 MB.
 * Here the body is piped with backpressure, so a few pieces are held at a time. An abort of `signal` (its
 * timeout, or the caller's) fails as with fetch, with the signal's reason: before the answer the request
 * rejects with it, and while the answer's body is read, the read fails with it (a TimeoutError, "The
 * operation was aborted due to timeout", which the connectors map as on the fetch path: transient, named
 * after the request). A redirect is answered as it is (neither Salesforce nor Actito sends one for an
 * upload), so it fails like any other status that is not 2xx.
 */
export function streamRequest(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: Readable,
  signal: AbortSignal,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    // Already aborted: nothing is sent (a request destroyed before it has an 'error' listener would crash the process).
    if (signal.aborted) {
      body.destroy();
      return reject(signal.reason);
    }
    const target = new URL(url);
    // fetch named itself; a firewall in front of the API may refuse a request that does not.
    const req = (target.protocol === 'https:' ? https : http).request(target, {
      method,
      headers: { 'user-agent': 'syncline', ...headers },
    });
    // The answer, once its headers came: its body is still read from the socket.
    let answer: http.IncomingMessage | undefined;
    const abort = (): void => {
      // The answer's body first, with the signal's reason: its read fails with that reason, as with fetch
      // (destroyed through the request, it would fail with a bare "aborted").
      answer?.destroy(signal.reason as Error);
      req.destroy(signal.reason as Error);
      body.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    const fail = (err: unknown): void => {
      signal.removeEventListener('abort', abort);
      reject(err);
    };
    // Every error of the request is listened to, also those after the answer (settled then: nothing changes).
    // A connection lost before the answer, also after the last byte was sent (when the pipeline below has
    // already settled), rejects; once answered, the answer's body carries the error.
    req.on('error', fail);
    req.once('response', (res) => {
      answer = res;
      res.once('close', () => {
        // Answered before the whole body was sent (a refused token, a refusal): stop sending, let the file
        // and the socket go; the request's timeout no longer watches it.
        if (!req.writableFinished) {
          req.destroy();
          body.destroy();
        }
        signal.removeEventListener('abort', abort);
      });
      try {
        const answer = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (value !== undefined) answer.set(name, Array.isArray(value) ? value.join(', ') : value);
        const status = res.statusCode ?? 500;
        const empty = status === 204 || status === 205 || status === 304;
        if (empty) res.resume();
        resolve(
          new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
            status,
            statusText: res.statusMessage,
            headers: answer,
          }),
        );
      } catch (err) {
        // An answer a Response cannot hold (a status outside 200-599, a malformed reason): rejected, never
        // thrown from the listener (which would end the worker).
        res.destroy();
        fail(err);
      }
    });
    // Ends the request with the body; a failed read, or a connection lost mid-upload, rejects.
    pipeline(body, req).catch(fail);
  });
}

/** A request body read from the start each time `open` is called (a resend after a refused token opens it again). */
export interface StreamBody {
  contentType: string;
  /** Bytes `open()` yields, sent as Content-Length. */
  length: number;
  open(): Readable;
}

/** A part of a multipart/form-data body: a file on disk or bytes in memory. */
export interface FormPart {
  name: string;
  filename: string;
  /** Content-Type of the part; empty: application/octet-stream. */
  type?: string;
  content: { path: string; bytes: number } | Buffer;
}

/** Quotes of a part's name or filename: as fetch's FormData writes them. */
const escapeName = (s: string): string => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');

/**
 * A multipart/form-data body of `parts`, byte for byte what fetch sends for a FormData of the same
 * parts (file parts, each with a non-empty filename and a lower-case type; http-stream.test.ts compares them), but with its files read
 * from disk as it is sent, and its length known.
 */
export function multipartBody(parts: FormPart[], boundary = `----syncline${randomBytes(16).toString('hex')}`): StreamBody {
  const pieces = parts.map((p) => ({
    head: Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(p.name.replace(/\r?\n|\r/g, '\r\n'))}"; filename="${escapeName(p.filename)}"\r\nContent-Type: ${p.type || 'application/octet-stream'}\r\n\r\n`,
    ),
    content: p.content,
  }));
  const end = Buffer.from(`--${boundary}--\r\n`);
  const crlf = Buffer.from('\r\n');
  const length =
    pieces.reduce((n, p) => n + p.head.length + (Buffer.isBuffer(p.content) ? p.content.length : p.content.bytes) + crlf.length, 0) +
    end.length;
  async function* bytes(): AsyncGenerator<Buffer> {
    for (const p of pieces) {
      yield p.head;
      if (Buffer.isBuffer(p.content)) yield p.content;
      else yield* fs.createReadStream(p.content.path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
      yield crlf;
    }
    yield end;
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, length, open: () => Readable.from(bytes(), { objectMode: false }) };
}
