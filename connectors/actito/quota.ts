/**
 * The per-table daily bulk-import quota (research §7: 12 or 24 imports per table per day, 429 beyond).
 * Counted per activation in `ctx.state` (Actito exposes no counter), per UTC day. `planWrites` is
 * synchronous, so the last known figure is also kept in memory for it.
 */
import type { ActitoOptions } from './config';
import type { Ctx } from './context';

interface Counter {
  day: string;
  used: number;
}

const today = (now = new Date()): string => now.toISOString().slice(0, 10);
const stateKey = (table: string): string => `actito.bulkImports.${table}`;
const known = new Map<string, Counter>();
const memKey = (ctx: Ctx, table: string): string => `${ctx.activationId}|${table}`;

export function msUntilNextUtcDay(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return next - now.getTime();
}

export const allowance = (o: Pick<ActitoOptions, 'bulkImportsPerDay' | 'bulkImportsReserve'>): number => Math.max(0, o.bulkImportsPerDay - o.bulkImportsReserve);

export async function readQuota(ctx: Ctx, table: string): Promise<Counter> {
  const c = (await ctx.state.get<Counter>(stateKey(table))) ?? { day: today(), used: 0 };
  const current = c.day === today() ? c : { day: today(), used: 0 };
  known.set(memKey(ctx, table), current);
  return current;
}

/** Last figure read by this process (check reads it at the start of each run); unknown counts as available. */
export function quotaLeftSync(ctx: Ctx, table: string, o: ActitoOptions): number {
  const c = known.get(memKey(ctx, table));
  const used = c && c.day === today() ? c.used : 0;
  return allowance(o) - used;
}

/** Takes one import from today's allowance; false when none is left. */
export async function takeImport(ctx: Ctx, table: string, o: ActitoOptions): Promise<boolean> {
  const c = await readQuota(ctx, table);
  if (c.used >= allowance(o)) return false;
  const next = { day: c.day, used: c.used + 1 };
  await ctx.state.set(stateKey(table), next);
  known.set(memKey(ctx, table), next);
  return true;
}

/** Actito said the quota is used up (429 on an import): remember it until tomorrow. */
export async function markExhausted(ctx: Ctx, table: string, o: ActitoOptions): Promise<void> {
  const next = { day: today(), used: Math.max(allowance(o), o.bulkImportsPerDay) };
  await ctx.state.set(stateKey(table), next);
  known.set(memKey(ctx, table), next);
}
