/** The CLI's pure parts: argument parsing, text tables, and config validation as the client reports it. */
import { Client, Connection } from '@temporalio/client';
import { COMMANDS, EXIT, parseArgs, runExitCode, usage } from '../../client/cli';
import { approvalLine, formatPlan, purgedText, retryNote } from '../../client/cli-run';
import { runCli, usageError } from '../support/cli';
import {
  errorsTable,
  formatChanges,
  formatDuration,
  formatRunSummary,
  formatStatus,
  listTable,
  quotedForTerminal,
  renderTable,
  rowsTable,
  runsTable,
  terminalSafe,
  terminalSafeLines,
  truncate,
} from '../../client/format';
import { ConfigInvalidError, SynclineClient } from '../../client/index';
import type { RowErrorRecord, RunRecord } from '../../client/runs';
import { DAG_IGNORED_SIGNAL_HINT, IGNORED_SIGNAL_HINT, ignoredSignalLog, type ActivationStatus } from '../../workflows/messages';
import type { RunSummary } from '../../common/run';

describe('parseArgs', () => {
  test('commands, positionals and typed flags', () => {
    expect(parseArgs(['sync', 'contacts', '--full', '--reason', 'new field', '--json'])).toMatchObject({
      kind: 'run',
      command: { name: 'sync' },
      args: { id: 'contacts' },
      flags: { full: true, reason: 'new field', json: true },
    });
    expect(parseArgs(['activation', 'start', '--file=a.json', '--task-queue', 'q1'])).toMatchObject({
      kind: 'run',
      command: { name: 'activation start' },
      flags: { file: 'a.json', 'task-queue': 'q1' },
    });
    expect(parseArgs(['errors', 'x', '--run', '3', '--limit', '10'])).toMatchObject({ flags: { run: 3, limit: 10 } });
    expect(parseArgs(['approve-deletes', 'x', '--run', '12'])).toMatchObject({ args: { id: 'x' }, flags: { run: 12 } });
  });

  test('help for the tool and for each command', () => {
    expect(parseArgs([])).toEqual({ kind: 'help' });
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['status', '--help'])).toMatchObject({ kind: 'help', command: { name: 'status' } });
    expect(parseArgs(['help', 'activation', 'start'])).toMatchObject({ kind: 'help', command: { name: 'activation start' } });
    for (const c of COMMANDS) {
      const text = usage(c);
      expect(text).toContain(`syncline ${c.name}`);
      expect(text).toContain('--json');
      expect(text).toContain('Example:');
    }
  });

  test('a command that waits for a run exits with its outcome: held deletions have their own code', () => {
    const s = (status: RunSummary['status'], heldDeletes = 0): RunSummary => ({
      activationId: 'a',
      runNumber: 1,
      trigger: 'manual',
      mode: 'mirror',
      full: false,
      status,
      startedAt: 't',
      ops: {},
      rejected: 0,
      heldDeletes,
      attributesCreated: [],
      warnings: [],
    });
    expect([
      runExitCode(s('success')),
      runExitCode(s('partial')),
      runExitCode(s('failed')),
      runExitCode(s('success', 5)),
      runExitCode(s('partial', 5)),
      runExitCode(s('failed', 5)),
    ]).toEqual([EXIT.done, EXIT.done, EXIT.failed, EXIT.deletesHeld, EXIT.deletesHeld, EXIT.failed]);
    expect(EXIT).toEqual({ done: 0, failed: 1, usage: 2, deletesHeld: 3 });
    for (const name of ['sync', 'approve-deletes', 'apply'])
      expect(usage(COMMANDS.find((c) => c.name === name))).toContain('  3  the run held deletions for approval');
    expect(usage()).toContain('  3  the run held deletions for approval');
    expect(usage(COMMANDS.find((c) => c.name === 'status'))).toContain('Exit codes: 0 done, 1 failed, 2 bad usage.');
  });

  test('an unknown flag is a usage error naming it', () => {
    const e = usageError(['sync', 'contacts', '--fulll']);
    expect(e.message).toBe('unknown option "--fulll" for "syncline sync"');
    expect(e.command?.name).toBe('sync');
    expect(usageError(['resume', 'x', '--reason', 'why']).message).toContain('"--reason"');
  });

  test('other usage errors say what is wrong', () => {
    expect(usageError(['frobnicate']).message).toBe('unknown command "frobnicate"');
    expect(usageError(['activation', 'stop']).message).toContain('unknown command "activation stop"');
    expect(usageError(['sync']).message).toBe('missing <id>');
    expect(usageError(['sync', 'a', 'b']).message).toBe('unexpected argument "b"');
    expect(usageError(['approve-deletes', 'x']).message).toBe('--run is required');
    expect(usageError(['activation', 'start']).message).toBe('--file is required');
    expect(usageError(['runs', 'x', '--limit', 'ten']).message).toBe('--limit takes a whole number of at least 1, not "ten"');
    expect(usageError(['runs', 'x', '--limit']).message).toBe('--limit needs a value (<n>)');
    expect(usageError(['errors', 'x', '--run', '--json']).message).toBe('--run needs a value (<n>)');
    expect(usageError(['sync', 'x', '--full=yes']).message).toBe('--full takes no value');
  });

  test('what commander reads like other command-line tools (docs/cli.md, "Reading the command line")', () => {
    expect(usageError(['sync', 'x', '--', 'y']).message).toBe('unexpected argument "y"'); // -- ends the options
    expect(parseArgs(['status', '--json', '--', 'x'])).toMatchObject({ kind: 'run', args: { id: 'x' }, flags: { json: true } });
    expect(usageError(['sync', 'x', '-x']).message).toBe('unknown option "-x" for "syncline sync"'); // a word with a dash is an option
    expect(parseArgs(['sync', 'x', '--fulll', '--help'])).toMatchObject({ kind: 'help', command: { name: 'sync' } }); // help wins
    expect(parseArgs(['resync', 'x', '--reason=--soon'])).toMatchObject({ flags: { reason: '--soon' } });
    expect(usageError(['resync', 'x', '--reason', '--full']).message).toBe('--reason needs a value (<text>)');
    expect(usageError(['help', 'frobnicate']).message).toBe('unknown command "frobnicate"');
    expect(usageError(['activation', 'strat']).message).toBe(
      'unknown command "activation strat": the activation commands are "activation start", "activation update", "activation apply"',
    );
  });

  test('help for a group of commands (dag, pool, activation) lists them, and exits 0', async () => {
    for (const argv of [
      ['dag', '--help'],
      ['dag', '-h'],
      ['help', 'dag'],
      ['dag', '--json', '--help'],
    ])
      expect(parseArgs(argv)).toEqual({ kind: 'help', group: 'dag' });
    expect(parseArgs(['help', 'activation'])).toEqual({ kind: 'help', group: 'activation' });
    const text = usage(undefined, 'activation');
    expect(text.split('\n').slice(0, 6)).toEqual([
      'Usage: syncline activation <command> [options]',
      '',
      'Commands:',
      expect.stringMatching(/^ {2}activation start {4}validate an activation file/),
      expect.stringMatching(/^ {2}activation update {3}show what a new document changes/),
      expect.stringMatching(/^ {2}activation apply {4}reconcile a folder/),
    ]);
    expect(text).toContain('Run "syncline activation <command> --help" for its options; "syncline --help" lists every command.');
    // An unknown word stays an unknown command, even with --help; the group alone is no command either.
    expect(usageError(['dag', 'frobnicate', '--help']).message).toMatch(/^unknown command "dag frobnicate": the dag commands are/);
    expect(usageError(['dag']).message).toMatch(/^unknown command "dag": the dag commands are/);
    const r = await runCli(['pool', '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Usage: syncline pool <command> \[options\]\n\nCommands:\n {2}pool set /);
  });
});

