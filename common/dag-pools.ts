/**
 * DAG pools (docs/dag.md "Pools"): the check of the pools a DAG's tasks name against the pools defined in the
 * state database, with the same messages at `syncline dag deploy` and at a run's start. Workflow-safe.
 */
import type { DagSpec, DagTask } from './dag';

/** How long a pool lease lives without renewal unless the worker sets SYNCLINE_DAG_POOL_LEASE_SECONDS: 10 minutes. */
export const DEFAULT_POOL_LEASE_MS = 10 * 60_000;
/** A run renews its leases every 3/10 of their lease: every 3 minutes by default. */
export const poolRenewMs = (leaseMs: number): number => Math.round(leaseMs * 0.3);
/** A lease's length as the log says it: "10 minutes", "20 s". */
export const leaseText = (leaseMs: number): string => (leaseMs % 60_000 === 0 ? `${leaseMs / 60_000} minutes` : `${leaseMs / 1000} s`);

export function usesPools(spec: Pick<DagSpec, 'tasks'>): boolean {
  return Array.isArray(spec?.tasks) && spec.tasks.some((t) => typeof (t as DagTask | null)?.pool === 'string');
}

/** One problem per task naming a pool that is not defined, with the known pools and the command that defines it. */
export function poolProblems(task: Pick<DagTask, 'id' | 'pool'>, known: Readonly<Record<string, number>>): string[] {
  if (task.pool === undefined || Object.hasOwn(known, task.pool)) return [];
  const names = Object.keys(known).sort();
  return [
    `task "${task.id}": pool "${task.pool}" is not defined (${names.length ? `known pools: ${names.join(', ')}` : 'no pool is defined'}); ` +
      `define it with "syncline pool set ${task.pool} <size>"`,
  ];
}
