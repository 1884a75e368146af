import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { SyncError } from '../../common/errors';
import { parseExpiresIn } from './client';
import { type ActitoConnection, connectionSchema, hostKey, licenceScope, optionsFor, optionsSchema, resolvePrefixes } from './config';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCompressed } from './bulk-file';
import { buildCsv, compress, csvCell } from './csv';
import { ActitoHttpError, bodyMessage, rowFailure, toSyncError } from './errors';
import { attributeNameProblem, csvText, encodeValue, formatDate, isCompatible, typeForNewAttribute } from './mapping';
import { account } from './import-report';
import { etlDefinition, type ImportStatus, parseImportStatus } from './routes';
import { sameValues } from './single';
import { type BulkState, nextPollMs } from './bulk';
import { findTable, isUniqueAttribute, mandatoryAttributes, parseTableList } from './structure';

describe('type table', () => {
  it('infers the type of a new attribute from the column, unless the mapping names one', () => {
    expect(typeForNewAttribute('int8')).toBe('LONG');
    expect(typeForNewAttribute('numeric')).toBe('NUMBER');
    expect(typeForNewAttribute('timestamptz')).toBe('TIMESTAMP');
    expect(typeForNewAttribute('bool')).toBe('BOOLEAN');
    expect(typeForNewAttribute('text', 'date')).toBe('DATE');
    expect(typeForNewAttribute('text', 'BLOB')).toBeNull();
    expect(typeForNewAttribute('tsvector')).toBeNull();
  });
  it('says which columns an existing attribute can take', () => {
    expect(isCompatible('STRING', 'int4')).toBe(true);
    expect(isCompatible('LONG', 'numeric')).toBe(false);
    expect(isCompatible('NUMBER', 'int8')).toBe(true);
    expect(isCompatible('TIMESTAMP', 'date')).toBe(true);
    expect(isCompatible('DATE', 'timestamptz')).toBe(false);
    expect(isCompatible('BOOLEAN', 'text')).toBe(false);
  });
});

describe('value encoding', () => {
  const d = new Date(Date.UTC(2024, 0, 5, 13, 4, 9));
  it('writes dates and timestamps the Actito way', () => {
    expect(formatDate(d, 'timestamptz', 'TIMESTAMP')).toBe('2024-01-05 13:04:09');
    expect(formatDate(new Date(2024, 0, 5), 'date', 'DATE')).toBe('2024-01-05');
    expect(formatDate(new Date(2024, 0, 5, 7, 8, 9), 'timestamp', 'TIMESTAMP')).toBe('2024-01-05 07:08:09');
  });
  it('int8 and numeric text arrive digit for digit (import CSV cell and JSON call); a float8 is plain decimal, never exponent form', () => {
    const sent = (v: unknown, pgType: string, valueType: string) => {
      const e = encodeValue(v, { pgType, valueType });
      if (!e.ok) return e.message;
      return { csv: csvText(e.value), json: JSON.stringify(e.value) };
    };
    expect(sent('123456789012345678', 'int8', 'LONG')).toEqual({ csv: '123456789012345678', json: '"123456789012345678"' });
    expect(sent('-9223372036854775808', 'int8', 'LONG')).toEqual({ csv: '-9223372036854775808', json: '"-9223372036854775808"' });
    expect(sent('12345678901234.5678', 'numeric', 'NUMBER')).toEqual({ csv: '12345678901234.5678', json: '"12345678901234.5678"' });
    expect(sent(123456789012345678n, 'int8', 'LONG')).toEqual({ csv: '123456789012345678', json: '"123456789012345678"' });
    // JavaScript writes a double below 1e-6 or from 1e21 in exponent form, which Actito's `.` decimals do not include.
    expect(sent(1.5e-7, 'float8', 'NUMBER')).toEqual({ csv: '0.00000015', json: '"0.00000015"' });
    expect(sent(-1e21, 'float8', 'NUMBER')).toEqual({ csv: '-1000000000000000000000', json: '"-1000000000000000000000"' });
    expect(sent(0.1, 'float8', 'NUMBER')).toEqual({ csv: '0.1', json: '0.1' });
    expect(sent(42, 'int4', 'LONG')).toEqual({ csv: '42', json: '42' });
  });
  it('keeps numeric strings, booleans and nulls', () => {
    expect(encodeValue('12345678901234567890.5', { pgType: 'numeric', valueType: 'NUMBER' })).toEqual({
      ok: true,
      value: '12345678901234567890.5',
    });
    expect(encodeValue(true, { pgType: 'bool', valueType: 'BOOLEAN' })).toEqual({ ok: true, value: true });
    expect(encodeValue(null, { pgType: 'text', valueType: 'STRING' })).toEqual({ ok: true, value: null });
    expect(encodeValue({ a: 1 }, { pgType: 'jsonb', valueType: 'STRING' })).toEqual({ ok: true, value: '{"a":1}' });
    // As the write path reads it: Postgres's text, its digits kept; JSON null as null, a string bare.
    expect(encodeValue('{"a": 1, "id": 12345678901234567890}', { pgType: 'jsonb', valueType: 'STRING' })).toEqual({
      ok: true,
      value: '{"a":1,"id":12345678901234567890}',
    });
    expect(encodeValue('null', { pgType: 'json', valueType: 'STRING' })).toEqual({ ok: true, value: null });
    expect(encodeValue('"x"', { pgType: 'json', valueType: 'STRING' })).toEqual({ ok: true, value: 'x' });
  });
  it('refuses or truncates strings over the attribute length', () => {
    expect(encodeValue('x'.repeat(300), { pgType: 'text', valueType: 'STRING' }).ok).toBe(false);
    expect(encodeValue('abcdef', { pgType: 'text', valueType: 'STRING', maxLength: 3, truncate: true })).toEqual({
      ok: true,
      value: 'abc',
    });
  });
});