const run = (over: Partial<RunRecord> = {}): RunRecord => ({
  activationId: 'contacts',
  runNumber: 7,
  trigger: 'manual',
  full: false,
  status: 'partial',
  startedAt: '2026-11-22T14:00:00.000Z',
  finishedAt: '2026-11-22T14:01:05.000Z',
  modelRows: 3002,
  ops: { upsert: { planned: 300, succeeded: 298, failed: 2, skipped: 0, held: 0 } },
  rejected: 3,
  rejectedUnchanged: 0,
  heldDeletes: 0,
  warnings: [],
  error: null,
  ...over,
});

describe('tables', () => {
  test('columns are aligned, numbers right-aligned, no trailing blanks', () => {
    const out = renderTable(
      [
        { header: 'NAME', value: (r: { n: string; v: number }) => r.n },
        { header: 'N', value: (r) => r.v, align: 'right' },
      ],
      [
        { n: 'a', v: 1 },
        { n: 'longer', v: 1234 },
      ],
    );
    expect(out).toBe(['NAME       N', 'a          1', 'longer  1234'].join('\n'));
  });

  test('runs: one row per run with planned / ok / failed / skipped / held per operation', () => {
    const out = runsTable([
      run({
        runNumber: 8,
        trigger: 'schedule',
        status: 'success',
        ops: {
          upsert: { planned: 10, succeeded: 10, failed: 0, skipped: 0, held: 0 },
          delete: { planned: 190, succeeded: 0, failed: 0, skipped: 0, held: 190 },
        },
        rejected: 0,
      }),
      run(),
    ]);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^\s+-+ upsert -+\s+-+ delete -+$/);
    expect(lines[1]!.split(/\s{2,}/)).toEqual([
      'RUN',
      'TRIGGER',
      'STATUS',
      'STARTED (UTC)',
      'DURATION',
      'PLANNED',
      'OK',
      'FAILED',
      'SKIPPED',
      'HELD',
      'PLANNED',
      'OK',
      'FAILED',
      'SKIPPED',
      'HELD',
      'REJECTED',
    ]);
    expect(lines[2]!.trim().split(/\s{2,}/)).toEqual([
      '8',
      'schedule',
      'success',
      '2026-11-22 14:00:00',
      '1m 05s',
      '10',
      '10',
      '0',
      '0',
      '0',
      '190',
      '0',
      '0',
      '0',
      '190',
      '0',
    ]);
    expect(lines[3]!.trim().split(/\s{2,}/)).toEqual([
      '7',
      'manual',
      'partial',
      '2026-11-22 14:00:00',
      '1m 05s',
      '300',
      '298',
      '2',
      '0',
      '0',
      '-',
      '-',
      '-',
      '-',
      '-',
      '3',
    ]);
    expect(new Set(lines.slice(1).map((l) => l.length)).size).toBe(1); // the last column is right-aligned: every line ends under it
  });

  test('a failed run gets its error under the table', () => {
    expect(runsTable([run({ status: 'failed', error: 'AUTH_FAILED: the destination refused the credentials' })])).toContain(
      'run 7 failed: AUTH_FAILED: the destination refused the credentials',
    );
    expect(runsTable([])).toBe('(no runs)');
  });

  test("a failed run's error is shown whole under the table: what to do comes at its end", () => {
    const error =
      'FIELD_UNKNOWN: activation "u1-badcol": the model has no column "emali" (it has: customer_id, email, first_name, last_name, title, lifetime_value, last_purchase_at). Fix "mappings"/"source.key" or the model SQL.';
    expect(runsTable([run({ status: 'failed', ops: {}, error })])).toContain(`run 7 failed: ${error}`);
  });

  test('sync of a run that failed before sending: not "no changes"; a configuration error says the activation is paused and how to resume', () => {
    const failed = (type: string, message: string): RunSummary => ({
      activationId: 'contacts',
      runNumber: 1,
      mode: 'upsert',
      trigger: 'manual',
      full: false,
      status: 'failed',
      startedAt: '2026-11-22T14:00:00.000Z',
      finishedAt: '2026-11-22T14:00:01.000Z',
      modelRows: 0,
      ops: {},
      rejected: 0,
      heldDeletes: 0,
      attributesCreated: [],
      warnings: [],
      error: { type, message },
    });
    const broken = formatRunSummary(failed('FIELD_UNKNOWN', 'activation "contacts" (Salesforce Contact): unknown field(s) "Emial__c"'));
    expect(broken.split('\n')[0]).toBe('run 1 · upsert · manual · failed · nothing sent');
    expect(broken).toContain('run 1 failed: FIELD_UNKNOWN: activation "contacts" (Salesforce Contact): unknown field(s) "Emial__c"');
    expect(broken).toContain(
      'activation "contacts" is now paused (CONFIG_BROKEN): no scheduled runs until this is fixed. Fix the document ("syncline activation update --file contacts.json" checks it again and resumes), or fix the connection or destination and run "syncline resume contacts"',
    );
    // A model SQL error does not pause the activation (the next run tries again): no such line.
    const sql = formatRunSummary(failed('MODEL_SQL_ERROR', 'activation "contacts": the model query failed in Postgres'));
    expect(sql.split('\n')[0]).toBe('run 1 · upsert · manual · failed · nothing sent');
    expect(sql).not.toContain('paused');
  });

  test('rows re-sent within a run: a RE-SENT column and, under the table, the codes; no column when no run re-sent', () => {
    const out = runsTable([run({ runNumber: 8, resent: { UNABLE_TO_LOCK_ROW: 150, ALL_OR_NONE_OPERATION_ROLLED_BACK: 3 } }), run()]);
    const lines = out.split('\n');
    expect(lines[1]!.split(/\s{2,}/).slice(-2)).toEqual(['REJECTED', 'RE-SENT']);
    expect(
      lines[2]!
        .trim()
        .split(/\s{2,}/)
        .slice(-2),
    ).toEqual(['3', '153']);
    expect(
      lines[3]!
        .trim()
        .split(/\s{2,}/)
        .slice(-2),
    ).toEqual(['3', '0']);
    expect(out).toContain(
      'run 8: 153 re-sent (UNABLE_TO_LOCK_ROW 150, ALL_OR_NONE_OPERATION_ROLLED_BACK 3) within the run, counted once in OK or FAILED',
    );
    expect(runsTable([run()])).not.toContain('RE-SENT');
    expect(runsTable([run({ resent: {} })])).not.toContain('RE-SENT');
  });

  test('deletions kept for a case variant of their key: a note under the table, counted in neither OK nor FAILED; none when no run kept one', () => {
    const out = runsTable([
      run({ runNumber: 9, ops: { delete: { planned: 3, succeeded: 1, failed: 0, skipped: 0, held: 0, kept: 2 } } }),
      run(),
    ]);
    expect(out).toContain(
      'run 9: 2 deletions kept, not sent: the model still has their key in another case, and the destination takes both for one record ("syncline rows contacts --run 9 --op delete")',
    );
    expect(runsTable([run()])).not.toContain('kept');
  });

  test('errors: long messages are cut to the width, at a word boundary', () => {
    const e: RowErrorRecord = {
      activationId: 'contacts',
      key: '9999',
      op: 'upsert',
      code: 'MODEL_DUPLICATE_KEY',
      retryable: true,
      attempts: 2,
      runNumber: 4,
      firstSeen: '2026-11-22T14:00:00.000Z',
      lastSeen: '2026-11-22T15:00:00.000Z',
      message: 'key "9999" appears 2 times in the model (column "id"); none of these rows was sent. Make the key unique.',
    };
    const wide = errorsTable([e], 400).split('\n');
    expect(wide[0]!.split(/\s{2,}/)).toEqual(['KEY', 'OP', 'CODE', 'RUN', 'ATTEMPTS', 'FIRST SEEN (UTC)', 'LAST SEEN (UTC)', 'MESSAGE']);
    expect(wide[1]).toContain('Make the key unique.');
    const narrow = errorsTable([e], 140).split('\n');
    expect(narrow[1]!.length).toBeLessThanOrEqual(140);
    expect(narrow[1]).toMatch(/MODEL_DUPLICATE_KEY\s+4\s+2\s+2026-11-22 14:00:00\s+2026-11-22 15:00:00\s+key "9999" appears .*…$/);
    expect(errorsTable([e], 20).split('\n')[1]!.split('  ').at(-1)!.length).toBeLessThanOrEqual(40); // never narrower than 40
  });

  test('truncate and durations', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('multi\nline   text', 40)).toBe('multi line text');
    expect(truncate('abcdefghijklmnopqrstuvwxyz', 10)).toBe('abcdefghi…');
    expect(truncate('the quick brown fox jumps over', 18)).toBe('the quick brown…');
    expect([formatDuration(400), formatDuration(65_000), formatDuration(3_725_000)]).toEqual(['0.4s', '1m 05s', '1h 02m']);
    // Under a minute in seconds: "44s", not "0m 44s".
    expect([formatDuration(9_960), formatDuration(10_000), formatDuration(44_400), formatDuration(59_600)]).toEqual([
      '10.0s',
      '10s',
      '44s',
      '1m 00s',
    ]);
  });

  test('status shows state, health, schedule, next run, progress, held deletions and the last runs', () => {
    const now = Date.parse('2026-11-22T14:10:00Z');
    const st: ActivationStatus = {
      activationId: 'contacts',
      state: 'running',
      health: 'warning',
      schedule: { cron: '0 * * * *', timezone: 'Europe/Brussels' },
      nextRunAt: '2026-11-22T15:00:00.000Z',
      currentRun: { runNumber: 9, phase: 'write', chunksDone: 3, chunksTotal: 10 },
      pending: { trigger: 'manual', full: true },
      heldDeletes: { run: 8, count: 190 },
      consecutiveFailures: 0,
      lastRuns: [
        {
          activationId: 'contacts',
          runNumber: 7,
          trigger: 'manual',
          mode: 'upsert',
          full: false,
          status: 'success',
          startedAt: '2026-11-22T13:00:00Z',
          finishedAt: '2026-11-22T13:00:02Z',
          ops: {},
          rejected: 0,
          heldDeletes: 0,
          attributesCreated: [],
          warnings: [],
        },
        {
          activationId: 'contacts',
          runNumber: 8,
          trigger: 'schedule',
          mode: 'upsert',
          full: false,
          status: 'success',
          startedAt: '2026-11-22T14:00:00Z',
          finishedAt: '2026-11-22T14:00:02Z',
          ops: {},
          rejected: 0,
          heldDeletes: 190,
          attributesCreated: [],
          warnings: [],
        },
      ],
    };
    const out = formatStatus(st, now);
    expect(out).toContain('State           running');
    expect(out).toContain('Schedule        cron "0 * * * *" (Europe/Brussels)');
    expect(out).toContain('Next run        2026-11-22 15:00:00 UTC (in 50m 00s)');
    expect(out).toContain('Current run     run 9 · write · 3/10 chunks written');
    expect(out).toContain('Pending         manual (full) run requested, starts after the current run');
    expect(out).toContain('Held deletions  190 held by run 8: approve with "syncline approve-deletes contacts --run 8"');
    // An on-call person sees why the health is what it is, and what to do.
    const warned = formatStatus(
      {
        ...st,
        health: 'critical',
        warnings: [
          {
            code: 'DELETES_HELD',
            level: 'critical',
            message: 'run 8: 190 deletions held; approve with: syncline approve-deletes contacts --run 8',
          },
          { code: 'FAILED_ROWS', level: 'warning', message: 'run 8: 12 of 100 rows failed; see: syncline errors contacts --run 8' },
        ],
      },
      now,
    );
    expect(warned).toContain(
      'Warnings        critical DELETES_HELD: run 8: 190 deletions held; approve with: syncline approve-deletes contacts --run 8\n' +
        '                warning FAILED_ROWS: run 8: 12 of 100 rows failed; see: syncline errors contacts --run 8',
    );
    // What the activation retries (syncline status adds it from the workflow's pending activities).
    const retrying = formatStatus(
      {
        ...st,
        retrying: [
          { activity: 'applyConfigUpdate', attempt: 2, lastFailure: 'connect ECONNREFUSED 10.0.0.5:5432', stateDatabase: true },
          { activity: 'reportWarnings', attempt: 4, lastFailure: 'webhook answered 503', stateDatabase: false },
        ],
      },
      now,
    );
    expect(retrying).toContain(
      'Retrying        applyConfigUpdate (its bookkeeping in the state database): 1 try failed, the last with "connect ECONNREFUSED 10.0.0.5:5432"\n' +
        '                reportWarnings: 3 tries failed, the last with "webhook answered 503"',
    );
    expect(out).not.toContain('Warnings');
    const runLines = out.split('\n').slice(out.split('\n').indexOf('Last runs') + 2);
    expect(runLines.map((l) => l.trim().split(/\s+/)[0])).toEqual(['8', '7']); // newest first
    expect(
      formatStatus(
        { ...st, state: 'paused', pausedReason: 'CRM migration', nextRunAt: null, currentRun: null, pending: null, heldDeletes: null },
        now,
      ),
    ).toMatch(/State\s+paused: CRM migration\n.*\n.*\nNext run\s+- \(paused\)/);
    // A signal name is whatever `temporal workflow signal --name` was given: its control characters (a
    // terminal escape that recolours or clears the screen, a bell, a line break, C1's CSI, a bidi override)
    // are shown escaped, never written to the operator's terminal.
    const at = '2026-11-22T14:09:00Z';
    const names = ['resynq', 're\u001b[31msynq\u0007', 'two\nlines\r', '\u009b2J', 'a\u202eb\u2028c', 'back\\slash "q"', 'x\u007f'];
    const ignored = formatStatus({ ...st, ignoredSignals: names.map((name) => ({ name, at })) }, now);
    expect(ignored.split('\n').filter((l) => l.includes('at 2026-11-22 14:09:00 UTC'))).toEqual(
      [
        'Ignored signals  "resynq"',
        '                 "re\\u001b[31msynq\\u0007"',
        '                 "two\\nlines\\r"',
        '                 "\\u009b2J"',
        '                 "a\\u202eb\\u2028c"',
        '                 "back\\\\slash \\"q\\""',
        '                 "x\\u007f"',
      ].map((l) => `${l} at 2026-11-22 14:09:00 UTC: not a signal of an activation (known: resync, pause, resume, retryFailed, stop)`),
    );
    expect(ignored).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
  });
});

