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
    {
      name: 'External_Id__c',
      type: 'string',
      length: 255,
      createable: true,
      updateable: true,
      externalId: true,
      unique: true,
      idLookup: true,
    },
    {
      name: 'Syncline_Token__c',
      type: 'string',
      length: 64,
      createable: true,
      updateable: true,
      externalId: true,
      unique: true,
      idLookup: true,
    },
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
    expect(() => run('upsert', 'External_Id__c', [...base, fs('Emial'), fs('LastNme')])).toThrow(
      /"Emial" \(mapping "emial" → "Emial"; did you mean "Email".*"LastNme" \(mapping "lastnme" → "LastNme"; did you mean "LastName"/,
    );
    try {
      run('upsert', 'External_Id__c', [...base, fs('Emial')]);
    } catch (e) {
      expect(e).toMatchObject({ code: 'FIELD_UNKNOWN', retryable: false });
    }
  });
  it('an unknown field names its mapping and says what to do', () => {
    expect(() => run('upsert', 'External_Id__c', [...base, { from: 'email', to: 'Emial__c', pgType: 'text', isKey: false }])).toThrow(
      'activation "a1" (Salesforce Contact): unknown field(s) "Emial__c" (mapping "email" → "Emial__c"): Contact has no such field, or the integration user cannot see it. Fix "to" in "mappings" (or "destination.key") to a field API name of Contact (Setup > Object Manager), or create the field in Salesforce and give the integration user access to it',
    );
  });
  it('suggest ranks by edit distance', () => {
    expect(suggest('External_ID', ['External_Id__c', 'Email', 'Id'])[0]).toBe('External_Id__c');
  });
  it.each<[SyncMode, string, boolean]>([
    ['update', 'Id', true],
    ['update', 'External_Id__c', true],
    ['update', 'Email', true],
    ['update', 'Plain__c', false],
    ['upsert', 'External_Id__c', true],
    ['upsert', 'Id', false],
    ['upsert', 'Plain__c', false],
    ['mirror', 'Id', false],
    ['mirror', 'External_Id__c', true],
    ['insert', 'Plain__c', true],
    ['insert', 'Id', false],
  ])('%s with key %s valid=%s', (mode, key, ok) => {
    const fields = [fs(key, 'text', true), fs('LastName')];
    if (ok) expect(() => run(mode, key, fields)).not.toThrow();
    else expect(() => run(mode, key, fields)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });
  it('rejects fields that are not writable for the mode', () => {
    expect(() => run('upsert', 'External_Id__c', [...base, fs('CreatedDate', 'timestamptz')])).toThrow(
      expect.objectContaining({
        code: 'FIELD_NOT_WRITABLE',
        message: expect.stringContaining('"CreatedDate" is not createable and updateable'),
      }),
    );
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
    expect(() => run('mirror', 'External_Id__c', base, {}, { ...contact, deletable: false })).toThrow(
      expect.objectContaining({ code: 'FIELD_NOT_WRITABLE', message: expect.stringContaining('cannot delete Contact records') }),
    );
    expect(() => run('upsert', 'External_Id__c', base, {}, { ...contact, deletable: false })).not.toThrow();
  });

  it('warns that Insert cannot re-create a changed row carrying a unique field', () => {
    const m = run('insert', 'External_Id__c', base);
    const w = m.warnings.find((x) => x.code === 'INSERT_UNIQUE_FIELD');
    expect(w).toMatchObject({ level: 'warning', message: expect.stringContaining('"External_Id__c" is unique') });
    expect(w!.message).toContain('DUPLICATE_VALUE');
    expect(run('insert', 'Plain__c', [fs('Plain__c', 'text', true), fs('LastName')]).warnings.map((x) => x.code)).not.toContain(
      'INSERT_UNIQUE_FIELD',
    );
    expect(run('upsert', 'External_Id__c', base).warnings).toEqual([]);
  });
  it('warns about unmapped required fields on insert', () => {
    const m = run('insert', 'External_Id__c', [fs('External_Id__c', 'text', true)]);
    expect(m.warnings.find((w) => w.code === 'REQUIRED_FIELD_UNMAPPED')?.message).toContain('LastName');
  });
});

