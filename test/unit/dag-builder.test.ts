/**
 * defineDag: a DAG written in TypeScript compiles to the same DagSpec as its dag.json, with the edges taken
 * from the references handed downstream, and is refused with validateDag's messages.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineDag, type TaskRef } from '../../common/dag-builder';
import { validateDag, type DagSpec } from '../../common/dag';

const asJson: DagSpec = {
  id: 'nightly',
  maxParallelism: 3,
  schedule: { cron: '0 2 * * *', timezone: 'Europe/Brussels' },
  tasks: [
    { id: 'crm_loaded', kind: 'activation_sensor', input: { activationId: 'crm-import', timeoutSeconds: 7200, pokeIntervalSeconds: 120 } },
    {
      id: 'changed',
      kind: 'sql',
      upstream: ['crm_loaded'],
      pool: 'warehouse',
      input: { statement: 'SELECT activation_id FROM ops.to_sync WHERE day = :logical_date::date', returnRows: true },
    },
    {
      id: 'sync',
      kind: 'activation',
      upstream: ['changed'],
      map: { over: 'changed', field: 'rows' },
      input: { reason: 'nightly' },
      timeoutSeconds: 3600,
    },
    {
      id: 'notify',
      kind: 'http',
      upstream: ['sync', 'changed'],
      triggerRule: 'all_done',
      retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['HTTP_400'] },
      input: { connection: 'chat', body: { text: 'nightly done' } },
    },
  ],
};

function built() {
  const dag = defineDag('nightly', { maxParallelism: 3, schedule: { cron: '0 2 * * *', timezone: 'Europe/Brussels' } });
  const loaded = dag.activationSensor('crm_loaded', { activationId: 'crm-import', timeoutSeconds: 7200, pokeIntervalSeconds: 120 });
  const changed = dag.sql(
    'changed',
    { statement: 'SELECT activation_id FROM ops.to_sync WHERE day = :logical_date::date', returnRows: true },
    { after: [loaded], pool: 'warehouse' },
  );
  const sync = dag.activation('sync', { reason: 'nightly' }, { map: changed.field('rows'), timeoutSeconds: 3600 });
  dag.http(
    'notify',
    { connection: 'chat', body: { text: 'nightly done' } },
    { after: [sync, changed], triggerRule: 'all_done', retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['HTTP_400'] } },
  );
  return dag;
}

test('the builder and the JSON form give the same DagSpec, which validateDag accepts', () => {
  const spec = built().toSpec();
  expect(spec).toEqual(asJson);
  expect(validateDag(spec)).toEqual({ ok: true, spec: asJson });
  // Plain JSON: what `syncline dag deploy` reads from a file.
  expect(JSON.parse(JSON.stringify(spec))).toEqual(asJson);
});

test('a reference to a task of another DAG, a duplicate id and a sensor without timeout are refused with every problem', () => {
  const other = defineDag('other').sql('elsewhere', { statement: 'SELECT 1', returnRows: true });
  const dag = defineDag('broken');
  dag.sql('a', { statement: 'SELECT 1' }, { map: other.field('rows') });
  dag.sql('a', { statement: 'SELECT 2' });
  dag.sqlSensor('s', { statement: 'SELECT 1' } as never);
  expect(() => dag.toSpec()).toThrow(
    [
      'DAG "broken" is invalid:',
      '  task "a": duplicate task id',
      '  task "a": upstream "elsewhere" is not a task of this DAG',
      '  task "s": input.timeoutSeconds: a sensor needs "timeoutSeconds": how long it waits before it fails (or is skipped, with "softFail": true)',
    ].join('\n'),
  );
});

test('batch sizes of large maps: per DAG and per mapped task, checked like the JSON form', () => {
  const dag = defineDag('big', { mapBatchSize: 100 });
  const ids = dag.sql('ids', { statement: 'SELECT array_agg(id) AS ids FROM crm.accounts', returnRows: true });
  dag.activation('sync', {}, { map: ids.field('rows'), batchSize: 50 });
  expect(dag.toSpec()).toEqual({
    id: 'big',
    mapBatchSize: 100,
    tasks: [
      { id: 'ids', kind: 'sql', input: { statement: 'SELECT array_agg(id) AS ids FROM crm.accounts', returnRows: true } },
      { id: 'sync', kind: 'activation', input: {}, upstream: ['ids'], map: { over: 'ids', field: 'rows', batchSize: 50 } },
    ],
  });
  const tooBig = defineDag('too-big');
  tooBig.sleep('s', { seconds: 1 }, { map: tooBig.sql('l', { statement: 'SELECT 1', returnRows: true }).field('rows'), batchSize: 5000 });
  expect(() => tooBig.toSpec()).toThrow(/map\.batchSize/);
});

test('a list reference is typed by the output it comes from', () => {
  const dag = defineDag('typed');
  const rows = dag.sql('rows', { statement: 'SELECT 1', returnRows: true });
  const ids = dag.task<string[]>('ids', 'custom');
  // @ts-expect-error rowCount is a number, not a list to map over (tsc checks this line)
  void (() => rows.field('rowCount'));
  expect(rows.field('rows')).toEqual({ over: 'rows', field: 'rows' });
  const after: Array<TaskRef<unknown>> = [rows, ids];
  expect(dag.sleep('wait', { seconds: 1 }, { after, map: ids.items() }).id).toBe('wait');
  expect(dag.toSpec().tasks.at(-1)).toEqual({
    id: 'wait',
    kind: 'sleep',
    input: { seconds: 1 },
    upstream: ['ids', 'rows'],
    map: { over: 'ids' },
  });
});

describe('syncline dag deploy <module>', () => {
  const root = path.resolve(__dirname, '../..');
  const builder = path.join(root, 'common/dag-builder.ts').replace(/\\/g, '/');
  const moduleFile = (name: string, body: string): string => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dag-module-')), name);
    fs.writeFileSync(file, `import { defineDag } from '${builder.replace(/\.ts$/, '')}';\n${body}`);
    return file;
  };

  test('a TypeScript module exporting a built DAG is read as its spec', async () => {
    const file = moduleFile(
      'nightly.ts',
      `const dag = defineDag('nightly', { maxParallelism: 3, schedule: { cron: '0 2 * * *', timezone: 'Europe/Brussels' } });
       const loaded = dag.activationSensor('crm_loaded', { activationId: 'crm-import', timeoutSeconds: 7200, pokeIntervalSeconds: 120 });
       const changed = dag.sql('changed', { statement: "SELECT activation_id FROM ops.to_sync WHERE day = :logical_date::date", returnRows: true },
         { after: [loaded], pool: 'warehouse' });
       const sync = dag.activation('sync', { reason: 'nightly' }, { map: changed.field('rows'), timeoutSeconds: 3600 });
       dag.http('notify', { connection: 'chat', body: { text: 'nightly done' } },
         { after: [sync, changed], triggerRule: 'all_done', retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['HTTP_400'] } });
       export default dag;`,
    );
    // Through tsx, as the command runs (jest's own module loader is not the one the command uses).
    const script = `process.stdout.write(JSON.stringify(require('./client/cli-run').readDagFile(${JSON.stringify(file)})))`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(path.join(root, 'node_modules/.bin/tsx'), ['-e', script], { cwd: root, timeout: 60_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(JSON.parse(out)).toEqual(asJson);
  });

  test('a module whose DAG is invalid is refused before Temporal is reached', async () => {
    const bad = moduleFile(
      'bad.ts',
      `const dag = defineDag('bad', { schedule: { cron: '0 2 * *' } });
       dag.sql('a', { statement: 'SELECT 1' });
       export default dag;`,
    );
    const none = moduleFile('none.ts', `export const nothing = defineDag;`);
    const cli = (f: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(
          path.join(root, 'node_modules/.bin/tsx'),
          ['client/cli.ts', 'dag', 'deploy', f, '--address', '127.0.0.1:1'],
          { cwd: root, timeout: 60_000 },
          (err, _o, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
        ),
      );
    // Nothing listens at 127.0.0.1:1: had the command tried Temporal first, it would say so instead.
    expect(await cli(bad)).toEqual({
      code: 1,
      stderr:
        'syncline dag deploy: DAG "bad" is invalid:\n' +
        '  schedule.cron: "0 2 * *" has 4 fields; cron needs 5 (five fields: minute hour day-of-month month day-of-week, e.g. "*/15 * * * *")\n',
    });
    expect(await cli(none)).toEqual({
      code: 1,
      stderr: `syncline dag deploy: DAG module "${none}" exports no DAG: "export default defineDag(...)" (or its toSpec(), or export const dag = ...)\n`,
    });
  });
});

test('an activation_sensor that would poke more than 2000 times is refused, like a sql_sensor', () => {
  const dag = defineDag('eager');
  dag.activationSensor('crm_loaded', { activationId: 'crm-import', timeoutSeconds: 86_400, pokeIntervalSeconds: 1 });
  expect(() => dag.toSpec()).toThrow(
    'task "crm_loaded": input.pokeIntervalSeconds: 86400 s at one poke every 1 s is more than 2000 pokes: poke less often (at least every 44 s)',
  );
});
