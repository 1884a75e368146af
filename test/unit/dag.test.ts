import { readFileSync } from 'node:fs';
import path from 'node:path';
import { activityOptionsFor } from '../../workflows/dag';
import {
  dagStatus,
  evaluateTriggerRule,
  mapItems,
  mappedState,
  planNext,
  validateDag,
  type DagSpec,
  type TaskState,
  type TriggerRule,
} from '../../common/dag';

const task = (id: string, upstream: string[] = [], extra: object = {}) => ({ id, kind: 'sql', upstream, ...extra });

function problems(spec: unknown): string[] {
  const result = validateDag(spec);
  return result.ok ? [] : result.problems;
}

describe('validateDag', () => {
  it('accepts a valid DAG and returns it typed', () => {
    const result = validateDag({
      id: 'd',
      tasks: [task('a'), task('b', ['a'], { triggerRule: 'all_done', map: { over: 'a', field: 'rows' } })],
    });
    expect(result).toEqual({ ok: true, spec: expect.objectContaining({ id: 'd' }) });
  });

  it('rejects a cycle naming its path in run order', () => {
    expect(problems({ id: 'd', tasks: [task('start'), task('a', ['start', 'c']), task('b', ['a']), task('c', ['b'])] })).toEqual([
      'cycle: a -> b -> c -> a',
    ]);
    expect(problems({ id: 'd', tasks: [task('a', ['a'])] })).toEqual(['cycle: a -> a']);
  });

  it('rejects unknown upstream ids, duplicate ids and map.over outside upstream', () => {
    expect(problems({ id: 'd', tasks: [task('a', ['ghost'])] })).toEqual(['task "a": upstream "ghost" is not a task of this DAG']);
    expect(problems({ id: 'd', tasks: [task('a'), task('a')] })).toEqual(['task "a": duplicate task id']);
    expect(problems({ id: 'd', tasks: [task('a'), task('b'), task('c', ['b'], { map: { over: 'a' } })] })).toEqual([
      'task "c": map.over "a" must also be listed in its upstream',
    ]);
  });

  it('reports schema and graph problems together', () => {
    const found = problems({
      id: 'd',
      maxParallelism: 0,
      tasks: [task('a', ['b']), task('b', ['a'], { triggerRule: 'sometimes' }), task('a'), { kind: 'sql' }],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^maxParallelism: /),
        expect.stringMatching(/^tasks\.1\.triggerRule: /),
        expect.stringMatching(/^tasks\.3\.id: /),
        'task "a": duplicate task id',
        'cycle: a -> b -> a',
      ]),
    );
    expect(found).toHaveLength(5);
  });

  it('rejects a document that is not a DAG', () => {
    expect(problems(null)).toEqual(['(root): Invalid input: expected object, received null']);
    expect(problems({ id: 'd', tasks: [] })[0]).toMatch(/^tasks: /);
  });
});

describe('evaluateTriggerRule', () => {
  // [rule, upstream states, decision]: Airflow's semantics, eager where Airflow is eager.
  const table: Array<[TriggerRule, TaskState[], ReturnType<typeof evaluateTriggerRule>]> = [
    ['all_success', ['success', 'success'], 'run'],
    ['all_success', ['success', 'running'], 'wait'],
    ['all_success', ['failed', 'running'], 'upstream_failed'],
    ['all_success', ['upstream_failed', 'success'], 'upstream_failed'],
    ['all_success', ['skipped', 'success'], 'skipped'],
    ['all_success', ['skipped', 'failed'], 'upstream_failed'],
    ['all_done', ['success', 'running'], 'wait'],
    ['all_done', ['failed', 'skipped', 'upstream_failed'], 'run'],
    ['one_failed', ['failed', 'running'], 'run'],
    ['one_failed', ['upstream_failed', 'pending'], 'run'],
    ['one_failed', ['success', 'running'], 'wait'],
    ['one_failed', ['success', 'skipped'], 'skipped'],
    ['none_failed', ['success', 'skipped'], 'run'],
    ['none_failed', ['skipped', 'skipped'], 'run'],
    ['none_failed', ['success', 'running'], 'wait'],
    ['none_failed', ['failed', 'running'], 'upstream_failed'],
    ['none_failed', ['upstream_failed', 'success'], 'upstream_failed'],
    ['one_failed', [], 'run'],
  ];
  it.each(table)('%s over %j -> %s', (rule, upstream, expected) => {
    expect(evaluateTriggerRule(rule, upstream)).toBe(expected);
  });
});

