/** Renders registry entries as DescribeGlobalResult / DescribeSObjectResult JSON (API notes §2). */
import type { FieldDef, ObjectDef, SchemaRegistry } from './schema';

const SOAP_TYPES: Record<FieldDef['type'], string> = {
  id: 'tns:ID',
  reference: 'tns:ID',
  string: 'xsd:string',
  textarea: 'xsd:string',
  email: 'xsd:string',
  phone: 'xsd:string',
  url: 'xsd:string',
  picklist: 'xsd:string',
  multipicklist: 'xsd:string',
  boolean: 'xsd:boolean',
  date: 'xsd:date',
  datetime: 'xsd:dateTime',
  time: 'xsd:time',
  int: 'xsd:int',
  double: 'xsd:double',
  currency: 'xsd:double',
  percent: 'xsd:double',
};

function urls(version: string, def: ObjectDef): Record<string, string> {
  const base = `/services/data/v${version}/sobjects/${def.name}`;
  return { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` };
}

function describeField(fd: FieldDef): Record<string, unknown> {
  const textual = ['string', 'textarea', 'email', 'phone', 'url', 'picklist', 'multipicklist', 'id', 'reference'];
  return {
    name: fd.name,
    label: fd.label,
    type: fd.type,
    soapType: SOAP_TYPES[fd.type],
    length: fd.length,
    byteLength: textual.includes(fd.type) ? fd.length * 3 : 0,
    precision: fd.precision,
    scale: fd.scale,
    digits: fd.digits,
    createable: fd.createable,
    updateable: fd.updateable,
    nillable: fd.nillable,
    unique: fd.unique,
    caseSensitive: fd.caseSensitive,
    externalId: fd.externalId,
    idLookup: fd.idLookup,
    defaultedOnCreate: fd.defaultedOnCreate,
    calculated: fd.calculated,
    custom: fd.custom,
    autoNumber: false,
    htmlFormatted: false,
    filterable: true,
    sortable: fd.type !== 'textarea',
    groupable: fd.type !== 'textarea',
    nameField: fd.name === 'Name',
    dependentPicklist: false,
    restrictedPicklist: fd.restrictedPicklist,
    defaultValue: fd.defaultValue ?? null,
    referenceTo: fd.referenceTo,
    relationshipName: fd.relationshipName,
    picklistValues: fd.picklistValues.map((v) => ({
      active: true,
      defaultValue: fd.defaultValue === v,
      label: v,
      validFor: null,
      value: v,
    })),
  };
}

function objectSummary(version: string, def: ObjectDef): Record<string, unknown> {
  return {
    name: def.name,
    label: def.label,
    labelPlural: def.labelPlural,
    keyPrefix: def.keyPrefix,
    createable: true,
    updateable: true,
    deletable: true,
    queryable: true,
    retrieveable: true,
    searchable: true,
    undeletable: true,
    custom: false,
    customSetting: false,
    layoutable: true,
    urls: urls(version, def),
  };
}

export function describeGlobal(version: string, reg: SchemaRegistry): Record<string, unknown> {
  return { encoding: 'UTF-8', maxBatchSize: 200, sobjects: reg.all().map((d) => objectSummary(version, d)) };
}

export function describeObject(
  version: string,
  def: ObjectDef,
  recordTypeInfos: Array<Record<string, unknown>> = [],
): Record<string, unknown> {
  return {
    ...objectSummary(version, def),
    fields: def.fields.map(describeField),
    childRelationships: [],
    recordTypeInfos,
  };
}

/** `GET /sobjects/{o}` basic info (objectDescribe + recentItems). */
export function basicInfo(version: string, def: ObjectDef): Record<string, unknown> {
  return { objectDescribe: objectSummary(version, def), recentItems: [] };
}
