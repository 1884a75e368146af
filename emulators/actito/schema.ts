import { apiError, isObject, json, parseJson, type Reply } from './http';
import type { Route, RouteContext } from './router';
import type { EmulatorState } from './state';
import { customTableStructure, profileTableStructure } from './structures';
import type { Table } from './table';
import { TECHNICAL_ATTRIBUTES } from './tables';
import { isValueType, type AttributeDef, type FieldError } from './types';
import { validateAttributeName } from './values';

const sameDefinition = (a: AttributeDef, b: AttributeDef): boolean =>
  a.valueType === b.valueType &&
  a.mandatory === b.mandatory &&
  a.unique === b.unique &&
  JSON.stringify(a.valueRestriction ?? null) === JSON.stringify(b.valueRestriction ?? null);

/** Parses one requested attribute; profile attributes must be `type: CUSTOM` with a valueType [A]. */
export function parseAttribute(raw: unknown, profile: boolean): AttributeDef | FieldError {
  const r = isObject(raw) ? raw : {};
  const name = typeof r.name === 'string' ? r.name : '';
  const bad = (message: string): FieldError => ({ field: name || '(unnamed)', code: 'INVALID_VALUE', message });
  const nameError = validateAttributeName(r.name);
  if (nameError) return bad(nameError);
  if (TECHNICAL_ATTRIBUTES.has(name)) return bad(`'${name}' is a reserved technical attribute name`);
  if (profile && r.type !== undefined && r.type !== 'CUSTOM')
    return bad(`only CUSTOM profile attributes can be created, got type '${String(r.type)}'`);
  if (!isValueType(r.valueType))
    return bad(`valueType '${String(r.valueType)}' is not one of STRING, INTEGER, LONG, NUMBER, BOOLEAN, DATE, TIMESTAMP`);
  const restriction = isObject(r.valueRestriction) ? (r.valueRestriction as AttributeDef['valueRestriction']) : undefined;
  return {
    name,
    valueType: r.valueType,
    mandatory: r.mandatory === true,
    indexed: r.indexed === true || r.unique === true,
    unique: r.unique === true,
    ...(restriction ? { valueRestriction: restriction } : {}),
    ...(profile ? { profileType: 'CUSTOM' } : {}),
  };
}

/**
 * Adds attributes [A contract, API notes §3]: body `{"attributes":[…]}` means "add these". All-or-nothing:
 * 400 invalid name/type or mandatory/unique on a populated table [D S9], 409 an existing name with a
 * different definition, same definition = idempotent 200. Answers the updated structure.
 */
function addAttributes(table: Table, body: unknown, render: (t: Table) => unknown): Reply {
  if (!isObject(body) || !Array.isArray(body.attributes) || body.attributes.length === 0) {
    return apiError(400, 'body must be {"attributes":[{name, valueType, mandatory, indexed, unique}]}');
  }
  const profile = table.kind === 'PROFILE_TABLE';
  const toAdd: AttributeDef[] = [];
  const errors: FieldError[] = [];
  const conflicts: FieldError[] = [];
  for (const raw of body.attributes) {
    const def = parseAttribute(raw, profile);
    if ('code' in def) {
      errors.push(def);
      continue;
    }
    const existing = table.attribute(def.name);
    if (existing) {
      if (!sameDefinition(existing, def))
        conflicts.push({
          field: def.name,
          code: 'ALREADY_EXISTS',
          message: `attribute '${def.name}' already exists with a different definition (${existing.valueType}, mandatory=${existing.mandatory}, unique=${existing.unique})`,
        });
      continue;
    }
    if ((def.mandatory || def.unique) && table.size > 0) {
      errors.push({
        field: def.name,
        code: 'INVALID_VALUE',
        message: `cannot add mandatory or unique attribute '${def.name}' to populated table '${table.name}'; recreate the table`,
      });
      continue;
    }
    if (toAdd.some((d) => d.name === def.name))
      errors.push({ field: def.name, code: 'INVALID_VALUE', message: `attribute '${def.name}' is listed twice` });
    else toAdd.push(def);
  }
  if (errors.length) return apiError(400, 'invalid attribute definition', errors);
  if (conflicts.length) return apiError(409, 'attribute already exists', conflicts);
  for (const def of toAdd) table.addAttribute(def);
  return json(200, render(table));
}

/** Entities and v5 table structures [D S6, S7, S8]; v4 custom-table listing [D S23, A shape]. */
export function schemaRoutes(state: EmulatorState): Route[] {
  const entities = (): Reply => json(200, { entities: [{ id: 1, name: state.config.entity, comment: null }] });
  const custom = (ctx: RouteContext): Table => state.customTable({ ...ctx.params, table: ctx.params.tableId ?? '' });
  const profile = (ctx: RouteContext): Table => state.profileTable({ ...ctx.params, table: ctx.params.tableId ?? '' });
  const C = '/v5/entities/:entity/custom-tables';
  const P = '/v5/entities/:entity/profile-tables';
  const [CS, PS] = ['/custom-table-structure', '/profile-table-structure'];
  const patchCustom = (ctx: RouteContext): Reply => addAttributes(custom(ctx), parseJson(ctx.body), customTableStructure);
  const patchProfile = (ctx: RouteContext): Reply => addAttributes(profile(ctx), parseJson(ctx.body), profileTableStructure);
  return [
    { method: 'GET', pattern: '/v5/entities', handler: entities, prefix: '/entities' },
    { method: 'GET', pattern: '/v4/entity', handler: entities, prefix: '/entities' },
    {
      method: 'GET',
      pattern: C,
      handler: (ctx) => (
        state.requireEntity(ctx.params),
        json(200, { customTables: state.tables.customTables().map(customTableStructure) })
      ),
      prefix: CS,
    },
    { method: 'GET', pattern: `${C}/:tableId`, handler: (ctx) => json(200, customTableStructure(custom(ctx))), prefix: CS },
    { method: 'PATCH', pattern: `${C}/:tableId`, handler: patchCustom, prefix: CS },
    { method: 'PUT', pattern: `${C}/:tableId`, handler: patchCustom, prefix: CS },
    {
      method: 'GET',
      pattern: P,
      handler: (ctx) => (state.requireEntity(ctx.params), json(200, { profileTables: [profileTableStructure(state.profiles)] })),
      prefix: PS,
    },
    { method: 'GET', pattern: `${P}/:tableId`, handler: (ctx) => json(200, profileTableStructure(profile(ctx))), prefix: PS },
    { method: 'PATCH', pattern: `${P}/:tableId`, handler: patchProfile, prefix: PS },
    { method: 'PUT', pattern: `${P}/:tableId`, handler: patchProfile, prefix: PS },
    {
      method: 'GET',
      pattern: '/v4/entity/:entity/customTable',
      handler: (ctx) => (
        state.requireEntity(ctx.params),
        json(200, { customTables: state.tables.customTables().map((t) => ({ id: t.v4Id, name: t.name, uuid: t.id })) })
      ),
      // [A] the v4 listing sits with the v4 record routes.
      prefix: '/custom-data',
    },
  ];
}
