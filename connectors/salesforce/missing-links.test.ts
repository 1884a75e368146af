/** Which lookup(s) a "Foreign key external ID … not found" names when an object has several (pure). */
import type { SendField, WriteModel } from './analyze';
import type { SfField } from './mapping';
import { incompleteResult, missingLinks, withoutLinks } from './rows';

const ext: SfField = { name: 'External_Id__c', type: 'string', externalId: true };
const lookup = (name: string, object: string, relationship: string, from: string): SendField => ({
  spec: { from, to: `${relationship}.External_Id__c`, pgType: 'text', isKey: false },
  field: ext,
  column: `${relationship}.External_Id__c`,
  parent: { relationship, object, lookup: { name, type: 'reference', referenceTo: [object], relationshipName: relationship } },
});
const account = lookup('AccountId', 'Account', 'Account', 'account_key');
const billing = lookup('Billing_Account__c', 'Account', 'Billing_Account__r', 'billing_key');
const manager = lookup('ReportsToId', 'Contact', 'ReportsTo', 'manager_key');
const model = { activationId: 'act', send: [account, billing, manager] } as unknown as WriteModel;
const refused = (value: string, object = 'Account') => ({
  key: 'c1',
  ok: false as const,
  code: 'INVALID_FIELD',
  message: `Foreign key external ID: ${value} not found for field External_Id__c in entity ${object} (fields: AccountId)`,
  retryable: false,
});
const values = {
  LastName: 'L',
  'Account.External_Id__c': 'A9',
  'Billing_Account__r.External_Id__c': 'A1',
  'ReportsTo.External_Id__c': 'C9',
};

test('the lookup to the named object and field sent with the named key is dropped, not its siblings', () => {
  expect(missingLinks(model, values, refused('A9')).map((d) => d.send)).toEqual([account]);
  expect(missingLinks(model, values, refused('C9', 'Contact')).map((d) => [d.send, d.value])).toEqual([[manager, 'C9']]);
  expect(missingLinks(model, values, refused('a9')).map((d) => d.send)).toEqual([account]);
});

test('two lookups sent with the same missing key are both dropped; one already dropped is not named again', () => {
  const same = { ...values, 'Billing_Account__r.External_Id__c': 'A9' };
  expect(missingLinks(model, same, refused('A9')).map((d) => d.send)).toEqual([account, billing]);
  const dropped = missingLinks(model, same, refused('A9'));
  expect(missingLinks(model, withoutLinks(same, dropped), refused('A9'), dropped)).toEqual([]);
  // A key Salesforce spells otherwise than any sent: every lookup to that parent field still sent is dropped.
  expect(missingLinks(model, values, refused('A-nine')).map((d) => d.send)).toEqual([account, billing]);
});

test('another failure names no lookup; the values lose the dropped relationship and clear its lookup', () => {
  expect(missingLinks(model, values, { ...refused('A9'), code: 'REQUIRED_FIELD_MISSING' })).toEqual([]);
  expect(missingLinks(model, values, { key: 'c1', ok: true, destinationId: '003' })).toEqual([]);
  const dropped = missingLinks(model, values, refused('A9'));
  expect(withoutLinks(values, dropped)).toEqual({
    LastName: 'L',
    AccountId: null,
    'Billing_Account__r.External_Id__c': 'A1',
    'ReportsTo.External_Id__c': 'C9',
  });
  const both = [...dropped, ...missingLinks(model, values, refused('C9', 'Contact'))];
  const r = incompleteResult(model, { key: 'c1', ok: true, destinationId: '003x' }, both);
  expect(r).toMatchObject({
    ok: true,
    destinationId: '003x',
    incomplete: {
      code: 'WRITTEN_WITHOUT_LINK',
      message: expect.stringMatching(
        /^written without its link AccountId to Account: no Account has External_Id__c = "A9" \(mapping "account_key" → "Account.External_Id__c"\); written without its link ReportsToId to Contact: .*Create that Account \/ Contact/,
      ),
    },
  });
});
