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
 * no call to Actito: every check keeps the custom table it resolved in the activation's state
 * (rememberQuotaTable), and the read takes the count of that table from the shared limits in Postgres.
 */
import { SyncError } from '../../common/errors';
import { processLimits } from '../kit/limits';
import type { SharedLimits } from '../types';
import { type ActitoOptions, hostKey } from './config';
import { type Ctx, tableName, type Tables } from './context';
import type { Phase } from './bulk-file';
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

/** The custom table a check resolved (ctx.state), for the quota read: named as the activation names it, where. */
interface ResolvedTable {
  host: string;
  entity: string;
  address: string;
  id: string;
  name: string;
}
const RESOLVED_KEY = 'quota:custom-table';

const resolvedNow = (ctx: Ctx): Pick<ResolvedTable, 'host' | 'entity' | 'address'> => ({
  host: hostKey(ctx.connection.baseUrl),
  entity: ctx.connection.entity,
  address: tableName(ctx),
});

/** Keeps the custom table a check resolved, for quota() (written only when it changed: one read per check). */
export async function rememberQuotaTable(ctx: Ctx, table: Pick<TableInfo, 'id' | 'name'>): Promise<void> {
  const value: ResolvedTable = { ...resolvedNow(ctx), id: table.id, name: table.name };
  const kept = await ctx.state.get<ResolvedTable>(RESOLVED_KEY);
  const same = kept !== null && (Object.keys(value) as Array<keyof ResolvedTable>).every((k) => kept[k] === value[k]);
  if (!same) await ctx.state.set(RESOLVED_KEY, value);
}

/**
 * Imports used today on the custom table against the allowance, from Postgres alone (no call to Actito):
 * the table as the last check of the activation resolved it. Before a check resolved it (on this
 * connection, under this address), the count is not known: a non-retryable error, so the activation
 * keeps an open QUOTA_LOW as it was rather than clearing it.
 */
export async function customTableQuota(ctx: Ctx): Promise<{ used: number; max: number }> {
  const kept = await ctx.state.get<ResolvedTable>(RESOLVED_KEY);
  const now = resolvedNow(ctx);
  if (!kept || kept.host !== now.host || kept.entity !== now.entity || kept.address !== now.address) {
    throw new SyncError(
      'INTERNAL',
      `Activation "${ctx.activationId}": the daily import count of Actito custom table "${now.address}" is not known yet: no check of this activation has resolved the table (each run checks it first).`,
      { retryable: false },
    );
  }
  const c = await readQuota(ctx, { kind: 'custom-table', table: { id: kept.id, name: kept.name } });
  return { used: c.used, max: allowance(ctx.options) };
}
