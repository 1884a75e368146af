/**
 * Cluster-wide limits of destination accounts (docs/limits.md): concurrency slots leased with an expiry
 * (syncline.destination_slots) and daily counters (syncline.destination_counters). Expiries use the
 * database's clock, so workers whose clocks disagree still agree on when a lease ends.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database';

/** Creates the slot rows 0..max-1 of `scope` (idempotent; rows are never deleted). */
export async function ensureSlots(db: Kysely<Database>, scope: string, max: number): Promise<void> {
  await sql`INSERT INTO syncline.destination_slots (scope, slot)
    SELECT ${scope}, g FROM generate_series(0, ${max}::int - 1) g
    ON CONFLICT DO NOTHING`.execute(db);
}

/**
 * Leases a free slot below `max` (free: no holder, or its lease has expired) to `holder` for `leaseMs`;
 * null when all are taken. SKIP LOCKED: concurrent callers each take a different slot without waiting
 * on each other's row locks.
 */
export function acquireSlotQuery(scope: string, max: number, holder: string, leaseMs: number) {
  return sql<{ slot: number }>`WITH free AS (
      SELECT slot FROM syncline.destination_slots
      WHERE scope = ${scope} AND slot < ${max} AND (holder IS NULL OR expires_at < now())
      ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE syncline.destination_slots d
    SET holder = ${holder}, expires_at = now() + ${leaseMs}::int * interval '1 millisecond'
    FROM free WHERE d.scope = ${scope} AND d.slot = free.slot
    RETURNING d.slot`;
}

export async function acquireSlot(
  db: Kysely<Database>,
  scope: string,
  max: number,
  holder: string,
  leaseMs: number,
): Promise<number | null> {
  const r = await acquireSlotQuery(scope, max, holder, leaseMs).execute(db);
  return r.rows[0]?.slot ?? null;
}

/**
 * Gives a slot back: now, or (`afterMs` from now) once a call that got no answer can no longer be running
 * at the destination. Only the lease's own holder can: a lease that expired and was taken by another stays theirs.
 */
export async function releaseSlot(db: Kysely<Database>, scope: string, slot: number, holder: string, afterMs = 0): Promise<void> {
  if (afterMs > 0) {
    await sql`UPDATE syncline.destination_slots SET expires_at = now() + ${afterMs}::int * interval '1 millisecond'
      WHERE scope = ${scope} AND slot = ${slot} AND holder = ${holder}`.execute(db);
  } else {
    await sql`UPDATE syncline.destination_slots SET holder = NULL, expires_at = NULL
      WHERE scope = ${scope} AND slot = ${slot} AND holder = ${holder}`.execute(db);
  }
}

/**
 * Extends leases whose requests are still running, each by its own `ms` from now (one statement for all
 * of a worker's leases). Only where the lease's holder still holds it: a slot taken by another stays theirs.
 */
export async function renewSlots(
  db: Kysely<Database>,
  leases: ReadonlyArray<{ scope: string; slot: number; holder: string; ms: number }>,
): Promise<void> {
  if (leases.length === 0) return;
  await sql`UPDATE syncline.destination_slots d SET expires_at = now() + r.ms * interval '1 millisecond'
    FROM unnest(${leases.map((l) => l.scope)}::text[], ${leases.map((l) => l.slot)}::int[], ${leases.map((l) => l.holder)}::text[],
      ${leases.map((l) => Math.max(1, Math.round(l.ms)))}::int[]) AS r(scope, slot, holder, ms)
    WHERE d.scope = r.scope AND d.slot = r.slot AND d.holder = r.holder`.execute(db);
}

/** Slots of `scope` leased right now (for tests and monitoring). */
export async function slotsInUse(db: Kysely<Database>, scope: string): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM syncline.destination_slots
    WHERE scope = ${scope} AND holder IS NOT NULL AND expires_at >= now()`.execute(db);
  return r.rows[0]?.n ?? 0;
}

/** Adds `n` to the count of (`scope`, `day`) unless that goes over `max`; true when counted. */
export async function takeCount(db: Kysely<Database>, scope: string, day: string, n: number, max: number): Promise<boolean> {
  if (n > max) return false;
  const r = await sql<{ used: number }>`INSERT INTO syncline.destination_counters AS c (scope, day, used) VALUES (${scope}, ${day}, ${n})
    ON CONFLICT (scope, day) DO UPDATE SET used = c.used + excluded.used, updated_at = now()
    WHERE c.used + excluded.used <= ${max}
    RETURNING used`.execute(db);
  return r.rows.length > 0;
}

export async function readCount(db: Kysely<Database>, scope: string, day: string): Promise<number> {
  const row = await db
    .selectFrom('syncline.destination_counters')
    .select('used')
    .where('scope', '=', scope)
    .where('day', '=', day)
    .executeTakeFirst();
  return row?.used ?? 0;
}

export async function raiseCount(db: Kysely<Database>, scope: string, day: string, value: number): Promise<void> {
  await sql`INSERT INTO syncline.destination_counters AS c (scope, day, used) VALUES (${scope}, ${day}, ${value})
    ON CONFLICT (scope, day) DO UPDATE SET used = greatest(c.used, excluded.used), updated_at = now()`.execute(db);
}

/**
 * Stores `figure` for `scope` unless a figure observed later is there, and answers the freshest stored.
 * The observation time is put on the database's clock from the figure's age (`now() - age`), and the age
 * read back is measured on it too: workers whose clocks disagree still agree on which figure is fresher.
 * The comparison is on observation time only: a fresher lower figure replaces a higher one (the org's
 * rolling count dropped). One statement: the CTE's upsert and the read see the same snapshot.
 */
export async function shareFigure(
  db: Kysely<Database>,
  scope: string,
  figure: { used: number; max: number; ageMs: number } | null,
): Promise<{ used: number; max: number; ageMs: number } | null> {
  const read = sql<{ used: number; max: number; age_ms: number }>`
    SELECT used, max, greatest(0, extract(epoch FROM now() - observed_at) * 1000)::float8 AS age_ms
    FROM syncline.destination_figures WHERE scope = ${scope}`;
  const r = figure
    ? await sql<{ used: number; max: number; age_ms: number }>`WITH up AS (
        INSERT INTO syncline.destination_figures AS f (scope, used, max, observed_at)
        VALUES (${scope}, ${figure.used}, ${figure.max}, now() - ${Math.max(0, Math.round(figure.ageMs))}::bigint * interval '1 millisecond')
        ON CONFLICT (scope) DO UPDATE SET used = excluded.used, max = excluded.max, observed_at = excluded.observed_at
        WHERE f.observed_at < excluded.observed_at
        RETURNING used, max, observed_at)
      SELECT used, max, greatest(0, extract(epoch FROM now() - observed_at) * 1000)::float8 AS age_ms FROM up
      UNION ALL
      SELECT used, max, greatest(0, extract(epoch FROM now() - observed_at) * 1000)::float8 AS age_ms
      FROM syncline.destination_figures WHERE scope = ${scope} AND NOT EXISTS (SELECT 1 FROM up)`.execute(db)
    : await read.execute(db);
  const row = r.rows[0];
  return row ? { used: Number(row.used), max: Number(row.max), ageMs: Number(row.age_ms) } : null;
}