describe('analyze: parent lookups by External ID', () => {
  const account: SfDescribe = {
    name: 'Account',
    keyPrefix: '001',
    fields: [
      { name: 'Id', type: 'id', createable: false, updateable: false, idLookup: true },
      { name: 'Name', type: 'string', length: 255, createable: true, updateable: true, nillable: false },
      {
        name: 'External_Id__c',
        type: 'string',
        length: 20,
        createable: true,
        updateable: true,
        externalId: true,
        unique: true,
        idLookup: true,
      },
    ],
  };
  const withLookups: SfDescribe = {
    ...contact,
    fields: [
      ...contact.fields,
      {
        name: 'AccountId',
        type: 'reference',
        createable: true,
        updateable: true,
        nillable: true,
        referenceTo: ['Account'],
        relationshipName: 'Account',
      },
      {
        name: 'ReportsToId',
        type: 'reference',
        createable: true,
        updateable: false,
        nillable: true,
        referenceTo: ['Contact'],
        relationshipName: 'ReportsTo',
      },
      {
        name: 'OwnerId',
        type: 'reference',
        createable: true,
        updateable: true,
        nillable: false,
        defaultedOnCreate: true,
        referenceTo: ['User', 'Group'],
        relationshipName: 'Owner',
      },
    ],
  };
  const lookup = (mode: SyncMode, fields: FieldSpec[]) =>
    analyze({
      activationId: 'a1',
      mode,
      key: 'External_Id__c',
      fields: [base[0]!, ...fields],
      options: optionsSchema.parse({}),
      describe: withLookups,
      parents: [account, contact],
    });
  const errorOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e as { code: string; message: string };
    }
    throw new Error('expected an error');
  };

  it('fills the lookup through the relationship, on the wire as "Account.External_Id__c"', () => {
    const m = lookup('upsert', [{ from: 'account_key', to: 'account.external_id__c', pgType: 'text', isKey: false }, fs('LastName')]);
    const sent = m.send.find((s) => s.parent)!;
    expect(sent.column).toBe('Account.External_Id__c');
    expect(sent.parent).toMatchObject({ relationship: 'Account', object: 'Account', lookup: { name: 'AccountId' } });
    expect(sent.field.name).toBe('External_Id__c');
    expect(m.warnings).toEqual([]); // the parent's unique External ID is no INSERT_UNIQUE_FIELD concern
  });
  it('names the mapping and what to do for an unknown relationship, a parent field that is no External ID, a two-level path', () => {
    expect(errorOf(() => lookup('upsert', [fs('Acount.External_Id__c')]))).toMatchObject({
      code: 'FIELD_UNKNOWN',
      message: expect.stringMatching(
        /mapping "acount.external_id__c" → "Acount.External_Id__c": Contact has no relationship "Acount" \(did you mean "Account"/,
      ),
    });
    expect(errorOf(() => lookup('upsert', [fs('Account.Name')]))).toMatchObject({
      code: 'FIELD_UNKNOWN',
      message: expect.stringMatching(/Account\.Name is not an External ID field.*tick "External ID"/),
    });
    expect(errorOf(() => lookup('upsert', [fs('Account.Extrnal_Id__c')]))).toMatchObject({
      message: expect.stringMatching(/Account has no field "Extrnal_Id__c" \(did you mean "External_Id__c"/),
    });
    expect(errorOf(() => lookup('upsert', [fs('Account.Owner.Email')]))).toMatchObject({
      code: 'FIELD_UNKNOWN',
      message: expect.stringMatching(/one level deep/),
    });
    expect(errorOf(() => lookup('upsert', [fs('Owner.External_Id__c')]))).toMatchObject({
      message: expect.stringMatching(/"OwnerId" can point to User, Group/),
    });
  });
  it('checks the lookup field can be written in the mode, and that it is not filled twice', () => {
    expect(
      lookup('insert', [fs('ReportsTo.External_Id__c'), fs('LastName')]).send.some((s) => s.column === 'ReportsTo.External_Id__c'),
    ).toBe(true);
    expect(errorOf(() => lookup('update', [fs('ReportsTo.External_Id__c')]))).toMatchObject({
      code: 'FIELD_NOT_WRITABLE',
      message: expect.stringMatching(/lookup "ReportsToId" is not updateable/),
    });
    expect(errorOf(() => lookup('upsert', [fs('Account.External_Id__c'), fs('AccountId')]))).toMatchObject({
      code: 'FIELD_NOT_WRITABLE',
      message: expect.stringMatching(/"AccountId" is filled twice/),
    });
  });
  it('refuses a relationship path as the key', () => {
    expect(
      errorOf(() =>
        analyze({
          activationId: 'a1',
          mode: 'upsert',
          key: 'Account.External_Id__c',
          fields: [fs('Account.External_Id__c', 'text', true)],
          options: optionsSchema.parse({}),
          describe: withLookups,
          parents: [account],
        }),
      ),
    ).toMatchObject({ code: 'FIELD_UNKNOWN', message: expect.stringMatching(/the key must be a field of Contact itself/) });
  });
});

describe('analyze: Id as the key', () => {
  it('Update may key on Id; Upsert and Mirror are refused with what to use instead', () => {
    expect(run('update', 'Id', [fs('Id', 'text', true), fs('LastName')]).keyField.name).toBe('Id');
    for (const mode of ['upsert', 'mirror'] as const) {
      expect(() => run(mode, 'Id', [fs('Id', 'text', true), fs('LastName')])).toThrow(/cannot key on "Id".*use Update mode with key "Id"/);
    }
  });
});
