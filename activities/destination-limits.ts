/**
 * SharedLimits on the state Postgres (docs/limits.md): a request leases a concurrency slot of its
 * destination account for as long as it is in flight. In each process one loop per scope asks Postgres
 * for slots on behalf of the waiting requests, in arrival order, so a worker sends at most one query per
 * poll while the account is saturated. Postgres unreachable: no slot, so no request (never over the limit).
 * A slot is leased for a short while (`renewedLeaseMs`) and renewed by one loop per process while its
 * request runs, up to the request's own bound (`leaseMs`): a dead worker's slots come back within that
 * short lease, whatever the length of the requests it had in flight.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database';
import type { ObservedFigure, SharedLimits } from '../connectors/types';
import { acquireSlot, ensureSlots, raiseCount, readCount, releaseSlot, renewSlots, shareFigure, takeCount } from '../db/destination-limits';

interface Waiter {
  max: number;
  leaseMs: number;
  resolve(lease: Lease): void;
  reject(err: unknown): void;
  signal?: AbortSignal;
}
interface Lease {
  scope: string;
  slot: number;
  holder: string;
}
/** A lease this process renews while its request runs (or while a failed call's hold lasts). */
interface Held extends Lease {
  /** What each renewal gives: the shorter of the request's bound and `renewedLeaseMs`. */
  ms: number;
  /** Local time after which it is renewed no more (the request's bound, or the end of a hold): it runs out. */
  endsAt: number;
}
interface Scope {
  waiters: Waiter[];
  pumping: boolean;
  wake: (() => void) | null;
}

export interface PostgresLimitsOptions {
  /** Longest wait between two tries while every slot is taken (jittered, so workers do not poll in step). */
  pollMs?: number;
  /**
   * How long a slot stays taken once its holder stops renewing it (its worker died). While the request
   * runs, its worker renews the lease every third of this.
   */
  renewedLeaseMs?: number;
}

const RENEWED_LEASE_MS = 60_000;
/** A renewal that failed (Postgres restarting) is tried again this soon, well before the leases run out. */
const RENEW_RETRY_MS = 1_000;

