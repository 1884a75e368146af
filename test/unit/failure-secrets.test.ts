/**
 * The activity boundary (activities/failure.ts `toFailure`) leaves out of every failure message what
 * common/redact.ts `withoutSecrets` names: a URL's password and query values, an Authorization header's
 * value, a credential field's value. Whichever connector or library wrote the message.
 * (The same through a real Temporal dev server: test/integration/failure-secrets.test.ts.)
 */
import { ApplicationFailure } from '@temporalio/common';
import { SyncError } from '../../common/errors';
import { withoutSecrets } from '../../common/redact';
import { toFailure } from '../../activities/failure';
import { toSyncError as salesforceError } from '../../connectors/salesforce/errors';
import { toSyncError as actitoError } from '../../connectors/actito/errors';

const SECRET = /s3cret|ann@example\.com/;

test('withoutSecrets: passwords, query values, Authorization values, credential fields; the rest stays', () => {
  expect(withoutSecrets('request to https://svc:s3cret@api.example.com/v1/x?access_token=s3cret&q=1 failed, reason: refused')).toBe(
    'request to https://svc:…@api.example.com/v1/x?access_token=…&q=… failed, reason: refused',
  );
  expect(withoutSecrets('GET https://ghp_s3cret@github.com/o/r.git: 403')).toBe('GET https://…@github.com/o/r.git: 403');
  expect(withoutSecrets('postgres://app:s3cret@db:5432/app?sslmode=require unreachable')).toBe(
    'postgres://app:…@db:5432/app?sslmode=require unreachable',
  );
  expect(withoutSecrets(`see https://x.example.com/a/query?q=SELECT+Id+WHERE+Email%3D%27ann@example.com%27#frag.`)).toBe(
    'see https://x.example.com/a/query?q=…#…',
  );
  expect(withoutSecrets('{"url":"https://h/p?k=s3cret","status":401}')).toBe('{"url":"https://h/p?k=…","status":401}');
  expect(withoutSecrets('headers: {"Authorization":"Bearer s3cret","Accept":"application/json"}')).toBe(
    'headers: {"Authorization":"…","Accept":"application/json"}',
  );
  expect(withoutSecrets('Authorization: Basic czNjcmV0Onh4\nX-Api-Key: s3cret')).toBe('Authorization: …\nX-Api-Key: …');
  expect(withoutSecrets('token refused (Bearer s3cret.abc-def)')).toBe('token refused (Bearer …)');
  expect(withoutSecrets('body grant_type=client_credentials&client_secret=s3cret&password=s3cret')).toBe(
    'body grant_type=client_credentials&client_secret=…&password=…',
  );
  // What says what failed stays: plain URLs, configuration problems, Postgres' words.
  for (const plain of [
    'https://login.example.com/services/oauth2/token answered 503 Service Unavailable',
    'connection "sf": password: Required',
    'password authentication failed for user "syncline"',
    'column "emial" does not exist',
  ])
    expect(withoutSecrets(plain)).toBe(plain);
});

test('withoutSecrets answers a text without "://", a credential name or "Bearer" after one quick test, and misses none: every name its patterns know, in any case', () => {
  const names = [
    'Authorization',
    'PROXY-AUTHORIZATION',
    'Cookie',
    'set-cookie',
    'X-Api-Key',
    'api-key',
    'ACCESS_TOKEN',
    'refresh_token',
    'id_token',
    'Client_Secret',
    'client_assertion',
    'Password',
    'passwd',
    'apikey',
    'api_key',
    'secretkey',
    'secret_key',
    'sessionid',
    'Session_Id',
    'signature',
    // (h15)
    'token',
    'GITHUB_TOKEN',
    'apiToken',
    'secret',
    'sig',
    'AccountKey',
    'SharedAccessKey',
    'X-Auth-Token',
    'Private-Token',
    'Ocp-Apim-Subscription-Key',
    'X-Hub-Signature-256',
  ];
  for (const n of names) {
    expect([n, withoutSecrets(`refused: ${n}=s3cret`)]).toEqual([n, `refused: ${n}=…`]);
    expect([n, withoutSecrets(`refused: {"${n}":"s3cret"}`)]).toEqual([n, `refused: {"${n}":"…"}`]);
  }
  expect(withoutSecrets('refused (Bearer s3cret)')).toBe('refused (Bearer …)');
  expect(withoutSecrets('at ftp://u:s3cret@h/p')).toBe('at ftp://u:…@h/p');
  // A row answer with none of them comes back as it is (the same string).
  const plain = 'INVALID_EMAIL_ADDRESS: Email: invalid email address: x@example.com; quantity=3';
  expect(withoutSecrets(plain)).toBe(plain);
});

