/**
 * Opens a jsforce Connection for a named connection. Client credentials and JWT have no refresh token,
 * so a `refreshFn` re-runs the grant: jsforce then replays the request that got the 401. jsforce would
 * refresh forever if the new token were also refused, so refreshes are capped: at most 3 a minute
 * with no request accepted in between (a request that goes through clears the count, so tokens that
 * expire now and then, or many activations sharing one connection, never trip the cap).
 */
import { createSign } from 'node:crypto';
import { Connection } from 'jsforce';
import { API_VERSION, type SalesforceConnection } from './config';

const MAX_REFRESHES_PER_MINUTE = 3;
const refreshLog = new WeakMap<Connection, number[]>();

/** A request went through with the current token: earlier refreshes did their job and stop counting. */
export function tokenAccepted(conn: Connection): void {
  const log = refreshLog.get(conn);
  if (log && log.length) log.length = 0;
}

function jwtAssertion(c: Extract<SalesforceConnection, { auth: 'jwt' }>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: c.clientId, sub: c.username, aud: c.loginUrl, exp: Math.floor(Date.now() / 1000) + 180 })}`;
  const signature = createSign('RSA-SHA256').update(body).sign(c.privateKey).toString('base64url');
  return `${body}.${signature}`;
}

/** One token request (`counted` is told of it: the API-call metric's `auth`). */
async function grant(conn: Connection, c: SalesforceConnection, counted: () => void): Promise<void> {
  if (c.auth === 'client_credentials') {
    counted();
    await conn.authorize({ grant_type: 'client_credentials' });
  } else if (c.auth === 'jwt') {
    counted();
    await conn.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwtAssertion(c) });
  }
}

/** Authenticates (throws the raw jsforce error; callers map it to AUTH_FAILED). `onGrant` counts each token request. */
export async function openConnection(c: SalesforceConnection, onGrant: () => void = () => undefined): Promise<Connection> {
  if (c.auth === 'token') {
    return new Connection({ instanceUrl: c.instanceUrl, accessToken: c.accessToken, version: API_VERSION });
  }
  const refreshes: number[] = [];
  const conn: Connection = new Connection({
    loginUrl: c.loginUrl,
    version: API_VERSION,
    oauth2: { loginUrl: c.loginUrl, clientId: c.clientId, ...(c.auth === 'client_credentials' ? { clientSecret: c.clientSecret } : {}) },
    refreshFn: (cn, callback) => {
      const now = Date.now();
      while (refreshes.length && refreshes[0]! < now - 60_000) refreshes.shift();
      if (refreshes.length >= MAX_REFRESHES_PER_MINUTE) {
        callback(new Error('authentication failure: new tokens keep being rejected (INVALID_SESSION_ID after refresh)'));
        return;
      }
      refreshes.push(now);
      grant(cn as Connection, c, onGrant).then(
        () => callback(null, cn.accessToken ?? undefined),
        (err: Error) => callback(err),
      );
    },
  });
  refreshLog.set(conn, refreshes);
  await grant(conn, c, onGrant);
  return conn;
}
