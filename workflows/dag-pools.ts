/**
 * Pools inside a DAG run (docs/dag.md "Pools"): a task that names a pool leases one of its slots in the state
 * Postgres before it runs and gives it back after, whatever its outcome. Waiting holds no worker slot: the run
 * tries a short acquire activity and sleeps on a durable timer between tries (1 s doubling to 30 s). One task
 * of this run polls a pool at a time (the others queue behind it, in the order they became ready), so a wide
 * fan-out waiting on a busy pool costs the history of one poller; a slot this run gives back wakes its next
 * waiter at once. While leases are held, one renewal per run every 3/10 of a lease keeps them alive; the lease
 * of a run that was terminated expires by itself. The lease is the worker's (SYNCLINE_DAG_POOL_LEASE_SECONDS,
 * 10 minutes by default): an acquire answers it, and the run renews by the shortest it was given.
 */
import { ApplicationFailure, CancellationScope, condition, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { DagPoolRenewal, DagTaskActivities } from '../activities/dag-tasks';
import { DEFAULT_POOL_LEASE_MS, leaseText, poolProblems, poolRenewMs } from '../common/dag-pools';
import type { DagTask } from '../common/dag';
import { STATE_RETRY, type TaskContext, type TaskRunner } from './dag';

/**
 * How long a lease lives without renewal (the time a terminated run's slot stays taken) when the worker does not
 * answer its own: a worker of a release before, or a history recorded before (renewed every 3 minutes).
 */
export const POOL_LEASE_MS = DEFAULT_POOL_LEASE_MS;
const FIRST_WAIT_MS = 1000;
const MAX_WAIT_MS = 30_000;
/** Tries per task before it fails (about 16 hours at 30 s): each try is an activity and a timer in history. */
export const MAX_POOL_TRIES = 2000;

// Each one short query on the state database; a restart of it is waited out (STATE_RETRY).
const poolActs = proxyActivities<DagTaskActivities>({ startToCloseTimeout: '30 seconds', retry: STATE_RETRY });

export class RunPools {
  private readonly turns = new Map<string, Promise<void>>();
  private readonly released = new Map<string, number>();
  private held = 0;
  private renewing = false;
  /** The shortest lease an acquire of this run answered (POOL_LEASE_MS for one that answered none). */
  private leaseMs: number | undefined;
  /** Holder -> its pool and task, from its lease until its release begins. */
  private readonly holding = new Map<string, { pool: string; task: string }>();
  /** Leases lost while their task ran (for the run's state query), each said once. */
  readonly leasesLost: Array<{ pool: string; task: string; at: string }> = [];
  private readonly saidLost = new Set<string>();

  constructor(
    /** Pool name -> size, read at the run's start. */
    readonly known: Readonly<Record<string, number>>,
    /** `<workflowId>/<runId>/`: every lease of this run starts with it. */
    private readonly prefix: string,
  ) {}

  /** The run's per-task checks plus the pools its tasks name. */
  check(checkTask: (task: DagTask) => string[]): (task: DagTask) => string[] {
    return (task) => [...checkTask(task), ...poolProblems(task, this.known)];
  }

  /** Each runner, for a task that names a pool, runs inside a lease of one of its slots. */
  wrap(runners: Record<string, TaskRunner>): Record<string, TaskRunner> {
    return Object.fromEntries(
      Object.entries(runners).map(([kind, run]) => [
        kind,
        (ctx: TaskContext) => (ctx.task.pool ? this.withSlot(ctx, ctx.task.pool, run) : run(ctx)),
      ]),
    );
  }

  private async withSlot(ctx: TaskContext, pool: string, run: TaskRunner): Promise<unknown> {
    const holder = `${this.prefix}${ctx.task.id}${ctx.index === undefined ? '' : `#${ctx.index}`}`;
    try {
      await this.acquire(ctx.task, pool, holder);
    } catch (err) {
      // Cancelled while an acquire was in flight: it may have leased the slot; give it back now, not at expiry.
      if (isCancellation(err))
        await CancellationScope.nonCancellable(() => poolActs.releaseDagPoolSlot({ pool, holder })).catch(() => undefined);
      throw err;
    }
    this.held += 1;
    this.holding.set(holder, { pool, task: holder.slice(this.prefix.length) });
    // One renewal loop per run: a release and an acquire in the same workflow task never start a second one.
    if (!this.renewing) void this.renewWhileHeld();
    try {
      return await run(ctx);
    } finally {
      this.holding.delete(holder);
      // Also on failure and cancellation; a release that cannot reach Postgres leaves the lease to expire.
      await CancellationScope.nonCancellable(() => poolActs.releaseDagPoolSlot({ pool, holder })).catch((err: unknown) =>
        log.warn('pool slot not released; it frees itself when its lease expires', { pool, holder, error: String(err) }),
      );
      this.held -= 1;
      this.released.set(pool, (this.released.get(pool) ?? 0) + 1);
    }
  }

  /** Waits for this run's turn on the pool, then tries until a slot is leased. */
  private async acquire(task: DagTask, pool: string, holder: string): Promise<void> {
    const before = this.turns.get(pool) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.turns.set(
      pool,
      before.then(() => mine),
    );
    await before;
    try {
      let wait = FIRST_WAIT_MS;
      for (let tries = 1; ; tries++) {
        const r = await poolActs.acquireDagPoolSlot({ pool, holder, leaseMs: POOL_LEASE_MS, workerLease: true });
        if (r.acquired) {
          const got = 'leaseMs' in r && typeof r.leaseMs === 'number' ? r.leaseMs : POOL_LEASE_MS;
          this.leaseMs = Math.min(this.leaseMs ?? got, got);
          return;
        }
        if (r.unknownPool)
          throw ApplicationFailure.nonRetryable(
            `task "${task.id}": pool "${pool}" was deleted after this run started: define it again with "syncline pool set ${pool} <size>", then re-run`,
            'DAG_POOL_UNKNOWN',
          );
        if (tries >= MAX_POOL_TRIES)
          throw ApplicationFailure.nonRetryable(
            `task "${task.id}": no slot of pool "${pool}" came free in ${tries} tries; "syncline pool list" shows its use: give it more slots or run fewer DAGs at once`,
            'DAG_POOL_TIMEOUT',
          );
        const seen = this.released.get(pool) ?? 0;
        // A slot this run gives back ends the wait at once; another run's, at the next try.
        await condition(() => (this.released.get(pool) ?? 0) !== seen, wait);
        wait = Math.min(wait * 2, MAX_WAIT_MS);
      }
    } finally {
      done();
    }
  }

  /**
   * Says each lease the renewal found lost (its lease ran out, no worker renewing it for longer than it, and
   * another run took the slot) while its task still holds it here: the pool then runs one task more than its
   * size. A lease whose release began meanwhile is no loss. Not a command: a replay takes the same path (a
   * renewal recorded before `holders` was passed answered a count, and says nothing).
   */
  private noteLost(renewal: DagPoolRenewal | number | void): void {
    if (!renewal || typeof renewal !== 'object' || !Array.isArray(renewal.lost)) return;
    for (const holder of renewal.lost) {
      const held = this.holding.get(holder);
      if (!held || this.saidLost.has(holder)) continue;
      this.saidLost.add(holder);
      this.leasesLost.push({ ...held, at: new Date().toISOString() });
      log.warn(
        `DAG pool lease lost: run ${this.prefix.slice(0, -1)}, pool "${held.pool}", task "${held.task}": its lease ran out before it was renewed (no worker for over ${leaseText(this.lease)}) and another run took the slot; the task runs on outside the pool's size`,
        { dagRun: this.prefix.slice(0, -1), pool: held.pool, task: held.task },
      );
    }
  }

  private get lease(): number {
    return this.leaseMs ?? POOL_LEASE_MS;
  }

  private async renewWhileHeld(): Promise<void> {
    this.renewing = true;
    try {
      while (this.held > 0) {
        const lease = this.lease;
        // Woken early by a shorter lease (a worker with a shorter SYNCLINE_DAG_POOL_LEASE_SECONDS took a slot):
        // the wait starts again by it. A run whose acquires answered no lease waits 3 minutes, as before.
        if (await condition(() => this.held === 0 || this.lease < lease, poolRenewMs(lease))) {
          if (this.held === 0) return;
          continue;
        }
        const renewal = await poolActs
          .renewDagPoolLeases({ holderPrefix: this.prefix, leaseMs: this.lease, holders: [...this.holding.keys()] })
          .catch((err: unknown) => {
            if (isCancellation(err)) throw err;
            log.warn('pool leases not renewed; trying again at the next renewal', { error: String(err) });
          });
        this.noteLost(renewal);
      }
    } catch {
      // Cancelled: the run ends, and its tasks release their slots on their way out.
    } finally {
      this.renewing = false;
    }
  }
}

/** Without pools (a run that started before them): a task naming one is refused, as it was then. */
export function withoutPools(checkTask: (task: DagTask) => string[]): (task: DagTask) => string[] {
  return (task) => [
    ...checkTask(task),
    ...(task.pool === undefined ? [] : [`task "${task.id}": "pool" is not supported by the code this run started on`]),
  ];
}

/**
 * The pools of a run whose tasks name any, read from the state database before anything runs; undefined when
 * none does, or for a run that started before pools existed (its tasks are then refused as before).
 */
export async function runPools(tasks: readonly DagTask[], prefix: string, patchedPools: () => boolean): Promise<RunPools | undefined> {
  if (!tasks.some((t) => typeof t?.pool === 'string') || !patchedPools()) return undefined;
  return new RunPools(await poolActs.dagPoolSizes(), prefix);
}
