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
