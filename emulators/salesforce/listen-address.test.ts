/**
 * The emulator listening on every interface, as docker-compose.yml's sandbox profile starts it
 * (SALESFORCE_EMULATOR_HOST=0.0.0.0): the instance URL it hands out must be one the client can call. The
 * worker container reaches it as http://salesforce-emulator:8787; told to call http://0.0.0.0:8787 (the
 * listen address), jsforce would connect to its own container, where nothing listens.
 */
import http from 'node:http';
import jsforce from 'jsforce';
import { DEMO_CREDENTIALS, startSalesforceEmulator, type SalesforceEmulator } from './server';
import { VERSION } from './conformance-helpers';

let emu: SalesforceEmulator;
let port: number;

beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0, host: '0.0.0.0' });
  port = Number(new URL(emu.url).port);
});
afterAll(async () => {
  await emu.close();
});

/** POST /services/oauth2/token over 127.0.0.1, with the Host header a client that named the emulator `host` sends. */
function tokenVia(host: string): Promise<Record<string, string>> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: DEMO_CREDENTIALS.clientId,
    client_secret: DEMO_CREDENTIALS.clientSecret,
  }).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/services/oauth2/token',
        headers: { Host: host, 'Content-Type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve(JSON.parse(text) as Record<string, string>));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('the token names the instance at the address the client reached, not the wildcard it listens on', async () => {
  const token = await tokenVia('salesforce-emulator:8787');
  expect({ instance_url: token.instance_url, id: token.id?.replace(/\/id\/.*$/, '') }).toEqual({
    instance_url: 'http://salesforce-emulator:8787',
    id: 'http://salesforce-emulator:8787',
  });
});

test('plain jsforce logs in by one name and calls the instance by the same name', async () => {
  const loginUrl = `http://localhost:${port}`;
  const conn = new jsforce.Connection({
    loginUrl,
    version: VERSION,
    oauth2: { clientId: DEMO_CREDENTIALS.clientId, clientSecret: DEMO_CREDENTIALS.clientSecret, loginUrl },
  });
  await conn.authorize({ grant_type: 'client_credentials' });
  expect(conn.instanceUrl).toBe(loginUrl);
  expect((await conn.query('SELECT Id FROM Contact')).totalSize).toBe(0);
});

test('its own url is one a client on this machine can call', () => {
  expect(emu.url).toBe(`http://127.0.0.1:${port}`);
});
