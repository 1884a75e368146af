/**
 * The per-table daily bulk-import quota (12 or 24 imports per table per day by contract, 429 beyond;
 * README "Sources and assumptions"). Actito exposes no counter, so the cluster counts the imports it
 * starts, per table of the entity and UTC day, in the shared limits (docs/limits.md): every activation
 * writing to the table, on any worker, takes from the same allowance. Every decision reads it from there,
 * planWrites included.
 *
 * One table, one count: the scope names the table by the id the structure read resolved (an activation
 * may name it by name or by id) and the environment by its normalized host (`hostKey`), so activations
 * spelling them differently still share the allowance.
 *
 * The activation's quota read after each run (`quota()`, a local activity inside the workflow task) makes
 * no call to Actito: every check keeps the tables it resolved in the activation's state
 * (rememberQuotaTables), and the read takes their counts from the shared limits in Postgres.
 */
import { SyncError } from '../../common/errors';
import { processLimits } from '../kit/limits';
import type { SharedLimits } from '../types';
import { type ActitoOptions, hostKey } from './config';
import { type Ctx, tableName, type Tables } from './context';
import type { Phase } from './bulk-file';
import { profileWrite } from './profiles';
import type { TableInfo } from './structure';

interface Counter {
  day: string;
  used: number;
}

/** A table whose imports are counted: a custom table or the profile table, as the structure read resolved it. */
export interface QuotaTable {
  kind: 'custom-table' | 'profile-table';
  table: Pick<TableInfo, 'id' | 'name'>;
}

/** The table a phase of a bulk chunk imports into. */
export function quotaTable(tables: Tables, phase: Phase): QuotaTable {
  return phase === 'profiles' && tables.profileTable
    ? { kind: 'profile-table', table: tables.profileTable }
    : { kind: 'custom-table', table: tables.table };
}

const today = (now = new Date()): string => now.toISOString().slice(0, 10);
const scopeOf = (ctx: Ctx, t: QuotaTable): string =>
  `actito:imports:${hostKey(ctx.connection.baseUrl)}/${ctx.connection.entity}/${t.kind}/${t.table.id}`;
/**
 * Where the release before counted the table's imports: the table as the activation named it (its name
 * or its id), the base URL as written. Today's counts there still count, so a deploy during the day hands
 * out no second allowance. Only needed on the day of the upgrade: drop them once it has run a full UTC day.
 */
const legacyScopesOf = (ctx: Ctx, t: QuotaTable): string[] =>
  [...new Set([t.table.name, t.table.id])].map((ref) => `actito:imports:${ctx.connection.baseUrl}/${ctx.connection.entity}/${ref}`);
const limitsOf = (ctx: Ctx): SharedLimits => ctx.limits ?? processLimits;

async function legacyUsed(ctx: Ctx, t: QuotaTable, day: string): Promise<number> {
  const limits = limitsOf(ctx);
  const counts = await Promise.all(legacyScopesOf(ctx, t).map((s) => limits.used(s, day)));
  return counts.reduce((a, b) => a + b, 0);
}

export function msUntilNextUtcDay(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return next - now.getTime();
}

export const allowance = (o: Pick<ActitoOptions, 'bulkImportsPerDay' | 'bulkImportsReserve'>): number =>
  Math.max(0, o.bulkImportsPerDay - o.bulkImportsReserve);

export async function readQuota(ctx: Ctx, t: QuotaTable): Promise<Counter> {
  const day = today();
  const [used, legacy] = await Promise.all([limitsOf(ctx).used(scopeOf(ctx, t), day), legacyUsed(ctx, t, day)]);
  return { day, used: used + legacy };
}

/** Imports left today on the table. */
export async function quotaLeft(ctx: Ctx, t: QuotaTable, o: ActitoOptions): Promise<number> {
  return Math.max(0, allowance(o) - (await readQuota(ctx, t)).used);
}

/**
 * Takes one import from today's allowance; false when none is left. The counts under the old scopes only
 * grow through workers of the release before (during a rolling deploy): read first, they lower the allowance
 * the one statement that counts and checks the table's own scope is given.
 */
