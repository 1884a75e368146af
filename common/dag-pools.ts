/**
 * DAG pools (docs/dag.md "Pools"): the check of the pools a DAG's tasks name against the pools defined in the
 * state database, with the same messages at `syncline dag deploy` and at a run's start. Workflow-safe.
 */
import type { DagSpec, DagTask } from './dag';

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
