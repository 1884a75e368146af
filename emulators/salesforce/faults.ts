/**
 * Fault switches set over `POST /__admin/faults`. Count-based faults hit the next N matching API requests;
 * `paths` (a regular expression) is tested against "<category> <path>", where category is one of
 * auth | sobjects | composite | bulk | query | describe | limits | other — so "composite|bulk" works.
 */
import { ConcurrentRequests } from './concurrency';
import type { DuplicateRule, ValidationRule } from './rules';

export interface CountFault {
  count: number;
  paths?: string;
  status?: number;
  ms?: number;
  /** rateLimit only: 'http429' (default, with Retry-After) or 'concurrency' (403 REQUEST_LIMIT_EXCEEDED). */
  kind?: string;
  retryAfter?: number;
}

export type CountFaultName = 'rateLimit' | 'serverError' | 'socketReset' | 'slow' | 'dropResponseAfterCommit';
const COUNT_FAULTS: CountFaultName[] = ['rateLimit', 'serverError', 'socketReset', 'slow', 'dropResponseAfterCommit'];

interface LockRule {
  field: string;
  remaining: Map<string, number>;
}

/**
 * Row-lock contention between the parallel internal batches of a Bulk job: the job's rows, in upload order,
 * are cut into batches of `batchSize`; a parent (the value of CSV column `column`) is held by the first
 * batch that touches it, and its rows in any other batch fail UNABLE_TO_LOCK_ROW. Rows grouped by parent
 * therefore collide only where a parent straddles a batch boundary.
 */
export interface LockContention {
  column: string;
  batchSize: number;
}

export class Faults {
  dailyQuotaExhausted = false;
  lockContention: LockContention | null = null;
  bulkJobFails = 0;
  bulkJobStuck = false;
  validationRules: ValidationRule[] = [];
  duplicateRules: DuplicateRule[] = [];
  readonly concurrentRequests = new ConcurrentRequests();
  private readonly counts = new Map<CountFaultName, CountFault>();
  private locks: LockRule[] = [];

  /** Applies a JSON fault spec; unknown keys are reported back so typos do not pass silently. */
  configure(spec: Record<string, unknown>): string[] {
    const unknown: string[] = [];
    for (const [k, v] of Object.entries(spec)) {
      if (k === 'expireTokens') continue; // handled by the token store
      if (k === 'dailyQuotaExhausted') this.dailyQuotaExhausted = v === true;
      else if (k === 'bulkJobStuck') this.bulkJobStuck = v === true;
      else if (k === 'bulkJobFails') this.bulkJobFails = Number((v as { count?: number })?.count ?? v) || 0;
      else if (k === 'validationRule') this.validationRules.push(v as ValidationRule);
      else if (k === 'duplicateRule') this.duplicateRules.push(v as DuplicateRule);
      else if (k === 'concurrentRequests') {
        try {
          this.concurrentRequests.configure(v);
        } catch (e) {
          unknown.push(`${k} (${(e as Error).message})`);
        }
      } else if (k === 'lockRows') this.addLock(v as { values?: unknown[]; field?: string; times?: number });
      else if (k === 'lockContention')
        this.lockContention =
          v === null
            ? null
            : { column: String((v as LockContention).column), batchSize: Math.max(1, Number((v as LockContention).batchSize) || 1) };
      else if ((COUNT_FAULTS as string[]).includes(k) && typeof v === 'object' && v !== null) {
        const f = v as CountFault;
        this.counts.set(k as CountFaultName, { ...f, count: Number(f.count ?? 1) });
      } else unknown.push(k);
    }
    return unknown;
  }

  clear(): void {
    this.dailyQuotaExhausted = false;
    this.lockContention = null;
    this.bulkJobFails = 0;
    this.bulkJobStuck = false;
    this.counts.clear();
    this.locks = [];
    this.validationRules = [];
    this.duplicateRules = [];
    this.concurrentRequests.clear();
  }

  /** Consumes one hit of a count fault if it is armed and matches this request. */
  take(name: CountFaultName, category: string, path: string): CountFault | null {
    const f = this.counts.get(name);
    if (!f || f.count <= 0) return null;
    if (f.paths && !new RegExp(f.paths).test(`${category} ${path}`)) return null;
    f.count -= 1;
    if (f.count <= 0) this.counts.delete(name);
    return f;
  }

  /** UNABLE_TO_LOCK_ROW check: consumes one attempt when any candidate value of the rule's field is locked. */
  takeLock(valueOf: (field: string) => string | null): string | null {
    for (const rule of this.locks) {
      const v = valueOf(rule.field);
      if (v === null) continue;
      const left = rule.remaining.get(v.toLowerCase());
      if (left === undefined || left <= 0) continue;
      rule.remaining.set(v.toLowerCase(), left - 1);
      return v;
    }
    return null;
  }

  snapshot(): Record<string, unknown> {
    return {
      dailyQuotaExhausted: this.dailyQuotaExhausted,
      lockContention: this.lockContention,
      bulkJobFails: this.bulkJobFails,
      bulkJobStuck: this.bulkJobStuck,
      ...Object.fromEntries(this.counts),
      validationRules: this.validationRules,
      duplicateRules: this.duplicateRules,
      concurrentRequests: this.concurrentRequests.view(),
      lockRows: this.locks.map((l) => ({ field: l.field, remaining: Object.fromEntries(l.remaining) })),
    };
  }

  private addLock(v: { values?: unknown[]; field?: string; times?: number }): void {
    const times = Number(v.times ?? 1);
    const remaining = new Map((v.values ?? []).map((x) => [String(x).toLowerCase(), times] as [string, number]));
    this.locks.push({ field: v.field ?? 'External_Id__c', remaining });
  }
}

/** Coarse route category used by `paths` filters and the request log counts. */
export function categorize(path: string): string {
  if (path.startsWith('/services/oauth2') || path.startsWith('/id/') || path.startsWith('/services/Soap')) return 'auth';
  if (/\/jobs\/ingest/.test(path)) return 'bulk';
  if (/\/composite\//.test(path)) return 'composite';
  if (/\/query/.test(path)) return 'query';
  if (/\/limits/.test(path)) return 'limits';
  if (/\/describe$|\/sobjects\/?$/.test(path)) return 'describe';
  if (/\/sobjects\//.test(path)) return 'sobjects';
  return 'other';
}
