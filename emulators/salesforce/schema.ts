/**
 * Schema registry: realistic standard objects (Contact, Lead, Account, Opportunity) plus the custom fields
 * syncline relies on. Attributes follow describe semantics (API notes §2): required on create =
 * createable && !nillable && !defaultedOnCreate.
 */
import { f, synclineFields, systemFields } from './schema-fields';
import type { FieldDef, ObjectDef } from './schema-types';

export type { FieldDef, ObjectDef } from './schema-types';

const LEAD_SOURCE = ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other'];
const INDUSTRY = [
  'Agriculture',
  'Apparel',
  'Banking',
  'Biotechnology',
  'Chemicals',
  'Communications',
  'Construction',
  'Consulting',
  'Education',
  'Electronics',
  'Energy',
  'Engineering',
  'Entertainment',
  'Environmental',
  'Finance',
  'Food & Beverage',
  'Government',
  'Healthcare',
  'Hospitality',
  'Insurance',
  'Machinery',
  'Manufacturing',
  'Media',
  'Not For Profit',
  'Recreation',
  'Retail',
  'Shipping',
  'Technology',
  'Telecommunications',
  'Transportation',
  'Utilities',
  'Other',
];
const STAGES = [
  'Prospecting',
  'Qualification',
  'Needs Analysis',
  'Value Proposition',
  'Id. Decision Makers',
  'Perception Analysis',
  'Proposal/Price Quote',
  'Negotiation/Review',
  'Closed Won',
  'Closed Lost',
];
const LEAD_STATUS = ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'];
const NAME_RO = { createable: false, updateable: false };

function personFields(): FieldDef[] {
  return [
    f.str('LastName', 'Last Name', 80, { nillable: false }),
    f.str('FirstName', 'First Name', 40),
    f.pick('Salutation', 'Salutation', ['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.']),
    f.str('Name', 'Full Name', 121, NAME_RO),
    f.str('Title', 'Title', 128),
    f.email('Email', 'Email'),
    f.phone('Phone', 'Phone'),
    f.phone('MobilePhone', 'Mobile Phone'),
    // LeadSource is restricted here so restricted-picklist validation has a standard field to act on.
    f.pick('LeadSource', 'Lead Source', LEAD_SOURCE, { restrictedPicklist: true }),
    f.bool('HasOptedOutOfEmail', 'Email Opt Out'),
    f.text('Description', 'Description', 32000),
  ];
}

