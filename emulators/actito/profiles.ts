import { apiError, HttpError, isObject, json, nameValuePairs, parseJson, type Reply } from './http';
import type { Route, RouteContext } from './router';
import type { EmulatorState } from './state';
import type { Table } from './table';
import { validateRecord } from './validate';
import { canonicalize, toJson } from './values';

interface ProfileExtras {
  subscriptions: { name: string; subscribe: boolean }[];
  segmentations: unknown[];
  dataCollectionInformation?: unknown;
}

const BASE = '/v4/entity/:entity/table/:table/profile';

/** Row of the first unique attribute in the input that matches a profile [A: precedence = table order]. */
export function matchProfile(table: Table, input: [string, unknown][]): number | undefined {
  for (const a of table.attributes) {
    if (!a.unique) continue;
    const raw = input.find(([n]) => n === a.name)?.[1];
    const c = canonicalize(a, raw);
    if ('value' in c && c.value !== null) {
      const row = table.findBy(a.name, c.value);
      if (row !== undefined) return row;
    }
  }
  return undefined;
}

/** `{profileId}` or `{attr}={value}` addressing [C C2, C3]. */
function findProfile(table: Table, ref: string): number | undefined {
  const eq = ref.indexOf('=');
  if (eq < 0) return /^\d+$/.test(ref) && table.read(Number(ref) - 1) ? Number(ref) - 1 : undefined;
  const name = ref.slice(0, eq);
  const a = table.attribute(name);
  if (!a?.unique) throw new HttpError(400, `'${name}' is not a unique attribute of profile table '${table.name}'`);
  const c = canonicalize(a, ref.slice(eq + 1));
  return 'value' in c && c.value !== null ? table.findBy(name, c.value) : undefined;
}

export function profileBody(table: Table, row: number): Record<string, unknown> {
  const values = table.read(row) ?? {};
  const extras = (table.extras.get(row) as ProfileExtras | undefined) ?? { subscriptions: [], segmentations: [] };
  const attributes = table.attributes
    .filter((a) => values[a.name] != null)
    .map((a) => ({ name: a.name, value: toJson(a, values[a.name] ?? null) }));
  return { profileId: row + 1, attributes: [{ name: 'profileId', value: row + 1 }, ...attributes], ...extras };
}

function mergeExtras(table: Table, row: number, body: Record<string, unknown>): void {
  const prev = (table.extras.get(row) as ProfileExtras | undefined) ?? { subscriptions: [], segmentations: [] };
  const subs = Array.isArray(body.subscriptions) ? (body.subscriptions as ProfileExtras['subscriptions']) : [];
  const subscriptions = [...prev.subscriptions.filter((s) => !subs.some((n) => n.name === s.name)), ...subs];
  const segmentations = Array.isArray(body.segmentations) ? body.segmentations : prev.segmentations;
  const dci = body.dataCollectionInformation ?? prev.dataCollectionInformation;
  table.extras.set(row, { subscriptions, segmentations, ...(dci === undefined ? {} : { dataCollectionInformation: dci }) });
}

/** Deleting a profile deletes linked custom records whose foreign key says CASCADE [D S7]. */
export function deleteProfileCascade(state: EmulatorState, row: number): void {
  const profile = state.profiles.read(row);
  if (!profile) return;
  for (const t of state.tables.customTables()) {
    for (const fk of t.foreignKeys) {
      const v = profile[fk.reference.attribute];
      if (fk.reference.tableType !== 'PROFILE_TABLE' || fk.onDelete !== 'CASCADE' || v == null) continue;
      for (const r of t.findAll(fk.attribute, v)) t.delete(r);
    }
  }
  state.profiles.delete(row);
}

