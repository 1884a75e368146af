/**
 * SharedLimits on the state Postgres (docs/limits.md): a request leases a concurrency slot of its
 * destination account for as long as it is in flight. In each process one loop per scope asks Postgres
 * for slots on behalf of the waiting requests, in arrival order, so a worker sends at most one query per
 * poll while the account is saturated. Postgres unreachable: no slot, so no request (never over the limit).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/database';
import type { SharedLimits } from '../connectors/types';
import { acquireSlot, ensureSlots, raiseCount, readCount, releaseSlot, takeCount } from '../db/destination-limits';

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
interface Scope {
  waiters: Waiter[];
  pumping: boolean;
  wake: (() => void) | null;
}

export interface PostgresLimitsOptions {
  /** Longest wait between two tries while every slot is taken (jittered, so workers do not poll in step). */
  pollMs?: number;
}

export class PostgresLimits implements SharedLimits {
  private readonly scopes = new Map<string, Scope>();
  private readonly ensured = new Map<string, Promise<void>>();
  private readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private seq = 0;
  private readonly pollMs: number;

  constructor(
    private readonly db: Kysely<Database>,
    opts: PostgresLimitsOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 40;
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
      void this.release(lease, holdFor, opts.leaseMs);
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
          slot = await acquireSlot(this.db, scope, head.max, holder, head.leaseMs);
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
            head.resolve({ scope, slot, holder });
          } else void this.release({ scope, slot, holder }, 0, head.leaseMs); // aborted meanwhile
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

  /** Frees the slot (after `afterMs`); retried while Postgres is unreachable, left to expire past the lease. */
  private async release(lease: Lease, afterMs: number, leaseMs: number): Promise<void> {
    const giveUpAt = Date.now() + leaseMs;
    for (let wait = 200; ; wait = Math.min(wait * 2, 5000)) {
      try {
        await releaseSlot(this.db, lease.scope, lease.slot, lease.holder, afterMs);
        break;
      } catch {
        if (Date.now() + wait > giveUpAt) return; // the lease expires by itself
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