describe('config validation before Temporal', () => {
  test('start lists every problem with its path and never reaches Temporal', async () => {
    // A lazy connection to a closed port: any call to Temporal would fail with a connection error.
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const client = new SynclineClient({ client: new Client({ connection }) });
    const doc = {
      id: 'bad id!',
      source: { table: 't', sql: 'SELECT 1', key: 'id' },
      destination: { kind: 'testdb', connection: 'c', key: 'k' },
      mode: 'merge',
      schedule: { every: 'soon' },
      mappings: [
        { from: 'a', to: 'X' },
        { from: 'b', to: 'X' },
      ],
      extra: true,
    };
    const err = await client.start(doc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigInvalidError);
    const paths = (err as ConfigInvalidError).problems.map((p) => p.path).sort();
    expect(paths).toEqual(['(document)', 'destination', 'id', 'mappings.1.to', 'mode', 'schedule.every', 'source'].sort());
    for (const p of paths) expect((err as Error).message).toContain(`  - ${p}: `);
    expect((err as Error).message).toMatch(/^Invalid configuration for activation "bad id!": 7 problem\(s\)/);
    await connection.close();
  });

  test('a new document with a webhook URL is refused before it reaches workflow history', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const client = new SynclineClient({ client: new Client({ connection }) });
    const doc = {
      id: 'contacts',
      mode: 'upsert',
      source: { table: 't', key: 'id' },
      destination: { kind: 'testdb', connection: 'c', object: 'o', key: 'k' },
      mappings: [{ from: 'a', to: 'A' }],
      warnings: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/XYZ' },
    };
    const err = await client.start(doc).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigInvalidError);
    expect((err as ConfigInvalidError).problems.map((p) => p.path)).toEqual(['warnings.webhookUrl']);
    expect((err as Error).message).toContain('named connection');
    await connection.close();
  });
});