describe('attribute names', () => {
  it('accepts technical names up to 50 characters', () => {
    expect(attributeNameProblem('loyaltyTier_2')).toBeNull();
    expect(attributeNameProblem('a'.repeat(51))).toMatch(/at most 50/);
    expect(attributeNameProblem('2fast')).toMatch(/start with a letter/);
    expect(attributeNameProblem('with space')).toMatch(/not a valid/);
  });
});

describe('import files', () => {
  it('quotes cells and has no BOM', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"\n')).toBe('"say ""hi""\n"');
    expect(csvCell('cr\ronly')).toBe('"cr\ronly"');
    expect(csvCell('lf\nonly')).toBe('"lf\nonly"');
    const csv = buildCsv(
      ['orderId', 'note'],
      [
        ['A1', 'x,y'],
        ['A2', ''],
      ],
    );
    expect(csv[0]).not.toBe(0xef);
    expect(csv.toString()).toBe('orderId,note\r\nA1,"x,y"\r\nA2,\r\n');
  });
  it('compresses as GZIP or as a ZIP with one entry', () => {
    const csv = buildCsv(['k'], [['1'], ['2']]);
    expect(gunzipSync(compress(csv, 'GZIP')).toString()).toBe(csv.toString());
    const zip = compress(csv, 'ZIP', 'data.csv');
    expect(zip.readUInt32LE(0)).toBe(0x04034b50);
    const nameLen = zip.readUInt16LE(26);
    const packedLen = zip.readUInt32LE(18);
    expect(zip.subarray(30, 30 + nameLen).toString()).toBe('data.csv');
    expect(inflateRawSync(zip.subarray(30 + nameLen, 30 + nameLen + packedLen)).toString()).toBe(csv.toString());
    expect(zip.readUInt32LE(zip.length - 22)).toBe(0x06054b50);
  });
  it('streams a file byte for byte like the in-memory compressors (GZIP, ZIP with one entry)', async () => {
    const pieces = ['k,note\r\n', ...Array.from({ length: 3000 }, (_, i) => `${i},"x,é ${i}"\r\n`)];
    const csv = Buffer.from(pieces.join(''), 'utf8');
    async function* gen(): AsyncIterable<string> {
      yield* pieces;
    }
    for (const kind of ['GZIP', 'ZIP'] as const) {
      const path = join(tmpdir(), `actito-unit-${process.pid}-${kind}`);
      try {
        const bytes = await writeCompressed(path, kind, gen());
        const file = await readFile(path);
        expect(file.length).toBe(bytes);
        if (kind === 'GZIP') expect(gunzipSync(file).equals(csv)).toBe(true);
        else {
          const nameLen = file.readUInt16LE(26);
          const packedLen = file.readUInt32LE(18);
          expect(file.readUInt32LE(0)).toBe(0x04034b50);
          expect(file.readUInt32LE(14)).toBe(crc32(csv));
          expect(file.readUInt32LE(22)).toBe(csv.length);
          expect(file.subarray(30, 30 + nameLen).toString()).toBe('data.csv');
          expect(inflateRawSync(file.subarray(30 + nameLen, 30 + nameLen + packedLen)).equals(csv)).toBe(true);
          const end = file.length - 22;
          expect(file.readUInt32LE(end)).toBe(0x06054b50);
          expect(file.readUInt32LE(end + 16)).toBe(30 + nameLen + packedLen); // central directory offset
          expect(file.readUInt32LE(file.readUInt32LE(end + 16))).toBe(0x02014b50);
        }
      } finally {
        await rm(path, { force: true });
      }
    }
  });
});

