/** Small constructors for field definitions, so the object catalogue in schema.ts reads like a table. */
import type { FieldDef, FieldType } from './schema-types';

type Opts = Partial<FieldDef>;

function base(name: string, label: string, type: FieldType, o: Opts): FieldDef {
  return {
    name,
    label,
    type,
    length: 0,
    precision: 0,
    scale: 0,
    digits: 0,
    createable: true,
    updateable: true,
    nillable: true,
    unique: false,
    caseSensitive: false,
    externalId: false,
    idLookup: false,
    defaultedOnCreate: false,
    calculated: false,
    custom: name.endsWith('__c'),
    referenceTo: [],
    relationshipName: null,
    picklistValues: [],
    restrictedPicklist: false,
    ...o,
  };
}

const READ_ONLY: Opts = { createable: false, updateable: false };

export const f = {
  id: (): FieldDef => base('Id', 'Record ID', 'id', { ...READ_ONLY, nillable: false, idLookup: true, length: 18, defaultedOnCreate: true }),
  str: (name: string, label: string, length: number, o: Opts = {}) => base(name, label, 'string', { length, ...o }),
  text: (name: string, label: string, length: number, o: Opts = {}) => base(name, label, 'textarea', { length, ...o }),
  email: (name: string, label: string, o: Opts = {}) => base(name, label, 'email', { length: 80, idLookup: true, ...o }),
  phone: (name: string, label: string) => base(name, label, 'phone', { length: 40 }),
  url: (name: string, label: string) => base(name, label, 'url', { length: 255 }),
  bool: (name: string, label: string, o: Opts = {}) =>
    base(name, label, 'boolean', { nillable: false, defaultedOnCreate: true, defaultValue: false, ...o }),
  date: (name: string, label: string, o: Opts = {}) => base(name, label, 'date', o),
  datetime: (name: string, label: string, o: Opts = {}) => base(name, label, 'datetime', o),
  time: (name: string, label: string, o: Opts = {}) => base(name, label, 'time', o),
  int: (name: string, label: string, digits: number) => base(name, label, 'int', { digits }),
  currency: (name: string, label: string, precision: number, scale: number) => base(name, label, 'currency', { precision, scale }),
  double: (name: string, label: string, precision: number, scale: number, o: Opts = {}) =>
    base(name, label, 'double', { precision, scale, ...o }),
  percent: (name: string, label: string, precision: number, scale: number, o: Opts = {}) =>
    base(name, label, 'percent', { precision, scale, ...o }),
  pick: (name: string, label: string, values: string[], o: Opts = {}) =>
    base(name, label, 'picklist', { length: 255, picklistValues: values, ...o }),
  multi: (name: string, label: string, values: string[], o: Opts = {}) =>
    base(name, label, 'multipicklist', { length: 4099, picklistValues: values, ...o }),
  ref: (name: string, label: string, to: string, relationshipName: string, o: Opts = {}) =>
    base(name, label, 'reference', { length: 18, referenceTo: [to], relationshipName, ...o }),
  /** External-id text field: unique, case-insensitive, usable as an upsert key. */
  extId: (name: string, label: string, length: number) =>
    base(name, label, 'string', { length, externalId: true, unique: true, idLookup: true }),
};

/** Audit and system fields every object carries; none are createable or updateable. */
export function systemFields(): FieldDef[] {
  return [
    f.bool('IsDeleted', 'Deleted', { createable: false, updateable: false }),
    f.ref('OwnerId', 'Owner ID', 'User', 'Owner', { nillable: false, defaultedOnCreate: true }),
    f.datetime('CreatedDate', 'Created Date', { ...READ_ONLY, nillable: false, defaultedOnCreate: true }),
    f.ref('CreatedById', 'Created By ID', 'User', 'CreatedBy', { ...READ_ONLY, nillable: false, defaultedOnCreate: true }),
    f.datetime('LastModifiedDate', 'Last Modified Date', { ...READ_ONLY, nillable: false, defaultedOnCreate: true }),
    f.ref('LastModifiedById', 'Last Modified By ID', 'User', 'LastModifiedBy', { ...READ_ONLY, nillable: false, defaultedOnCreate: true }),
    f.datetime('SystemModstamp', 'System Modstamp', { ...READ_ONLY, nillable: false, defaultedOnCreate: true }),
  ];
}

/** The custom fields the syncline connector relies on, present on every seeded object. */
export function synclineFields(): FieldDef[] {
  return [f.extId('External_Id__c', 'External Id', 255), f.extId('Syncline_Token__c', 'Syncline Token', 64)];
}
