import type { SynclineDeps } from './deps';
import { dropWorkTablesOf } from '../db/work-tables';

export async function dropWorkTables(deps: SynclineDeps, runId: string): Promise<void> {
  await dropWorkTablesOf(deps.db, runId);
}

/** Heartbeats on a timer while one long statement runs, so a dead worker is noticed quickly. */
export async function withHeartbeat<T>(beat: (d?: Record<string, unknown>) => void, work: () => Promise<T>, everyMs = 5000): Promise<T> {
  const timer = setInterval(() => beat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Session settings that make `row(...)::text`, and so every hash, independent of server defaults. */
export const CANONICAL_SETTINGS = [
  "SET LOCAL TimeZone = 'UTC'",
  "SET LOCAL DateStyle = 'ISO, YMD'",
  "SET LOCAL IntervalStyle = 'iso_8601'",
  'SET LOCAL extra_float_digits = 1',
];
