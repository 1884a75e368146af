import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { multipartBody, streamRequest } from './http-stream';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-stream-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function bytesOf(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of stream) out.push(Buffer.from(piece as Uint8Array));
  return Buffer.concat(out);
}

test('a multipart body is byte for byte what fetch sends for the same FormData, with its length known', async () => {
  const file = path.join(dir, 'import.csv.gz');
  const content = Buffer.concat([Buffer.from('orderId,amount\r\n'), Buffer.alloc(600_000, 7), Buffer.from('\r\n--not-a-boundary\r\n')]);
  fs.writeFileSync(file, content);
  const definition = Buffer.from(JSON.stringify({ name: 'x "quoted"\nline', columns: ['a', 'b'] }));
  const form = new FormData();
  form.set('inputFile', await fs.openAsBlob(file), 'syncline-run/1/0 "a".csv.gz');
  form.set('definition', new Blob([definition], { type: 'application/json' }));
  const fetchSends = new Response(form);
  const boundary = /boundary=(.*)$/.exec(fetchSends.headers.get('content-type')!)![1]!;
  const expected = Buffer.from(await fetchSends.arrayBuffer());

  const body = multipartBody(
    [
      { name: 'inputFile', filename: 'syncline-run/1/0 "a".csv.gz', content: { path: file, bytes: content.length } },
      { name: 'definition', filename: 'blob', type: 'application/json', content: definition },
    ],
    boundary,
  );
  expect(body.contentType).toBe(fetchSends.headers.get('content-type'));
  const sent = await bytesOf(body.open());
  expect(sent.equals(expected)).toBe(true);
  expect(body.length).toBe(expected.length);
  // Opened again (a resend), it yields the same bytes.
  expect((await bytesOf(body.open())).equals(expected)).toBe(true);
});

test('streamRequest answers as fetch would: status, headers and body; a lost connection and a timeout reject as with fetch', async () => {
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (b: Buffer) => (n += b.length));
    req.on('end', () => {
      if (req.url === '/slow') return void setTimeout(() => res.end(), 2000);
      if (req.url === '/lost') return void req.socket.destroy();
      res.writeHead(req.url === '/bad' ? 400 : 201, { 'content-type': 'application/json', 'x-seen': String(n) });
      res.end(JSON.stringify({ bytes: n, type: req.headers['content-type'], length: req.headers['content-length'] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const body = () => Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]);
    const headers = { 'content-type': 'text/csv', 'content-length': '8' };
    const ok = await streamRequest('PUT', `${base}/ok`, headers, body(), AbortSignal.timeout(5000));
    expect({ status: ok.status, ok: ok.ok, seen: ok.headers.get('x-seen') }).toEqual({ status: 201, ok: true, seen: '8' });
    expect(await ok.json()).toEqual({ bytes: 8, type: 'text/csv', length: '8' });
    const bad = await streamRequest('PUT', `${base}/bad`, headers, body(), AbortSignal.timeout(5000));
    expect({ status: bad.status, ok: bad.ok }).toEqual({ status: 400, ok: false });
    await bad.text();
    // Every byte sent, then the connection lost before any answer: rejected as a lost connection.
    await expect(streamRequest('PUT', `${base}/lost`, headers, body(), AbortSignal.timeout(5000))).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    await expect(streamRequest('PUT', `${base}/slow`, headers, body(), AbortSignal.timeout(200))).rejects.toMatchObject({
      name: 'TimeoutError',
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