const CATALOGUE: Array<Omit<ObjectDef, 'index' | 'relationships'>> = [
  {
    name: 'Account',
    label: 'Account',
    labelPlural: 'Accounts',
    keyPrefix: '001',
    compoundName: false,
    fields: [
      f.id(),
      f.str('Name', 'Account Name', 255, { nillable: false }),
      f.pick('Type', 'Account Type', ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Partner', 'Other']),
      f.pick('Industry', 'Industry', INDUSTRY),
      f.currency('AnnualRevenue', 'Annual Revenue', 18, 0),
      f.int('NumberOfEmployees', 'Employees', 8),
      f.phone('Phone', 'Account Phone'),
      f.url('Website', 'Website'),
      f.text('BillingStreet', 'Billing Street', 255),
      f.str('BillingCity', 'Billing City', 40),
      f.str('BillingPostalCode', 'Billing Zip/Postal Code', 20),
      f.str('BillingCountry', 'Billing Country', 80),
      f.text('Description', 'Account Description', 32000),
      ...synclineFields(),
      ...systemFields(),
    ],
  },
  {
    name: 'Contact',
    label: 'Contact',
    labelPlural: 'Contacts',
    keyPrefix: '003',
    compoundName: true,
    fields: [
      f.id(),
      f.ref('AccountId', 'Account ID', 'Account', 'Account'),
      ...personFields(),
      f.str('Department', 'Department', 80),
      f.date('Birthdate', 'Birthdate'),
      f.text('MailingStreet', 'Mailing Street', 255),
      f.str('MailingCity', 'Mailing City', 40),
      f.str('MailingPostalCode', 'Mailing Zip/Postal Code', 20),
      f.str('MailingCountry', 'Mailing Country', 80),
      ...synclineFields(),
      f.multi('Interests__c', 'Interests', ['Sports', 'Music', 'Travel', 'Food'], { restrictedPicklist: true }),
      f.datetime('Last_Purchase_At__c', 'Last Purchase At'),
      f.time('Preferred_Call_Time__c', 'Preferred Call Time'),
      f.double('Lifetime_Value__c', 'Lifetime Value', 16, 2),
      // Create-only (createable, not updateable), as a master-detail field without reparenting or
      // OpportunityLineItem.PricebookEntryId are in an org: set on create, refused on every update.
      f.str('First_Touch__c', 'First Touch', 80, { updateable: false }),
      // A Number External ID: matched by value (store.ts), as Salesforce does ('1.50' and '1.5' are one record).
      f.double('Number_Key__c', 'Number Key', 14, 4, { externalId: true, unique: true, idLookup: true }),
      ...systemFields(),
    ],
  },
  {
    name: 'Lead',
    label: 'Lead',
    labelPlural: 'Leads',
    keyPrefix: '00Q',
    compoundName: true,
    fields: [
      f.id(),
      ...personFields(),
      f.str('Company', 'Company', 255, { nillable: false }),
      f.pick('Status', 'Status', LEAD_STATUS, { nillable: false, defaultedOnCreate: true, defaultValue: 'Open - Not Contacted' }),
      f.pick('Industry', 'Industry', INDUSTRY),
      f.pick('Rating', 'Rating', ['Hot', 'Warm', 'Cold']),
      f.currency('AnnualRevenue', 'Annual Revenue', 18, 0),
      f.int('NumberOfEmployees', 'Employees', 8),
      f.url('Website', 'Website'),
      ...synclineFields(),
      ...systemFields(),
    ],
  },
  {
    name: 'Opportunity',
    label: 'Opportunity',
    labelPlural: 'Opportunities',
    keyPrefix: '006',
    compoundName: false,
    fields: [
      f.id(),
      f.ref('AccountId', 'Account ID', 'Account', 'Account'),
      f.str('Name', 'Name', 120, { nillable: false }),
      f.currency('Amount', 'Amount', 16, 2),
      f.date('CloseDate', 'Close Date', { nillable: false }),
      f.pick('StageName', 'Stage', STAGES, { nillable: false, restrictedPicklist: true }),
      f.percent('Probability', 'Probability (%)', 3, 0, { defaultedOnCreate: true }),
      f.pick('Type', 'Opportunity Type', ['Existing Customer - Upgrade', 'Existing Customer - Replacement', 'New Customer']),
      f.pick('LeadSource', 'Lead Source', LEAD_SOURCE),
      f.text('Description', 'Description', 32000),
      f.bool('IsWon', 'Won', { createable: false, updateable: false, calculated: true }),
      ...synclineFields(),
      ...systemFields(),
    ],
  },
];

function index(def: Omit<ObjectDef, 'index' | 'relationships'>): ObjectDef {
  const idx = new Map<string, number>();
  const rel = new Map<string, number>();
  def.fields.forEach((fd, i) => {
    idx.set(fd.name.toLowerCase(), i);
    if (fd.relationshipName) rel.set(fd.relationshipName.toLowerCase(), i);
  });
  // Own field list per registry: record types add RecordTypeId to an object at run time.
  return { ...def, fields: [...def.fields], index: idx, relationships: rel };
}

export class SchemaRegistry {
  private readonly byName = new Map<string, ObjectDef>();
  private readonly byPrefix = new Map<string, ObjectDef>();

  constructor() {
    for (const def of CATALOGUE) this.add(index(def));
  }

  add(def: ObjectDef): void {
    this.byName.set(def.name.toLowerCase(), def);
    this.byPrefix.set(def.keyPrefix, def);
  }

  get(name: string): ObjectDef | undefined {
    return this.byName.get(name.toLowerCase());
  }

  byKeyPrefix(prefix: string): ObjectDef | undefined {
    return this.byPrefix.get(prefix);
  }

  all(): ObjectDef[] {
    return [...this.byName.values()];
  }
}

export function field(def: ObjectDef, name: string): FieldDef | undefined {
  const i = def.index.get(name.toLowerCase());
  return i === undefined ? undefined : def.fields[i];
}

export function fieldIndex(def: ObjectDef, name: string): number | undefined {
  return def.index.get(name.toLowerCase());
}
