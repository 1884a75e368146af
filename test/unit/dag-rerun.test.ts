/** Clear and re-run, decided from a closed run's final state; a run shown as text and as Web UI markdown. */
import type { DagSpec, DagState, TaskRun } from '../../common/dag';
import { MAX_KEPT_STATE_BYTES, planRerun } from '../../common/dag-rerun';
import { dagDetails, dagText, topologicalOrder } from '../../common/dag-view';
import { rerunWorkflowId } from '../../client/dag-runs';
import { rerunSelection } from '../../client/cli-run';
import { parseArgs, UsageError } from '../../client/cli';
import type { Flags } from '../../client/cli-parse';

// extract -> transform -> load -> report; audit after extract; notify whatever happens (all_done) after load.
const spec: DagSpec = {
  id: 'nightly',
  tasks: [
    { id: 'report', kind: 'sql', upstream: ['load'] },
    { id: 'extract', kind: 'sql' },
    { id: 'transform', kind: 'sql', upstream: ['extract'] },
    { id: 'load', kind: 'sql', upstream: ['transform'] },
    { id: 'audit', kind: 'sql', upstream: ['extract'] },
    { id: 'notify', kind: 'sql', upstream: ['load'], triggerRule: 'all_done' },
  ],
};
const at = (s: number) => new Date(Date.UTC(2026, 11, 5, 2, 0, s)).toISOString();
const failedRun: DagState = {
  id: 'nightly',
  status: 'failed',
  tasks: {
    extract: { id: 'extract', state: 'success', output: { rowCount: 3 }, startedAt: at(0), endedAt: at(2), tries: 1 },
    transform: {
      id: 'transform',
      state: 'failed',
      error: { type: 'SQL_ERROR', message: 'relation "x" does not exist' },
      startedAt: at(2),
      endedAt: at(5),
      tries: 1,
    },
    load: { id: 'load', state: 'upstream_failed', endedAt: at(5) },
    report: { id: 'report', state: 'upstream_failed', endedAt: at(5) },
    audit: { id: 'audit', state: 'success', output: { rowCount: 1 }, startedAt: at(2), endedAt: at(3), tries: 1 },
    notify: { id: 'notify', state: 'success', output: { rowCount: 0 }, startedAt: at(5), endedAt: at(6), tries: 1 },
  },
};

