import { encodeValue, formatDate, formatDateTime, isCompatible, truncate, type SfField } from './mapping';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { FieldSpec } from '../types';
import { csvField } from './csv';
import { jsonBody } from './json-body';
import { toJsonValues } from './rows';

const ROOT = join(__dirname, '../..');
const spec = (pgType: string, o: Partial<FieldSpec> = {}): FieldSpec => ({ from: 'col', to: 'F__c', pgType, isKey: false, ...o });
const field = (type: string, o: Partial<SfField> = {}): SfField => ({ name: 'F__c', type, ...o });

/**
 * What a number field's value becomes on both wires: the Bulk CSV cell and the REST JSON record
 * (`{"F__c":…}`, the body text sent), or the failure's code. The JSON must parse and carry the same digits.
 */
function sent(f: SfField, v: unknown, pg = 'numeric'): string {
  const e = encodeValue(spec(pg), f, v);
  if (!e.ok) return e.code;
  const csv = csvField(e.value);
  const json = jsonBody(toJsonValues({ F__c: e.value }));
  JSON.parse(json); // valid JSON
  return json === `{"F__c":${csv}}` ? csv : `CSV ${csv} but JSON ${json}`;
}

describe('type table', () => {
  it.each([
    ['text', 'string', true],
    ['int4', 'string', true],
    ['bool', 'boolean', true],
    ['text', 'boolean', false],
    ['date', 'date', true],
    ['timestamptz', 'datetime', true],
    ['bool', 'date', false],
    ['numeric', 'currency', true],
    ['jsonb', 'multipicklist', true],
    ['_text', 'multipicklist', true],
    ['int8', 'int', true],
    ['float8', 'int', false],
    ['text', 'reference', true],
    ['timestamptz', 'boolean', false],
    ['TEXT', 'email', true],
  ])('%s → %s: %s', (pg, sf, ok) => expect(isCompatible(pg, sf)).toBe(ok));
});

describe('money columns', () => {
  // node-postgres parses no money value: it hands over the server's text, in lc_monetary's format
  // ("$1,234.56", "-$0.50", "1.234,56 €"), which no number field can take.
  it('cannot fill a number field (check skips the mapping, saying to cast to numeric), only a text one', () => {
    for (const sf of ['double', 'currency', 'percent', 'int', 'long'])
      expect({ sf, ok: isCompatible('money', sf) }).toEqual({ sf, ok: false });
    expect(isCompatible('money', 'string')).toBe(true);
  });
});

describe('dates', () => {
  it('reads a pg date (local midnight) with local getters, even on a DST day, in zones east and west of UTC', () => {
    // In child processes: jest's sandbox cannot change the time zone (process.env.TZ set here does not reach Date).
    const script = `
      const { types } = require('pg');
      const { encodeValue } = require('./connectors/salesforce/mapping');
      const parse = types.getTypeParser(1082);
      const spec = { from: 'col', to: 'F__c', pgType: 'date', isKey: false };
      const out = ['2024-03-31', '2024-10-27', '2024-01-01'].map((t) => encodeValue(spec, { name: 'F__c', type: 'date' }, parse(t)));
      process.stdout.write(JSON.stringify(out));`;
    for (const tz of ['Europe/Brussels', 'Asia/Tokyo', 'America/New_York']) {
      const out = execFileSync(join(ROOT, 'node_modules/.bin/tsx'), ['-e', script], { cwd: ROOT, env: { ...process.env, TZ: tz } });
      expect({ tz, out: JSON.parse(out.toString()) }).toEqual({
        tz,
        out: ['2024-03-31', '2024-10-27', '2024-01-01'].map((value) => ({ ok: true, value })),
      });
    }
  });
  it('writes timestamps as UTC instants (DST-safe)', () => {
    const before = new Date('2024-10-27T00:59:59.999Z'); // 02:59:59 CEST
    const after = new Date('2024-10-27T01:00:00.000Z'); // 02:00:00 CET
    expect(formatDateTime(before, 'timestamptz')).toBe('2024-10-27T00:59:59.999Z');
    expect(formatDateTime(after, 'timestamptz')).toBe('2024-10-27T01:00:00.000Z');
  });
  it('accepts ISO strings with offset, rejects ambiguous local ones', () => {
    expect(formatDateTime('2024-03-31T02:30:00+02:00', 'text')).toBe('2024-03-31T00:30:00.000Z');
    expect(formatDateTime('2024-03-31 02:30:00', 'text')).toBeNull();
    expect(encodeValue(spec('text'), field('datetime'), 'yesterday')).toMatchObject({ ok: false, code: 'INVALID_TYPE_ON_FIELD_IN_RECORD' });
  });
  it('a timestamp into a date field takes the UTC date', () => {
    expect(formatDate(new Date('2024-01-01T23:30:00Z'), 'timestamptz')).toBe('2024-01-01');
  });
  it('a timestamp (without time zone) into a date field keeps its own date, whatever the worker time zone', () => {
    // Run in a worker east of UTC (jest's sandbox cannot change the zone): node-postgres's own parser for timestamp (oid 1114) reads the wall clock as
    // local time, and the encoding must give back that wall clock's date.
    const script = `
      const { types } = require('pg');
      const { encodeValue } = require('./connectors/salesforce/mapping');
      const parse = types.getTypeParser(1114);
      const spec = { from: 'col', to: 'F__c', pgType: 'timestamp', isKey: false };
      const out = ['2024-01-05 00:30:00', '2024-07-01 00:00:00', '2024-03-31 23:59:59.999'].map((t) =>
        encodeValue(spec, { name: 'F__c', type: 'date' }, parse(t)));
      process.stdout.write(JSON.stringify(out));`;
    for (const tz of ['Europe/Brussels', 'Asia/Tokyo', 'America/New_York']) {
      const out = execFileSync(join(ROOT, 'node_modules/.bin/tsx'), ['-e', script], { cwd: ROOT, env: { ...process.env, TZ: tz } });
      expect({ tz, out: JSON.parse(out.toString()) }).toEqual({
        tz,
        out: ['2024-01-05', '2024-07-01', '2024-03-31'].map((value) => ({ ok: true, value })),
      });
    }
  });
});

