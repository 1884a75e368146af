/**
 * The per-table daily bulk-import quota (12 or 24 imports per table per day by contract, 429 beyond;
 * README "Sources and assumptions"). Counted per activation in `ctx.state` (Actito exposes no counter),
 * per UTC day, and read from there by every decision, planWrites included.
 */
import type { ActitoOptions } from './config';
import type { Ctx } from './context';

interface Counter {
  day: string;
  used: number;
}

const today = (now = new Date()): string => now.toISOString().slice(0, 10);
const stateKey = (table: string): string => `actito.bulkImports.${table}`;

export function msUntilNextUtcDay(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return next - now.getTime();
}

export const allowance = (o: Pick<ActitoOptions, 'bulkImportsPerDay' | 'bulkImportsReserve'>): number =>
  Math.max(0, o.bulkImportsPerDay - o.bulkImportsReserve);

export async function readQuota(ctx: Ctx, table: string): Promise<Counter> {
  const c = (await ctx.state.get<Counter>(stateKey(table))) ?? { day: today(), used: 0 };
  return c.day === today() ? c : { day: today(), used: 0 };
}

/** Imports left today on `table`. */
export async function quotaLeft(ctx: Ctx, table: string, o: ActitoOptions): Promise<number> {
  return allowance(o) - (await readQuota(ctx, table)).used;
}

/** Takes one import from today's allowance; false when none is left. */
export async function takeImport(ctx: Ctx, table: string, o: ActitoOptions): Promise<boolean> {
  const c = await readQuota(ctx, table);
  if (c.used >= allowance(o)) return false;
  await ctx.state.set(stateKey(table), { day: c.day, used: c.used + 1 });
  return true;
}

/** Actito said the quota is used up (429 on an import): remember it until tomorrow. */
export async function markExhausted(ctx: Ctx, table: string, o: ActitoOptions): Promise<void> {
  await ctx.state.set(stateKey(table), { day: today(), used: Math.max(allowance(o), o.bulkImportsPerDay) });
}
