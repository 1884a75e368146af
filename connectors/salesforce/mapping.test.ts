process.env.TZ = 'Europe/Brussels';
import { encodeValue, formatDate, formatDateTime, isCompatible, truncate, type SfField } from './mapping';
import type { FieldSpec } from '../types';

const spec = (pgType: string, o: Partial<FieldSpec> = {}): FieldSpec => ({ from: 'col', to: 'F__c', pgType, isKey: false, ...o });
const field = (type: string, o: Partial<SfField> = {}): SfField => ({ name: 'F__c', type, ...o });

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

describe('dates', () => {
  it('reads a pg date (local midnight) with local getters, even on a DST day', () => {
    const d = new Date(2024, 2, 31); // local midnight, 2024-03-30T23:00Z
    expect(formatDate(d, 'date')).toBe('2024-03-31');
    expect(encodeValue(spec('date'), field('date'), d)).toEqual({ ok: true, value: '2024-03-31' });
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
  it('never splits a surrogate pair when truncating', () => {
    expect(truncate('ab😀', 3)).toBe('ab');
    expect(truncate('ab😀', 4)).toBe('ab😀');
  });
  it('numbers respect precision and scale; bigint/numeric strings are parsed', () => {
    const cur = field('currency', { precision: 5, scale: 2 });
    expect(encodeValue(spec('numeric'), cur, '123.456')).toEqual({ ok: true, value: 123.46 });
    expect(encodeValue(spec('numeric'), cur, '1234.5')).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
    expect(encodeValue(spec('int8'), field('int', { digits: 9 }), '42')).toEqual({ ok: true, value: 42 });
    expect(encodeValue(spec('numeric'), field('int'), '4.5')).toMatchObject({ ok: false });
    expect(encodeValue(spec('int8'), field('int'), '99999999999')).toMatchObject({ ok: false, code: 'NUMBER_OUTSIDE_VALID_RANGE' });
  });
  it('booleans and multipicklists', () => {
    expect(encodeValue(spec('bool'), field('boolean'), false)).toEqual({ ok: true, value: false });
    expect(encodeValue(spec('_text'), field('multipicklist', { length: 100 }), ['a', 'b'])).toEqual({ ok: true, value: 'a;b' });
    expect(encodeValue(spec('jsonb'), field('multipicklist', { length: 100 }), '["x","y"]')).toEqual({ ok: true, value: 'x;y' });
  });
  it('non-string scalars into text fields', () => {
    expect(encodeValue(spec('int4'), field('string', { length: 10 }), 7)).toEqual({ ok: true, value: '7' });
    expect(encodeValue(spec('jsonb'), field('textarea', { length: 100 }), { a: 1 })).toEqual({ ok: true, value: '{"a":1}' });
  });
});