describe('errors', () => {
  it('reads the message out of any error body', () => {
    expect(bodyMessage({ status: 400, message: 'validation failed', errors: [{ field: 'amount', message: 'not a number' }] })).toBe(
      'validation failed; amount: not a number',
    );
    expect(bodyMessage('plain')).toBe('plain');
    expect(bodyMessage(null)).toBe('');
  });
  it('maps statuses to stable codes', () => {
    const e = (s: number): SyncError => toSyncError(new ActitoHttpError(s, 'GET', '/x', null), 'Reading');
    expect([e(429).code, e(429).retryable]).toEqual(['RATE_LIMITED', true]);
    expect([e(503).code, e(503).retryable]).toEqual(['DESTINATION_UNAVAILABLE', true]);
    expect([e(401).code, e(401).retryable]).toEqual(['AUTH_FAILED', false]);
    expect(e(403).code).toBe('AUTH_FAILED');
    expect(e(404).code).toBe('DESTINATION_NOT_FOUND');
    expect(toSyncError(new TypeError('fetch failed'), 'Reading').retryable).toBe(true);
  });
  it('turns a 4xx on one row into row data and rethrows batch-wide errors', () => {
    expect(rowFailure(new ActitoHttpError(400, 'POST', '/r', { message: 'bad' }))).toEqual({
      code: 'ACTITO_INVALID_VALUE',
      message: 'bad',
      retryable: false,
    });
    expect(rowFailure(new ActitoHttpError(404, 'PUT', '/r', null)).code).toBe('ACTITO_NOT_FOUND');
    expect(() => rowFailure(new ActitoHttpError(500, 'POST', '/r', null))).toThrow(SyncError);
  });
});

