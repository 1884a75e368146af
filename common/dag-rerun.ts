/**
 * Clear and re-run (Airflow's "clear failed and downstream"), pure: from a closed run's final state, which
 * tasks run again and which keep their outcome. The re-run set is closed downstream, so every kept task's
 * upstream is kept too and the kept states stay consistent with the trigger rules.
 */
import type { DagSpec, DagState, MappedRun, TaskRun } from './dag';

/** The kept states travel in the new run's input (its history): outputs are small by design, this bounds them. */
export const MAX_KEPT_STATE_BYTES = 256 * 1024;

/** What dagWorkflow's input carries for a re-run. */
export interface DagRerun {
  /** The run re-run. */
  workflowId: string;
  runId: string;
  /** Tasks not run again, with their final state and output; and, for the tasks that run again, their tries so far. */
  tasks: Record<string, TaskRun>;
}

export type RerunSelection = { failed: true } | { from: string };

/** Did not finish well: failed, blocked by a failure, or never finished (a run terminated or cancelled). */
const NOT_DONE = new Set(['failed', 'upstream_failed', 'pending', 'running']);

/** Every task downstream of `roots`, the roots included, in the order of the DAG file. */
export function downstreamOf(spec: Pick<DagSpec, 'tasks'>, roots: Iterable<string>): Set<string> {
  const out = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const t of spec.tasks)
      if (!out.has(t.id) && (t.upstream ?? []).some((u) => out.has(u))) {
        out.add(t.id);
        grew = true;
      }
  }
  return out;
}

/**
 * The tasks to run again and the seed of the new run, or a message saying why there is nothing to re-run.
 * `--failed`: the tasks that did not finish well and everything downstream. `--from X`: X and everything
 * downstream. The rest keeps its final state.
 */
export function planRerun(
  spec: Pick<DagSpec, 'tasks'>,
  state: DagState,
  selection: RerunSelection,
  source: string,
): { rerun: string[]; seed: Record<string, TaskRun> } | { problem: string } {
  const ids = spec.tasks.map((t) => t.id);
  const stateOf = (id: string): string => state.tasks[id]?.state ?? 'pending';
  let roots: string[];
  if ('from' in selection) {
    if (!ids.includes(selection.from))
      return { problem: `--from "${selection.from}" is not a task of DAG "${state.id}"; its tasks are ${ids.join(', ')}` };
    roots = [selection.from];
  } else {
    roots = ids.filter((id) => NOT_DONE.has(stateOf(id)));
    if (roots.length === 0)
      return {
        problem: `run ${source} has no failed task (${state.status}): nothing for --failed to re-run; use --from <task> to run a task and its downstream again`,
      };
  }
  const again = downstreamOf(spec, roots);
  const seed: Record<string, TaskRun> = {};
  for (const id of ids) {
    const previous = state.tasks[id];
    // A task a terminated run left unfinished has no outcome to keep: it starts afresh, as do the re-run ones.
    if (!again.has(id) && previous && previous.state !== 'pending' && previous.state !== 'running')
      seed[id] = { ...previous, id, kept: true, ...(previous.mapped && { mapped: previous.mapped.map(withoutOutput) }) };
    else if (previous?.tries !== undefined) seed[id] = { id, state: 'pending', tries: previous.tries };
  }
  const rerun = ids.filter((id) => again.has(id));
  const size = JSON.stringify(seed).length;
  if (size > MAX_KEPT_STATE_BYTES)
    return {
      problem: `the kept tasks of run ${source} hold ${size} bytes of state; a re-run carries at most ${MAX_KEPT_STATE_BYTES} in its input: have the tasks return ids or counts, not data, or trigger a new run`,
    };
  return { rerun, seed };
}

/** A mapped task's item outputs are its output already: kept once, they do not count twice against the bound. */
function withoutOutput(item: MappedRun): MappedRun {
  const { output: _output, ...rest } = item;
  return rest;
}
