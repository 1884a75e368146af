/**
 * One DAG run seen from outside (`syncline dag show`) and cleared and re-run (`syncline dag rerun`): a new
 * dagWorkflow run of the same spec and logical date that keeps the outcome and output of the tasks not
 * cleared and runs the others. The run's spec is its own input (the first event of its history); its state
 * is queried while it runs, and read from its result or its DAG_FAILED failure once it has closed.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { DagSpec, DagState } from '../common/dag';
import { planRerun, type RerunSelection } from '../common/dag-rerun';
import { dagText } from '../common/dag-view';
import { WORKFLOW_TYPES } from '../common/names';
import type { DagWorkflowInput, DagWorkflowResult } from '../workflows/dag-workflow';
import { DAG_IGNORED_SIGNAL_HINT, dagStateQuery } from '../workflows/messages';
import { DagError } from './dags';
import { formatTime, quotedForTerminal } from './format';

const SCHEDULED_START = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

export interface DagRunView {
  workflowId: string;
  runId: string;
  /** Temporal's status of the execution: RUNNING, COMPLETED, FAILED, TERMINATED, … */
  status: string;
  spec: DagSpec;
  logicalDate?: string;
  conf?: unknown;
  /** The run this one re-runs. */
  rerunOf?: string;
  /**
   * Undefined when the run holds none (it failed before any task: DAG_INVALID); `problem` says why. A run that
   * failed after its tasks (its end not recorded) has both.
   */
  state?: DagState;
  problem?: string;
  alreadyDone?: DagWorkflowResult['alreadyDone'];
}

export interface RerunStarted {
  workflowId: string;
  runId: string;
  rerunOf: string;
  logicalDate?: string;
  /** Tasks that run again, and tasks whose outcome is kept, in the order of the DAG file. */
  rerun: string[];
  kept: string[];
}

/** `dag/x/rerun-2` for a re-run of `dag/x/rerun-1` or of `dag/x`: one id per source, so a second CLI call cannot start a second re-run. */
export function rerunWorkflowId(source: string): string {
  const m = /^(.*)\/rerun-(\d+)$/.exec(source);
  return m ? `${m[1]}/rerun-${Number(m[2]) + 1}` : `${source}/rerun-1`;
}

/** An activity's failure by its activity and cause ("finishDagRun: …"), not "Activity task failed". */
function failureMessage(failure: unknown): string {
  if (failure instanceof ActivityFailure) return `${failure.activityType}: ${failure.cause?.message ?? failure.message}`;
  return (failure as Error | undefined)?.message ?? 'no failure recorded';
}

function alreadyRerun(source: string, rerunId: string, status: string): DagError {
  return status === 'RUNNING'
    ? new DagError(`a re-run of ${source} is already running: ${rerunId} ("syncline dag show ${rerunId}")`)
    : new DagError(
        `run ${source} was already re-run as ${rerunId} (${status.toLowerCase()}): re-run that run instead ("syncline dag show ${rerunId}")`,
      );
}

/** DAG runs shown and re-run; a re-run starts on the task queue of the run it re-runs. */
export class DagRuns {
  constructor(private readonly client: Client) {}

  /** The run's spec, status and state. A running (or terminated) run's state is queried: a worker must be up. */
  async read(workflowId: string): Promise<DagRunView> {
    const described = await this.describe(workflowId);
    const handle = this.client.workflow.getHandle(workflowId, described.runId);
    const input = await this.input(workflowId, described.runId);
    const { run, rerun, ...spec } = input;
    const scheduled = described.typedSearchAttributes.get(SCHEDULED_START);
    const view: DagRunView = {
      workflowId,
      runId: described.runId,
      status: described.status.name,
      spec,
      logicalDate: run?.logicalDate ?? scheduled?.toISOString(),
      ...(run?.conf !== undefined && { conf: run.conf }),
      ...(rerun && { rerunOf: rerun.workflowId }),
    };
    if (described.status.name === 'COMPLETED') {
      const result = (await handle.result()) as DagWorkflowResult;
      const { run: _run, alreadyDone, ...state } = result;
      return { ...view, state, ...(alreadyDone && { alreadyDone }) };
    }
    if (described.status.name === 'FAILED') {
      const failure = await handle.result().then(
        () => undefined,
        (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : err),
      );
      if (failure instanceof ApplicationFailure && failure.type === 'DAG_FAILED')
        return { ...view, state: failure.details?.[0] as DagState };
      // Failed otherwise: before any task (DAG_INVALID, its date not claimed) or after them (its end not
      // recorded); the query's replay tells which, and holds the tasks' state when they ran.
      const why = failureMessage(failure);
      const state = await handle.query(dagStateQuery).catch(() => undefined);
      if (state && Object.keys(state.tasks).length > 0) return { ...view, state, problem: `the run failed after its tasks: ${why}` };
      return { ...view, problem: `it failed before any task ran: ${why}` };
    }
    // Running, or closed without a result (terminated, cancelled, timed out): the query replays it on a worker.
    return { ...view, state: await handle.query(dagStateQuery) };
  }

