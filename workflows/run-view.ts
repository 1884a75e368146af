/**
 * What a sync run shows of itself while it goes: each step with its state and times, and the writes per
 * chunk, in the shape of a DAG state (the `runState` query; Web UI and benchmarks read it). Its
 * activation hears of each new phase and of every tenth of the chunks written (runProgress signal).
 */
import { CancellationScope, getExternalWorkflowHandle, setCurrentDetails, sleep } from '@temporalio/workflow';
import type { DagState, MappedRun, TaskError, TaskRun } from '../common/dag';
import { taskError } from './dag';
import { runProgressSignal, type RunProgress } from './messages';
import type { RunPatches } from './patches';

const QUIET_PHASES = new Set(['starting', 'finished', 'warnings']);

/**
 * A step's start is signalled to the activation only once the step has run this long (patch
 * `run-progress-after-delay`): a quick step, as every step of a small run is, costs the activation no
 * signal, and neither history the events and workflow tasks of one. A step that takes longer is shown
 * this much late.
 */
export const PROGRESS_DELAY_MS = 3_000;

export class RunView {
  readonly state: DagState;
  private lastReported = '';
  /** Steps run as local activities (a small run's): short by construction, not signalled to the activation. */
  private readonly local = new Set<string>();
  /** The timer holding back a step's start signal (PROGRESS_DELAY_MS); cancelled when anything changes first. */
  private held: CancellationScope | undefined;
  /** Steps whose start is signalled at once (written in batches by child workflows). */
  private readonly immediate = new Set<string>();
  /** The activation was told the run waits (on the quota): the next step's start is told at once. */
  private waitShown = false;

  constructor(
    id: string,
    private readonly parentId: string | undefined,
    private readonly runNumber: number,
    private readonly patches: RunPatches,
  ) {
    this.state = { id, status: 'running', tasks: {} };
    this.report();
  }

  /**
   * Runs one step: shown running, then success or failed (the error is rethrown). `local`: the step is a
   * local activity, which the activation does not hear of.
   */
  async step<T>(id: string, fn: () => Promise<T>, opts: { local?: boolean } = {}): Promise<T> {
    if (opts.local) this.local.add(id);
    else this.local.delete(id);
    const task = this.begin(id);
    try {
      const out = await fn();
      this.end(task, 'success');
      return out;
    } catch (err) {
      this.end(task, 'failed', taskError(err));
      throw err;
    }
  }

  /**
   * A step that waits on something outside the run (an earlier run still open): the activation hears of it
   * at once, and of the step after it at once too, however quick, as of a quota wait (waiting()).
   */
  async waitStep<T>(id: string, fn: () => Promise<T>): Promise<T> {
    this.immediate.add(id);
    return this.step(id, () => {
      this.waitShown = true;
      return fn();
    });
  }

