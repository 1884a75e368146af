/** Fault switches set over `POST /__admin/faults` (never applied to `/__admin`). */
export interface FaultConfig {
  /** Optional path substring that narrows a fault to matching requests (e.g. `/record`). */
  serverError?: { count: number; status?: number; path?: string };
  tooManyRequests?: { count: number; path?: string };
  slow?: { ms: number; count: number; path?: string };
  /** Apply the write, then destroy the socket without answering. */
  dropResponse?: { count: number; path?: string };
  /** The next N bulk executions end in status ERROR without writing anything. */
  bulkImportFails?: { count: number };
}

type Counted = { count: number; path?: string };

export class FaultState {
  active: FaultConfig = {};

  set(config: FaultConfig): void {
    this.active = { ...this.active, ...config };
  }

  clear(): void {
    this.active = {};
  }

  /** Consumes one occurrence of a counted fault when it applies to `path`. */
  take<K extends Exclude<keyof FaultConfig, 'bulkImportFails'>>(kind: K, path: string): FaultConfig[K] | undefined {
    const f = this.active[kind] as Counted | undefined;
    if (!f || f.count <= 0 || (f.path && !path.includes(f.path))) return undefined;
    f.count--;
    return f as FaultConfig[K];
  }

  takeBulkFailure(): boolean {
    const f = this.active.bulkImportFails;
    if (!f || f.count <= 0) return false;
    f.count--;
    return true;
  }
}

/** Validates the admin payload; returns an error message or the config. */
export function parseFaults(body: unknown): FaultConfig | string {
  if (typeof body !== 'object' || body === null) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  const known = ['expireTokens', 'serverError', 'tooManyRequests', 'slow', 'dropResponse', 'bulkImportFails'];
  const unknown = Object.keys(b).filter((k) => !known.includes(k));
  if (unknown.length) return `unknown fault(s): ${unknown.join(', ')}; known: ${known.join(', ')}`;
  const config: FaultConfig = {};
  for (const k of ['serverError', 'tooManyRequests', 'slow', 'dropResponse', 'bulkImportFails'] as const) {
    const v = b[k];
    if (v === undefined) continue;
    if (typeof v !== 'object' || v === null || typeof (v as Counted).count !== 'number') return `${k} needs a numeric 'count'`;
    (config as Record<string, unknown>)[k] = { ...(v as object) };
  }
  if (config.slow && typeof config.slow.ms !== 'number') return "slow needs a numeric 'ms'";
  return config;
}
