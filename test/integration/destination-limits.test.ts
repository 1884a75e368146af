/**
 * Cluster-wide destination limits (docs/limits.md).
 *
 * 1. Three worker processes on one Temporal dev server and one state Postgres run four Actito
 *    activations at once against an emulator that answers 429 above 5 requests in flight: the licence's
 *    limit holds across the cluster (no 429 in the emulator's log, none counted), the emulator saw
 *    exactly 5 in flight at its busiest (the slots are used, not wasted), every row is in Actito.
 * 2. The Postgres leases themselves: two coordinators (two workers' pools) never hold more than `max`
 *    slots together; daily counters; a dead holder's slot comes back once its lease ends; a slot whose
 *    holder keeps renewing it stays taken, one whose holder stopped comes back after the short lease; leases
 *    outlive a Postgres crash, so a request still in flight keeps its slot.
 *
 *   TEMPORAL_CLI=... npx jest --selectProjects integration --testPathPatterns destination-limits
 */
import type pg from 'pg';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import { env, uniqueName } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { crashPostgres } from '../support/runs';
import { chunkWriters, clusterStage, startActivations, syncAllAtOnce } from '../support/worker-cluster';
import { createDb, createPool } from '../../db/connect';
import { sql } from 'kysely';
import { PostgresLimits, type PostgresLimitsOptions } from '../../activities/destination-limits';
import { acquireSlot, slotsInUse } from '../../db/destination-limits';

const LICENCE_LIMIT = 5;

describe('three workers, one Actito licence', () => {
  let emu: ActitoEmulator;
  const stage = clusterStage('tq_limits', 3, async () => {
    // Every call takes a while (throttled from the first one), as Actito's do: requests overlap, so a
    // cluster that ignored the licence limit would go over it.
    emu = await startActitoEmulator({ port: 0, maxConcurrent: LICENCE_LIMIT, callsPerMinute: 0, throttleDelayMs: 30 });
    const actito = { apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity, maxInFlight: LICENCE_LIMIT };
    return { connections: { actito }, close: () => emu.close() };
  });

  const admin = <T>(p: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, p, init);

  test('four activations at once: no 429, the emulator sees exactly the licence limit in flight, every row written', async () => {
    const { client, db, taskQueue: TQ } = stage;
    const ROWS = 60;
    const ids = [1, 2, 3, 4].map((i) => uniqueName(`lim${i}`));
    for (const id of ids) {
      await admin('/tables', {
        method: 'POST',
        body: JSON.stringify({
          name: id,
          primaryKeyAttribute: 'orderId',
          attributes: [
            { name: 'orderId', valueType: 'STRING' },
            { name: 'amount', valueType: 'NUMBER' },
          ],
        }),
      });
      await db.query(`CREATE TABLE public.${id} AS SELECT 'o' || g AS order_id, g * 2 AS amount FROM generate_series(1, ${ROWS}) g`);
      await startActivations(client, TQ, [
        {
          id,
          mode: 'upsert',
          schedule: { manual: true },
          source: { table: `public.${id}`, key: 'order_id' },
          // One call per record, 10 rows per chunk: many chunks, so every worker writes some.
          destination: {
            kind: 'actito',
            connection: 'actito',
            table: id,
            key: 'orderId',
            options: { bulkThreshold: 100_000, singleChunkSize: 10 },
          },
          mappings: [{ from: 'amount', to: 'amount' }],
        },
      ]);
    }
    await admin('/requests', { method: 'DELETE' });

    const summaries = await syncAllAtOnce(client, ids);

    expect(summaries.map((s) => s.status)).toEqual(ids.map(() => 'success'));
    const log = await admin<{
      requests: Array<{ status: number; route: string }>;
      concurrency: { peak: number; rejected: number; max: number };
    }>('/requests');
    expect(log.requests.filter((r) => r.status === 429)).toEqual([]);
    expect(log.concurrency).toMatchObject({ max: LICENCE_LIMIT, rejected: 0, peak: LICENCE_LIMIT });
    expect(log.requests.filter((r) => r.route.includes('/record')).length).toBeGreaterThanOrEqual(ids.length * ROWS);
    for (const id of ids) {
      const r = await admin<{ count: number; records: Array<{ orderId: string; amount: number }> }>(`/tables/${id}/records?limit=1000`);
      const got = r.records.map((x) => [x.orderId, x.amount]).sort(([a], [b]) => String(a).localeCompare(String(b)));
      const want = Array.from({ length: ROWS }, (_, i) => [`o${i + 1}`, (i + 1) * 2]).sort(([a], [b]) =>
        String(a).localeCompare(String(b)),
      );
      expect({ id, records: got }).toEqual({ id, records: want });
    }

    // The writes were spread over the three processes (else this would prove nothing about a cluster).
    expect((await chunkWriters(client, ids)).size).toBeGreaterThanOrEqual(2);
  }, 300_000);
});