test('toFailure: a SyncError, an ApplicationFailure and an error passed through all lose their secrets', () => {
  const lib = new TypeError(
    'Request cannot be constructed from a URL that includes credentials: https://u:s3cret@h.example.com/p?access_token=s3cret',
  );
  const cases: unknown[] = [
    // The Salesforce connector's own words (its withoutRowValues strips the query string, not the password).
    salesforceError(lib, 'activation "a"'),
    actitoError(lib, 'activation "a"'),
    new SyncError('AUTH_FAILED', `refused: ${lib.message} (Authorization: Bearer s3cret)`, { retryable: false }),
    ApplicationFailure.nonRetryable(`webhook https://hooks.example.com/x?token=s3cret answered 404`, 'HTTP_404'),
    lib,
    new Error('wrapped', { cause: lib }),
  ];
  for (const c of cases) {
    const f = toFailure(c) as ApplicationFailure;
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect({ text: `${f.message} ${f.stack} ${String(f.cause?.message)}`.match(SECRET)?.[0] ?? null, from: String(c) }).toEqual({
      text: null,
      from: String(c),
    });
  }
  // Typed and retried as before: a library error keeps its class as type; a SyncError its code and retry.
  expect((toFailure(lib) as ApplicationFailure).type).toBe('TypeError');
  expect((toFailure(lib) as ApplicationFailure).nonRetryable).toBe(false);
  const cfg = toFailure(new SyncError('AUTH_FAILED', `x https://u:s3cret@h/`, { retryable: false })) as ApplicationFailure;
  expect([cfg.type, cfg.nonRetryable, cfg.message]).toEqual(['AUTH_FAILED', true, 'x https://u:…@h/']);
  const af = toFailure(ApplicationFailure.nonRetryable('at https://h/p?k=s3cret', 'HTTP_404', { n: 1 })) as ApplicationFailure;
  expect([af.type, af.nonRetryable, af.message, af.details]).toEqual(['HTTP_404', true, 'at https://h/p?k=…', [{ n: 1 }]]);
  // Nothing to leave out: the same object, as before.
  const plain = new Error('socket hang up');
  expect(toFailure(plain)).toBe(plain);
  const same = ApplicationFailure.retryable('https://h/p answered 503', 'HTTP_503');
  expect(toFailure(same)).toBe(same);
});

test('withoutSecrets on a long message: dotted words or URLs without a query after a credential name come back unchanged (rev19)', () => {
  // A 160 KB answer: a dotted run ("a.b.c…", each letter could start a URL scheme) and URLs without a query
  // separated by commas (each could start a query string running to the end of the run). Before the fix each
  // took 22 s (quadratic backtracking); how the time grows with the length is measured by
  // `npm run bench -- redact` (timings are never asserted in tests).
  for (const text of ['token refused: ' + 'a.'.repeat(80_000), 'token refused: ' + 'http://a/,'.repeat(16_000)]) {
    expect(withoutSecrets(text)).toBe(text);
  }
  // A scheme glued to a longer word, or to "_", is still a URL's: its credentials go.
  expect(withoutSecrets('GET ' + 'x'.repeat(40) + 'https://svc:s3cret@h/p?k=s3cret')).toBe(
    'GET ' + 'x'.repeat(40) + 'https://svc:…@h/p?k=…',
  );
  expect(withoutSecrets('url_https://svc:s3cret@h/p')).toBe('url_https://svc:…@h/p');
}, 120_000);

test('withoutSecrets: credential fields as configurations and token answers spell them (camelCase, a prefix, a quoted value with a blank) (rev19)', () => {
  for (const [text, want] of [
    // Syncline's own connection fields (Salesforce accessToken, clientSecret) and Actito's /auth/token answer.
    ['answered {"accessToken":"s3cret","expiresIn":900}', 'answered {"accessToken":"…","expiresIn":900}'],
    ['{"auth":"client_credentials","clientSecret":"s3cret"}', '{"auth":"client_credentials","clientSecret":"…"}'],
    ['refreshToken=s3cret&idToken=s3cret', 'refreshToken=…&idToken=…'],
    ['{"authToken":"s3cret","auth_token":"s3cret"}', '{"authToken":"…","auth_token":"…"}'],
    ['"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIs3cret"', '"private_key": "…"'],
    ['env DB_PASSWORD=s3cret SF_CLIENT_SECRET=s3cret', 'env DB_PASSWORD=… SF_CLIENT_SECRET=…'],
    ['password="s3cret phrase" rejected', 'password="…" rejected'],
    ["{'password': 's3cret phrase'}", "{'password': '…'}"],
    ['{"password":"s3cret \\" phrase","user":"u"}', '{"password":"…","user":"u"}'],
  ]) {
    expect(withoutSecrets(text!)).toBe(want);
  }
  // Field names and words that hold no credential stay.
  for (const plain of [
    'Password__c: data value too large',
    'REQUIRED_FIELD_MISSING: Required fields are missing: [Password__c, Api_Key__c]',
    'connection "sf": accessToken: Required',
    'INVALID_SESSION_ID: Session expired or invalid',
  ]) {
    expect(withoutSecrets(plain)).toBe(plain);
  }
});

