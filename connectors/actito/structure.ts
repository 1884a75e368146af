/**
 * Table structures (API notes §2) parsed into one plain shape, defensively: unknown fields are
 * ignored and missing flags read as false, so a richer real API answer still parses.
 */
export interface Attribute {
  name: string;
  /** Actito value type; predefined profile semantics without a valueType read as STRING. */
  valueType: string;
  mandatory: boolean;
  unique: boolean;
  maxLength?: number;
  acceptedValues?: string[];
}

export interface ForeignKey {
  attribute: string;
  tableType: string;
  tableId: string;
  /** The referenced (unique) attribute, e.g. the profile table's `customerId`. */
  refAttribute: string;
}

export interface TableInfo {
  id: string;
  name: string;
  primaryKey: string | null;
  attributes: Map<string, Attribute>;
  foreignKeys: ForeignKey[];
}

/** Technical columns Actito fills itself and ignores on import (API notes §2, S19). */
export const TECHNICAL = new Set(['id', 'profileId', 'creationMoment', 'updateMoment']);

const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

export function parseAttribute(raw: unknown): Attribute | null {
  const a = obj(raw);
  const name = str(a.name);
  if (!name) return null;
  const r = obj(a.valueRestriction);
  const attr: Attribute = {
    name,
    valueType: (str(a.valueType) ?? 'STRING').toUpperCase(),
    mandatory: a.mandatory === true,
    unique: a.unique === true,
  };
  if (typeof r.maxLength === 'number') attr.maxLength = r.maxLength;
  if (Array.isArray(r.acceptedValues)) attr.acceptedValues = r.acceptedValues.map(String);
  return attr;
}

export function parseTable(raw: unknown): TableInfo | null {
  const t = obj(raw);
  const id = str(t.id);
  const name = str(t.name);
  if (!id || !name) return null;
  const attributes = new Map<string, Attribute>();
  for (const a of Array.isArray(t.attributes) ? t.attributes : []) {
    const parsed = parseAttribute(a);
    if (parsed) attributes.set(parsed.name, parsed);
  }
  const foreignKeys: ForeignKey[] = [];
  for (const f of Array.isArray(t.foreignKeys) ? t.foreignKeys : []) {
    const fk = obj(f);
    const ref = obj(fk.reference);
    const attribute = str(fk.attribute);
    const refAttribute = str(ref.attribute);
    if (attribute && refAttribute)
      foreignKeys.push({ attribute, refAttribute, tableType: str(ref.tableType) ?? '', tableId: str(ref.tableId) ?? '' });
  }
  return { id, name, primaryKey: str(t.primaryKeyAttribute), attributes, foreignKeys };
}

/** Tables out of a list answer: a bare array or the first array property (`customTables`, `profileTables`, ...). */
export function parseTableList(raw: unknown): TableInfo[] {
  const list = Array.isArray(raw) ? raw : (Object.values(obj(raw)).find(Array.isArray) ?? []);
  return list.map(parseTable).filter((t): t is TableInfo => t !== null);
}

/** A table by technical name or id (the destination may name either). */
export function findTable(tables: TableInfo[], ref: string): TableInfo | undefined {
  return tables.find((t) => t.name === ref) ?? tables.find((t) => t.id === ref);
}

/** Is `name` a unique attribute of the table (its primary key or an attribute flagged unique)? */
export function isUniqueAttribute(t: TableInfo, name: string): boolean {
  return t.primaryKey === name || t.attributes.get(name)?.unique === true;
}

/** Attributes a created record must carry (technical ones are filled by Actito). */
export function mandatoryAttributes(t: TableInfo): string[] {
  return [...t.attributes.values()].filter((a) => a.mandatory && !TECHNICAL.has(a.name)).map((a) => a.name);
}