describe('structures (fixtures shaped as the API notes show them)', () => {
  const custom = {
    customTables: [
      {
        id: '1b2c',
        name: 'orders',
        type: 'INTERACTIONS',
        primaryKeyAttribute: 'orderId',
        bigTable: false,
        attributes: [
          { name: 'orderId', valueType: 'STRING', mandatory: true, indexed: true, unique: true, valueRestriction: { maxLength: 50 } },
          { name: 'customerId', valueType: 'STRING', mandatory: true, indexed: true, unique: false },
          { name: 'amount', valueType: 'NUMBER', mandatory: false, indexed: false, unique: false },
        ],
        foreignKeys: [
          {
            name: 'fk',
            attribute: 'customerId',
            reference: { tableType: 'PROFILE_TABLE', tableId: '16', attribute: 'customerId' },
            onDelete: 'CASCADE',
          },
        ],
      },
    ],
  };
  it('parses a custom table', () => {
    const [t] = parseTableList(custom);
    expect(t?.attributes.get('orderId')).toEqual({ name: 'orderId', valueType: 'STRING', mandatory: true, unique: true, maxLength: 50 });
    expect(t?.foreignKeys).toEqual([{ attribute: 'customerId', tableType: 'PROFILE_TABLE', tableId: '16', refAttribute: 'customerId' }]);
    expect(isUniqueAttribute(t!, 'orderId')).toBe(true);
    expect(isUniqueAttribute(t!, 'customerId')).toBe(false);
    expect(mandatoryAttributes(t!)).toEqual(['orderId', 'customerId']);
    expect(findTable(parseTableList(custom), '1b2c')?.name).toBe('orders');
  });
  it('reads predefined profile attributes as STRING', () => {
    const [p] = parseTableList([
      {
        id: '16',
        name: 'main',
        attributes: [
          { type: 'EMAIL_ADDRESS', name: 'emailAddress', unique: true, mandatory: false },
          { type: 'CUSTOM', name: 'points', valueType: 'INTEGER', unique: false, mandatory: false },
        ],
      },
    ]);
    expect(p?.attributes.get('emailAddress')?.valueType).toBe('STRING');
    expect(p?.attributes.get('points')?.valueType).toBe('INTEGER');
  });
  it('parses an execution report', () => {
    const s = parseImportStatus({
      id: 'x',
      status: 'WITH_ERROR',
      counts: { read: 5, created: 3, updated: 1, rejected: 1 },
      errorCount: 1,
      errors: [{ line: 3, key: 'A2', attribute: 'amount', code: 'INVALID_TYPE', message: 'not a number' }],
    });
    expect(s).toEqual({
      status: 'WITH_ERROR',
      finished: true,
      failed: false,
      withErrors: true,
      errorTotal: 1,
      errorsComplete: true,
      counts: { imported: 4, rejected: 1 },
      errors: [{ line: 3, key: 'A2', code: 'INVALID_TYPE', message: 'amount: not a number' }],
    });
    // A message that already names its attribute is not prefixed twice.
    expect(
      parseImportStatus({ status: 'WITH_ERROR', errors: [{ line: 3, attribute: 'status', message: "status: 'X' is not one of NEW" }] })
        .errors[0]?.message,
    ).toBe("status: 'X' is not one of NEW");
    expect(parseImportStatus({ status: 'RUNNING' }).finished).toBe(false);
    expect(parseImportStatus({ status: 'SUCCESS', counts: { created: 2 } })).toMatchObject({ counts: null, errorTotal: null });
  });
  describe('accounting for every line of an import (fail closed)', () => {
    const err = (line: number | null, key: string | null, code: string | null = 'INVALID_TYPE') => ({ line, key, code, message: 'bad' });
    const report = (over: Partial<ImportStatus>): ImportStatus => ({ ...parseImportStatus({ status: 'SUCCESS' }), ...over });
    const never = () => false;
    it('accounts for a clean report and for named rejections', () => {
      expect(account(report({ counts: { imported: 10, rejected: 0 } }), 10, never, true)).toMatchObject({ placed: 0, unaccounted: null });
      const a = account(
        report({
          status: 'WITH_ERROR',
          withErrors: true,
          errors: [err(3, 'A'), err(3, 'A'), err(5, null)],
          errorTotal: 3,
          counts: { imported: 8, rejected: 2 },
        }),
        10,
        never,
        true,
      );
      expect([a.placed, a.unaccounted, a.byKey.get('A')?.length, a.byLine.get(5)?.length]).toEqual([3, null, 2, 1]);
      // Rejections that are no failure (a re-sent CREATE_ONLY line) still account for their line.
      const again = account(
        report({ withErrors: true, errors: [err(null, null, 'ALREADY_EXISTS')], counts: { imported: 9, rejected: 1 } }),
        10,
        (e) => e.code === 'ALREADY_EXISTS',
        true,
      );
      expect([again.placed, again.unaccounted]).toEqual([0, null]);
    });
    it('does not account for lines the counts or the error list leave out', () => {
      expect(account(report({ counts: { imported: 9, rejected: 0 } }), 10, never, true).unaccounted).toBe(
        'it counts 9 lines imported and 0 rejected, but 10 were sent',
      );
      expect(account(report({ counts: { imported: 8, rejected: 2 }, errors: [err(3, 'A')] }), 10, never, true).unaccounted).toBe(
        'it counts 2 rejected lines but names 1',
      );
      expect(account(report({ errors: [err(null, null)] }), 10, never, true).unaccounted).toBe('1 error name neither a line nor a key');
      expect(account(report({ errors: [err(4, null)] }), 3, never, false).unaccounted).toMatch(/a profile line number names no row/);
      expect(account(report({ errors: [err(3, 'A')], errorTotal: 2 }), 10, never, true).unaccounted).toBe('it lists 1 of its 2 errors');
      expect(account(report({ errors: [err(3, 'A')], errorsComplete: false }), 10, never, true).unaccounted).toMatch(
        /could not be read to the end/,
      );
      expect(account(report({ status: 'WITH_ERROR', withErrors: true }), null, never, true).unaccounted).toBe(
        'it ended WITH_ERROR but lists no error',
      );
    });
  });
  it('builds the ETL definition of API notes §9', () => {
    expect(
      etlDefinition({
        name: 'n',
        tableType: 'CUSTOM_TABLE',
        tableId: 'u',
        mode: 'CREATE_ONLY',
        keyAttribute: 'orderId',
        compression: 'GZIP',
        columns: ['orderId'],
      }),
    ).toMatchObject({
      mode: 'CREATE_ONLY',
      keyAttribute: 'orderId',
      file: { compression: 'GZIP', encoding: 'UTF-8', separator: ',' },
      mapping: [{ column: 'orderId', attribute: 'orderId' }],
    });
  });
});

