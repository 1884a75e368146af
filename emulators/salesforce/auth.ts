/**
 * OAuth 2.0 token endpoint, revoke and identity URL (API notes §1). jsforce reads the org and user ids
 * from the last two path segments of `id` (trap 3), so the response always carries it.
 * JWT bearer: any well-formed JWT whose `iss` is the client id (and `exp`, if present, is in the future) is
 * accepted; the signature is NOT verified — this is a test double, not a security boundary.
 */
import { createHmac } from 'node:crypto';
import { readBody, sendEmpty, sendJson, type Ctx } from './http';
import type { Session } from './tokens';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Answers an OAuth error (`{error, error_description}`, which jsforce turns into an Error named `error`). */
function oauthError(ctx: Ctx, error: string, description: string, status = 400): null {
  sendJson(ctx, status, { error, error_description: description });
  return null;
}

function jwtSubject(assertion: string, clientId: string): string | null {
  const parts = assertion.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
    if (claims.iss !== clientId || typeof claims.sub !== 'string' || claims.sub === '') return null;
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) return null;
    return claims.sub;
  } catch {
    return null;
  }
}

function grant(ctx: Ctx, p: URLSearchParams): { session: Session; refresh: boolean } | null {
  const o = ctx.state.options;
  const type = p.get('grant_type') ?? '';
  const basic = /^Basic (.+)$/.exec(ctx.req.headers.authorization ?? '')?.[1];
  if (basic) {
    // RFC 6749 2.3.1: client credentials may come as HTTP Basic instead of form fields.
    const [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':');
    if (id !== undefined && !p.has('client_id')) p.set('client_id', decodeURIComponent(id));
    if (secret !== undefined && !p.has('client_secret')) p.set('client_secret', decodeURIComponent(secret));
  }
  const clientOk = p.get('client_id') === o.clientId && p.get('client_secret') === o.clientSecret;
  const base = { clientId: o.clientId, issuedAt: Date.now() };
  if (type === 'client_credentials' || type === 'password' || type === 'authorization_code') {
    if (!clientOk) return oauthError(ctx, 'invalid_client', 'invalid client credentials');
    if (type === 'password' && (p.get('username') !== o.username || p.get('password') !== o.password)) {
      return oauthError(ctx, 'invalid_grant', 'authentication failure');
    }
    if (type === 'authorization_code' && !p.get('code')) return oauthError(ctx, 'invalid_grant', 'invalid authorization code');
    return { session: { ...base, username: p.get('username') ?? o.username }, refresh: type !== 'client_credentials' };
  }
  if (type === JWT_GRANT) {
    const sub = jwtSubject(p.get('assertion') ?? '', o.clientId);
    if (!sub) return oauthError(ctx, 'invalid_grant', 'invalid assertion');
    return { session: { ...base, username: sub }, refresh: false };
  }
  if (type === 'refresh_token') {
    const s = ctx.state.tokens.refreshSession(p.get('refresh_token') ?? '');
    if (!s || p.get('client_id') !== o.clientId) return oauthError(ctx, 'invalid_grant', 'expired access/refresh token');
    return { session: { ...s, issuedAt: Date.now() }, refresh: false };
  }
  return oauthError(ctx, 'unsupported_grant_type', 'grant type not supported');
}

export async function handleToken(ctx: Ctx): Promise<void> {
  const params = new URLSearchParams((await readBody(ctx.req)).toString('utf8'));
  const g = grant(ctx, params);
  if (!g) return;
  const { state } = ctx;
  const { accessToken, refreshToken } = state.tokens.issue(g.session, g.refresh);
  const id = `${ctx.baseUrl}/id/${state.orgId}/${state.userId}`;
  const issuedAt = String(g.session.issuedAt);
  const signature = createHmac('sha256', state.options.clientSecret)
    .update(id + issuedAt)
    .digest('base64');
  sendJson(ctx, 200, {
    access_token: accessToken,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    signature,
    scope: 'api refresh_token',
    instance_url: ctx.baseUrl,
    id,
    token_type: 'Bearer',
    issued_at: issuedAt,
  });
}

export async function handleRevoke(ctx: Ctx): Promise<void> {
  const params = new URLSearchParams((await readBody(ctx.req)).toString('utf8'));
  ctx.state.tokens.revoke(params.get('token') ?? ctx.query.get('token') ?? '');
  sendEmpty(ctx, 200);
}

/** Bearer token from the Authorization header (or `oauth_token` query, which jsforce's identity() uses). */
export function bearer(ctx: Ctx): Session | undefined {
  const h = ctx.req.headers.authorization ?? '';
  const token = h.startsWith('Bearer ') ? h.slice(7).trim() : (ctx.query.get('oauth_token') ?? '');
  return ctx.state.tokens.check(token);
}

export function sendInvalidSession(ctx: Ctx): void {
  sendJson(ctx, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }], { 'WWW-Authenticate': 'Token' });
}

export function handleIdentity(ctx: Ctx): void {
  const session = bearer(ctx);
  if (!session) return sendInvalidSession(ctx);
  const { state } = ctx;
  const v = '62.0';
  const rest = `${ctx.baseUrl}/services/data/v{version}/`;
  sendJson(ctx, 200, {
    id: `${ctx.baseUrl}/id/${state.orgId}/${state.userId}`,
    asserted_user: true,
    user_id: state.userId,
    organization_id: state.orgId,
    username: session.username,
    nick_name: 'integration',
    display_name: 'Syncline Integration',
    email: 'integration@syncline.example',
    email_verified: true,
    active: true,
    user_type: 'STANDARD',
    language: 'en_US',
    locale: 'en_US',
    utcOffset: 0,
    is_app_installed: true,
    last_modified_date: '2026-01-01T00:00:00.000+0000',
    urls: {
      rest,
      sobjects: `${rest}sobjects/`,
      query: `${rest}query/`,
      limits: `${rest}limits/`,
      profile: `${ctx.baseUrl}/${state.userId}`,
      custom_domain: ctx.baseUrl,
      apiVersion: v,
    },
  });
}