describe('planRerun', () => {
  test('--failed: the failed and not-run tasks and everything downstream (an all_done task too); the rest kept with outputs', () => {
    const plan = planRerun(spec, failedRun, { failed: true }, 'dag/nightly-1');
    expect(plan).toEqual({
      rerun: ['report', 'transform', 'load', 'notify'],
      seed: {
        extract: { ...failedRun.tasks.extract, kept: true },
        audit: { ...failedRun.tasks.audit, kept: true },
        // Runs again, counting its earlier try.
        transform: { id: 'transform', state: 'pending', tries: 1 },
        notify: { id: 'notify', state: 'pending', tries: 1 },
      },
    });
  });

  test('--from: that task and its downstream, even in a run that succeeded', () => {
    const ok: DagState = {
      id: 'nightly',
      status: 'success',
      tasks: Object.fromEntries(spec.tasks.map((t) => [t.id, { id: t.id, state: 'success', output: t.id, tries: 2 } satisfies TaskRun])),
    };
    ok.tasks.transform!.mapped = [{ index: 0, state: 'success', output: 'transform' }];
    ok.tasks.transform!.output = ['transform'];
    const plan = planRerun(spec, ok, { from: 'load' }, 'dag/nightly-1');
    if ('problem' in plan) throw new Error(plan.problem);
    expect(plan.rerun).toEqual(['report', 'load', 'notify']);
    expect(
      Object.entries(plan.seed)
        .filter(([, t]) => t.kept)
        .map(([id]) => id),
    ).toEqual(['extract', 'transform', 'audit']);
    expect(plan.seed.load).toEqual({ id: 'load', state: 'pending', tries: 2 });
    // A kept mapped task keeps its output list once: the items keep their states only.
    expect(plan.seed.transform).toMatchObject({ output: ['transform'], mapped: [{ index: 0, state: 'success' }] });
    expect(plan.seed.transform!.mapped![0]).not.toHaveProperty('output');
  });

  test('refusals name what to do: an unknown task lists the known ones; --failed on a run without failure', () => {
    expect(planRerun(spec, failedRun, { from: 'lod' }, 'dag/nightly-1')).toEqual({
      problem: '--from "lod" is not a task of DAG "nightly"; its tasks are report, extract, transform, load, audit, notify',
    });
    const ok: DagState = {
      ...failedRun,
      status: 'success',
      tasks: { ...failedRun.tasks, transform: { id: 'transform', state: 'success' } },
    };
    for (const id of ['load', 'report']) ok.tasks[id] = { id, state: 'success' };
    expect(planRerun(spec, ok, { failed: true }, 'dag/nightly-1')).toEqual({
      problem:
        'run dag/nightly-1 has no failed task (success): nothing for --failed to re-run; use --from <task> to run a task and its downstream again',
    });
  });

  test('a kept state larger than the bound is refused rather than carried in history', () => {
    const big: DagState = {
      ...failedRun,
      tasks: { ...failedRun.tasks, extract: { ...failedRun.tasks.extract!, output: 'x'.repeat(MAX_KEPT_STATE_BYTES) } },
    };
    const plan = planRerun(spec, big, { failed: true }, 'dag/nightly-1');
    expect(plan).toEqual({
      problem: expect.stringMatching(/kept tasks of run dag\/nightly-1 hold \d+ bytes of state; a re-run carries at most 262144/),
    });
  });

  test('a task a terminated run left running starts afresh, it is not kept', () => {
    const cut: DagState = { id: 'nightly', status: 'running', tasks: { extract: { id: 'extract', state: 'running', tries: 1 } } };
    const plan = planRerun(spec, cut, { failed: true }, 'dag/nightly-1');
    if ('problem' in plan) throw new Error(plan.problem);
    expect(plan.rerun).toEqual(spec.tasks.map((t) => t.id));
    expect(plan.seed).toEqual({ extract: { id: 'extract', state: 'pending', tries: 1 } });
  });
});

test('the re-run of a run, and of a re-run, has one id: a second call cannot start a second re-run', () => {
  expect(rerunWorkflowId('dag/nightly-2026-12-05T02:00:00Z')).toBe('dag/nightly-2026-12-05T02:00:00Z/rerun-1');
  expect(rerunWorkflowId('dag/nightly-2026-12-05T02:00:00Z/rerun-1')).toBe('dag/nightly-2026-12-05T02:00:00Z/rerun-2');
});

test('--failed or --from, exactly one', () => {
  expect(parseArgs(['dag', 'rerun', 'dag/x-1', '--from', 'load'])).toMatchObject({
    kind: 'run',
    args: { workflowId: 'dag/x-1' },
    flags: { from: 'load' },
  });
  expect(parseArgs(['dag', 'show', 'dag/x-1'])).toMatchObject({ kind: 'run', args: { workflowId: 'dag/x-1' } });
  expect(rerunSelection({ failed: true })).toEqual({ failed: true });
  expect(rerunSelection({ from: 'load' })).toEqual({ from: 'load' });
  for (const flags of [{}, { failed: true, from: 'load' }] as Flags[]) {
    expect(() => rerunSelection(flags)).toThrow(UsageError);
    expect(() => rerunSelection(flags)).toThrow('give either --failed (the failed tasks and their downstream) or --from <task>');
  }
});

