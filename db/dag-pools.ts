/**
 * DAG pools (docs/dag.md "Pools"): named concurrency limits shared by every DAG run of the cluster, as leases
 * on slot rows in the state Postgres (syncline.dag_pool_slots), like the destination slots. Expiries use the
 * database's clock, so workers whose clocks disagree still agree on when a lease ends.
 */
import type pg from 'pg';
import { DEFAULT_POOL_LEASE_MS } from '../common/dag-pools';

type Queryable = Pick<pg.Pool, 'query'>;

export const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** The shortest lease SYNCLINE_DAG_POOL_LEASE_SECONDS may set: its run renews it every 3 s. */
const MIN_POOL_LEASE_SECONDS = 10;

/**
 * The lease a DAG run's pool slots get from this worker (SYNCLINE_DAG_POOL_LEASE_SECONDS, default 600): the
 * run renews its leases every 3/10 of it, so it is also how long the slot of a terminated run stays taken,
 * and how long every worker may be gone before a running task's lease can run out.
 */
export function poolLeaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SYNCLINE_DAG_POOL_LEASE_SECONDS?.trim();
  if (!raw) return DEFAULT_POOL_LEASE_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < MIN_POOL_LEASE_SECONDS)
    throw new Error(
      `SYNCLINE_DAG_POOL_LEASE_SECONDS="${raw}" is not a lease: give a whole number of seconds of at least ${MIN_POOL_LEASE_SECONDS}, or leave it unset for 600 (10 minutes)`,
    );
  return n * 1000;
}

export interface PoolInfo {
  name: string;
  size: number;
  /** Slots leased right now. */
  inUse: number;
}

/** Creates the pool or changes its size. A smaller size applies to new leases; tasks running keep theirs. */
export async function setPool(db: Queryable, name: string, size: number): Promise<void> {
  await db.query(
    `INSERT INTO syncline.dag_pools (name, size) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET size = EXCLUDED.size, updated_at = now()`,
    [name, size],
  );
}

/** Deletes the pool; false when there was none. Leases held right now stay until their tasks end. */
export async function deletePool(db: Queryable, name: string): Promise<boolean> {
  const r = await db.query('DELETE FROM syncline.dag_pools WHERE name = $1', [name]);
  await db.query('DELETE FROM syncline.dag_pool_slots WHERE pool = $1 AND (holder IS NULL OR expires_at < now())', [name]);
  return (r.rowCount ?? 0) > 0;
}

export async function listPools(db: Queryable): Promise<PoolInfo[]> {
  const r = await db.query<PoolInfo>(
    `SELECT p.name, p.size,
       (SELECT count(*)::int FROM syncline.dag_pool_slots s WHERE s.pool = p.name AND s.holder IS NOT NULL AND s.expires_at >= now()) AS "inUse"
     FROM syncline.dag_pools p ORDER BY p.name`,
  );
  return r.rows;
}

/** Pool name -> size. */
export async function poolSizes(db: Queryable): Promise<Record<string, number>> {
  const r = await db.query<{ name: string; size: number }>('SELECT name, size FROM syncline.dag_pools');
  return Object.fromEntries(r.rows.map((p) => [p.name, p.size]));
}

export type AcquireResult = { acquired: true; slot: number } | { acquired: false; unknownPool?: true };

/**
 * Leases a free slot of `pool` (free: no holder, or its lease has expired) to `holder` for `leaseMs`. A holder
 * that already has its slot (an acquire retried after its answer was lost) gets the same one back, renewed.
 * SKIP LOCKED: concurrent callers each take a different slot without waiting on each other's row locks.
 */
export async function acquirePoolSlot(db: Queryable, pool: string, holder: string, leaseMs: number): Promise<AcquireResult> {
  const mine = await db.query<{ slot: number }>(
    `UPDATE syncline.dag_pool_slots SET expires_at = now() + $3::int * interval '1 millisecond'
     WHERE pool = $1 AND holder = $2 RETURNING slot`,
    [pool, holder, leaseMs],
  );
  if (mine.rows[0]) return { acquired: true, slot: mine.rows[0].slot };
  const found = await db.query<{ size: number }>('SELECT size FROM syncline.dag_pools WHERE name = $1', [pool]);
  const size = found.rows[0]?.size;
  if (size === undefined) return { acquired: false, unknownPool: true };
  await db.query(
    `INSERT INTO syncline.dag_pool_slots (pool, slot) SELECT $1, g FROM generate_series(0, $2::int - 1) g ON CONFLICT DO NOTHING`,
    [pool, size],
  );
  const taken = await db.query<{ slot: number }>(
    `WITH free AS (
       SELECT slot FROM syncline.dag_pool_slots
       WHERE pool = $1 AND slot < $2 AND (holder IS NULL OR expires_at < now())
       ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
     UPDATE syncline.dag_pool_slots d
     SET holder = $3, expires_at = now() + $4::int * interval '1 millisecond'
     FROM free WHERE d.pool = $1 AND d.slot = free.slot
     RETURNING d.slot`,
    [pool, size, holder, leaseMs],
  );
  return taken.rows[0] ? { acquired: true, slot: taken.rows[0].slot } : { acquired: false };
}

/**
 * Extends every lease whose holder starts with `holderPrefix` (one DAG run's), also one that ran out while no
 * other run took its slot; returns the holders renewed. A holder not among them lost its slot to another run.
 */
export async function renewPoolLeases(db: Queryable, holderPrefix: string, leaseMs: number): Promise<string[]> {
  const r = await db.query<{ holder: string }>(
    `UPDATE syncline.dag_pool_slots SET expires_at = now() + $2::int * interval '1 millisecond'
     WHERE starts_with(holder, $1) RETURNING holder`,
    [holderPrefix, leaseMs],
  );
  return r.rows.map((x) => x.holder);
}

/** Gives the holder's slot back. Only its own: a lease that expired and was taken by another stays theirs. */
export async function releasePoolSlot(db: Queryable, pool: string, holder: string): Promise<void> {
  await db.query('UPDATE syncline.dag_pool_slots SET holder = NULL, expires_at = NULL WHERE pool = $1 AND holder = $2', [pool, holder]);
}
