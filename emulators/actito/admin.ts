import { executionView } from './bulk-import';
import { parseFaults } from './faults';
import { apiError, HttpError, isObject, json, parseJson, type Reply } from './http';
import type { Route, RouteContext } from './router';
import { parseAttribute } from './schema';
import type { EmulatorState } from './state';
import { customTableStructure, profileTableStructure } from './structures';
import type { Table } from './table';
import type { AttributeDef, ForeignKeyDef } from './types';
import { toJson } from './values';

/** Flat JSON view of stored rows for assertions: `{id, ...attributes}` (null attributes omitted). */
function rows(table: Table, ctx: RouteContext): Reply {
  const offset = Math.max(0, Number(ctx.query.get('offset') ?? 0) || 0);
  const limit = Math.max(1, Number(ctx.query.get('limit') ?? 1000) || 1000);
  const records: Record<string, unknown>[] = [];
  let i = 0;
  for (const [row, values] of table.entries()) {
    if (i++ < offset) continue;
    if (records.length >= limit) break;
    const out: Record<string, unknown> = { [table.kind === 'PROFILE_TABLE' ? 'profileId' : 'id']: row + 1 };
    for (const a of table.attributes) if (values[a.name] != null) out[a.name] = toJson(a, values[a.name] ?? null);
    if (table.extras.has(row)) Object.assign(out, table.extras.get(row));
    records.push(out);
  }
  return json(200, { table: table.name, count: table.size, offset, records });
}

function tableFor(state: EmulatorState, name: string): Table {
  const t = state.tables.customTable(name) ?? state.tables.profileTable(name);
  if (!t) throw new HttpError(404, `table '${name}' not found`);
  return t;
}

/**
 * `POST /__admin/tables`: `{name, primaryKeyAttribute, attributes[], foreignKeys?, type?, enforceForeignKeys?}`.
 * A foreign key may be short (`{attribute, profileAttribute}`) or the v5 shape.
 */
function createTable(state: EmulatorState, body: unknown): Reply {
  if (!isObject(body) || typeof body.name !== 'string' || !Array.isArray(body.attributes)) {
    return apiError(400, 'body must be {name, primaryKeyAttribute, attributes:[{name, valueType, mandatory, unique}], foreignKeys?}');
  }
  if (state.tables.customTable(body.name)) return apiError(409, `table '${body.name}' already exists`);
  const attributes: AttributeDef[] = [];
  for (const raw of body.attributes) {
    const def = parseAttribute(raw, false);
    if ('code' in def) return apiError(400, def.message, [def]);
    attributes.push(def);
  }
  const pk = typeof body.primaryKeyAttribute === 'string' ? body.primaryKeyAttribute : attributes[0]?.name;
  const pkDef = attributes.find((a) => a.name === pk);
  if (!pkDef) return apiError(400, `primaryKeyAttribute '${String(pk)}' is not among the attributes`);
  pkDef.unique = pkDef.mandatory = pkDef.indexed = true;
  const foreignKeys: ForeignKeyDef[] = [];
  for (const fk of Array.isArray(body.foreignKeys) ? body.foreignKeys : []) {
    if (!isObject(fk) || typeof fk.attribute !== 'string' || !attributes.some((a) => a.name === fk.attribute)) {
      return apiError(400, 'each foreign key needs an existing `attribute`');
    }
    const ref = isObject(fk.reference) ? String(fk.reference.attribute) : String(fk.profileAttribute ?? fk.attribute);
    if (!state.profiles.attribute(ref)?.unique) return apiError(400, `profile attribute '${ref}' is not unique`);
    foreignKeys.push(state.tables.profileForeignKey(fk.attribute, ref));
  }
  const table = state.tables.createCustomTable({
    name: body.name,
    attributes,
    primaryKeyAttribute: pkDef.name,
    foreignKeys,
    ...(typeof body.type === 'string' ? { type: body.type } : {}),
    ...(typeof body.creationTimeAttribute === 'string' ? { creationTimeAttribute: body.creationTimeAttribute } : {}),
    enforceForeignKeys: body.enforceForeignKeys !== false,
  });
  return json(201, customTableStructure(table));
}

