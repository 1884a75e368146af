/**
 * Faults around streamRequest (connectors/kit/http-stream.ts), found by an adversarial review, each a
 * failing test before its fix: a worker must never crash on an answer or an abort, an upload answered
 * early must not keep its file and socket open past the request's timeout, and an abort while the
 * answer's body is read must fail the read as fetch does (a timeout says it timed out).
 */
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { streamRequest } from './http-stream';

/** Runs `fn` and collects what reaches the process as an uncaught exception meanwhile (a crash of a worker). */
async function uncaughtDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUncaught = (e: unknown): void => void seen.push(e);
  const previous = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    process.off('uncaughtException', onUncaught);
    for (const l of previous) process.on('uncaughtException', l);
  }
  return seen;
}

async function listening(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

test('a signal already aborted rejects the request and crashes nothing', async () => {
  const server = http.createServer((req, res) => void req.resume().on('end', () => res.end('ok')));
  const base = await listening(server);
  try {
    const ac = new AbortController();
    ac.abort(new Error('activity cancelled'));
    const crashes = await uncaughtDuring(async () => {
      await expect(
        streamRequest('POST', `${base}/`, { 'content-length': '3' }, Readable.from([Buffer.from('abc')]), ac.signal),
      ).rejects.toThrow('activity cancelled');
    });
    expect(crashes).toEqual([]);
  } finally {
    server.close();
  }
}, 10_000);

test.each(['HTTP/1.1 999 Request denied', 'HTTP/1.1 200 O\x7fK'])(
  'an answer fetch takes but a Response cannot hold (%j) settles the request and crashes nothing',
  async (statusLine) => {
    const server = net.createServer((s) =>
      s.once('data', () => s.end(`${statusLine}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno`)),
    );
    const base = await listening(server);
    try {
      let settled = false;
      const crashes = await uncaughtDuring(async () => {
        await streamRequest('POST', `${base}/`, { 'content-length': '3' }, Readable.from([Buffer.from('abc')]), AbortSignal.timeout(2000))
          .then((res) => res.text())
          .catch(() => undefined)
          .finally(() => (settled = true));
      });
      expect({ crashes, settled }).toEqual({ crashes: [], settled: true });
    } finally {
      server.close();
    }
  },
  10_000,
);

test('an upload answered before its body was read (a 401) stops sending: the file and the socket are let go', async () => {
  // Answers at once and keeps the connection open without reading the body, as a server may do for a refused token.
  const server = http.createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json', 'content-length': '2' });
    res.end('{}');
  });
  const base = await listening(server);
  try {
    const total = 64 * 1024 * 1024;
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        produced += 65536;
        this.push(Buffer.alloc(65536));
      },
    });
    const res = await streamRequest('PUT', `${base}/`, { 'content-length': String(total) }, body, AbortSignal.timeout(500));
    expect(res.status).toBe(401);
    await res.text();
    // Past the request's own timeout: the body (a file read stream in the connectors) is closed and no connection is left.
    await new Promise((r) => setTimeout(r, 1500));
    const connections = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    expect({ bodyDestroyed: body.destroyed, connections }).toEqual({ bodyDestroyed: true, connections: 0 });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}, 10_000);

/**
 * A server that reads the request, sends the answer's headers and the start of its body, then stalls
 * (until the test closes its connections).
 */
function stallingServer(): http.Server {
  return http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
    });
  });
}

/** What a failed read of an answer's body is rejected with, as much of it as a person or a classifier reads. */
async function readFailure(res: Response): Promise<{ name: string; message: string }> {
  try {
    await res.text();
  } catch (e) {
    const err = e as Error;
    return { name: err.name, message: err.message };
  }
  throw new Error('the body was read whole');
}

test("a timeout while the answer's body is read fails the read with the signal's reason, as with fetch: a TimeoutError, not a bare 'aborted'", async () => {
  const server = stallingServer();
  const base = await listening(server);
  try {
    const viaFetch = await readFailure(await fetch(`${base}/`, { method: 'POST', body: 'abc', signal: AbortSignal.timeout(300) }));
    const streamed = await readFailure(
      await streamRequest('POST', `${base}/`, { 'content-length': '3' }, Readable.from([Buffer.from('abc')]), AbortSignal.timeout(300)),
    );
    expect(viaFetch).toEqual({ name: 'TimeoutError', message: 'The operation was aborted due to timeout' });
    expect(streamed).toEqual(viaFetch);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}, 10_000);

test("an abort by the caller while the answer's body is read still says aborted (the signal's reason, as with fetch)", async () => {
  const server = stallingServer();
  const base = await listening(server);
  try {
    const send = (signal: AbortSignal): Promise<Response> =>
      streamRequest('POST', `${base}/`, { 'content-length': '3' }, Readable.from([Buffer.from('abc')]), signal);
    const plain = new AbortController();
    const res = await send(plain.signal);
    plain.abort();
    expect(await readFailure(res)).toEqual({ name: 'AbortError', message: 'This operation was aborted' });
    // With a reason of its own (an activity cancelled): that reason, as fetch gives it.
    const cancelled = new AbortController();
    const res2 = await send(cancelled.signal);
    cancelled.abort(new Error('activity cancelled'));
    expect(await readFailure(res2)).toEqual({ name: 'Error', message: 'activity cancelled' });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}, 10_000);
