/**
 * A service on 127.0.0.1:<port> in front of a real one (the test's Postgres, or its Temporal dev server) that
 * a test takes down and brings back: while down nothing listens there and every connection it piped is cut
 * (connections are refused, as while Postgres or Temporal restarts); while up each connection is piped to
 * `target`. It starts down: `up()` opens it.
 *
 *   const gate = serviceGate({ hostname: '127.0.0.1', port: '5432' });
 *   await gate.up();    // ... connect to 127.0.0.1:(await gate.port)
 *   await gate.down();  // a restart begins
 */
import net from 'node:net';

export interface ServiceGate {
  port: Promise<number>;
  /** Listens (again) on the gate's port. */
  up(): Promise<void>;
  /** Stops listening and cuts every piped connection. */
  down(): Promise<void>;
  /** Connections accepted so far. */
  connections(): number;
  close(): void;
}

export function serviceGate(target: { hostname: string; port: string }): ServiceGate {
  let accepted = 0;
  let listening = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  // A free port, released at once: nothing listens there until up().
  const port = new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const cut = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    up: async () => {
      if (listening) return;
      const p = await port;
      await new Promise<void>((resolve) => server.listen(p, '127.0.0.1', resolve));
      listening = true;
    },
    down: async () => {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      cut();
      await closed;
    },
    connections: () => accepted,
    close: () => {
      cut();
      if (listening) server.close();
      listening = false;
    },
  };
}