export async function takeImport(ctx: Ctx, t: QuotaTable, o: ActitoOptions): Promise<boolean> {
  const day = today();
  const legacy = await legacyUsed(ctx, t, day);
  return limitsOf(ctx).take(scopeOf(ctx, t), day, 1, allowance(o) - legacy);
}

/** Actito said the quota is used up (429 on an import): remember it until tomorrow. */
export async function markExhausted(ctx: Ctx, t: QuotaTable, o: ActitoOptions): Promise<void> {
  await limitsOf(ctx).raise(scopeOf(ctx, t), today(), Math.max(allowance(o), o.bulkImportsPerDay));
}

/** A table a check resolved (ctx.state), for the quota read: named as the activation names it, where. */
interface ResolvedTable {
  host: string;
  entity: string;
  address: string;
  id: string;
  name: string;
}
const RESOLVED_KEY: Record<QuotaTable['kind'], string> = { 'custom-table': 'quota:custom-table', 'profile-table': 'quota:profile-table' };

/** The table as the activation names it now: `destination.table`, or `options.profiles.table`. */
const resolvedNow = (ctx: Ctx, kind: QuotaTable['kind']): Pick<ResolvedTable, 'host' | 'entity' | 'address'> => ({
  host: hostKey(ctx.connection.baseUrl),
  entity: ctx.connection.entity,
  address: kind === 'custom-table' ? tableName(ctx) : (ctx.options.profiles?.table ?? ''),
});

/**
 * Whether the activation's runs import into the profile table: options.profiles set, and its mode writes
 * profiles (Update with insert-only profiles writes none; Mirror's deletions none, its upserts do).
 */
const writesProfiles = (ctx: Ctx): boolean => profileWrite(ctx.options, ctx.mode === 'update' ? 'update' : 'upsert') !== 'none';

/**
 * Keeps the tables a check resolved, for quota(): the custom table, and the profile table when the activation
 * writes profiles (written only when it changed: one read per check).
 */
export async function rememberQuotaTables(ctx: Ctx, tables: Tables): Promise<void> {
  const resolved: QuotaTable[] = [{ kind: 'custom-table', table: tables.table }];
  if (tables.profileTable && writesProfiles(ctx)) resolved.push({ kind: 'profile-table', table: tables.profileTable });
  for (const { kind, table } of resolved) {
    const value: ResolvedTable = { ...resolvedNow(ctx, kind), id: table.id, name: table.name };
    const kept = await ctx.state.get<ResolvedTable>(RESOLVED_KEY[kind]);
    const same = kept !== null && (Object.keys(value) as Array<keyof ResolvedTable>).every((k) => kept[k] === value[k]);
    if (!same) await ctx.state.set(RESOLVED_KEY[kind], value);
  }
}

/**
 * Imports used today against the allowance, from Postgres alone (no call to Actito), on the table the
 * activation's next bulk run is shortest of: its custom table and, when it writes profiles, its profile
 * table (each bulk chunk imports into both, and planWrites plans on the one with fewer left; the profile
 * table is shared by every activation writing profiles there). Each as the last check of the activation
 * resolved it. Before a check resolved them (on this connection, under these names), the count is not
 * known: a non-retryable error, so the activation keeps an open QUOTA_LOW as it was rather than clearing it.
 */
export async function importQuota(ctx: Ctx): Promise<{ used: number; max: number }> {
  const kinds: Array<QuotaTable['kind']> = writesProfiles(ctx) ? ['custom-table', 'profile-table'] : ['custom-table'];
  let used = 0;
  for (const kind of kinds) {
    const kept = await ctx.state.get<ResolvedTable>(RESOLVED_KEY[kind]);
    const now = resolvedNow(ctx, kind);
    if (!kept || kept.host !== now.host || kept.entity !== now.entity || kept.address !== now.address) {
      throw new SyncError(
        'INTERNAL',
        `Activation "${ctx.activationId}": the daily import count of Actito ${kind === 'custom-table' ? 'custom' : 'profile'} table "${now.address}" is not known yet: no check of this activation has resolved the table (each run checks it first).`,
        { retryable: false },
      );
    }
    used = Math.max(used, (await readQuota(ctx, { kind, table: { id: kept.id, name: kept.name } })).used);
  }
  return { used, max: allowance(ctx.options) };
}
