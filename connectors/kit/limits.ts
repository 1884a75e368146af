/**
 * Per-process SharedLimits: what a connector uses outside the runtime (unit tests, the contract suite),
 * where no state database is at hand. Same contract as the cluster-wide one (activities/destination-limits.ts),
 * counted in this process only.
 */
import type { SharedLimits } from '../types';

export class LocalLimits implements SharedLimits {
  private readonly inFlight = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly counts = new Map<string, number>();
  /** Highest number of slots of a scope held at once (for tests). */
  readonly peak = new Map<string, number>();

  async withSlot<T>(
    scope: string,
    max: number,
    fn: () => Promise<T>,
    opts: { holdAfter?: (err: unknown) => number; signal?: AbortSignal },
  ): Promise<T> {
    const { signal } = opts;
    signal?.throwIfAborted();
    while ((this.inFlight.get(scope) ?? 0) >= max) await this.wait(scope, signal);
    const n = (this.inFlight.get(scope) ?? 0) + 1;
    this.inFlight.set(scope, n);
    this.peak.set(scope, Math.max(this.peak.get(scope) ?? 0, n));
    let holdFor = 0;
    try {
      return await fn();
    } catch (err) {
      holdFor = opts.holdAfter?.(err) ?? 0;
      throw err;
    } finally {
      const free = (): void => {
        this.inFlight.set(scope, (this.inFlight.get(scope) ?? 1) - 1);
        this.queue(scope).shift()?.();
      };
      if (holdFor > 0) setTimeout(free, holdFor).unref();
      else free();
    }
  }

  async take(scope: string, day: string, n: number, max: number): Promise<boolean> {
    const k = `${scope}\u0000${day}`;
    const used = this.counts.get(k) ?? 0;
    if (used + n > max) return false;
    this.counts.set(k, used + n);
    return true;
  }

  async used(scope: string, day: string): Promise<number> {
    return this.counts.get(`${scope}\u0000${day}`) ?? 0;
  }

  async raise(scope: string, day: string, value: number): Promise<void> {
    const k = `${scope}\u0000${day}`;
    this.counts.set(k, Math.max(this.counts.get(k) ?? 0, value));
  }

  /** Until a slot of `scope` is freed; rejects (leaving the queue) when `signal` aborts first. */
  private wait(scope: string, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const q = this.queue(scope);
      const onAbort = (): void => {
        const i = q.indexOf(wake);
        if (i >= 0) q.splice(i, 1);
        reject(signal!.reason);
      };
      function wake(): void {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      q.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private queue(scope: string): Array<() => void> {
    let q = this.waiting.get(scope);
    if (!q) this.waiting.set(scope, (q = []));
    return q;
  }
}

/** The fallback of a context that carries no cluster-wide limits: one per process. */
export const processLimits = new LocalLimits();