describe('formatPlan', () => {
  test('deletions over the deletion guard say that applying the plan holds them, and how they are then approved', () => {
    // The plan `syncline plan` printed for a mirror after 5 of its 20 rows left the model (guard: 10%).
    const text = formatPlan({
      activationId: 'contacts',
      plan: 2,
      status: 'open',
      createdAt: '2026-12-07T19:01:53.922Z',
      counts: { upsert: 1, rejected: 0, heldDeletes: 5 },
      samples: { upsert: [{ key: '1', values: { Name: 'X', ext_id: 1 } }] },
    });
    expect(text.split('\n').slice(0, 5)).toEqual([
      'plan 2 of "contacts" (computed 2026-12-07T19:01:53.922Z; nothing was written; apply it with "syncline apply contacts 2")',
      '  upsert        1',
      '  delete, held  5',
      '',
      '5 deletion(s) are over the deletion guard: applying this plan deletes none of them and holds them for approval (exit 3); "syncline approve-deletes contacts --run 2" then deletes them',
    ]);
  });
});

describe('purgedText', () => {
  test('a purge says the destination records stay, and that the deletions it held for approval are not made', () => {
    // What `delete --purge --yes` dropped of a mirror stopped with 3 deletions held.
    const dropped = { snapshot: 10, held_deletes: 3, row_errors: 0, row_changes: 13, config_versions: 2, runs: 3 };
    expect(purgedText('contacts', dropped)).toBe(
      'activation "contacts" purged: 10 snapshot, 3 held_deletes, 13 row_changes, 2 config_versions, 3 runs\n' +
        'its records in the destination stay as they are, the 3 it held for deletion (waiting for approval) too: nothing will delete them; ' +
        'started again with this id, its first run sends every model row (in Insert mode, as new records)',
    );
    // Nothing stored (a mistyped id, or a second purge): said as such, without the lines about what stays.
    expect(purgedText('contcts', { snapshot: 0, held_deletes: 0, runs: 0 })).toBe(
      'activation "contcts": nothing is stored of it in syncline\'s Postgres, nothing was purged (check the id and DATABASE_URL)',
    );
    expect(purgedText('contacts', { snapshot: 2, held_deletes: 0 }).split('\n')[1]).toBe(
      'its records in the destination stay as they are; started again with this id, its first run sends every model row (in Insert mode, as new records)',
    );
  });
});

