import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { apiError, json, type Reply } from './http';

export type TokenCheck = 'ok' | 'missing' | 'invalid' | 'expired' | 'forbidden';

/** Per-key access rights [D S1]: `readOnly` forbids non-GET calls, `denyPaths` (substrings) forbid routes → 403. */
export interface ApiKeyRights {
  readOnly?: boolean;
  denyPaths?: string[];
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * Token flow [D S1]: `GET /auth/token` with the raw API key in `Authorization` returns a bearer
 * token valid 15 minutes; data calls send `Authorization: Bearer <token>`; expired or unknown → 401.
 */
export class TokenStore {
  private tokens = new Map<string, { key: string; expiresAt: number }>();
  private readonly secret = randomUUID();

  readonly apiKeys = new Map<string, ApiKeyRights>();

  constructor(
    private readonly initialKeys: Record<string, ApiKeyRights>,
    public ttlMs: number,
  ) {
    this.clear();
  }

  /** The `/auth/token` handler. */
  issue(headers: IncomingHttpHeaders): Reply {
    const key = headers.authorization?.trim();
    if (!key || !this.apiKeys.has(key)) return apiError(401, 'invalid or revoked API key');
    const jti = randomUUID();
    const now = Date.now();
    const payload = { jti, iat: Math.floor(now / 1000), exp: Math.floor((now + this.ttlMs) / 1000), scope: 'read write' };
    const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
    const token = `${unsigned}.${createHmac('sha256', this.secret).update(unsigned).digest('base64url')}`;
    this.tokens.set(token, { key, expiresAt: now + this.ttlMs });
    // expiresIn is a string with an `s` suffix [D S1].
    return json(200, { accessToken: token, tokenType: 'bearer', expiresIn: `${Math.round(this.ttlMs / 1000)}s`, scope: 'read write', jti });
  }

  check(headers: IncomingHttpHeaders, method: string, path: string): TokenCheck {
    const h = headers.authorization;
    if (!h) return 'missing';
    const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
    const entry = m ? this.tokens.get(m[1]!) : undefined;
    const rights = entry && this.apiKeys.get(entry.key);
    if (!entry || !rights) return 'invalid';
    if (entry.expiresAt <= Date.now()) return 'expired';
    if ((rights.readOnly && method !== 'GET') || rights.denyPaths?.some((d) => path.includes(d))) return 'forbidden';
    return 'ok';
  }

  /** Fault switch: every token issued so far is expired from now on. */
  expireAll(): void {
    for (const entry of this.tokens.values()) entry.expiresAt = 0;
  }

  /** Drops tokens and restores the configured keys. */
  clear(): void {
    this.tokens.clear();
    this.apiKeys.clear();
    for (const [key, rights] of Object.entries(this.initialKeys)) this.apiKeys.set(key, rights);
  }
}