  async show(workflowId: string): Promise<{ view: DagRunView; text: string }> {
    const view = await this.read(workflowId);
    const title = [
      `DAG "${view.spec.id}" run ${workflowId} (${view.status.toLowerCase()})`,
      view.logicalDate && `logical date ${view.logicalDate}`,
      view.rerunOf && `re-run of ${view.rerunOf}`,
    ]
      .filter(Boolean)
      .join(' · ');
    if (view.alreadyDone)
      return {
        view,
        text: `${title}\nran no task: this date was already done by ${view.alreadyDone.workflowId} (${view.alreadyDone.status})`,
      };
    if (!view.state) return { view, text: `${title}\n${view.problem}` };
    const table = [dagText(view.spec, view.state, title), ...ignoredLines(view.state)].join('\n');
    if (!view.problem) return { view, text: table };
    const [head, ...rows] = table.split('\n');
    return { view, text: [head, view.problem, ...rows].join('\n') };
  }

  /**
   * Starts the re-run of a closed run. Refused, before anything starts, when the run is still running, ran
   * no task, has nothing to re-run, or keeps too large a state.
   */
  async rerun(workflowId: string, selection: RerunSelection): Promise<RerunStarted> {
    const described = await this.describe(workflowId);
    if (described.status.name === 'RUNNING')
      throw new DagError(
        `run ${workflowId} is still running: wait for it or cancel it ("syncline dag show ${workflowId}" shows where it is)`,
      );
    const id = rerunWorkflowId(workflowId);
    // One re-run per run: a second under the same id would hide the first (the run shown and re-run by that
    // id is its latest), and, dated, run nothing while that first one holds the date.
    const earlier = await this.describeIfAny(id);
    if (earlier) throw alreadyRerun(workflowId, id, earlier.status.name);
    const view = await this.read(workflowId);
    if (view.alreadyDone)
      throw new DagError(
        `run ${workflowId} ran no task: its date was already done by ${view.alreadyDone.workflowId}; re-run that run instead`,
      );
    if (!view.state) throw new DagError(`run ${workflowId} has no task state to re-run from: ${view.problem}`);
    const plan = planRerun(view.spec, view.state, selection, workflowId);
    if ('problem' in plan) throw new DagError(plan.problem);
    const input: DagWorkflowInput = {
      ...view.spec,
      ...(view.logicalDate && { run: { logicalDate: view.logicalDate, ...(view.conf !== undefined && { conf: view.conf }) } }),
      rerun: { workflowId, runId: view.runId, tasks: plan.seed },
    };
    try {
      const handle = await this.client.workflow.start(WORKFLOW_TYPES.dag, {
        // Where the run it re-runs ran (the workers of that DAG), not this client's queue.
        taskQueue: described.taskQueue,
        workflowId: id,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      const kept = view.spec.tasks.map((t) => t.id).filter((t) => plan.seed[t]?.kept);
      return {
        workflowId: id,
        runId: handle.firstExecutionRunId,
        rerunOf: workflowId,
        logicalDate: view.logicalDate,
        rerun: plan.rerun,
        kept,
      };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw alreadyRerun(workflowId, id, (await this.describeIfAny(id))?.status.name ?? 'RUNNING');
      throw err;
    }
  }

  private async describeIfAny(workflowId: string): Promise<WorkflowExecutionDescription | undefined> {
    try {
      return await this.client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  private async describe(workflowId: string): Promise<WorkflowExecutionDescription> {
    let described: WorkflowExecutionDescription;
    try {
      described = await this.client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new DagError(`no DAG run "${workflowId}" in this namespace (or it is past its retention)`);
      throw err;
    }
    if (described.type !== WORKFLOW_TYPES.dag) throw new DagError(`${workflowId} is a ${described.type}, not a DAG run`);
    return described;
  }

  /** The run's input, from the first event of its history (decoded with the client's codec). */
  private async input(workflowId: string, runId: string): Promise<DagWorkflowInput> {
    const history = await this.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    return decodeFromPayloadsAtIndex<DagWorkflowInput>(this.client.options.loadedDataConverter, 0, started?.input?.payloads);
  }
}

/** A running run's signals of an unknown name (its state query), under its tasks, their names escaped for the terminal. */
function ignoredLines(state: DagState): string[] {
  return (state.ignoredSignals ?? []).map(
    (s, i) =>
      `${i === 0 ? 'Ignored signals' : ''.padEnd(15)}  ${quotedForTerminal(s.name)} at ${formatTime(s.at)} UTC: ${DAG_IGNORED_SIGNAL_HINT}`,
  );
}