test('withoutSecrets: a bare token or secret field, a token-bearing header, a cookie whole, URL-encoded credentials (h15)', () => {
  for (const [text, want] of [
    // A field named just `token` or `secret`, or ending so (GITHUB_TOKEN, apiToken), in each form.
    ['refused: token=s3cret&x=1', 'refused: token=…&x=1'],
    ['answered {"token":"s3cret","expires":60}', 'answered {"token":"…","expires":60}'],
    ["{'token': 's3cret'}", "{'token': '…'}"],
    ['env GITHUB_TOKEN=s3cret apiToken=s3cret', 'env GITHUB_TOKEN=… apiToken=…'],
    ['{"secret":"s3cret"} webhook_secret=s3cret', '{"secret":"…"} webhook_secret=…'],
    ['AccountName=a;AccountKey=s3cret;EndpointSuffix=core', 'AccountName=a;AccountKey=…;EndpointSuffix=core'],
    // `name: value` as a log line or YAML writes it: a value that is not a plain word or a status.
    ['config access_token: s3cret\nuser: u', 'config access_token: …\nuser: u'],
    ['invalid token: eyJhbGciOiJIUzI1NiJ9.s3cret', 'invalid token: …'],
    ['token: abcdef.s3cret', 'token: …'],
    ['password: "s3cret phrase" rejected', 'password: "…" rejected'],
    // Headers that carry a credential, as a dump or JSON writes them.
    ['X-Auth-Token: s3cret\nAccept: application/json', 'X-Auth-Token: …\nAccept: application/json'],
    ['{"X-Auth-Token":"s3cret","X-Request-Id":"r-1"}', '{"X-Auth-Token":"…","X-Request-Id":"r-1"}'],
    ['X-Amz-Security-Token: s3cret', 'X-Amz-Security-Token: …'],
    ['X-Vault-Token: s3cret', 'X-Vault-Token: …'],
    ['Private-Token: s3cret', 'Private-Token: …'],
    ['Ocp-Apim-Subscription-Key: s3cret', 'Ocp-Apim-Subscription-Key: …'],
    ['X-Hub-Signature-256: sha256=s3cret', 'X-Hub-Signature-256: …'],
    ['Proxy-Authorization: Basic s3cret', 'Proxy-Authorization: …'],
    ['form Authorization=Basic czNjcmV0 sent', 'form Authorization=… sent'],
    ['GET https://h/p?X-Amz-Security-Token=s3cret 403', 'GET https://h/p?X-Amz-Security-Token=… 403'],
    // A cookie's value whole: its pairs are separated by `;`, Set-Cookie's joined by `, `, or an array.
    ['Cookie: a=1; sid=s3cret', 'Cookie: …'],
    ['Set-Cookie: sid=s3cret; Path=/, other=s3cret; Path=/', 'Set-Cookie: …'],
    ["{ 'set-cookie': [ 'a=1', 'sid=s3cret' ] }", "{ 'set-cookie': … }"],
    ['{"cookie":"a=1; sid=s3cret","host":"h"}', '{"cookie":"…","host":"h"}'],
    // URL-encoded: a URL passed as a parameter, a form body encoded again.
    [
      'redirect_uri=https%3A%2F%2Fh.example.com%2Fcb%3Faccess_token%3Ds3cret%26a%3D1 rejected',
      'redirect_uri=https%3A%2F%2Fh.example.com%2Fcb%3F… rejected',
    ],
    ['body access_token%3Ds3cret%26state%3Dxyz', 'body access_token%3D…%26state%3Dxyz'],
    ['body password%3Ds3cret', 'body password%3D…'],
    ['next=https%3A%2F%2Fuser%3As3cret%40host.example.com%2Fp', 'next=https%3A%2F%2Fuser%3A…%40host.example.com%2Fp'],
    ['at https%3a%2f%2fghp_s3cret%40github.com%2Fo', 'at https%3a%2f%2f…%40github.com%2Fo'],
  ]) {
    expect([text, withoutSecrets(text!)]).toEqual([text, want]);
  }
  // Words that hold no credential stay: a status after "token:", a validation message, other headers.
  for (const plain of [
    'refresh token: 400 Bad Request',
    'token: expired.',
    '(refresh token: 401)',
    "MALFORMED_QUERY: unexpected token: 'FROM'",
    'connection "sf": clientSecret: Required',
    'max_tokens=100 exceeded',
    'X-Request-Id: r-1',
    'X-Authenticated-User: svc',
    'redirect_uri=https%3A%2F%2Fh.example.com%2Fcb mismatch',
  ]) {
    expect(withoutSecrets(plain)).toBe(plain);
  }
});