test('approve-deletes says how many approved deletions the run carried out, not only how many were approved', () => {
  const run = (status: RunSummary['status'], del: { planned: number; succeeded: number; failed: number }) =>
    ({ activationId: 'contacts', runNumber: 4, status, ops: { delete: { ...del, skipped: 0, held: 0 } } }) as unknown as RunSummary;
  expect(approvalLine(5, run('success', { planned: 5, succeeded: 5, failed: 0 }))).toBe('5 deletion(s) approved; run 4 deleted 5');
  expect(approvalLine(5, run('success', { planned: 2, succeeded: 2, failed: 0 }))).toBe(
    '5 deletion(s) approved; run 4 deleted 2: an approved key back in the model since is not deleted',
  );
  expect(approvalLine(5, run('partial', { planned: 5, succeeded: 2, failed: 3 }))).toBe(
    '5 deletion(s) approved; run 4 deleted 2 of 5 (below)',
  );
  expect(approvalLine(5, run('failed', { planned: 0, succeeded: 0, failed: 0 }))).toBe(
    '5 deletion(s) approved; run 4 deleted 0 and failed; the approval stands: the next run deletes the approved keys still gone from the model ("syncline sync contacts" runs it now)',
  );
  // Keys that left the model since, held by the run: none of the approved deletions, and said apart.
  const withHeld = { runNumber: 4, status: 'success', ops: { delete: { planned: 8, succeeded: 5, failed: 0, skipped: 0, held: 3 } } };
  expect(approvalLine(5, withHeld as unknown as RunSummary)).toBe(
    '5 deletion(s) approved; run 4 deleted 5; it held 3 other deletion(s) for approval (below)',
  );
});