  /**
   * Runs `fn(i)` for i in 0..n-1, at most `parallelism` at a time, started in order (FIFO: deterministic).
   * Every item runs whatever the others do; returns the failures in the order they happened.
   */
  async mapped(id: string, n: number, parallelism: number, fn: (i: number) => Promise<unknown>): Promise<TaskError[]> {
    const task = this.begin(id);
    task.mapped = Array.from({ length: n }, (_, index) => ({ index, state: 'pending' as const }));
    const failures: TaskError[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < n) {
        const item = task.mapped![next++]!;
        item.state = 'running';
        try {
          await fn(item.index);
          item.state = 'success';
        } catch (err) {
          item.state = 'failed';
          item.error = taskError(err);
          failures.push(item.error);
        }
        this.report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallelism, n) }, lane));
    this.end(task, failures.length ? 'failed' : 'success', failures[0]);
    return failures;
  }

  /**
   * Like mapped(), for items written elsewhere in batches of `size` (child workflows), one batch after the
   * other: `runBatch(from, to)` runs items from..to-1 and returns their failures by index. A batch that
   * itself fails (its workflow terminated, say) fails each of its items that it did not report.
   */
  async batched(
    id: string,
    n: number,
    size: number,
    runBatch: (from: number, to: number) => Promise<Array<{ index: number; error: TaskError }>>,
  ): Promise<TaskError[]> {
    // Batches are for runs of many chunks, long by construction: their start is heard of at once, and a
    // batch waiting on the quota (its own signal) is not overtaken by a start signal held back here.
    this.immediate.add(id);
    const task = this.begin(id);
    const items: MappedRun[] = Array.from({ length: n }, (_, index) => ({ index, state: 'pending' }));
    task.mapped = items;
    const failures: TaskError[] = [];
    for (let from = 0; from < n; from += size) {
      const to = Math.min(n, from + size);
      for (let i = from; i < to; i++) items[i]!.state = 'running';
      let failed: Array<{ index: number; error: TaskError }>;
      try {
        failed = await runBatch(from, to);
      } catch (err) {
        const error = taskError(err);
        failed = items.slice(from, to).map((item) => ({ index: item.index, error }));
      }
      const byIndex = new Map(failed.map((f) => [f.index, f.error]));
      for (let i = from; i < to; i++) {
        const error = byIndex.get(i);
        items[i]!.state = error ? 'failed' : 'success';
        if (error) items[i]!.error = error;
      }
      failures.push(...failed.map((f) => f.error));
      this.report();
    }
    this.end(task, failures.length ? 'failed' : 'success', failures[0]);
    return failures;
  }

  finish(status: 'success' | 'failed'): void {
    this.state.status = status;
    this.report();
  }

  private begin(id: string): TaskRun {
    const task: TaskRun = { id, state: 'running', startedAt: new Date().toISOString() };
    this.state.tasks[id] = task;
    this.report();
    return task;
  }

  private end(task: TaskRun, state: 'success' | 'failed', error?: TaskError): void {
    task.state = state;
    task.endedAt = new Date().toISOString();
    if (error) task.error = error;
    this.report();
  }

  /** At most once per phase change or tenth of the chunks: a signal is an event in both histories. */
  private report(): void {
    const write = this.state.tasks.write;
    const total = write?.mapped?.length ?? 0;
    const done = write?.mapped?.filter((m) => m.state !== 'pending' && m.state !== 'running').length ?? 0;
    const phase =
      Object.values(this.state.tasks).find((t) => t.state === 'running')?.id ?? (this.state.status === 'running' ? 'starting' : 'finished');
    const key = `${phase}:${total ? Math.floor((done * 10) / total) : 0}`;
    if (key === this.lastReported) return;
    const started = phase !== this.lastReported.split(':')[0];
    this.lastReported = key;
    // Whatever was held back is out of date: the step ended, or its chunks' progress is heard of now.
    this.dropHeld();
    // The Web UI's current details of the run: where it is now (its counts replace this at the end).
    setCurrentDetails(`Run ${this.runNumber}: **${phase}**${total ? ` · ${done}/${total} chunks written` : ''}`);
    if (!this.parentId) return;
    // The activation shows "starting" from the run's start to its first step and clears the run when it ends;
    // between steps and at the in-workflow warnings step it has nothing new to show. Each signal is an event
    // in both histories (and a workflow task in the activation's): runs started before this skip replay sending them.
    if (QUIET_PHASES.has(phase) && this.patches.has('run-progress-steps-only')) return;
    // Nor of a local step (a small run's validate, delta, commit: short by construction, it would
    // show for a moment), nor of the last chunk written (the step ends at once and the next one is heard
    // of): a small run signals twice instead of six times. Runs started before this replay sending them.
    const last = phase === 'write' && total > 0 && done === total;
    if ((this.local.has(phase) || last) && this.patches.has('run-progress-activities-only')) return;
    const progress: RunProgress = { runNumber: this.runNumber, phase, chunksDone: done, chunksTotal: total };
    // A step's start waits PROGRESS_DELAY_MS (a timer: two events in this history, no workflow task unless
    // it fires); its chunks' tenths are heard of at once. Runs started before this replay sending it at once.
    if (started && !this.immediate.has(phase) && !this.waitShown && this.patches.has('run-progress-after-delay'))
      this.hold(phase, progress);
    else {
      this.waitShown = false;
      this.send(progress);
    }
  }

  /**
   * The run tells its activation itself that it waits (quotaWait): a start signal held back must not
   * overwrite that, and the next step's start, however quick, replaces it at once.
   */
  waiting(): void {
    this.dropHeld();
    this.waitShown = true;
  }

  /** Forgets a start signal held back: the step ended, or something newer was reported. */
  private dropHeld(): void {
    this.held?.cancel();
    this.held = undefined;
  }

  private hold(phase: string, progress: RunProgress): void {
    const scope = new CancellationScope();
    this.held = scope;
    scope
      .run(() => sleep(PROGRESS_DELAY_MS, { summary: `progress · tell the activation "${phase}" if it still runs` }))
      .then(
        () => {
          if (this.held !== scope) return;
          this.held = undefined;
          this.send(progress);
        },
        () => {}, // cancelled: the step ended first, or something newer was reported
      );
  }

  private send(progress: RunProgress): void {
    getExternalWorkflowHandle(this.parentId!)
      .signal(runProgressSignal, progress)
      .catch(() => {});
  }
}
