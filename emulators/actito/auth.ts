import { createHmac, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { apiError, json, type Reply } from './http';

export type TokenCheck = 'ok' | 'missing' | 'invalid' | 'expired';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * Token flow [D S1]: `GET /auth/token` with the raw API key in `Authorization` returns a bearer
 * token valid 15 minutes; data calls send `Authorization: Bearer <token>`; expired or unknown → 401.
 */
export class TokenStore {
  private tokens = new Map<string, { key: string; expiresAt: number }>();
  private readonly secret = randomUUID();

  constructor(private readonly apiKeys: Set<string>, public ttlMs: number) {}

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

  check(headers: IncomingHttpHeaders): TokenCheck {
    const h = headers.authorization;
    if (!h) return 'missing';
    const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
    const entry = m ? this.tokens.get(m[1]!) : undefined;
    if (!entry || !this.apiKeys.has(entry.key)) return 'invalid';
    return entry.expiresAt > Date.now() ? 'ok' : 'expired';
  }

  /** Fault switch: every token issued so far is expired from now on. */
  expireAll(): void {
    for (const entry of this.tokens.values()) entry.expiresAt = 0;
  }

  clear(): void {
    this.tokens.clear();
  }
}