describe('leases in the state Postgres', () => {
  const pools: pg.Pool[] = [];
  const coordinator = (opts: PostgresLimitsOptions = {}): { limits: PostgresLimits; db: ReturnType<typeof createDb> } => {
    const pool = createPool(env().databaseUrl, 4);
    pools.push(pool);
    const db = createDb(pool);
    return { limits: new PostgresLimits(db, { pollMs: 10, ...opts }), db };
  };
  /** The slot's lease end, on the database's clock, and the database's clock now. */
  const leaseOf = async (db: ReturnType<typeof createDb>, scope: string) =>
    (
      await sql<{ expires: Date; now: Date }>`SELECT expires_at AS expires, now() AS now FROM syncline.destination_slots
        WHERE scope = ${scope} AND holder IS NOT NULL`.execute(db)
    ).rows[0];
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  });

  test('two workers together never hold more than max slots, and do reach max', async () => {
    const [a, b] = [coordinator(), coordinator()];
    const scope = uniqueName('scope');
    let inFlight = 0;
    let peak = 0;
    // Each call lasts 200 ms: three holders that got their slots some tens of ms apart (each a round trip
    // to Postgres, slow on a loaded machine) are still in their calls together, so reaching max shows.
    const call = async (): Promise<void> => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 200));
      inFlight--;
    };
    const run = (l: PostgresLimits) => l.withSlot(scope, 3, call, { leaseMs: 10_000 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => run(i % 2 ? a.limits : b.limits)));
    expect(peak).toBe(3);
  });

  test('daily counters: concurrent takes from two workers stop exactly at the allowance', async () => {
    const [a, b] = [coordinator(), coordinator()];
    const scope = uniqueName('count');
    const taken = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a.limits : b.limits).take(scope, '2026-12-05', 1, 5)));
    expect(taken.filter(Boolean).length).toBe(5);
    expect(await a.limits.used(scope, '2026-12-05')).toBe(5);
    expect(await a.limits.used(scope, '2026-12-06')).toBe(0);
    await b.limits.raise(scope, '2026-12-05', 24);
    expect(await a.limits.take(scope, '2026-12-05', 1, 5)).toBe(false);
  });

  test("a dead worker's slot comes back when its lease ends, not before", async () => {
    const { limits, db } = coordinator();
    const scope = uniqueName('dead');
    await limits.withSlot(scope, 1, async () => undefined, { leaseMs: 10_000 }); // creates the slot rows
    // A worker took the only slot for 1.5 s and died without giving it back.
    expect(await acquireSlot(db, scope, 1, 'dead-worker', 1_500)).toBe(0);
    expect(await acquireSlot(db, scope, 1, 'other', 10_000)).toBeNull();
    let ran = false;
    await limits.withSlot(scope, 1, async () => void (ran = true), { leaseMs: 10_000 });
    expect(ran).toBe(true);
  });

  // A request may run for many minutes (a Salesforce upload, a results download): its slot is leased for a
  // short while only, renewed by its worker as long as the request runs (renewedLeaseMs 3 s here).
  test('a slot whose holder keeps renewing it stays taken past its short lease, for as long as its request runs', async () => {
    const { limits, db } = coordinator({ renewedLeaseMs: 3_000 });
    const scope = uniqueName('renewed');
    let finish!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const held = limits.withSlot(scope, 1, () => (started(), new Promise<void>((r) => (finish = r))), { leaseMs: 600_000 });
    await running;
    const first = (await leaseOf(db, scope))!;
    // The request runs on past the end of the lease it was first given...
    for (let now = first.now; now <= first.expires;) {
      await new Promise((r) => setTimeout(r, 250));
      now = (await leaseOf(db, scope))!.now;
    }
    // ... and its slot is still taken (renewed), not handed to another worker.
    const renewed = (await leaseOf(db, scope))!;
    expect(renewed.expires.getTime()).toBeGreaterThan(first.expires.getTime());
    expect(await acquireSlot(db, scope, 1, 'other', 10_000)).toBeNull();
    finish();
    await held;
  }, 30_000);

  test("a slot whose holder stopped renewing it (its worker died) comes back after the short lease, while the request's own bound is far off", async () => {
    const dead = coordinator({ renewedLeaseMs: 3_000 });
    const alive = coordinator({ renewedLeaseMs: 3_000 });
    const scope = uniqueName('stopped');
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    // A 10-minute upload: its slot must not stay taken 10 minutes once its worker is gone.
    void dead.limits.withSlot(scope, 1, () => (started(), new Promise<void>(() => undefined)), { leaseMs: 600_000 });
    await running;
    dead.limits.close(); // the worker dies: nobody renews its lease any more
    expect(await acquireSlot(alive.db, scope, 1, 'other', 10_000)).toBeNull();
    let ran = false;
    await alive.limits.withSlot(scope, 1, async () => void (ran = true), { leaseMs: 10_000 });
    expect(ran).toBe(true);
  }, 30_000);

  test('a Postgres crash keeps the leases of requests in flight: nobody takes their slots meanwhile', async () => {
    const { limits } = coordinator();
    const scope = uniqueName('crash');
    const releases: Array<() => void> = [];
    let started = 0;
    const held = Array.from({ length: 2 }, () =>
      limits.withSlot(scope, 2, () => new Promise<void>((r) => (started++, releases.push(r))), { leaseMs: 60_000 }),
    );
    while (started < 2) await new Promise((r) => setTimeout(r, 20));
    await crashPostgres(env().databaseUrl);
    const fresh = coordinator();
    expect(await slotsInUse(fresh.db, scope)).toBe(2);
    expect(await acquireSlot(fresh.db, scope, 2, 'after-crash', 60_000)).toBeNull();
    // The requests end; their release reaches Postgres (the pool reconnects), and the slots are free again.
    for (const r of releases) r();
    await Promise.all(held);
    let got = false;
    await fresh.limits.withSlot(scope, 2, async () => void (got = true), { leaseMs: 60_000 });
    expect(got).toBe(true);
  });
});