describe('planNext', () => {
  const spec: DagSpec = {
    id: 'd',
    tasks: [
      task('extract'),
      task('ensure', ['extract']),
      task('load', ['ensure']),
      task('report', ['load']),
      task('cleanup', ['load'], { triggerRule: 'all_done' }),
      task('alert', ['load'], { triggerRule: 'one_failed' }),
      task('audit', ['ensure', 'extract'], { triggerRule: 'none_failed' }),
    ],
  };
  const states = (s: Record<string, TaskState>) => Object.fromEntries(spec.tasks.map((t) => [t.id, s[t.id] ?? 'pending']));

  it('runs tasks without upstream first', () => {
    expect(planNext(spec, states({}))).toEqual({ settle: [], run: ['extract'] });
  });

  it('propagates a skip down the branch per each rule, to a fixpoint', () => {
    expect(planNext(spec, states({ extract: 'success', ensure: 'skipped' }))).toEqual({
      settle: [
        { id: 'load', state: 'skipped' },
        { id: 'report', state: 'skipped' },
        { id: 'alert', state: 'skipped' },
      ],
      run: ['cleanup', 'audit'],
    });
  });

  it('marks all_success and none_failed downstream of a failure upstream_failed, runs one_failed and all_done', () => {
    expect(planNext(spec, states({ extract: 'success', ensure: 'failed' }))).toEqual({
      settle: [
        { id: 'load', state: 'upstream_failed' },
        { id: 'report', state: 'upstream_failed' },
        { id: 'audit', state: 'upstream_failed' },
      ],
      run: ['cleanup', 'alert'],
    });
  });

  it('does not plan tasks that already started or finished', () => {
    expect(planNext(spec, states({ extract: 'running' }))).toEqual({ settle: [], run: [] });
  });
});

describe('dag status and mapping', () => {
  it('is running until every task finished, then failed if any failed or upstream_failed', () => {
    expect(dagStatus({ a: { state: 'success' }, b: { state: 'running' } })).toBe('running');
    expect(dagStatus({ a: { state: 'success' }, b: { state: 'skipped' } })).toBe('success');
    expect(dagStatus({ a: { state: 'failed' }, b: { state: 'success' } })).toBe('failed');
    expect(dagStatus({ a: { state: 'success' }, b: { state: 'upstream_failed' } })).toBe('failed');
  });

  it('expands over an output or one of its fields and says why when that is not a list', () => {
    expect(mapItems(task('m', ['a'], { map: { over: 'a' } }) as never, [1, 2])).toEqual({ items: [1, 2] });
    expect(mapItems(task('m', ['a'], { map: { over: 'a', field: 'rows' } }) as never, { rows: [] })).toEqual({ items: [] });
    expect(mapItems(task('m', ['a'], { map: { over: 'a', field: 'rows' } }) as never, { rowCount: 1 })).toEqual({
      problem: 'task "m" maps over field "rows" of the output of "a", which is missing, not a list',
    });
  });

  it('settles a mapped task from its items (an empty list is skipped)', () => {
    expect(mappedState([{ state: 'success' }, { state: 'skipped' }])).toBe('success');
    expect(mappedState([{ state: 'success' }, { state: 'failed' }])).toBe('failed');
    expect(mappedState([])).toBe('skipped');
  });
});

describe('activityOptionsFor', () => {
  const defaults = { startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 3, initialInterval: '5s' } };

  it('maps retry and timeout over the defaults, field by field', () => {
    const options = activityOptionsFor(
      {
        id: 't',
        kind: 'sql',
        timeoutSeconds: 30,
        retry: {
          maximumAttempts: 5,
          initialIntervalSeconds: 0.5,
          backoffCoefficient: 1.5,
          maximumIntervalSeconds: 60,
          nonRetryableErrorTypes: ['HTTP_400'],
        },
      },
      defaults,
    );
    expect(options).toEqual({
      startToCloseTimeout: 30_000,
      retry: {
        maximumAttempts: 5,
        initialInterval: 500,
        backoffCoefficient: 1.5,
        maximumInterval: 60_000,
        nonRetryableErrorTypes: ['HTTP_400'],
      },
    });
    expect(activityOptionsFor({ id: 't', kind: 'sql', retry: { maximumAttempts: 1 } }, defaults)).toEqual({
      startToCloseTimeout: '10 minutes',
      retry: { maximumAttempts: 1, initialInterval: '5s' },
    });
  });

  it('keeps the defaults for a task without retry or timeout, and always sets a timeout', () => {
    expect(activityOptionsFor({ id: 't', kind: 'sql' }, defaults)).toEqual(defaults);
    expect(activityOptionsFor({ id: 't', kind: 'sql' })).toEqual({ startToCloseTimeout: '10 minutes' });
  });
});

describe('docs/dag.md', () => {
  it('shows a dag.json that validates', () => {
    const doc = readFileSync(path.join(__dirname, '../../docs/dag.md'), 'utf8');
    const json = /```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(validateDag(JSON.parse(json!))).toMatchObject({ ok: true });
  });
});