describe('text from models, destinations and signals is escaped for the terminal', () => {
  // Everything a terminal acts on but the line breaks between a table's lines (counted apart): C0 controls
  // (ESC, BEL, CR, TAB...), DEL, C1 (U+009B is CSI), the line and paragraph separators, the bidirectional
  // marks, overrides and isolates.
  const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
  const hostile = ['k\u001b[2J', 'bell\u0007', 'cr\rx', 'two\nlines', 'tab\tbed', '\u009b31m', 'a\u202eb'];
  /** Each line's column starts: where `header`'s column begins on the header line, the same on every line. */
  const startsAt = (lines: string[], header: string, cellOf: (i: number) => string) => {
    const at = lines[0]!.lastIndexOf(header);
    lines.slice(1).forEach((l, i) => expect(l.slice(at).startsWith(cellOf(i))).toBe(true));
  };

  test('terminalSafe writes each control as its JSON escape, U+009B and U+202E too; quotedForTerminal is its quoted form', () => {
    expect(hostile.map(terminalSafe)).toEqual([
      'k\\u001b[2J',
      'bell\\u0007',
      'cr\\rx',
      'two\\nlines',
      'tab\\tbed',
      '\\u009b31m',
      'a\\u202eb',
    ]);
    expect(terminalSafe('plain key 12 é 名')).toBe('plain key 12 é 名');
    expect(terminalSafe('\u007f\u2028\u2066\u200e\u061c')).toBe('\\u007f\\u2028\\u2066\\u200e\\u061c');
    expect(quotedForTerminal('re\u001b[31m"q"\u009b')).toBe('"re\\u001b[31m\\"q\\"\\u009b"');
  });

  test('syncline rows: a key, destination id or code holding controls is escaped, one line per row, columns aligned', () => {
    const rows = hostile.map((key, i) => ({
      runNumber: 3,
      key,
      op: 'upsert',
      outcome: 'failed',
      destinationId: i === 0 ? 'id\u0007\n' : null,
      hash: null,
      code: i === 1 ? 'C\u001b]0;t\u0007' : 'E',
      message: 'm',
      at: '2026-11-22T14:00:00.000Z',
    }));
    const out = rowsTable(rows);
    expect(out).not.toMatch(UNSAFE);
    const lines = out.split('\n');
    expect(lines).toHaveLength(rows.length + 1);
    expect(lines[1]).toContain('k\\u001b[2J');
    startsAt(lines, 'OP', () => 'upsert');
    startsAt(lines, 'AT', () => '2026-11-22 14:00:00');
  });

  test('syncline errors: keys and destination messages holding controls are escaped, one line per error, aligned', () => {
    const errors: RowErrorRecord[] = hostile.map((key, i) => ({
      activationId: 'contacts',
      retryable: true,
      key,
      op: 'upsert',
      code: 'INVALID',
      message: `bad ${hostile[hostile.length - 1 - i]} value \u001b[31mred`,
      runNumber: 4,
      attempts: 1,
      firstSeen: '2026-11-22T14:00:00.000Z',
      lastSeen: '2026-11-22T14:00:00.000Z',
    }));
    const out = errorsTable(errors);
    expect(out).not.toMatch(UNSAFE);
    const lines = out.split('\n');
    expect(lines).toHaveLength(errors.length + 1);
    expect(lines[4]).toMatch(/^two\\nlines +upsert/);
    startsAt(lines, 'OP', () => 'upsert');
    startsAt(lines, 'MESSAGE', () => 'bad ');
    expect(lines[1]).toContain('bad a\\u202eb value \\u001b[31mred');
  });

  test('status: a pause reason, warnings, a run error and retry failures holding controls are escaped', () => {
    const st: ActivationStatus & { retrying?: Array<{ activity: string; attempt: number; lastFailure: string }> } = {
      activationId: 'contacts',
      state: 'paused',
      pausedReason: '\u001b[2J\u001b[Hcleared',
      health: 'warning',
      schedule: { every: '1h' },
      consecutiveFailures: 1,
      warnings: [{ code: 'FAILED_ROWS', level: 'warning', message: 'key x\u0007\ny\u009b2J' }],
      retrying: [{ activity: 'loadRows', attempt: 3, lastFailure: 'conn\r\u001b[Kreset' }],
      lastRuns: [
        {
          activationId: 'contacts',
          runNumber: 2,
          trigger: 'manual',
          mode: 'upsert',
          full: false,
          status: 'failed',
          startedAt: '2026-11-22T13:00:00Z',
          finishedAt: '2026-11-22T13:00:02Z',
          ops: {},
          rejected: 0,
          heldDeletes: 0,
          attributesCreated: [],
          warnings: [],
          error: { type: 'X', message: 'boom\u001b[31m\u202e' },
        },
      ],
    } as never;
    const out = formatStatus(st as never, Date.parse('2026-11-22T14:10:00Z'));
    expect(out).not.toMatch(UNSAFE);
    expect(out).toContain('State       paused: \\u001b[2J\\u001b[Hcleared\n');
    expect(out).toContain('Warnings    warning FAILED_ROWS: key x\\u0007\\ny\\u009b2J\n');
    expect(out).toContain('the last with "conn\\r\\u001b[Kreset"');
    expect(out).toContain('run 2 failed: X: boom\\u001b[31m\\u202e');
  });

  test('sync: warnings and the run error of the summary are escaped', () => {
    const s: RunSummary = {
      activationId: 'contacts',
      runNumber: 5,
      trigger: 'manual',
      mode: 'upsert',
      full: false,
      status: 'failed',
      startedAt: '2026-11-22T13:00:00Z',
      finishedAt: '2026-11-22T13:00:02Z',
      ops: {},
      rejected: 0,
      heldDeletes: 0,
      attributesCreated: [],
      warnings: [{ code: 'FAILED_ROWS', level: 'warning', message: 'w\u001b[2J\nnext' }],
      error: { type: 'X', message: 'e\u0007' },
    } as never;
    const out = formatRunSummary(s, Date.parse('2026-11-22T14:10:00Z'));
    expect(out).not.toMatch(UNSAFE);
    expect(out).toContain('warning: w\\u001b[2J\\nnext');
  });

  test('list: an activation id or destination holding controls is escaped, columns aligned', () => {
    const all = ['ok', 'x\u001b[2J\ny', 'b\u202e'].map((id) => ({
      id,
      state: 'running',
      health: 'ok',
      mode: 'upsert',
      destination: id === 'ok' ? 'web\u0007hook' : 'webhook',
      nextRunAt: null,
      lastRun: null,
    }));
    const out = listTable(all);
    expect(out).not.toMatch(UNSAFE);
    const lines = out.split('\n');
    expect(lines).toHaveLength(4);
    startsAt(lines, 'STATE', () => 'running');
    startsAt(lines, 'LAST RUN', () => '-');
  });

  test('renderTable: any cell is escaped and measured as printed', () => {
    const out = renderTable(
      [
        { header: 'A', value: (r: string) => r },
        { header: 'B', value: () => 'b' },
      ],
      ['x\ty', 'z\u001b'],
    );
    expect(out.split('\n')).toEqual(['A        B', 'x\\ty     b', 'z\\u001b  b']);
  });

  test("the worker's log line for an ignored signal escapes its name (activations and DAG runs)", () => {
    const line = ignoredSignalLog('activation "contacts"', 're\u001b[2J\u0007\r\n\t\u009b\u202e', IGNORED_SIGNAL_HINT);
    expect(line).not.toMatch(UNSAFE);
    expect(line).not.toContain('\n');
    expect(line).toBe(`activation "contacts": ignored signal "re\\u001b[2J\\u0007\\r\\n\\t\\u009b\\u202e": ${IGNORED_SIGNAL_HINT}`);
    expect(ignoredSignalLog('DAG "d"', 'say "hi"', DAG_IGNORED_SIGNAL_HINT)).toBe(
      `DAG "d": ignored signal "say \\"hi\\"": ${DAG_IGNORED_SIGNAL_HINT}`,
    );
  });

  test('plan samples, document changes, retry notes and any other printed text: escaped, a cut never splits an escape', () => {
    const text = formatPlan({
      activationId: 'contacts',
      plan: 2,
      status: 'open',
      createdAt: '2026-12-07T19:01:53.922Z',
      counts: { upsert: 2, rejected: 0, heldDeletes: 0 },
      samples: {
        upsert: [
          { key: 'k\u001b[2J\n', values: { Name: 'X\u009b', ext_id: 1 } },
          { key: 'b', values: { Name: 'Y' } },
        ],
      },
    });
    expect(text).not.toMatch(UNSAFE);
    expect(text.split('\n').slice(-3)).toEqual([
      '  key           Name       ext_id',
      '  k\\u001b[2J\\n  "X\\u009b"  1',
      '  b             "Y"',
    ]);
    expect(formatChanges([{ path: 'model.k\u202e', before: 'a\u009b', after: undefined } as never], ['c\u0007'])).toEqual([
      'model.k\\u202e: "a\\u009b" -> (none)',
      '=> c\\u0007',
    ]);
    const note = retryNote('contacts', { activity: 'loadRows', attempt: 2, lastFailure: 'x\u001b[2J\ny', stateDatabase: false });
    expect(note).toBe('still waiting: activation "contacts" retries loadRows: 1 try failed, the last with "x\\u001b[2J\\ny"');
    expect(terminalSafeLines('a\u001b[2J\nb\u0007\r')).toBe('a\\u001b[2J\nb\\u0007\\r');
    expect(truncate('ab\u001bcdef', 5)).toBe('ab…');
    expect(truncate('ab\ncd', 40)).toBe('ab cd');
  });
});
