/**
 * Licence limits [D S3]: more than `maxConcurrent` in-flight requests → 429; more than
 * `callsPerMinute` calls in a sliding minute are throttled (answered later), not rejected.
 */
export class Limits {
  inFlight = 0;
  /** Most requests in flight at once since the last reset: a client that keeps to the limit sees `maxConcurrent` at most. */
  peak = 0;
  /** Requests answered 429 for going over `maxConcurrent` since the last reset (injected 429 faults not included). */
  rejected = 0;
  private calls: number[] = [];

  constructor(
    public maxConcurrent: number,
    public callsPerMinute: number,
    public throttleDelayMs: number,
  ) {}

  tryAcquire(): boolean {
    if (this.inFlight >= this.maxConcurrent) {
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

  /** Records a call and returns the latency to add (0 under the per-minute budget). */
  throttle(now = Date.now()): number {
    const cutoff = now - 60_000;
    while (this.calls.length && this.calls[0]! < cutoff) this.calls.shift();
    this.calls.push(now);
    return this.calls.length > this.callsPerMinute ? this.throttleDelayMs : 0;
  }

  /** In-flight requests keep their slot: they release it when they finish. */
  reset(): void {
    this.calls = [];
    this.resetCounters();
  }

  /** Starts the peak and the refusals over (the peak from the requests in flight now). */
  resetCounters(): void {
    this.peak = this.inFlight;
    this.rejected = 0;
  }

  /** What `GET /__admin/requests` reports as `concurrency`. */
  view(): { max: number; inFlight: number; peak: number; rejected: number } {
    return { max: this.maxConcurrent, inFlight: this.inFlight, peak: this.peak, rejected: this.rejected };
  }
}
