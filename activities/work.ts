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
