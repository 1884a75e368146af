/**
 * A Bulk CSV is uploaded from its file as a stream: the worker holds a few pieces of it at a time, not
 * the file. (undici's fetch, Node's built-in one, kept every piece of a streamed request body until the
 * answer came: it tees the body in case of a redirect, nodejs/undici#4058. Four 32 MB uploads at once
 * held 128 MB.) Measured right after the last byte was sent, while the server has not answered yet,
 * after a full collection: what is still held then is what the upload keeps, not garbage.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Connection } from 'jsforce';
import { API_VERSION } from './config';
import { SalesforceClient } from './client';
import { arrayBuffersNow, leastHeldAfter } from '../../test/support/held-memory';

const MB = 1024 * 1024;
const SIZE = 24 * MB;

let server: http.Server;
let url: string;
let file: string;
const received: number[] = [];

beforeAll(async () => {
  file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sf-upload-')), 'job.csv');
  const line = 'External_Id__c,LastName\n' + 'k0000001,Someone with a long enough last name\n'.repeat(SIZE / 48);
  fs.writeFileSync(file, line);
  // A Salesforce-shaped answer to the upload, given 1.2 s after the last byte arrived.
  server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (b: Buffer) => (n += b.length));
    req.on('end', () => {
      received.push(n);
      setTimeout(() => res.writeHead(201).end(), 1200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});

test('an upload holds a few pieces of the file, not the file, until Salesforce answers', async () => {
  const client = new SalesforceClient(new Connection({ instanceUrl: url, accessToken: 'token', version: API_VERSION }));
  const bytes = fs.statSync(file).size;
  let held: { least: number | null } = { least: null };
  const open = () => {
    const stream = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    // The file is read to its end once its last piece is on its way: measure while the answer is awaited,
    // three times (200, 500 and 800 ms after), each after a full collection, and keep the least. What the
    // upload holds stays held until the answer; a passing allocation elsewhere in the process (a test file
    // run before this one in the same process) does not show in all three.
    stream.once('end', () => (held = leastHeldAfter([200, 500, 800])));
    return stream;
  };
  const before = arrayBuffersNow();
  await client.uploadJobStream('750000000000001', open, bytes, { where: 'upload test' });
  expect(received).toEqual([bytes]);
  expect(held.least).not.toBeNull();
  // 256 KB pieces, a few in flight: far under the 24 MB file.
  expect((held.least! - before) / MB).toBeLessThan(4);
});
