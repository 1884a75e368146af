/** Fault switches set over `POST /__admin/faults` (never applied to `/__admin`). */
export interface FaultConfig {
  /** Optional `path` substring and `method` narrow a fault to matching requests (e.g. `/record`, `POST`). */
  serverError?: { count: number; status?: number; path?: string; method?: string };
  tooManyRequests?: { count: number; path?: string; method?: string };
  slow?: { ms: number; count: number; path?: string; method?: string };
  /** Apply the write, then destroy the socket without answering. */
  dropResponse?: { count: number; path?: string; method?: string };
  /** Destroy the socket before the request is handled: nothing is applied, no answer. */
  socketReset?: { count: number; path?: string; method?: string };
  /** The next N bulk executions end in status ERROR without writing anything. */
  bulkImportFails?: { count: number };
  /** Until cleared, bulk executions wait (PENDING, then RUNNING) without processing a line; they go on once cleared. */
  bulkImportStuck?: boolean;
  /** Until cleared, every import submission is refused with the daily-quota 429. */
  bulkQuotaExhausted?: boolean;
  /**
   * Until cleared, execution reports (status and `/errors`) leave these parts out, as a report
   * that cannot account for every line would: `line`/`key` of each error, the `errors` lists,
   * the `total` of the error pages, `counts`, `errorCount`.
   */
  reportOmits?: { fields: ReportPart[] };
  /**
   * Until cleared, a one-record answer (`GET …/record/{key}`) leaves these properties out (the technical
   * `id` included if named), as an answer shaped otherwise than assumed would: a record read back without its key.
   */
  recordOmits?: { attributes: string[] };
}

export const REPORT_PARTS = ['line', 'key', 'errors', 'total', 'counts', 'errorCount'] as const;
export type ReportPart = (typeof REPORT_PARTS)[number];

type Counted = { count: number; path?: string; method?: string };
const COUNTED = ['serverError', 'tooManyRequests', 'slow', 'dropResponse', 'socketReset', 'bulkImportFails'] as const;
const SWITCHES = ['bulkImportStuck', 'bulkQuotaExhausted'] as const;

export class FaultState {
  active: FaultConfig = {};

  set(config: FaultConfig): void {
    this.active = { ...this.active, ...config };
  }

  clear(): void {
    this.active = {};
  }

  /** Consumes one occurrence of a counted fault when it applies to this request. */
  take<K extends Exclude<keyof FaultConfig, 'bulkImportFails' | 'reportOmits' | 'recordOmits' | (typeof SWITCHES)[number]>>(
    kind: K,
    path: string,
    method = 'GET',
  ): FaultConfig[K] | undefined {
    const f = this.active[kind] as Counted | undefined;
    if (!f || f.count <= 0 || (f.path && !path.includes(f.path)) || (f.method && f.method.toUpperCase() !== method.toUpperCase()))
      return undefined;
    f.count--;
    return f as FaultConfig[K];
  }

  takeBulkFailure(): boolean {
    const f = this.active.bulkImportFails;
    if (!f || f.count <= 0) return false;
    f.count--;
    return true;
  }

  on(name: (typeof SWITCHES)[number]): boolean {
    return this.active[name] === true;
  }

  omits(part: ReportPart): boolean {
    return this.active.reportOmits?.fields.includes(part) ?? false;
  }

  /** The properties a one-record answer leaves out (`recordOmits`). */
  recordOmitted(): readonly string[] {
    return this.active.recordOmits?.attributes ?? [];
  }
}

/** Validates the admin payload; returns an error message or the config. */
export function parseFaults(body: unknown): FaultConfig | string {
  if (typeof body !== 'object' || body === null) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  const known = ['expireTokens', ...COUNTED, ...SWITCHES, 'reportOmits', 'recordOmits'];
  const unknown = Object.keys(b).filter((k) => !known.includes(k));
  if (unknown.length) return `unknown fault(s): ${unknown.join(', ')}; known: ${known.join(', ')}`;
  const config: FaultConfig = {};
  for (const k of COUNTED) {
    const v = b[k];
    if (v === undefined) continue;
    if (typeof v !== 'object' || v === null || typeof (v as Counted).count !== 'number') return `${k} needs a numeric 'count'`;
    (config as Record<string, unknown>)[k] = { ...(v as object) };
  }
  if (config.slow && typeof config.slow.ms !== 'number') return "slow needs a numeric 'ms'";
  for (const k of SWITCHES) {
    if (b[k] === undefined) continue;
    if (typeof b[k] !== 'boolean') return `${k} takes true or false`;
    config[k] = b[k];
  }
  if (b.reportOmits !== undefined) {
    const fields = (b.reportOmits as { fields?: unknown } | null)?.fields;
    const parts: readonly string[] = REPORT_PARTS;
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string' && parts.includes(f)))
      return `reportOmits needs 'fields', a list of: ${REPORT_PARTS.join(', ')}`;
    config.reportOmits = { fields: fields as ReportPart[] };
  }
  if (b.recordOmits !== undefined) {
    const names = (b.recordOmits as { attributes?: unknown } | null)?.attributes;
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
      return "recordOmits needs 'attributes', a list of attribute names (the technical 'id' included)";
    config.recordOmits = { attributes: [...(names as string[])] };
  }
  return config;
}