/** v4 profile routes [D S15, S16; C C2, C3, C4]. */
export function profileRoutes(state: EmulatorState): Route[] {
  const opts = { technical: 'reject' as const, emptyOnUpdate: state.config.emptyOnUpdate };
  const bodyOf = (ctx: RouteContext): Record<string, unknown> => {
    const body = parseJson(ctx.body);
    if (!isObject(body)) throw new HttpError(400, 'body must be {"attributes":[{"name":…,"value":…}], "subscriptions":[…], …}');
    return body;
  };

  // Without allowUpdate=true the call is create-only [D S15]; an existing match → 409 [A].
  const upsert = (ctx: RouteContext): Reply => {
    const table = state.profileTable(ctx.params);
    const body = bodyOf(ctx);
    const input = nameValuePairs(body.attributes ?? [], 'attributes');
    const existing = matchProfile(table, input);
    if (existing !== undefined && ctx.query.get('allowUpdate') !== 'true') {
      return apiError(409, `a profile matching these unique attributes already exists (profileId ${existing + 1}); use allowUpdate=true`, [
        { field: 'attributes', code: 'ALREADY_EXISTS', message: `profile ${existing + 1} already exists` },
      ]);
    }
    const v = validateRecord(state.tables, table, input, { ...opts, op: existing === undefined ? 'create' : 'update', row: existing });
    if (v.errors.length) return apiError(400, 'validation failed', v.errors);
    if (existing !== undefined) {
      table.update(existing, v.values);
      mergeExtras(table, existing, body);
      return json(200, { profileId: existing + 1 });
    }
    const row = table.insert(v.values);
    mergeExtras(table, row, body);
    return json(201, { profileId: row + 1 }, { Location: `/v4/entity/${state.config.entity}/table/${table.name}/profile/${row + 1}` });
  };

  const located = (ctx: RouteContext): { table: Table; row: number } => {
    const table = state.profileTable(ctx.params);
    const row = findProfile(table, ctx.params.ref ?? '');
    if (row === undefined) throw new HttpError(404, `profile '${ctx.params.ref}' not found`);
    return { table, row };
  };

  const update = (ctx: RouteContext): Reply => {
    const { table, row } = located(ctx);
    const body = bodyOf(ctx);
    const v = validateRecord(state.tables, table, nameValuePairs(body.attributes ?? [], 'attributes'), { ...opts, op: 'update', row });
    if (v.errors.length) return apiError(400, 'validation failed', v.errors);
    table.update(row, v.values);
    mergeExtras(table, row, body);
    return json(200, { profileId: row + 1 });
  };

  const list = (ctx: RouteContext): Reply => {
    const table = state.profileTable({ ...ctx.params, table: ctx.params.tableId ?? '' });
    const limit = Math.min(Number(ctx.query.get('limit') ?? 100) || 100, 10_000);
    const profiles: unknown[] = [];
    for (const [row] of table.entries()) {
      if (profiles.length >= limit) break;
      profiles.push(profileBody(table, row));
    }
    return json(200, { profiles });
  };

  // v4 list `GET …/profile?search&dateFilter&number` [C C1 getProfiles]: the first `number` profiles
  // (default 100); `search` and `dateFilter` are not emulated [A: their syntax is undocumented].
  const v4list = (ctx: RouteContext): Reply => {
    const table = state.profileTable(ctx.params);
    const limit = Math.min(Number(ctx.query.get('number') ?? 100) || 100, 10_000);
    const profiles: unknown[] = [];
    for (const [row] of table.entries()) {
      if (profiles.length >= limit) break;
      profiles.push(profileBody(table, row));
    }
    return json(200, { profiles });
  };

  const routes: Route[] = [
    { method: 'POST', pattern: BASE, handler: upsert },
    { method: 'GET', pattern: BASE, handler: v4list },
    {
      method: 'GET',
      pattern: `${BASE}/:ref`,
      handler: (ctx) => {
        const { table, row } = located(ctx);
        return json(200, profileBody(table, row));
      },
    },
    { method: 'PUT', pattern: `${BASE}/:ref`, handler: update },
    {
      method: 'DELETE',
      pattern: `${BASE}/:ref`,
      handler: (ctx) => {
        const { row } = located(ctx);
        deleteProfileCascade(state, row);
        return json(204);
      },
    },
    // [A] the v5 profile listing's prefix: the profile family's.
    { method: 'GET', pattern: '/v5/entities/:entity/profile-tables/:tableId/profiles', handler: list },
  ];
  return routes.map((r) => ({ ...r, prefix: '/profiles' }));
}
