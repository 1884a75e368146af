import { analyze, suggest, type SfDescribe } from './analyze';
import { optionsSchema } from './config';
import type { FieldSpec } from '../types';
import type { SyncMode } from '../../common/sync-modes';

const contact: SfDescribe = {
  name: 'Contact',
  fields: [
    { name: 'Id', type: 'id', createable: false, updateable: false, idLookup: true, nillable: false, defaultedOnCreate: true, length: 18 },
    { name: 'LastName', type: 'string', length: 80, createable: true, updateable: true, nillable: false },
    { name: 'FirstName', type: 'string', length: 40, createable: true, updateable: true, nillable: true },
    { name: 'Email', type: 'email', length: 80, createable: true, updateable: true, nillable: true, idLookup: true },
    { name: 'Birthdate', type: 'date', createable: true, updateable: true, nillable: true },
    { name: 'HasOptedOutOfEmail', type: 'boolean', createable: true, updateable: true, nillable: false, defaultedOnCreate: true },
    { name: 'CreatedDate', type: 'datetime', createable: false, updateable: false, nillable: false, defaultedOnCreate: true },
    { name: 'External_Id__c', type: 'string', length: 255, createable: true, updateable: true, externalId: true, unique: true, idLookup: true },
    { name: 'Syncline_Token__c', type: 'string', length: 64, createable: true, updateable: true, externalId: true, unique: true, idLookup: true },
    { name: 'Plain__c', type: 'string', length: 20, createable: true, updateable: true },
  ],
};

const fs = (to: string, pgType = 'text', isKey = false): FieldSpec => ({ from: to.toLowerCase(), to, pgType, isKey });
const run = (mode: SyncMode, key: string, fields: FieldSpec[], options = {}, describe = contact) =>
  analyze({ activationId: 'a1', mode, key, fields, options: optionsSchema.parse(options), describe });
const base = [fs('External_Id__c', 'text', true), fs('LastName'), fs('Email')];

describe('analyze', () => {
  it('accepts a valid upsert mapping, key first, canonical names', () => {
    const m = run('upsert', 'external_id__c', [fs('Email'), fs('external_id__c', 'text', true), fs('lastname')]);
    expect(m.send.map((s) => s.field.name)).toEqual(['External_Id__c', 'Email', 'LastName']);
    expect(m.keyField.name).toBe('External_Id__c');
    expect(m.warnings).toEqual([]);
  });
  it('names every unknown field with close suggestions', () => {
    expect(() => run('upsert', 'External_Id__c', [...base, fs('Emial'), fs('LastNme')])).toThrow(/"Emial" \(did you mean "Email".*"LastNme" \(did you mean "LastName"/);
    try { run('upsert', 'External_Id__c', [...base, fs('Emial')]); } catch (e) { expect(e).toMatchObject({ code: 'FIELD_UNKNOWN', retryable: false }); }
  });
  it('suggest ranks by edit distance', () => {
    expect(suggest('External_ID', ['External_Id__c', 'Email', 'Id'])[0]).toBe('External_Id__c');
  });
  it.each<[SyncMode, string, boolean]>([
    ['update', 'Id', true], ['update', 'External_Id__c', true], ['update', 'Email', true], ['update', 'Plain__c', false],
    ['upsert', 'External_Id__c', true], ['upsert', 'Id', false], ['upsert', 'Plain__c', false], ['mirror', 'Id', false],
    ['mirror', 'External_Id__c', true], ['insert', 'Plain__c', true], ['insert', 'Id', false],
  ])('%s with key %s valid=%s', (mode, key, ok) => {
    const fields = [fs(key, 'text', true), fs('LastName')];
    if (ok) expect(() => run(mode, key, fields)).not.toThrow();
    else expect(() => run(mode, key, fields)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });
  it('rejects fields that are not writable for the mode', () => {
    expect(() => run('upsert', 'External_Id__c', [...base, fs('CreatedDate', 'timestamptz')])).toThrow(expect.objectContaining({ code: 'FIELD_NOT_WRITABLE', message: expect.stringContaining('"CreatedDate" is not createable and updateable') }));
  });
  it('skips incompatible fields with a warning', () => {
    const m = run('upsert', 'External_Id__c', [...base, fs('Birthdate', 'bool'), fs('HasOptedOutOfEmail', 'text')]);
    expect(m.skipped.map((s) => s.field)).toEqual(['Birthdate', 'HasOptedOutOfEmail']);
    expect(m.warnings.map((w) => w.code)).toEqual(['FIELD_SKIPPED', 'FIELD_SKIPPED']);
    expect(m.warnings[0]!.message).toContain('Birthdate');
    expect(m.send.map((s) => s.field.name)).not.toContain('Birthdate');
  });
  it('insert uses the token field, or warns and falls back to plain create', () => {
    const plain = [fs('Plain__c', 'text', true), fs('LastName'), fs('Email')];
    expect(run('insert', 'Plain__c', plain).tokenField).toBe('Syncline_Token__c');
    const noToken = { ...contact, fields: contact.fields.filter((f) => f.name !== 'Syncline_Token__c') };
    const m = run('insert', 'Plain__c', plain, {}, noToken);
    expect(m.tokenField).toBeNull();
    expect(m.warnings).toEqual([expect.objectContaining({ code: 'INSERT_NOT_IDEMPOTENT', level: 'warning' })]);
  });
  it('checks object-level permissions for the mode', () => {
    expect(() => run('mirror', 'External_Id__c', base, {}, { ...contact, deletable: false })).toThrow(expect.objectContaining({ code: 'FIELD_NOT_WRITABLE', message: expect.stringContaining('cannot delete Contact records') }));
    expect(() => run('upsert', 'External_Id__c', base, {}, { ...contact, deletable: false })).not.toThrow();
  });

  it('warns that Insert cannot re-create a changed row carrying a unique field', () => {
    const m = run('insert', 'External_Id__c', base);
    const w = m.warnings.find((x) => x.code === 'INSERT_UNIQUE_FIELD');
    expect(w).toMatchObject({ level: 'warning', message: expect.stringContaining('"External_Id__c" is unique') });
    expect(w!.message).toContain('DUPLICATE_VALUE');
    expect(run('insert', 'Plain__c', [fs('Plain__c', 'text', true), fs('LastName')]).warnings.map((x) => x.code)).not.toContain('INSERT_UNIQUE_FIELD');
    expect(run('upsert', 'External_Id__c', base).warnings).toEqual([]);
  });
  it('warns about unmapped required fields on insert', () => {
    const m = run('insert', 'External_Id__c', [fs('External_Id__c', 'text', true)]);
    expect(m.warnings.find((w) => w.code === 'REQUIRED_FIELD_UNMAPPED')?.message).toContain('LastName');
  });
});