/** Test-only endpoints under `/__admin`: no auth, no faults, no limits, not logged. */
export function adminRoutes(state: EmulatorState): Route[] {
  const A = '/__admin';
  return [
    {
      method: 'POST',
      pattern: `${A}/faults`,
      handler: (ctx) => {
        const body = parseJson(ctx.body);
        const config = parseFaults(body);
        if (typeof config === 'string') return apiError(400, config);
        if (isObject(body) && body.expireTokens === true) state.tokens.expireAll();
        state.faults.set(config);
        return json(200, { faults: state.faults.active });
      },
    },
    { method: 'GET', pattern: `${A}/faults`, handler: () => json(200, { faults: state.faults.active }) },
    { method: 'DELETE', pattern: `${A}/faults`, handler: () => (state.faults.clear(), json(200, { faults: {} })) },
    { method: 'POST', pattern: `${A}/reset`, handler: () => (state.reset(), json(200, { reset: true })) },
    {
      method: 'GET',
      pattern: `${A}/requests`,
      handler: () =>
        json(200, {
          requests: state.requests.entries,
          counts: state.requests.counts,
          inFlight: [...state.requests.inFlight],
          concurrency: state.limits.view(),
        }),
    },
    {
      method: 'DELETE',
      pattern: `${A}/requests`,
      handler: () => (state.requests.clear(), state.limits.resetCounters(), json(200, { cleared: true })),
    },
    {
      method: 'GET',
      pattern: `${A}/tables`,
      handler: () =>
        json(200, {
          profileTable: profileTableStructure(state.profiles),
          customTables: state.tables.customTables().map(customTableStructure),
        }),
    },
    { method: 'POST', pattern: `${A}/tables`, handler: (ctx) => createTable(state, parseJson(ctx.body)) },
    { method: 'GET', pattern: `${A}/tables/:table/records`, handler: (ctx) => rows(tableFor(state, ctx.params.table ?? ''), ctx) },
    {
      method: 'GET',
      pattern: `${A}/tables/:table/structure`,
      handler: (ctx) => {
        const t = tableFor(state, ctx.params.table ?? '');
        return json(200, t.kind === 'PROFILE_TABLE' ? profileTableStructure(t) : customTableStructure(t));
      },
    },
    { method: 'GET', pattern: `${A}/profiles`, handler: (ctx) => rows(state.profiles, ctx) },
    {
      method: 'GET',
      pattern: `${A}/bulk-quota`,
      handler: () => {
        state.imports.quotaLeft(state.profiles); // rolls the day over if needed
        return json(200, {
          day: state.imports.quotaDay,
          quota: state.config.dailyBulkImportQuota,
          used: Object.fromEntries(state.imports.quotaUsed),
        });
      },
    },
    {
      method: 'POST',
      pattern: `${A}/api-keys`,
      handler: (ctx) => {
        const b = parseJson(ctx.body);
        if (!isObject(b) || typeof b.key !== 'string' || !b.key) return apiError(400, 'body must be {key, readOnly?, denyPaths?}');
        const denyPaths = Array.isArray(b.denyPaths) ? b.denyPaths.map(String) : undefined;
        state.tokens.apiKeys.set(b.key, { readOnly: b.readOnly === true, ...(denyPaths ? { denyPaths } : {}) });
        return json(200, { apiKeys: [...state.tokens.apiKeys.keys()].length });
      },
    },
    // Revoking a key makes its token requests and its existing tokens answer 401 [D S1].
    {
      method: 'DELETE',
      pattern: `${A}/api-keys/:key`,
      handler: (ctx) => json(state.tokens.apiKeys.delete(ctx.params.key ?? '') ? 200 : 404, {}),
    },
    {
      method: 'POST',
      pattern: `${A}/webhooks`,
      handler: (ctx) => {
        const b = parseJson(ctx.body);
        if (!isObject(b) || (b.url !== null && typeof b.url !== 'string')) return apiError(400, 'body must be {"url": "http://…" | null}');
        state.config.etlWebhookUrl = b.url;
        return json(200, { url: b.url });
      },
    },
    { method: 'GET', pattern: `${A}/journal`, handler: () => json(200, { enabled: state.journal !== null, entries: state.journal ?? [] }) },
    {
      method: 'GET',
      pattern: `${A}/imports`,
      handler: () =>
        json(200, { imports: [...state.imports.executions.values()].map((e) => ({ ...executionView(e), errors: undefined })) }),
    },
  ];
}