test("withoutSecrets: a URL's query keeps its parameters' names and the values of paging and format parameters; every other value goes (h15)", () => {
  for (const plain of [
    'GET https://api.example.com/v1/contacts?page=2&limit=100 answered 500',
    'GET https://api.example.com/v1/contacts?offset=200&per_page=50&sort=name&fields=id,email&format=json answered 500',
    'https://h.example.com/odata?$top=100&$skip=200&api-version=2023-01-01 timed out',
    'postgres://app:…@db:5432/app?sslmode=require unreachable',
  ]) {
    expect(withoutSecrets(plain)).toBe(plain);
  }
  for (const [text, want] of [
    // A value of any other parameter: keys, signatures, codes, queries, row values.
    [
      'https://h/p?page=2&access_token=s3cret&q=SELECT+Id+WHERE+Email%3D%27ann@example.com%27#frag',
      'https://h/p?page=2&access_token=…&q=…#…',
    ],
    [
      'PUT https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2Fs3cret&X-Amz-Signature=s3cret&X-Amz-Expires=300 403',
      'PUT https://b.s3.amazonaws.com/k?X-Amz-Credential=…&X-Amz-Signature=…&X-Amz-Expires=… 403',
    ],
    ['https://a.blob.core.windows.net/c?sv=2022-11-02&sig=s3cret', 'https://a.blob.core.windows.net/c?sv=…&sig=…'],
    ['https://app/cb?code=s3cret&state=s3cret', 'https://app/cb?code=…&state=…'],
    ['https://h/p?email=ann@example.com&id=42', 'https://h/p?email=…&id=…'],
    ['https://h/p?v=ann&version=2', 'https://h/p?v=…&version=2'],
    ['https://h/p/callback#access_token=s3cret&token_type=bearer', 'https://h/p/callback#access_token=…&token_type=…'],
    // A paging parameter with a value that is not a plain word or number, a part without a name, an odd name.
    ['https://h/p?page=ann@example.com&limit=1%27%20OR', 'https://h/p?page=…&limit=…'],
    ['https://h/p?page=Y3Vyc29yOmFubg&sort=ann@example.com', 'https://h/p?page=…&sort=…'],
    ['https://h/p?s3cret&page=2', 'https://h/p?…&page=2'],
    ['https://h/p?ann@example.com=1', 'https://h/p?…'],
    ['https://h/p?page=2&&', 'https://h/p?page=2&&'],
  ]) {
    expect([text, withoutSecrets(text!)]).toEqual([text, want]);
  }
});

test('withoutSecrets: an Authorization written name=value keeps no part of its credential, whatever its scheme (rev23)', () => {
  // Before h15 the value went whole to a quote, comma, semicolon, brace or line end; h15 took one word after a
  // scheme it knew (Basic, Bearer, Digest, Token, Negotiate, NTLM) and left the credential after any other
  // scheme: Salesforce's own `OAuth <session id>`, Okta's `SSWS`, Azure's `SharedKey`, AWS's Credential.
  for (const [text, want] of [
    ['form Authorization=OAuth 00D5g000004s3cret!AQ0s3cret sent', 'form Authorization=… sent'],
    ['form Authorization=SSWS 00s3cret sent', 'form Authorization=… sent'],
    ['Proxy-Authorization=Zoho-oauthtoken 1000.s3cret', 'Proxy-Authorization=…'],
    ['authorization=SharedKey account:s3cret', 'authorization=…'],
    [
      'authorization=AWS4-HMAC-SHA256 Credential=AKIAs3cret/20260101, SignedHeaders=host, Signature=s3cret',
      'authorization=…, SignedHeaders=host, Signature=…',
    ],
    // Unchanged: a known scheme, a quoted value, a bare word.
    ['form Authorization=Basic czNjcmV0 sent', 'form Authorization=… sent'],
    ['authorization="OAuth s3cret phrase" sent', 'authorization="…" sent'],
    ['authorization=s3cret, then', 'authorization=…, then'],
  ]) {
    expect([text, withoutSecrets(text!)]).toEqual([text, want]);
  }
  // A credential without a scheme cannot be told from a scheme: the word after it goes too.
  expect(withoutSecrets('authorization=s3cret sent')).toBe('authorization=…');
  // A key header written name=value still takes one word: the text after it stays.
  expect(withoutSecrets('x-api-key=s3cret was refused')).toBe('x-api-key=… was refused');
});
