/**
 * Local Salesforce REST + Bulk API 2.0 emulator that jsforce 3 talks to as if it were an org.
 *
 * @example
 * const emu = await startSalesforceEmulator({ port: 0 });
 * const conn = new jsforce.Connection({ loginUrl: emu.url, version: '62.0',
 *   oauth2: { clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret', loginUrl: emu.url } });
 * await conn.authorize({ grant_type: 'client_credentials' });
 * await emu.close();
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHandler } from './router';
import { EmulatorState } from './state';

export interface SalesforceEmulatorOptions {
  /** 0 = random free port. */
  port?: number;
  /**
   * Default 127.0.0.1. On 0.0.0.0 or :: (a container's sandbox), the login and instance URLs it hands out
   * are the ones each request reached it by (its Host header), and `url` is http://127.0.0.1:<port>.
   */
  host?: string;
  /** Delay before an UploadComplete job starts processing; default 50 ms. */
  bulkProcessingDelayMs?: number;
  /** DailyApiRequests Max; default 100000. */
  dailyApiLimit?: number;
  /** Keep a journal of every record written, read at `GET /__admin/journal` (default off: it grows with every write). */
  journal?: boolean;
  /** Defaults 'syncline-demo-client' / 'syncline-demo-secret'. */
  clientId?: string;
  clientSecret?: string;
}

export interface SalesforceEmulator {
  /** Login URL and instance URL, e.g. http://127.0.0.1:8787. */
  url: string;
  close(): Promise<void>;
  /** Direct access for tests: `state.store(def).records`, `state.requests`, `state.faults`, `state.jobs`. */
  state: EmulatorState;
}

export const DEMO_CREDENTIALS = {
  clientId: 'syncline-demo-client',
  clientSecret: 'syncline-demo-secret',
  username: 'integration@syncline.demo',
  password: 'syncline-demo-password',
};

export { EmulatorState } from './state';

export async function startSalesforceEmulator(opts: SalesforceEmulatorOptions = {}): Promise<SalesforceEmulator> {
  const state = new EmulatorState({
    bulkProcessingDelayMs: opts.bulkProcessingDelayMs ?? 50,
    dailyApiLimit: opts.dailyApiLimit ?? 100000,
    journal: opts.journal ?? false,
    clientId: opts.clientId ?? DEMO_CREDENTIALS.clientId,
    clientSecret: opts.clientSecret ?? DEMO_CREDENTIALS.clientSecret,
    username: DEMO_CREDENTIALS.username,
    password: DEMO_CREDENTIALS.password,
  });
  // A request whose body never arrives (e.g. jsforce's transport retry of a PATCH/POST re-sends the headers
  // but not the already-consumed body) gets 408 after 30 s instead of hanging the client forever.
  const server = createServer({ requestTimeout: 30000, connectionsCheckingInterval: 1000 }, createHandler(state));
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // Listening on every interface, it answers each client by the name it was called by (http.ts baseUrlOf);
  // its own URL, for callers on this machine, is the loopback one.
  state.wildcard = host === '0.0.0.0' || host === '::';
  state.url = `http://${state.wildcard ? '127.0.0.1' : host}:${port}`;
  return {
    url: state.url,
    state,
    close: () =>
      new Promise<void>((resolve, reject) => {
        state.reset();
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
