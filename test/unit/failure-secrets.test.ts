/**
 * The activity boundary (activities/failure.ts `toFailure`) leaves out of every failure message what
 * common/redact.ts `withoutSecrets` names: a URL's password and query string, an Authorization header's
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

test('withoutSecrets: passwords, query strings, Authorization values, credential fields; the rest stays', () => {
  expect(withoutSecrets('request to https://svc:s3cret@api.example.com/v1/x?access_token=s3cret&q=1 failed, reason: refused')).toBe(
    'request to https://svc:…@api.example.com/v1/x?… failed, reason: refused',
  );
  expect(withoutSecrets('GET https://ghp_s3cret@github.com/o/r.git: 403')).toBe('GET https://…@github.com/o/r.git: 403');
  expect(withoutSecrets('postgres://app:s3cret@db:5432/app?sslmode=require unreachable')).toBe(
    'postgres://app:…@db:5432/app?… unreachable',
  );
  expect(withoutSecrets(`see https://x.example.com/a/query?q=SELECT+Id+WHERE+Email%3D%27ann@example.com%27#frag.`)).toBe(
    'see https://x.example.com/a/query?…',
  );
  expect(withoutSecrets('{"url":"https://h/p?k=s3cret","status":401}')).toBe('{"url":"https://h/p?…","status":401}');
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
  expect([af.type, af.nonRetryable, af.message, af.details]).toEqual(['HTTP_404', true, 'at https://h/p?…', [{ n: 1 }]]);
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
  expect(withoutSecrets('GET ' + 'x'.repeat(40) + 'https://svc:s3cret@h/p?k=s3cret')).toBe('GET ' + 'x'.repeat(40) + 'https://svc:…@h/p?…');
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