describe('configuration', () => {
  it('parses a connection and resolves route prefixes', () => {
    const c = connectionSchema.parse({ apiKey: 'k', baseUrl: 'https://api3.actito.com/', entity: 'demo' });
    expect(c.baseUrl).toBe('https://api3.actito.com');
    expect(c.maxInFlight).toBe(4);
    expect(resolvePrefixes(c).structure).toBe('/custom-table-structure');
    expect(resolvePrefixes(c).records).toBe('/custom-data');
    expect(resolvePrefixes({ routePrefix: '' }).profiles).toBe('');
    expect(resolvePrefixes({ routePrefix: '', routePrefixes: { records: '/custom-tables' } }).records).toBe('/custom-tables');
    expect(connectionSchema.safeParse({ apiKey: 'k', baseUrl: 'x', entity: 'e', maxInFlight: 6 }).success).toBe(false);
  });
  it('names one licence with one scope however the base URL is spelled', () => {
    const scope = (baseUrl: string, licence?: string) =>
      licenceScope(connectionSchema.parse({ apiKey: 'k', baseUrl, entity: 'demo', ...(licence && { licence }) }));
    const spellings = ['https://api3.actito.com', 'https://api3.actito.com/', 'HTTPS://API3.Actito.com', 'https://api3.actito.com:443//'];
    expect(new Set(spellings.map((u) => scope(u)))).toEqual(new Set(['actito:entity:https://api3.actito.com/demo']));
    expect(hostKey('http://127.0.0.1:8080/Proxy/')).toBe('http://127.0.0.1:8080/Proxy');
    expect(scope('https://api1.actito.com')).not.toBe(scope('https://api3.actito.com'));
    expect(scope('https://API3.actito.com', 'acme')).toBe('actito:licence:acme');
  });
  it('has documented option defaults', () => {
    expect(optionsSchema.parse({})).toMatchObject({
      bulkThreshold: 5000,
      bulkImportsPerDay: 24,
      onQuotaExhausted: 'single',
      compression: 'GZIP',
    });
    expect(connectionSchema.parse({ apiKey: 'k', baseUrl: 'https://api3.actito.com', entity: 'demo' }).emptyOnUpdate).toBe('keep');
    // nulls follows what the connection says an empty value does, unless set.
    const nulls = (emptyOnUpdate: ActitoConnection['emptyOnUpdate'], options: Record<string, unknown> = {}) =>
      optionsFor({ emptyOnUpdate }).parse(options).nulls;
    expect([nulls('keep'), nulls('clear'), nulls('clear', { nulls: 'skip' })]).toEqual(['skip', 'send', 'skip']);
    expect(optionsSchema.safeParse({ profiles: { table: 'main' } }).success).toBe(false);
  });
  it('times the polls of a running import by its progress, else doubles the wait', () => {
    const opts = optionsFor({ emptyOnUpdate: 'keep' }).parse({});
    expect(opts.pollAfterMs).toBe(1000);
    const s = (polls: number, extra: Partial<BulkState> = {}): BulkState => ({
      phase: 'records',
      name: 'n',
      executionId: 'x',
      restarts: 0,
      reuploaded: false,
      polls,
      lines: 200_000,
      startedAt: 0,
      ...extra,
    });
    // Without counts, or a state saved before the upload time was kept, or nothing done yet: doubling up to a minute.
    expect([1, 2, 3].map((n) => nextPollMs(s(n), opts, null, 5_000))).toEqual([2000, 4000, 8000]);
    expect(nextPollMs(s(1, { startedAt: undefined }), opts, 100_000, 5_000)).toBe(2000);
    expect(nextPollMs(s(1), opts, 0, 5_000)).toBe(2000);
    expect(nextPollMs(s(9), opts, null, 5_000)).toBe(60_000);
    // A quarter done after 1 s: 3 s more by the rate, but never longer than it has run.
    expect(nextPollMs(s(1), opts, 50_000, 1_000)).toBe(1000);
    // 60 % done after 6 s: the rest by the rate (4 s), plus a tenth.
    expect(nextPollMs(s(2), opts, 120_000, 6_000)).toBe(4400);
    // Nearly done: an eighth of the time it has run; every line counted but not finished yet: doubling
    // (the rate says nothing more; an eighth would poll it every second or so).
    expect(nextPollMs(s(3), opts, 199_000, 8_000)).toBe(1000);
    expect(nextPollMs(s(3), opts, 200_000, 8_000)).toBe(8000);
    expect(nextPollMs(s(3), opts, 200_000, 60_000)).toBe(8000);
    // Early and nearly done: at least pollAfterMs; late and slow: at most a minute.
    expect(nextPollMs(s(1), opts, 199_999, 1_000)).toBe(1000);
    expect(nextPollMs(s(5), opts, 20_000, 600_000)).toBe(60_000);
  });
  it("a poll timed on a worker whose clock is behind the uploading worker's waits at least pollAfterMs", () => {
    const opts = optionsFor({ emptyOnUpdate: 'keep' }).parse({});
    const s: BulkState = {
      phase: 'records',
      name: 'n',
      executionId: 'x',
      restarts: 0,
      reuploaded: false,
      polls: 1,
      lines: 200_000,
      startedAt: 10_000,
    };
    // Uploaded at 10 000 on the uploader's clock; polled at 5 000 on this worker's (5 s behind), half done.
    expect(nextPollMs(s, opts, 100_000, 5_000)).toBeGreaterThanOrEqual(opts.pollAfterMs);
  });
  it('reads expiresIn as "900s"', () => {
    expect(parseExpiresIn('900s')).toBe(900_000);
    expect(parseExpiresIn(undefined)).toBe(900_000);
  });
  it('compares a stored record loosely', () => {
    expect(
      sameValues(
        [
          { name: 'id', value: 1 },
          { name: 'a', value: 3 },
          { name: 'b', value: true },
        ],
        [
          { name: 'a', value: '3' },
          { name: 'b', value: 'TRUE' },
        ],
      ),
    ).toBe(true);
    expect(sameValues([{ name: 'a', value: 3 }], [{ name: 'a', value: 4 }])).toBe(false);
  });
  // Insert mode counts a record holding "our values" as written: every difference a reader would see must
  // make it another record (listed as exists), never a row reported written that the table does not hold.
  it('compares loosely only where Actito spells a value its own way: booleans, numbers, date-times', () => {
    const same = (stored: unknown, sent: unknown, type?: string) =>
      sameValues([{ name: 'a', value: stored as never }], [{ name: 'a', value: sent as never }], () => type);
    // Its own spellings of the same value.
    expect(same(true, 'TRUE')).toBe(true);
    expect(same('false', false)).toBe(true);
    expect(same(3, '3', 'LONG')).toBe(true);
    expect(same(1.5, '1.50', 'NUMBER')).toBe(true);
    expect(same('0.00000015', 1.5e-7)).toBe(true);
    expect(same('123456789012345678', '123456789012345678')).toBe(true);
    expect(same('2026-01-02T03:04:05', '2026-01-02 03:04:05', 'TIMESTAMP')).toBe(true);
    expect(same('2026-01-02', '2026-01-02', 'DATE')).toBe(true);
    // Other values.
    expect(same('SMITH', 'Smith')).toBe(false);
    expect(same('Description of item B, second edition', 'Description of item A, first edition')).toBe(false);
    expect(same('123456789012345680', '123456789012345678', 'LONG')).toBe(false);
    expect(same(123456789012345680, '123456789012345678', 'LONG')).toBe(false);
    expect(same('2026-01-02 03:04:06', '2026-01-02 03:04:05', 'TIMESTAMP')).toBe(false);
    expect(same('2026-01-03', '2026-01-02', 'DATE')).toBe(false);
    expect(same('1e3', '1000', 'NUMBER')).toBe(true);
    expect(same('0x10', '16', 'NUMBER')).toBe(false);
    // A text attribute holding digits: "007" is not "7".
    expect(same('7', '007', 'STRING')).toBe(false);
    expect(same('1.50', '1.5', 'STRING')).toBe(false);
  });
});
