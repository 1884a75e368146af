/** Access / refresh tokens issued by the OAuth endpoint; `expireAll` backs the expireTokens fault. */
import { randomBytes } from 'node:crypto';

export interface Session {
  clientId: string;
  username: string;
  issuedAt: number;
}

export class TokenStore {
  private readonly access = new Map<string, Session>();
  private readonly refresh = new Map<string, Session>();

  constructor(private readonly orgId15: string) {}

  issue(session: Session, withRefresh: boolean): { accessToken: string; refreshToken?: string } {
    // Real tokens look like "<orgId>!<opaque>"; some clients split on '!', so keep the shape.
    const accessToken = `${this.orgId15}!${randomBytes(48).toString('base64url')}`;
    this.access.set(accessToken, session);
    if (!withRefresh) return { accessToken };
    const refreshToken = `5Aep${randomBytes(40).toString('base64url')}`;
    this.refresh.set(refreshToken, session);
    return { accessToken, refreshToken };
  }

  check(token: string): Session | undefined {
    return this.access.get(token);
  }

  refreshSession(token: string): Session | undefined {
    return this.refresh.get(token);
  }

  revoke(token: string): void {
    this.access.delete(token);
    this.refresh.delete(token);
  }

  /** Invalidates every access token (refresh tokens survive, as after a session timeout). */
  expireAll(): void {
    this.access.clear();
  }

  clear(): void {
    this.access.clear();
    this.refresh.clear();
  }
}
