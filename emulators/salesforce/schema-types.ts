/** Types of the schema registry: the subset of DescribeSObjectResult / Field the emulator reasons about. */
export type FieldType =
  | 'id'
  | 'string'
  | 'textarea'
  | 'email'
  | 'phone'
  | 'url'
  | 'picklist'
  | 'multipicklist'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'time'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'reference';

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  length: number;
  precision: number;
  scale: number;
  digits: number;
  createable: boolean;
  updateable: boolean;
  nillable: boolean;
  unique: boolean;
  caseSensitive: boolean;
  externalId: boolean;
  idLookup: boolean;
  defaultedOnCreate: boolean;
  calculated: boolean;
  custom: boolean;
  referenceTo: string[];
  relationshipName: string | null;
  picklistValues: string[];
  restrictedPicklist: boolean;
  /** Value stored on create when the caller sends nothing (defaultedOnCreate fields). */
  defaultValue?: string | number | boolean | null;
}

export interface ObjectDef {
  name: string;
  label: string;
  labelPlural: string;
  keyPrefix: string;
  fields: FieldDef[];
  /** lower-cased field name -> index in `fields` (API names are case-insensitive). */
  index: Map<string, number>;
  /** lower-cased relationship name -> reference field index (for `Account.External_Id__c`). */
  relationships: Map<string, number>;
  /** Name is read-only and derived from FirstName + LastName (Contact, Lead). */
  compoundName: boolean;
}

/** A value as stored: strings for text/date/datetime/time/picklist, numbers, booleans, or null. */
export type StoredValue = string | number | boolean | null;

/** Required on create: createable, not nillable and not defaulted (booleans are defaulted). */
export function isRequired(f: FieldDef): boolean {
  return f.createable && !f.nillable && !f.defaultedOnCreate;
}