describe('a run in readable form', () => {
  test('tasks upstream first, ties in file order', () => {
    expect(topologicalOrder(spec)).toEqual(['extract', 'transform', 'load', 'report', 'audit', 'notify']);
  });

  test('the terminal table: symbol, state, tries, duration, items per state, upstream, error or kept', () => {
    const state: DagState = {
      ...failedRun,
      tasks: {
        ...failedRun.tasks,
        extract: { ...failedRun.tasks.extract!, kept: true },
        audit: {
          id: 'audit',
          state: 'running',
          startedAt: at(2),
          tries: 2,
          mapped: [
            { index: 0, state: 'success' },
            { index: 1, state: 'failed' },
            { index: 2, state: 'running' },
            { index: 3, state: 'success' },
          ],
        },
      },
    };
    const lines = dagText(spec, state, 'DAG "nightly" run dag/nightly-1').split('\n');
    expect(lines[0]).toBe('DAG "nightly" run dag/nightly-1: failed');
    expect(lines[1]!.split(/\s{2,}/).filter(Boolean)).toEqual(['TASK', 'STATE', 'TRIES', 'DURATION', 'ITEMS', 'UPSTREAM', 'NOTE']);
    const cols = (prefix: string) => lines.find((l) => l.slice(1).trim().startsWith(prefix))!.split(/\s{2,}/);
    expect(cols('extract ')).toEqual(['✓', 'extract', 'success', '1', '2.0 s', '-', 'kept from the earlier run']);
    expect(cols('transform ')).toEqual(['✗', 'transform', 'failed', '1', '3.0 s', 'extract', 'SQL_ERROR: relation "x" does not exist']);
    expect(cols('load ')).toEqual(['↑', 'load', 'upstream_failed', '-', '-', 'transform']);
    expect(cols('audit ')).toEqual(['▶', 'audit', 'running', '2', 'running', '4 items: 2 success, 1 failed, 1 running', 'extract']);
    // Columns are aligned: every row's state starts where the header's does.
    const stateAt = lines[1]!.indexOf('STATE');
    for (const l of lines.slice(2)) expect(l.slice(stateAt)).toMatch(/^(success|failed|upstream_failed|running) /);
    expect(lines.slice(2).map((l) => l.slice(3).split(' ')[0])).toEqual(['extract', 'transform', 'load', 'report', 'audit', 'notify']);
  });

  test('a task mapped in batches shows its items per state and its batches done', () => {
    const state: DagState = {
      ...failedRun,
      tasks: {
        ...failedRun.tasks,
        audit: {
          id: 'audit',
          state: 'running',
          startedAt: at(2),
          tries: 1,
          mapBatches: {
            items: 5000,
            batchSize: 200,
            batches: 25,
            batchesDone: 12,
            counts: { success: 2398, failed: 2, running: 200, pending: 2400 },
            failed: [],
          },
        },
      },
    };
    const line = dagText(spec, state, 'DAG "nightly" run dag/nightly-1')
      .split('\n')
      .find((l) => l.slice(1).trim().startsWith('audit '))!;
    expect(line.split(/\s{2,}/)).toContain('5000 items in 25 batches (12 done): 2398 success, 2 failed, 200 running, 2400 pending');
  });

  test("a task's error holding terminal controls is escaped in the text, the columns kept", () => {
    const state: DagState = {
      ...failedRun,
      tasks: {
        ...failedRun.tasks,
        transform: { ...failedRun.tasks.transform!, error: { type: 'SQL_ERROR', message: 'bad \u001b[2J\u0007 \u009b31m a\u202eb' } },
      },
    };
    const text = dagText(spec, state, 'DAG "nightly" run dag/nightly-1');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(text).toContain('SQL_ERROR: bad \\u001b[2J\\u0007 \\u009b31m a\\u202eb');
  });

  test('the Web UI details: the same rows as markdown, the re-run named, capped', () => {
    const md = dagDetails(spec, failedRun, 'dag/nightly-0');
    expect(md.split('\n').slice(0, 4)).toEqual([
      '**nightly** · **failed** · re-run of `dag/nightly-0`',
      '',
      '| | task | state | tries | duration | items | upstream | note |',
      '|---|---|---|---|---|---|---|---|',
    ]);
    expect(md).toContain('| ✗ | transform | failed | 1 | 3.0 s |  | extract | SQL_ERROR: relation "x" does not exist |');
    const wide: DagSpec = { id: 'wide', tasks: Array.from({ length: 300 }, (_, i) => ({ id: `task-number-${i}`, kind: 'sql' })) };
    const capped = dagDetails(wide, { id: 'wide', status: 'running', tasks: {} });
    expect(capped.length).toBeLessThanOrEqual(4000);
    expect(capped).toMatch(/\| \| … \d+ more tasks \|/);
  });
});