export class PostgresLimits implements SharedLimits {
  private readonly scopes = new Map<string, Scope>();
  private readonly ensured = new Map<string, Promise<void>>();
  private readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private seq = 0;
  private readonly pollMs: number;
  private readonly renewedLeaseMs: number;
  /** Leases renewed by this process, by holder. */
  private readonly held = new Map<string, Held>();
  private renewTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    opts: PostgresLimitsOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 40;
    this.renewedLeaseMs = opts.renewedLeaseMs ?? RENEWED_LEASE_MS;
  }

  /** Stops renewing (worker shutdown): leases still held run out within `renewedLeaseMs`. */
  close(): void {
    this.closed = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    this.held.clear();
  }

  async withSlot<T>(
    scope: string,
    max: number,
    fn: () => Promise<T>,
    opts: { leaseMs: number; holdAfter?: (err: unknown) => number; signal?: AbortSignal },
  ): Promise<T> {
    const lease = await this.acquire(scope, max, opts.leaseMs, opts.signal);
    let holdFor = 0;
    try {
      return await fn();
    } catch (err) {
      // By default a failure is taken as unanswered: the call may still run until its lease ends.
      holdFor = Math.min(opts.holdAfter?.(err) ?? opts.leaseMs, opts.leaseMs);
      throw err;
    } finally {
      // Not awaited: the caller has its answer; the slot's next taker is woken once it is free.
      void this.release(lease, holdFor);
    }
  }

  take(scope: string, day: string, n: number, max: number): Promise<boolean> {
    return takeCount(this.db, scope, day, n, max);
  }

  used(scope: string, day: string): Promise<number> {
    return readCount(this.db, scope, day);
  }

  raise(scope: string, day: string, value: number): Promise<void> {
    return raiseCount(this.db, scope, day, value);
  }

  shareFigure(scope: string, figure: ObservedFigure | null): Promise<ObservedFigure | null> {
    return shareFigure(this.db, scope, figure);
  }

  private async acquire(scope: string, max: number, leaseMs: number, signal?: AbortSignal): Promise<Lease> {
    const key = `${scope}\u0000${max}`;
    let ensured = this.ensured.get(key);
    if (!ensured) {
      ensured = ensureSlots(this.db, scope, max);
      this.ensured.set(key, ensured);
      ensured.catch(() => this.ensured.delete(key));
    }
    await ensured;
    signal?.throwIfAborted();
    const s = this.scope(scope);
    return new Promise<Lease>((resolve, reject) => {
      const w: Waiter = { max, leaseMs, resolve, reject, signal };
      s.waiters.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          const i = s.waiters.indexOf(w);
          if (i < 0) return;
          s.waiters.splice(i, 1);
          reject(signal.reason);
        },
        { once: true },
      );
      void this.pump(scope, s);
    });
  }

  private scope(scope: string): Scope {
    let s = this.scopes.get(scope);
    if (!s) this.scopes.set(scope, (s = { waiters: [], pumping: false, wake: null }));
    return s;
  }

  /** One loop per scope and process: leases slots for the waiters in order, sleeps while none is free. */
  private async pump(scope: string, s: Scope): Promise<void> {
    if (s.pumping) return;
    s.pumping = true;
    try {
      while (s.waiters.length > 0) {
        const head = s.waiters[0]!;
        const holder = `${this.id}:${++this.seq}`;
        let slot: number | null;
        try {
          slot = await acquireSlot(this.db, scope, head.max, holder, Math.min(head.leaseMs, this.renewedLeaseMs));
        } catch (err) {
          // Postgres unreachable (restarting): nobody gets a slot from this worker, every waiter fails
          // (the caller's retries, then Temporal's, try again later).
          for (const w of s.waiters.splice(0)) w.reject(err);
          break;
        }
        if (slot !== null) {
          const i = s.waiters.indexOf(head);
          if (i >= 0) {
            s.waiters.splice(i, 1);
            this.hold({ scope, slot, holder }, head.leaseMs);
            head.resolve({ scope, slot, holder });
          } else void this.release({ scope, slot, holder }, 0); // aborted meanwhile
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, this.pollMs * (0.5 + Math.random() / 2));
          function done(): void {
            clearTimeout(t);
            s.wake = null;
            resolve();
          }
          s.wake = done;
        });
      }
    } finally {
      s.pumping = false;
    }
  }

  /** Renews `lease` while its request runs, for at most `forMs` (the request's bound). */
  private hold(lease: Lease, forMs: number): void {
    this.held.set(lease.holder, { ...lease, ms: Math.min(forMs, this.renewedLeaseMs), endsAt: Date.now() + forMs });
    this.scheduleRenew(this.renewedLeaseMs / 3);
  }

  private scheduleRenew(afterMs: number): void {
    if (this.closed || this.renewTimer || this.renewing || this.held.size === 0) return;
    this.renewTimer = setTimeout(() => void this.renew(), afterMs);
    this.renewTimer.unref();
  }

  /** One statement renews every lease this process holds; then again in a third of a lease. */
  private async renew(): Promise<void> {
    this.renewTimer = null;
    this.renewing = true;
    let next = this.renewedLeaseMs / 3;
    try {
      const now = Date.now();
      const due: Held[] = [];
      for (const h of this.held.values()) {
        const left = h.endsAt - now;
        // Past its bound (a request that outlived its timeout, a hold that ended): left to run out.
        if (left <= 0) this.held.delete(h.holder);
        else due.push({ ...h, ms: Math.min(h.ms, left) });
      }
      await renewSlots(this.db, due);
    } catch {
      next = Math.min(next, RENEW_RETRY_MS);
    } finally {
      this.renewing = false;
    }
    this.scheduleRenew(next);
  }

  /**
   * Frees the slot (after `afterMs`); retried while Postgres is unreachable, left to expire past the lease.
   * A hold longer than a lease is renewed until it ends, then runs out.
   */
  private async release(lease: Lease, afterMs: number): Promise<void> {
    const held = this.held.get(lease.holder);
    if (held && afterMs > held.ms) {
      held.endsAt = Date.now() + afterMs;
      return;
    }
    this.held.delete(lease.holder);
    const giveUpAt = Date.now() + this.renewedLeaseMs;
    for (let wait = 200; ; wait = Math.min(wait * 2, 5000)) {
      try {
        await releaseSlot(this.db, lease.scope, lease.slot, lease.holder, afterMs);
        break;
      } catch {
        if (this.closed || Date.now() + wait > giveUpAt) return; // the lease expires by itself
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    this.scopes.get(lease.scope)?.wake?.();
  }
}

const byDb = new WeakMap<Kysely<Database>, PostgresLimits>();

/** One coordinator per worker (per state database handle), shared by all its activities. */
export function sharedLimitsFor(db: Kysely<Database>): PostgresLimits {
  let l = byDb.get(db);
  if (!l) byDb.set(db, (l = new PostgresLimits(db)));
  return l;
}