describe('values', () => {
  it('null clears, empty string stays a string', () => {
    expect(encodeValue(spec('text'), field('string', { length: 10 }), null)).toEqual({ ok: true, value: null });
    expect(encodeValue(spec('text'), field('string', { length: 10 }), '')).toEqual({ ok: true, value: '' });
  });
  it('too long strings fail the row unless truncate is set', () => {
    expect(encodeValue(spec('text'), field('string', { length: 3 }), 'abcd')).toMatchObject({ ok: false, code: 'STRING_TOO_LONG' });
    expect(encodeValue(spec('text', { truncate: true }), field('string', { length: 3 }), 'abcd')).toEqual({ ok: true, value: 'abc' });
  });
  it('a char(n) value is sent without its padding (as its text form, the key syncline keeps)', () => {
    // node-postgres hands a char(n) value over as the server writes it: padded with spaces to n.
    const padded = 'Smith'.padEnd(100, ' ');
    expect(encodeValue(spec('bpchar'), field('string', { length: 80 }), padded)).toEqual({ ok: true, value: 'Smith' });
    expect(encodeValue(spec('bpchar', { isKey: true }), field('string', { length: 20 }), 'AB        ')).toEqual({ ok: true, value: 'AB' });
    expect(encodeValue(spec('bpchar'), field('picklist', { length: 40 }), 'Hot  ')).toEqual({ ok: true, value: 'Hot' });
    // Only the padding: leading spaces are data, and a text column keeps its trailing ones.
    expect(encodeValue(spec('bpchar'), field('string', { length: 20 }), '  x  ')).toEqual({ ok: true, value: '  x' });
    expect(encodeValue(spec('text'), field('string', { length: 20 }), 'x  ')).toEqual({ ok: true, value: 'x  ' });
  });
  it('never splits a surrogate pair when truncating', () => {
    expect(truncate('ab😀', 3)).toBe('ab');
    expect(truncate('ab😀', 4)).toBe('ab😀');
  });
  it('numbers respect precision and scale; bigint/numeric strings are parsed', () => {
    const cur = field('currency', { precision: 5, scale: 2 });
    expect(sent(cur, '123.456')).toBe('123.46');
    expect(encodeValue(spec('numeric'), cur, '1234.5')).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
    expect(sent(field('int', { digits: 9 }), '42', 'int8')).toBe('42');
    expect(encodeValue(spec('numeric'), field('int'), '4.5')).toMatchObject({ ok: false });
    expect(encodeValue(spec('int8'), field('int'), '99999999999')).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
  });
  // JavaScript writes |n| >= 1e21 in exponent form ("1e+25", 5 characters): a digit count taken from
  // that text let 26-digit values through to Salesforce.
  it.each([
    ['long', field('long')],
    ['double(18, 0)', field('double', { precision: 18, scale: 0 })],
  ])('values of 1e21 and beyond fail locally on a %s field', (_name, f) => {
    for (const v of [1e21, 1e25, -1e22, '1e25', '10000000000000000000000000', '-10000000000000000000000']) {
      expect({ v, e: encodeValue(spec('numeric'), f, v) }).toEqual({
        v,
        e: { ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE', message: 'F__c: col has more than 18 integer digits' },
      });
    }
  });
  it('integer digits are decided by magnitude, exactly at the boundary', () => {
    const long = field('long');
    const d18 = field('double', { precision: 18, scale: 0 });
    for (const f of [long, d18]) {
      // 18 digits pass, exactly: int8 and numeric arrive as text and are never read into a double.
      expect(sent(f, '123456789012345678', 'int8')).toBe('123456789012345678');
      expect(sent(f, '999999999999999999', 'int8')).toBe('999999999999999999');
      expect(sent(f, '-999999999999999999', 'int8')).toBe('-999999999999999999');
      expect(sent(f, '999999999999999872', 'int8')).toBe('999999999999999872');
      // A JavaScript number is sent as its shortest text, which reads back as the same double.
      expect(sent(f, -999999999999999872, 'float8')).toBe('-999999999999999900');
      expect(sent(f, '1000000000000000000', 'int8')).toBe('NUMBER_OUTSIDE_VALID_RANGE');
      expect(sent(f, '-1000000000000000000', 'int8')).toBe('NUMBER_OUTSIDE_VALID_RANGE');
      expect(sent(f, -1e18, 'int8')).toBe('NUMBER_OUTSIDE_VALID_RANGE');
      // A bigint (a driver configured to parse int8) is exact too.
      expect(sent(f, 123456789012345678n, 'int8')).toBe('123456789012345678');
      expect(sent(f, 10n ** 18n, 'int8')).toBe('NUMBER_OUTSIDE_VALID_RANGE');
    }
    const int = field('int', { digits: 9 });
    expect(encodeValue(spec('int4'), int, 999999999)).toEqual({ ok: true, value: 999999999 });
    expect(encodeValue(spec('int4'), int, -999999999)).toEqual({ ok: true, value: -999999999 });
    expect(encodeValue(spec('int8'), int, 1e9)).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
    // Rounding to the scale comes first: 999.996 becomes 1000.00, four integer digits.
    const cur = field('currency', { precision: 5, scale: 2 });
    expect(sent(cur, '999.994')).toBe('999.99');
    expect(sent(cur, '-999.99')).toBe('-999.99');
    expect(encodeValue(spec('numeric'), cur, '999.996')).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
    expect(encodeValue(spec('numeric'), cur, 1000)).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
    // Every digit after the point: integer digits are 0.
    const frac = field('percent', { precision: 18, scale: 17 });
    expect(sent(frac, '9.99999999999999')).toBe('9.99999999999999');
    expect(encodeValue(spec('numeric'), frac, '10')).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
  });
  it('empty and blank strings are not numbers; zero is', () => {
    for (const v of ['', '   ', 'abc', 'NaN', 'Infinity'])
      expect(encodeValue(spec('text'), field('double', { precision: 18, scale: 2 }), v)).toMatchObject({
        ok: false,
        code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
      });
    expect(sent(field('double', { precision: 18, scale: 2 }), '0')).toBe('0');
    expect(sent(field('double', { precision: 18, scale: 2 }), ' 0.5 ')).toBe('0.5');
  });
  it('a small value with a large scale is a plain decimal in the Bulk CSV cell, never exponent form', () => {
    const pct = field('percent', { precision: 18, scale: 8 });
    const cell = (v: unknown, f = pct) => {
      const e = encodeValue(spec('numeric'), f, v);
      return e.ok ? csvField(e.value) : e.code;
    };
    expect(cell('0.00000015')).toBe('0.00000015');
    expect(cell(-1.5e-7)).toBe('-0.00000015');
    expect(cell('0.000000004')).toBe('0'); // rounded to 8 places
    expect(cell('0.000000005')).toBe('0.00000001');
    const fine = field('double', { precision: 18, scale: 18 - 1 });
    expect(cell('0.00000000000000012', fine)).toBe('0.00000000000000012');
    expect(cell('123456.00000001')).toBe('123456.00000001');
    expect(cell(12)).toBe('12');
  });
  it('decimal text is carried digit for digit: no double on the way (Bulk CSV cell and REST JSON alike)', () => {
    const cur = field('currency', { precision: 18, scale: 4 });
    expect(sent(cur, '12345678901234.5678')).toBe('12345678901234.5678');
    expect(sent(cur, '-12345678901234.5678')).toBe('-12345678901234.5678');
    expect(sent(cur, '99999999999999.9999')).toBe('99999999999999.9999');
    expect(sent(cur, '100000000000000')).toBe('NUMBER_OUTSIDE_VALID_RANGE');
    // numeric keeps its declared scale's zeros ('12.5000'); they are not sent.
    expect(sent(cur, '12.5000')).toBe('12.5');
    expect(sent(cur, '0012.50')).toBe('12.5');
    expect(sent(cur, '12345678901234.00000')).toBe('12345678901234');
    const d16 = field('double', { precision: 16, scale: 2 });
    expect(sent(d16, '12345678901234.56')).toBe('12345678901234.56');
    // A float8 column arrives as a JavaScript number: sent as that number (its shortest text).
    expect(sent(d16, 0.1, 'float8')).toBe('0.1');
    expect(sent(d16, 1234.5, 'float8')).toBe('1234.5');
  });
  it('decimal text is rounded to the scale half away from zero, on its digits (as toFixed does for a double that holds the value exactly)', () => {
    const two = field('double', { precision: 18, scale: 2 });
    expect(sent(two, '1.23456')).toBe('1.23');
    expect(sent(two, '1.235')).toBe('1.24');
    expect(sent(two, '-1.235')).toBe('-1.24');
    expect(sent(two, '1.125')).toBe('1.13');
    expect(sent(two, 1.125, 'float8')).toBe('1.13'); // 1.125 is exact in binary: the same rule
    expect(sent(two, -1.125, 'float8')).toBe('-1.13');
    // 1.005 is not a double: the number 1.005 rounds down (1.00499999999999989…), its text rounds up.
    expect(sent(two, '1.005')).toBe('1.01');
    expect(sent(two, '0.004')).toBe('0');
    expect(sent(two, '-0.004')).toBe('0'); // no negative zero
    expect(sent(two, '9.995')).toBe('10');
    expect(sent(field('double', { precision: 3, scale: 2 }), '9.995')).toBe('NUMBER_OUTSIDE_VALID_RANGE');
    expect(sent(field('long'), '12.0', 'numeric')).toBe('12');
    expect(sent(field('long'), '12.5', 'numeric')).toBe('INVALID_TYPE_ON_FIELD_IN_RECORD');
  });
  it('what counts as a number: signs, edge whitespace and exponent form are read; hex, NaN, Infinity and blanks are not', () => {
    const two = field('double', { precision: 18, scale: 2 });
    expect(sent(two, '-0')).toBe('0');
    expect(sent(two, '-0.00')).toBe('0');
    expect(sent(two, 0, 'float8')).toBe('0');
    expect(sent(two, -0, 'float8')).toBe('0');
    expect(sent(two, '+5')).toBe('5');
    expect(sent(two, '+5.5')).toBe('5.5');
    expect(sent(two, ' \t12.5\n')).toBe('12.5');
    expect(sent(two, '.5')).toBe('0.5');
    expect(sent(two, '5.')).toBe('5');
    expect(sent(two, '1e5')).toBe('100000');
    expect(sent(two, '1.5E-1')).toBe('0.15');
    expect(sent(two, '-2.5e+3')).toBe('-2500');
    expect(sent(two, '1e-400')).toBe('0');
    expect(sent(two, '1e400')).toBe('NUMBER_OUTSIDE_VALID_RANGE');
    expect(sent(two, '0e999999999')).toBe('0');
    for (const v of [
      '',
      ' ',
      '0x1F',
      '0X1f',
      '0b101',
      '0o17',
      'NaN',
      '-NaN',
      'Infinity',
      '-Infinity',
      '+-1',
      '--1',
      '1e',
      'e5',
      '.',
      '-',
      '1.2.3',
      '1 2',
      '1_000',
      '١٢',
      '12abc',
    ]) {
      expect({ v, r: sent(two, v, 'text') }).toEqual({ v, r: 'INVALID_TYPE_ON_FIELD_IN_RECORD' });
    }
    for (const v of [NaN, Infinity, -Infinity])
      expect({ v, r: sent(two, v, 'float8') }).toEqual({ v, r: 'INVALID_TYPE_ON_FIELD_IN_RECORD' });
    expect(encodeValue(spec('text'), two, '0x1F')).toEqual({
      ok: false,
      code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
      message: 'F__c: value is not a number',
    });
  });
  it('booleans and multipicklists', () => {
    expect(encodeValue(spec('bool'), field('boolean'), false)).toEqual({ ok: true, value: false });
    expect(encodeValue(spec('_text'), field('multipicklist', { length: 100 }), ['a', 'b'])).toEqual({ ok: true, value: 'a;b' });
    expect(encodeValue(spec('jsonb'), field('multipicklist', { length: 100 }), '["x","y"]')).toEqual({ ok: true, value: 'x;y' });
  });
  it('a json(b) multipicklist (Postgres text) keeps the digits of its numbers; JSON null clears the field', () => {
    const multi = field('multipicklist', { length: 100 });
    expect(encodeValue(spec('jsonb'), multi, '["a", 12345678901234567890, 1.50]')).toEqual({
      ok: true,
      value: 'a;12345678901234567890;1.5',
    });
    expect(encodeValue(spec('json'), multi, '[0.1000000000000000055511151231257827]')).toEqual({
      ok: true,
      value: '0.1000000000000000055511151231257827',
    });
    expect(encodeValue(spec('jsonb'), multi, 'null')).toEqual({ ok: true, value: null });
  });
  it('a multipicklist element holding ";" fails its row: joined, it would arrive as two values', () => {
    for (const [pg, v] of [
      ['_text', ['a;b', 'c']],
      ['jsonb', '["a;b","c"]'],
    ] as const)
      expect(encodeValue(spec(pg), field('multipicklist', { length: 100 }), v)).toEqual({
        ok: false,
        code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
        message: 'F__c: an element of col holds ";", which Salesforce would read as two values of the multi-select picklist',
      });
    // A text column is the joined form already: sent as it is.
    expect(encodeValue(spec('text'), field('multipicklist', { length: 100 }), 'a;b')).toEqual({ ok: true, value: 'a;b' });
  });
  it('time fields: HH:mm:ss.SSSZ, a time with an offset in UTC, milliseconds cut', () => {
    const time = field('time');
    for (const [pg, v, want] of [
      ['time', '13:45:00', '13:45:00.000Z'],
      ['time', '23:59:59.999999', '23:59:59.999Z'],
      ['time', '08:05:03.5', '08:05:03.500Z'],
      ['timetz', '13:45:00+02', '11:45:00.000Z'],
      ['timetz', '01:30:00-05:30', '07:00:00.000Z'],
      ['timetz', '00:30:00.25+01', '23:30:00.250Z'],
      ['timetz', '23:30:00-01', '00:30:00.000Z'],
      ['timetz', '12:00:00+05:30:15', '06:29:45.000Z'],
      ['text', '13:45', '13:45:00.000Z'],
      ['text', '13:45:00.000Z', '13:45:00.000Z'],
      ['text', '13:45:00.5+01:00', '12:45:00.500Z'],
    ] as const)
      expect({ pg, v, got: encodeValue(spec(pg), time, v) }).toEqual({ pg, v, got: { ok: true, value: want } });
    for (const [pg, v] of [
      ['time', '24:00:00'],
      ['text', 'noon'],
      ['text', '13:60'],
      ['text', '1:45 PM'],
    ] as const)
      expect({ pg, v, got: encodeValue(spec(pg), time, v) }).toEqual({
        pg,
        v,
        got: {
          ok: false,
          code: 'INVALID_TYPE_ON_FIELD_IN_RECORD',
          message: 'F__c: col is not a time of day Salesforce holds (HH:mm:ss, 00:00:00 to 23:59:59.999)',
        },
      });
  });
  it('non-string scalars into text fields', () => {
    expect(encodeValue(spec('int4'), field('string', { length: 10 }), 7)).toEqual({ ok: true, value: '7' });
    expect(encodeValue(spec('jsonb'), field('textarea', { length: 100 }), { a: 1 })).toEqual({ ok: true, value: '{"a":1}' });
    // As the write path reads it: Postgres's text.
    expect(encodeValue(spec('jsonb'), field('textarea', { length: 100 }), '{"a": 1, "id": 12345678901234567890}')).toEqual({
      ok: true,
      value: '{"a":1,"id":12345678901234567890}',
    });
    // Its length is the length of the text sent.
    expect(encodeValue(spec('jsonb'), field('string', { length: 10 }), '{"a": "12345678"}')).toMatchObject({
      ok: false,
      code: 'STRING_TOO_LONG',
    });
  });
});
