/**
 * An import file is uploaded from disk as a stream: the worker holds a few pieces of it at a time, not
 * the file. (fetch, sending a FormData holding the file, kept all of it, and more, until Actito answered:
 * nodejs/undici#4058; a 24 MB file held 30 MB.) Measured right after the last byte was sent, while the
 * server has not answered yet, after a full collection: what is still held then is what the upload keeps.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ActitoClient } from './client';
import { connectionSchema } from './config';
import { DEFAULT_ROUTE_PREFIXES, startImport } from './routes';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MB = 1024 * 1024;

let server: http.Server;
let baseUrl: string;
let file: string;
let heldAtEnd: number | null = null;
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
      // Every byte is here; the answer waits: what the worker holds now is what the upload keeps.
      setTimeout(() => {
        gc();
        heldAtEnd = process.memoryUsage().arrayBuffers;
        res.end(JSON.stringify({ id: 42 }));
      }, 300);
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
  gc();
  const before = process.memoryUsage().arrayBuffers;
  expect(await startImport(api, def, { path: file, bytes: 24 * MB })).toBe('42');
  expect(uploads).toHaveLength(1);
  expect(uploads[0]!.type).toMatch(/^multipart\/form-data; boundary=/);
  expect(Number(uploads[0]!.length)).toBe(uploads[0]!.bytes);
  expect(uploads[0]!.bytes).toBeGreaterThan(24 * MB);
  expect(heldAtEnd).not.toBeNull();
  expect((heldAtEnd! - before) / MB).toBeLessThan(4);
});
