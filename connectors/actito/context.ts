/** Per-call plumbing shared by check and the writers: API handle, table structures (options arrive parsed in ctx.options). */
import { SyncError } from '../../common/errors';
import type { DestinationContext, FieldSpec } from '../types';
import { clientFor, connectionKey } from './client';
import { type ActitoConnection, type ActitoOptions, PROFILE_PREFIX, resolvePrefixes } from './config';
import { toSyncError } from './errors';
import { type Api, listCustomTables, listProfileTables } from './routes';
import { findTable, type TableInfo } from './structure';

export type Ctx = DestinationContext<ActitoConnection, ActitoOptions>;

export function apiFor(ctx: Ctx): Api {
  return { client: clientFor(ctx.connection, ctx.limits), prefixes: resolvePrefixes(ctx.connection), apiCall: (kind) => ctx.apiCall(kind) };
}

/** The custom table: the destination's address (`destination.table`). */
export function tableName(ctx: Ctx): string {
  return ctx.destination.address;
}

/** Fields written to the custom table vs to the profile table (`to: "profile.<attribute>"`). */
export function splitFields(fields: FieldSpec[]): { record: FieldSpec[]; profile: Array<FieldSpec & { attribute: string }> } {
  const record: FieldSpec[] = [];
  const profile: Array<FieldSpec & { attribute: string }> = [];
  for (const f of fields) {
    if (f.to.startsWith(PROFILE_PREFIX)) profile.push({ ...f, attribute: f.to.slice(PROFILE_PREFIX.length) });
    else record.push(f);
  }
  return { record, profile };
}

export interface Tables {
  table: TableInfo;
  profileTable: TableInfo | null;
}

const CACHE_MS = 60_000;
const cache = new Map<string, { at: number; value: Tables }>();
// The profile table as configured is part of the key: activations writing one custom table may write
// their profiles to different profile tables (and count their imports there, quota.ts). So is the whole
// connection (connectionKey, as for its HTTP client): one host serves every licence, the API key says which,
// and two licences may name an entity alike; a structure read through one connection (its key, its licence,
// its route prefixes) answers for that connection only. Until December 2026 the key was the base URL and
// entity, and a write took the table the other licence's check had read last (its lengths, types, id).
const cacheKey = (ctx: Ctx): string => JSON.stringify([connectionKey(ctx.connection), tableName(ctx), ctx.options.profiles?.table ?? null]);

/** Reads the custom table (and profile table) structure; cached briefly so each chunk does not re-read it. */
export async function loadTables(ctx: Ctx, opts: ActitoOptions, fresh = false): Promise<Tables> {
  const k = cacheKey(ctx);
  const hit = cache.get(k);
  if (!fresh && hit && Date.now() - hit.at < CACHE_MS) return hit.value;
  const api = apiFor(ctx);
  const name = tableName(ctx);
  let tables: TableInfo[];
  try {
    tables = await listCustomTables(api);
  } catch (err) {
    throw toSyncError(err, `Reading the custom tables of entity "${ctx.connection.entity}"`);
  }
  const table = findTable(tables, name);
  if (!table) {
    const known = tables.map((t) => t.name).join(', ') || 'none';
    // A profile table named as the destination: say so, and how profiles are written.
    const profile = await listProfileTables(api).then(
      (ps) => findTable(ps, name),
      () => undefined,
    );
    const hint = profile
      ? ` "${name}" is a profile table: set destination.table to a custom table and write its profiles with destination.options.profiles ({ table: "${profile.name}", matchAttribute, mode }) and "profile.<attribute>" mappings.`
      : '';
    throw new SyncError(
      'DESTINATION_NOT_FOUND',
      `Activation "${ctx.activationId}": Actito custom table "${name}" does not exist in entity "${ctx.connection.entity}" (tables: ${known}).${hint}`,
    );
  }
  let profileTable: TableInfo | null = null;
  if (opts.profiles) {
    const p = opts.profiles.table;
    let profiles: TableInfo[];
    try {
      profiles = await listProfileTables(api);
    } catch (err) {
      throw toSyncError(err, `Reading the profile tables of entity "${ctx.connection.entity}"`);
    }
    profileTable = findTable(profiles, p) ?? null;
    if (!profileTable) {
      throw new SyncError(
        'DESTINATION_NOT_FOUND',
        `Activation "${ctx.activationId}": Actito profile table "${p}" (destination.options.profiles.table) does not exist (tables: ${profiles.map((t) => t.name).join(', ') || 'none'}).`,
      );
    }
  }
  const value = { table, profileTable };
  cache.set(k, { at: Date.now(), value });
  return value;
}

export function forgetTables(ctx: Ctx): void {
  cache.delete(cacheKey(ctx));
}
