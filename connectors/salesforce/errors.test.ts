import jsforce from 'jsforce';
import net from 'node:net';
import { QuotaWaitError, SyncError } from '../../common/errors';
import { bulkJobFailure, isConfigJobFailure, isRetryableRowError, parseBulkError, toSyncError } from './errors';

const apiError = (errorCode: string, message = 'x') => Object.assign(new Error(message), { errorCode, name: errorCode });

describe('call errors', () => {
  it.each([
    ['ERROR_HTTP_503', 'DESTINATION_UNAVAILABLE', true],
    ['SERVER_UNAVAILABLE', 'DESTINATION_UNAVAILABLE', true],
    ['ERROR_HTTP_429', 'RATE_LIMITED', true],
    ['INVALID_SESSION_ID', 'AUTH_FAILED', false],
    ['invalid_client', 'AUTH_FAILED', false],
    ['INVALID_FIELD', 'FIELD_UNKNOWN', false],
    ['INVALID_FIELD_FOR_INSERT_UPDATE', 'FIELD_NOT_WRITABLE', false],
    ['NOT_FOUND', 'DESTINATION_NOT_FOUND', false],
    ['SOMETHING_NEW', 'INTERNAL', true],
  ])('%s → %s', (vendor, code, retryable) => {
    const e = toSyncError(apiError(vendor), 'activation "a" (Salesforce Contact)');
    expect(e).toBeInstanceOf(SyncError);
    expect(e.code).toBe(code);
    expect(e.retryable).toBe(retryable);
    expect(e.message).toContain('activation "a"');
  });
  it('daily quota → QuotaWaitError, concurrency limit → RATE_LIMITED', () => {
    const q = toSyncError(apiError('REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'), 'w', { quotaWaitMs: 5000 });
    expect(q).toBeInstanceOf(QuotaWaitError);
    expect((q as QuotaWaitError).waitMs).toBe(5000);
    expect(toSyncError(apiError('REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded'), 'w').code).toBe('RATE_LIMITED');
  });
  it('socket errors are retryable outages', () => {
    const err = Object.assign(new Error('request to http://x failed, reason: socket hang up'), { name: 'FetchError', code: 'ECONNRESET' });
    expect(toSyncError(err, 'w')).toMatchObject({ code: 'DESTINATION_UNAVAILABLE', retryable: true });
  });
  // A call's failure message goes into Temporal history and the run's record: no row value may be in it. The id
  // look-up's SOQL names up to 200 keys (often e-mail addresses) in its URL and its text.
  it('a failed id look-up names no key: jsforce puts the request URL (the SOQL) in a network error', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const conn = new jsforce.Connection({ instanceUrl: `http://127.0.0.1:${closed}`, accessToken: 'token', version: '59.0' });
    const soql = "SELECT Id, Ext__c FROM Contact WHERE Ext__c IN ('ann@example.com','bob)@example.com')";
    const thrown = await conn.request({ method: 'GET', url: `/services/data/v59.0/query?q=${encodeURIComponent(soql)}` }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String((thrown as Error).message)).toContain('example.com'); // what jsforce says
    const e = toSyncError(thrown, 'activation "a" (Salesforce Contact)');
    expect(e).toMatchObject({ code: 'DESTINATION_UNAVAILABLE', retryable: true });
    expect(e.message).toContain(`http://127.0.0.1:${closed}/services/data/v59.0/query?`);
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).not.toMatch(/ann|bob|example/);
  });
  it('a SOQL error names no key: Salesforce echoes the query around the column it points at', () => {
    // The shape Salesforce answers a query with a field it cannot resolve (the text before "ERROR at Row" is the
    // query's line around the column, with a caret under it).
    const echoed =
      "\nSELECT Id, Ext__c FROM Contact WHERE Ext__c IN ('ann@example.com','bob@example.com')\n           ^\nERROR at Row:1:Column:12\nNo such column 'Ext__c' on entity 'Contact'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.";
    for (const code of ['INVALID_FIELD', 'MALFORMED_QUERY']) {
      const e = toSyncError(apiError(code, echoed), 'activation "a" (Salesforce Contact)');
      expect(e.message).not.toMatch(/ann|bob|example/);
      expect(e.message).toContain("ERROR at Row:1:Column:12\nNo such column 'Ext__c' on entity 'Contact'");
    }
  });
  it('a refresh that fails is an auth failure', () => {
    expect(toSyncError(new Error('Unable to refresh session due to: bad'), 'w').code).toBe('AUTH_FAILED');
  });
});

describe('row errors', () => {
  it('classifies retryable codes, including a buried UNABLE_TO_LOCK_ROW', () => {
    expect(isRetryableRowError('UNABLE_TO_LOCK_ROW')).toBe(true);
    expect(isRetryableRowError('ALL_OR_NONE_OPERATION_ROLLED_BACK')).toBe(true);
    expect(isRetryableRowError('CANNOT_EXECUTE_FLOW_TRIGGER', 'UNABLE_TO_LOCK_ROW, unable to obtain exclusive access')).toBe(true);
    for (const c of ['STRING_TOO_LONG', 'DUPLICATE_VALUE', 'INVALID_EMAIL_ADDRESS', 'REQUIRED_FIELD_MISSING'])
      expect(isRetryableRowError(c)).toBe(false);
  });
  it('parses sf__Error strings', () => {
    expect(parseBulkError('REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --')).toEqual({
      code: 'REQUIRED_FIELD_MISSING',
      message: 'Required fields are missing: [Name]',
    });
    expect(parseBulkError('INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--')).toEqual({
      code: 'INVALID_CROSS_REFERENCE_KEY',
      message: 'invalid cross reference id',
    });
  });
  it('bulk job failures name the field', () => {
    const e = bulkJobFailure('InvalidBatch : Field name not found : Foo__c', 'activation "a"');
    expect(e).toMatchObject({ code: 'FIELD_UNKNOWN', retryable: false });
    expect(e.message).toContain('Foo__c');
    expect(isConfigJobFailure('InvalidBatch : Field name not found : Foo__c')).toBe(true);
    expect(isConfigJobFailure('InternalServerError')).toBe(false);
  });
});
