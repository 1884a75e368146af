import net from 'node:net';

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A server could not start because one of its ports was taken (by the time it bound it). */
export class PortTakenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortTakenError';
  }
}

/** Attempts of `onFreePorts`: a port taken between the check and the bind is rare; several in a row is not a race. */
export const PORT_ATTEMPTS = 5;

/**
 * Starts a server on ports found free (`pick`, once per port it needs), and again on other ports when
 * it fails with PortTakenError: a port found free is only free until the server binds it, and services
 * started at the same time (the demo starts Temporal, whose dev server binds several random ports of its
 * own, beside Postgres) can take each other's. Any other failure, or the last attempt's, is thrown.
 */
export async function onFreePorts<T>(count: number, pick: () => Promise<number>, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const chosen: number[] = [];
    for (let picks = 0; chosen.length < count; picks++) {
      if (picks >= count * 10) throw new Error(`no ${count} distinct free ports found in ${picks} tries`);
      const port = await pick();
      if (!chosen.includes(port)) chosen.push(port);
    }
    try {
      return await start(chosen);
    } catch (e) {
      if (!(e instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw e;
    }
  }
}
