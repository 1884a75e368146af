/**
 * Legacy SOAP `login()` (`POST /services/Soap/u/{v}`), which jsforce uses for `conn.login(u, p)` when no OAuth
 * client is configured. Retired from API v65.0 (API notes §1, Trap 1): those versions answer a SOAP fault.
 * jsforce only regex-extracts serverUrl, sessionId, userId, organizationId and passwordExpired.
 */
import { readBody, sendText, type Ctx } from './http';

function tag(xml: string, name: string): string {
  const m = new RegExp(`<(?:\\w+:)?${name}>([^<]*)</(?:\\w+:)?${name}>`).exec(xml);
  return (m?.[1] ?? '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function fault(ctx: Ctx, code: string, message: string): void {
  sendText(
    ctx,
    500,
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:${code}</faultcode><faultstring>${code}: ${message}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
    'text/xml; charset=utf-8',
  );
}

export async function handleSoapLogin(ctx: Ctx, version: string): Promise<void> {
  const xml = (await readBody(ctx.req)).toString('utf8');
  const { state } = ctx;
  if (Number(version) >= 65)
    return fault(ctx, 'UNSUPPORTED_API_VERSION', `SOAP login() is not available in API version ${version}; use OAuth`);
  const username = tag(xml, 'username');
  if (username !== state.options.username || tag(xml, 'password') !== state.options.password) {
    return fault(ctx, 'INVALID_LOGIN', 'Invalid username, password, security token; or user locked out.');
  }
  const { accessToken } = state.tokens.issue({ clientId: 'soap', username, issuedAt: Date.now() }, false);
  const serverUrl = `${ctx.baseUrl}/services/Soap/u/${version}/${state.orgId.slice(0, 15)}`;
  sendText(
    ctx,
    200,
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result><metadataServerUrl>${ctx.baseUrl}/services/Soap/m/${version}/${state.orgId.slice(0, 15)}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox><serverUrl>${serverUrl}</serverUrl><sessionId>${accessToken}</sessionId><userId>${state.userId}</userId><userInfo><organizationId>${state.orgId}</organizationId><userName>${username}</userName></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>`,
    'text/xml; charset=utf-8',
  );
}
