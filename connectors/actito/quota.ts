/**
 * The per-table daily bulk-import quota (12 or 24 imports per table per day by contract, 429 beyond;
 * README "Sources and assumptions"). Actito exposes no counter, so the cluster counts the imports it
 * starts, per table of the entity and UTC day, in the shared limits (docs/limits.md): every activation
 * writing to the table, on any worker, takes from the same allowance. Every decision reads it from there,
 * planWrites included.
 */
import { processLimits } from '../kit/limits';
import type { SharedLimits } from '../types';
import type { ActitoOptions } from './config';
import type { Ctx } from './context';

interface Counter {
  day: string;
  used: number;
}

const today = (now = new Date()): string => now.toISOString().slice(0, 10);
const scopeOf = (ctx: Ctx, table: string): string => `actito:imports:${ctx.connection.baseUrl}/${ctx.connection.entity}/${table}`;
const limitsOf = (ctx: Ctx): SharedLimits => ctx.limits ?? processLimits;

export function msUntilNextUtcDay(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return next - now.getTime();
}

export const allowance = (o: Pick<ActitoOptions, 'bulkImportsPerDay' | 'bulkImportsReserve'>): number =>
  Math.max(0, o.bulkImportsPerDay - o.bulkImportsReserve);

export async function readQuota(ctx: Ctx, table: string): Promise<Counter> {
  const day = today();
  return { day, used: await limitsOf(ctx).used(scopeOf(ctx, table), day) };
}

/** Imports left today on `table`. */
export async function quotaLeft(ctx: Ctx, table: string, o: ActitoOptions): Promise<number> {
  return Math.max(0, allowance(o) - (await readQuota(ctx, table)).used);
}

/** Takes one import from today's allowance; false when none is left. */
export function takeImport(ctx: Ctx, table: string, o: ActitoOptions): Promise<boolean> {
  return limitsOf(ctx).take(scopeOf(ctx, table), today(), 1, allowance(o));
}

/** Actito said the quota is used up (429 on an import): remember it until tomorrow. */
export async function markExhausted(ctx: Ctx, table: string, o: ActitoOptions): Promise<void> {
  await limitsOf(ctx).raise(scopeOf(ctx, table), today(), Math.max(allowance(o), o.bulkImportsPerDay));
}
