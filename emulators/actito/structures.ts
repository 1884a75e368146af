import type { Table } from './table';

/** v5 custom-table structure, shape per the S7 example [D S7]. */
export function customTableStructure(t: Table): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    type: t.type,
    primaryKeyAttribute: t.primaryKeyAttribute,
    creationTimeAttribute: t.creationTimeAttribute,
    bigTable: t.bigTable,
    attributes: t.attributes.map((a) => ({
      name: a.name,
      valueType: a.valueType,
      mandatory: a.mandatory,
      indexed: a.indexed,
      unique: a.unique,
      ...(a.valueRestriction ? { valueRestriction: a.valueRestriction } : {}),
    })),
    foreignKeys: t.foreignKeys,
    eventsToTrigger: [],
    cleaningRules: null,
    displayOptions: null,
  };
}

/**
 * v5 profile-table structure [D S8]: `type` is the semantic, `valueType` given for CUSTOM ones.
 * Technical attributes are listed as CUSTOM with a valueType [A: their `type` spelling is unknown].
 */
export function profileTableStructure(t: Table): Record<string, unknown> {
  const technical = [
    { type: 'CUSTOM', name: 'profileId', valueType: 'LONG', unique: true, mandatory: false },
    { type: 'CUSTOM', name: 'creationMoment', valueType: 'TIMESTAMP', unique: false, mandatory: false },
    { type: 'CUSTOM', name: 'updateMoment', valueType: 'TIMESTAMP', unique: false, mandatory: false },
  ];
  return {
    id: t.id,
    name: t.name,
    attributes: [
      ...technical,
      ...t.attributes.map((a) => ({
        type: a.profileType ?? 'CUSTOM',
        name: a.name,
        unique: a.unique,
        mandatory: a.mandatory,
        ...((a.profileType ?? 'CUSTOM') === 'CUSTOM' ? { valueType: a.valueType } : {}),
        ...(a.valueRestriction ? { valueRestriction: a.valueRestriction } : {}),
      })),
    ],
  };
}
