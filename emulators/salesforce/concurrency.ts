/**
 * The org's limit of concurrent long-running requests (API notes §6): Salesforce refuses a request with
 * 403 REQUEST_LIMIT_EXCEEDED while 25 requests (5 in Developer/Trial orgs) that have run 20 s or more are
 * in flight. Set over `POST /__admin/faults` as `{"concurrentRequests":{"max":N,"latencyMs":M}}`: the
 * emulator counts every data API request in flight as long (stricter than Salesforce, so a test needs no
 * 20 s requests), and `latencyMs` holds each admitted request that long so requests overlap.
 */
export class ConcurrentRequests {
  /** null: no limit (the default). */
  max: number | null = null;
  latencyMs = 0;
  inFlight = 0;
  /** Most data API requests in flight at once since the last reset (refused ones not counted). */
  peak = 0;
  /** Requests refused for going over `max` since the last reset. */
  rejected = 0;

  configure(v: unknown): void {
    if (v === null || v === false) {
      this.max = null;
      this.latencyMs = 0;
      return;
    }
    const o = (v ?? {}) as { max?: unknown; latencyMs?: unknown };
    const max = Number(o.max);
    if (!Number.isInteger(max) || max < 1) throw new Error('concurrentRequests.max must be a positive integer');
    this.max = max;
    this.latencyMs = Math.max(0, Number(o.latencyMs ?? 0) || 0);
  }

  /** Admits one request, or counts a refusal and returns false when `max` are in flight already. */
  tryAcquire(): boolean {
    if (this.max !== null && this.inFlight >= this.max) {
      this.rejected++;
      return false;
    }
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    return true;
  }

  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** Starts the peak and the refusals over (the peak from the requests in flight now). */
  resetCounters(): void {
    this.peak = this.inFlight;
    this.rejected = 0;
  }

  /** The limit off; requests in flight keep being counted until they end. */
  clear(): void {
    this.max = null;
    this.latencyMs = 0;
    this.resetCounters();
  }

  view(): { max: number | null; latencyMs: number; inFlight: number; peak: number; rejected: number } {
    return { max: this.max, latencyMs: this.latencyMs, inFlight: this.inFlight, peak: this.peak, rejected: this.rejected };
  }
}
