/**
 * Licence limits [D S3]: more than `maxConcurrent` in-flight requests → 429; more than
 * `callsPerMinute` calls in a sliding minute are throttled (answered later), not rejected.
 */
export class Limits {
  inFlight = 0;
  private calls: number[] = [];

  constructor(
    public maxConcurrent: number,
    public callsPerMinute: number,
    public throttleDelayMs: number,
  ) {}

  tryAcquire(): boolean {
    if (this.inFlight >= this.maxConcurrent) return false;
    this.inFlight++;
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
  }
}
