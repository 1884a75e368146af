import { apiError, HttpError, isObject, json, nameValuePairs, parseJson, type Reply } from './http';
import type { Route, RouteContext } from './router';
import type { EmulatorState } from './state';
import type { Table } from './table';
import { validateRecord } from './validate';
import { toJson } from './values';

const BASE = '/v4/entity/:entity/customTable/:table/record';

/** `{"properties":[{name,value}]}` for one stored record, plus its technical `id` [C C1, C6]. */
export function recordBody(table: Table, row: number): Record<string, unknown> {
  const values = table.read(row) ?? {};
  const properties = table.attributes
    .filter((a) => values[a.name] != null)
    .map((a) => ({ name: a.name, value: toJson(a, values[a.name] ?? null) }));
  return { properties: [{ name: 'id', value: row + 1 }, ...properties] };
}

/** `{recordKey}` = business key, else the technical id [C C3, C6]. */
function findRecord(table: Table, key: string): number | undefined {
  const byKey = table.findBy(table.primaryKeyAttribute, key);
  if (byKey !== undefined) return byKey;
  if (/^\d+$/.test(key) && table.read(Number(key) - 1)) return Number(key) - 1;
  return undefined;
}

function properties(ctx: RouteContext): [string, unknown][] {
  const body = parseJson(ctx.body);
  if (!isObject(body)) throw new HttpError(400, 'body must be {"properties":[{"name":…,"value":…}]}');
  return nameValuePairs(body.properties, 'properties');
}

/** v4 one-by-one custom-table record routes (shapes from client code [C C1, C2, C3]). */
export function recordRoutes(state: EmulatorState): Route[] {
  const opts = { technical: 'reject' as const, emptyOnUpdate: state.config.emptyOnUpdate };

  // POST = create or update by primary key (op "customtables-records-createorupdate" [C C2]).
  const upsert = (ctx: RouteContext): Reply => {
    const table = state.customTable(ctx.params);
    const input = properties(ctx);
    const pk = table.attribute(table.primaryKeyAttribute);
    const rawKey = input.find(([n]) => n === table.primaryKeyAttribute)?.[1];
    if (!pk || rawKey === undefined || rawKey === null || rawKey === '') {
      return apiError(400, 'validation failed', [
        { field: table.primaryKeyAttribute, code: 'MANDATORY_MISSING', message: `business key '${table.primaryKeyAttribute}' is required` },
      ]);
    }
    const existing = table.findBy(table.primaryKeyAttribute, String(rawKey));
    const v = validateRecord(state.tables, table, input, { ...opts, op: existing === undefined ? 'create' : 'update', row: existing });
    if (v.errors.length) return apiError(400, 'validation failed', v.errors);
    const key = v.values[table.primaryKeyAttribute] ?? String(rawKey);
    if (existing !== undefined) {
      table.update(existing, v.values);
      return json(200, { businessKey: key });
    }
    table.insert(v.values);
    const location = `/v4/entity/${state.config.entity}/customTable/${table.name}/record/${encodeURIComponent(key)}`;
    return json(201, { businessKey: key }, { Location: location });
  };

  const update = (ctx: RouteContext): Reply => {
    const table = state.customTable(ctx.params);
    const row = findRecord(table, ctx.params.key ?? '');
    if (row === undefined) return apiError(404, `record '${ctx.params.key}' not found in '${table.name}'`);
    const input = properties(ctx);
    const current = table.read(row)?.[table.primaryKeyAttribute];
    const sentKey = input.find(([n]) => n === table.primaryKeyAttribute)?.[1];
    if (sentKey !== undefined && sentKey !== null && String(sentKey) !== current) {
      return apiError(400, 'validation failed', [
        { field: table.primaryKeyAttribute, code: 'KEY_CHANGE', message: 'the business key of a record cannot be changed' },
      ]);
    }
    const v = validateRecord(state.tables, table, input, { ...opts, op: 'update', row });
    if (v.errors.length) return apiError(400, 'validation failed', v.errors);
    table.update(row, v.values);
    return json(204);
  };

  const get = (ctx: RouteContext): Reply => {
    const table = state.customTable(ctx.params);
    const row = findRecord(table, ctx.params.key ?? '');
    if (row === undefined) return apiError(404, `record '${ctx.params.key}' not found in '${table.name}'`);
    const body = recordBody(table, row);
    const omitted = state.faults.recordOmitted();
    if (omitted.length) body.properties = (body.properties as Array<{ name: string }>).filter((p) => !omitted.includes(p.name));
    return json(200, body);
  };

  const remove = (ctx: RouteContext): Reply => {
    const table = state.customTable(ctx.params);
    const row = findRecord(table, ctx.params.key ?? '');
    if (row === undefined) return apiError(404, `record '${ctx.params.key}' not found in '${table.name}'`);
    table.delete(row);
    return json(204);
  };

  // Search list [C C1]; paging beyond `number` is undocumented [A: first `number` matches, default 100].
  const search = (ctx: RouteContext): Reply => {
    const table = state.customTable(ctx.params);
    const q = ctx.query;
    const field = q.get('searchField');
    const value = q.get('searchValue');
    const limit = Math.min(Number(q.get('number') ?? 100) || 100, 10_000);
    let rows = field && value !== null ? table.findAll(field, value) : [...table.entries()].map(([r]) => r);
    const sorted = q.get('sortedField');
    if (sorted) {
      const dir = q.get('ascending') === 'false' ? -1 : 1;
      const keyOf = (r: number): string => table.read(r)?.[sorted] ?? '';
      rows = rows.sort((a, b) => dir * keyOf(a).localeCompare(keyOf(b), undefined, { numeric: true }));
    }
    return json(200, { records: rows.slice(0, limit).map((r) => recordBody(table, r)) });
  };

  const routes: Route[] = [
    { method: 'POST', pattern: BASE, handler: upsert },
    { method: 'GET', pattern: BASE, handler: search },
    { method: 'GET', pattern: `${BASE}/:key`, handler: get },
    { method: 'PUT', pattern: `${BASE}/:key`, handler: update },
    { method: 'DELETE', pattern: `${BASE}/:key`, handler: remove },
  ];
  return routes.map((r) => ({ ...r, prefix: '/custom-data' }));
}
