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
 */
import { processLimits } from '../kit/limits';
import type { SharedLimits } from '../types';
import { type ActitoOptions, hostKey } from './config';
import type { Ctx, Tables } from './context';
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
