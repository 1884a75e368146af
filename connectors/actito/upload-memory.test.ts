/**
 * An import file is uploaded from disk as a stream: the worker holds a few pieces of it at a time, not
 * the file. (fetch, sending a FormData holding the file, kept all of it, and more, until Actito answered:
 * nodejs/undici#4058; a 24 MB file held 30 MB.) Measured right after the last byte was sent, while the
 * server has not answered yet, after a full collection: what is still held then is what the upload keeps.
 * And streamed so, an upload whose answer stalls fails as a fetch request does: a timeout, named so.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ActitoClient } from './client';
import { connectionSchema } from './config';
import { toSyncError } from './errors';
import { multipartBody } from '../kit/http-stream';
import { DEFAULT_ROUTE_PREFIXES, startImport } from './routes';
import { arrayBuffersNow, leastHeldAfter } from '../../test/support/held-memory';

const MB = 1024 * 1024;

let server: http.Server;
let baseUrl: string;
let file: string;
let held: { least: number | null } = { least: null };
const uploads: Array<{ bytes: number; type: string | undefined; length: string | undefined }> = [];

beforeAll(async () => {
  file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'actito-upload-')), 'import.csv.gz');
  fs.writeFileSync(file, Buffer.alloc(24 * MB, 1));
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/auth/token')) return void res.end(JSON.stringify({ accessToken: 'token', expiresIn: '900s' }));
    let n = 0;
    req.on('data', (b: Buffer) => (n += b.length));
    req.on('end', () => {
      uploads.push({ bytes: n, type: req.headers['content-type'], length: req.headers['content-length'] });
      // Every byte is here; the answer waits: what the worker holds now is what the upload keeps. Measured
      // three times (300, 600 and 900 ms after), each after a full collection, keeping the least: what the
      // upload holds stays held until the answer, a passing allocation elsewhere in the process does not.
      held = leastHeldAfter([300, 600, 900]);
      setTimeout(() => res.end(JSON.stringify({ id: 42 })), 1000);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test('an import upload holds a few pieces of the file, not the file, until Actito answers', async () => {
  const connection = connectionSchema.parse({ baseUrl, entity: 'acme', apiKey: 'key' });
  const api = { client: new ActitoClient(connection), prefixes: { ...DEFAULT_ROUTE_PREFIXES }, apiCall: () => undefined };
  const def = {
    name: 'syncline-a_1_0-records-0',
    tableType: 'CUSTOM_TABLE' as const,
    tableId: '7',
    mode: 'CREATE_UPDATE' as const,
    keyAttribute: 'orderId',
    compression: 'GZIP' as const,
    columns: ['orderId'],
  };
  const before = arrayBuffersNow();
  expect(await startImport(api, def, { path: file, bytes: 24 * MB })).toBe('42');
  expect(uploads).toHaveLength(1);
  expect(uploads[0]!.type).toMatch(/^multipart\/form-data; boundary=/);
  expect(Number(uploads[0]!.length)).toBe(uploads[0]!.bytes);
  expect(uploads[0]!.bytes).toBeGreaterThan(24 * MB);
  expect(held.least).not.toBeNull();
  expect((held.least! - before) / MB).toBeLessThan(4);
});

test("an upload whose answer stalls past the request's timeout fails as a timeout, as a fetch request does (not a bare 'aborted')", async () => {
  // Answers a token, then for any other request its headers and the start of its body, then stalls.
  const stalling = http.createServer((req, res) => {
    if (req.url?.startsWith('/auth/token')) return void res.end(JSON.stringify({ accessToken: 'token', expiresIn: '900s' }));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
    });
  });
  await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
  try {
    const stallingUrl = `http://127.0.0.1:${(stalling.address() as { port: number }).port}`;
    const client = new ActitoClient(connectionSchema.parse({ baseUrl: stallingUrl, entity: 'acme', apiKey: 'key' }));
    // As bulk.ts maps a failed upload: a SyncError naming the request.
    const failure = async (opts: Parameters<ActitoClient['request']>[2]) => {
      const err = await client.request('POST', '/v5/entities/acme/etl-executions', opts).then(
        () => new Error('answered'),
        (e: unknown) => e,
      );
      const e = toSyncError(err, 'Starting the records import for table "orders"');
      return { code: e.code, retryable: e.retryable, message: e.message };
    };
    const viaFetch = await failure({ kind: 'import', json: { file: 'x' }, idempotent: false, timeoutMs: 300 });
    const upload = multipartBody([{ name: 'inputFile', filename: 'x.csv.gz', content: Buffer.from('x') }]);
    const streamed = await failure({ kind: 'import', upload, idempotent: false, timeoutMs: 300 });
    // (Jest's realm may show the DOMException as "TimeoutError: ...": its name then comes with its message.)
    expect(viaFetch).toMatchObject({ code: 'DESTINATION_UNAVAILABLE', retryable: true });
    expect(viaFetch.message).toMatch(
      /^Starting the records import for table "orders": (TimeoutError: )?The operation was aborted due to timeout$/,
    );
    expect(streamed).toEqual(viaFetch);
  } finally {
    stalling.closeAllConnections();
    await new Promise((resolve) => stalling.close(resolve));
  }
}, 10_000);
