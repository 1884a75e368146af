/**
 * What the `syncline` command offers, in one table: commands, their arguments and options, help and
 * exit codes. client/cli-parse.ts builds the parser (commander) from it, client/cli-run.ts runs the
 * commands. Cheap to load: `syncline <command> --help` needs nothing else.
 */
import { TASK_QUEUE } from '../common/names';
import type { RunSummary } from '../common/run';

/**
 * Exit codes, for scripts and schedulers. A run that held deletions has its own code: nothing was
 * deleted, the activation's health is critical, and only a person's approval moves it on.
 */
export const EXIT = { done: 0, failed: 1, usage: 2, deletesHeld: 3 } as const;

const EXIT_HELP = [
  'Exit codes:',
  '  0  done (for a command that waits for a run: the run ended success or partial; partial lists its rows in "syncline errors")',
  '  1  failed: the command could not be carried out, or the run failed',
  '  2  bad usage: unknown command or option, missing argument, bad value (nothing was reached or changed)',
  '  3  the run held deletions for approval (health critical, nothing deleted): "syncline approve-deletes <id> --run <n>"',
];

/** The exit code of a command that waited for run `s`. */
export function runExitCode(s: RunSummary): number {
  if (s.status === 'failed') return EXIT.failed;
  return s.heldDeletes > 0 ? EXIT.deletesHeld : EXIT.done;
}

export type FlagType = 'boolean' | 'string' | 'int';
export interface FlagSpec {
  type: FlagType;
  value?: string;
  help: string;
  /** One-letter alias, e.g. "f" for -f. */ short?: string;
  /** The only values a string option takes (anything else is a usage error naming them). */ choices?: readonly string[];
  /** The largest value of an int option; default 2147483647, the largest run number Postgres holds. */ max?: number;
}
export interface CommandSpec {
  name: string;
  args: string[];
  summary: string;
  flags: Record<string, FlagSpec>;
  required?: string[];
  example: string;
}

export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean', help: 'print machine-readable JSON instead of text' },
  address: { type: 'string', value: 'host:port', help: 'Temporal frontend (default $TEMPORAL_ADDRESS or localhost:7233)' },
  namespace: { type: 'string', value: 'name', help: 'Temporal namespace (default $TEMPORAL_NAMESPACE or "default")' },
  'task-queue': {
    type: 'string',
    value: 'name',
    help: `task queue of the syncline workers (default $SYNCLINE_TASK_QUEUE or "${TASK_QUEUE}")`,
  },
  verbose: { type: 'boolean', help: 'when a command fails, also print the error in full (its causes and where they came from)' },
  help: { type: 'boolean', help: 'show help for the command' },
};
const reason: FlagSpec = { type: 'string', value: 'text', help: 'why (shown in the run summary and the Web UI)' };
const full: FlagSpec = { type: 'boolean', help: 'send every model row again, not only the changes' };

export const COMMANDS: CommandSpec[] = [
  {
    name: 'activation start',
    args: [],
    summary: 'validate an activation file and start its workflow (started again: checked against the document it ran last)',
    flags: {
      file: { type: 'string', value: 'path', short: 'f', help: 'the activation document (JSON)' },
      retarget: {
        type: 'boolean',
        help: 'started again with a new target (destination or model key): its snapshot starts empty, the old target is left as it is',
      },
      confirm: { type: 'boolean', help: 'started again: accept that Insert mode creates every synced row again as a new record' },
      resume: { type: 'boolean', help: 'started again: not paused, even if it was paused when it was stopped (it stays paused otherwise)' },
      reason,
    },
    required: ['file'],
    example: 'syncline activation start --file contacts.json',
  },
  {
    name: 'activation update',
    args: [],
    summary: 'show what a new document changes for a running activation, then apply it between runs',
    flags: {
      file: { type: 'string', value: 'path', short: 'f', help: 'the new activation document (JSON)' },
      'dry-run': { type: 'boolean', help: 'only show the diff and its consequences' },
      retarget: {
        type: 'boolean',
        help: 'accept a new target (destination or model key): its snapshot starts empty, the old target is left as it is',
      },
      confirm: { type: 'boolean', help: 'accept that Insert mode creates every synced row again as a new record' },
      reason,
    },
    required: ['file'],
    example: 'syncline activation update --file contacts.json --dry-run',
  },
  {
    name: 'activation apply',
    args: [],
    summary: 'reconcile a folder (or file) of activation documents: start the missing, update the changed, leave the rest',
    flags: {
      file: { type: 'string', value: 'path', short: 'f', help: 'a folder of *.json activation documents, or one file' },
      'dry-run': { type: 'boolean', help: 'only print the plan' },
      prune: {
        type: 'boolean',
        help: 'also stop the running activations no file names (their state stays); --file must be a folder',
      },
      retarget: { type: 'boolean', help: 'accept new targets' },
      confirm: { type: 'boolean', help: 'accept Insert-mode re-creations' },
    },
    required: ['file'],
    example: 'syncline activation apply -f activations/ --dry-run',
  },
  {
    name: 'list',
    args: [],
    summary: 'every running activation: state, health, mode, destination, last run, next run',
    flags: {
      health: {
        type: 'string',
        value: 'ok|warning|critical',
        choices: ['ok', 'warning', 'critical'],
        help: 'only activations with this health',
      },
    },
    example: 'syncline list --health critical',
  },
  {
    name: 'stop',
    args: ['id'],
    summary: 'finish the current run and end the activation; its state stays for a later start',
    flags: { reason, wait: { type: 'boolean', help: 'wait until it has ended' } },
    example: 'syncline stop contacts --wait',
  },
  {
    name: 'delete',
    args: ['id'],
    summary: 'drop everything syncline keeps of a stopped activation (snapshot, runs, logs); its destination records stay',
    flags: {
      purge: { type: 'boolean', help: 'required: the state is dropped for good' },
      yes: { type: 'boolean', help: 'do not ask for confirmation' },
    },
    required: ['purge'],
    example: 'syncline delete contacts --purge',
  },
  {
    name: 'history',
    args: ['id'],
    summary: 'every accepted document of the activation, with what changed and why (from Postgres)',
    flags: {},
    example: 'syncline history contacts',
  },
  {
    name: 'rows',
    args: ['id'],
    summary: "what happened to a row, run by run, or a run's row changes (from Postgres)",
    flags: {
      key: { type: 'string', value: 'key', help: 'the model key of the row' },
      run: { type: 'int', value: 'n', help: 'a run number' },
      op: {
        type: 'string',
        value: 'op',
        choices: ['create', 'update', 'upsert', 'delete'],
        help: 'with --run: only create, update, upsert or delete',
      },
      limit: { type: 'int', value: 'n', help: 'with --run: how many rows (default 1000)' },
    },
    example: 'syncline rows contacts --key 10042',
  },
  {
    name: 'resync',
    args: ['id'],
    summary: 'ask for a run now (returns at once)',
    flags: { full, reason },
    example: 'syncline resync contacts --full --reason "new field"',
  },
  {
    name: 'sync',
    args: ['id'],
    summary: 'run a sync now and wait for its summary',
    flags: { full, reason },
    example: 'syncline sync contacts',
  },
  {
    name: 'pause',
    args: ['id'],
    summary: 'stop scheduled runs until resumed',
    flags: { reason },
    example: 'syncline pause contacts --reason "CRM migration"',
  },
  { name: 'resume', args: ['id'], summary: 'resume scheduled runs', flags: {}, example: 'syncline resume contacts' },
  {
    name: 'retry-failed',
    args: ['id'],
    summary: 'ask for a run that sends the failed rows again',
    flags: {},
    example: 'syncline retry-failed contacts',
  },
  {
    name: 'approve-deletes',
    args: ['id'],
    summary: 'approve the deletions a run held, and wait for the run that applies them',
    flags: { run: { type: 'int', value: 'n', help: 'the run that held the deletions' } },
    required: ['run'],
    example: 'syncline approve-deletes contacts --run 12',
  },
  {
    name: 'plan',
    args: ['id'],
    summary: 'compute what a sync would send (counts and sample rows per operation) without writing anything',
    flags: {},
    example: 'syncline plan contacts',
  },
  {
    name: 'apply',
    args: ['id', 'plan'],
    summary: 'write exactly the rows of a plan, and wait for the run summary',
    flags: {},
    example: 'syncline apply contacts 7',
  },
  {
    name: 'status',
    args: ['id'],
    summary: 'state, health, schedule, current run, held deletions and the last runs',
    flags: {},
    example: 'syncline status contacts',
  },
  {
    name: 'runs',
    args: ['id'],
    summary: 'run history with counts per operation (from Postgres)',
    flags: { limit: { type: 'int', value: 'n', help: 'how many runs (default 20)' } },
    example: 'syncline runs contacts --limit 5',
  },
  {
    name: 'errors',
    args: ['id'],
    summary: 'rows that failed or were rejected, with their codes (from Postgres)',
    flags: {
      run: { type: 'int', value: 'n', help: 'only errors last seen in this run' },
      limit: { type: 'int', value: 'n', help: 'how many rows (default 50)' },
    },
    example: 'syncline errors contacts --run 3',
  },
  {
    name: 'dag deploy',
    args: ['file'],
    summary:
      'create or update the Temporal Schedule of a DAG file (its "schedule" block: cron or interval, catch-up, overlap, paused); a .ts/.js module exporting a defineDag builder also works',
    flags: {},
    example: 'syncline dag deploy nightly-refresh.json',
  },
  {
    name: 'dag list',
    args: [],
    summary: 'every deployed DAG: schedule, paused, last and next scheduled run',
    flags: {},
    example: 'syncline dag list',
  },
  {
    name: 'dag pause',
    args: ['id'],
    summary: "stop a DAG's scheduled runs (runs under way finish)",
    flags: { reason },
    example: 'syncline dag pause nightly-refresh --reason "warehouse migration"',
  },
  {
    name: 'dag unpause',
    args: ['id'],
    summary: "resume a DAG's scheduled runs",
    flags: {},
    example: 'syncline dag unpause nightly-refresh',
  },
  {
    name: 'dag trigger',
    args: ['id'],
    summary: 'run the deployed DAG now; its logical date is the time of the trigger (returns at once)',
    flags: { conf: { type: 'string', value: 'json', help: "JSON the run's sql tasks can bind as :conf" } },
    example: 'syncline dag trigger nightly-refresh --conf \'{"full": true}\'',
  },
  {
    name: 'dag backfill',
    args: ['id'],
    summary: 'run every scheduled time in [--from, --to], one at a time; a date that already succeeded is not run again',
    flags: {
      from: { type: 'string', value: 'instant', help: 'first scheduled time, ISO 8601 (e.g. 2026-11-01T00:00:00Z)' },
      to: { type: 'string', value: 'instant', help: 'last scheduled time, ISO 8601 (included)' },
    },
    required: ['from', 'to'],
    example: 'syncline dag backfill nightly-refresh --from 2026-11-01T00:00:00Z --to 2026-11-07T00:00:00Z',
  },
  {
    name: 'dag show',
    args: ['workflowId'],
    summary: "one DAG run's tasks, upstream first: state, tries, mapped items per state, duration (running or closed)",
    flags: {},
    example: 'syncline dag show dag/nightly-refresh-2026-12-05T02:00:00Z',
  },
  {
    name: 'dag rerun',
    args: ['workflowId'],
    summary:
      'clear and re-run a closed DAG run as a new run of the same date: the failed tasks (--failed) or one task (--from) and everything downstream run again; the other tasks keep their outcome and output',
    flags: {
      failed: { type: 'boolean', help: 'run again the tasks that failed or did not run, and their downstream' },
      from: { type: 'string', value: 'task', help: 'run again this task and its downstream' },
    },
    example: 'syncline dag rerun dag/nightly-refresh-2026-12-05T02:00:00Z --failed',
  },
  {
    name: 'dag delete',
    args: ['id'],
    summary: "delete a DAG's Schedule (runs under way finish; its record of done dates stays)",
    flags: {},
    example: 'syncline dag delete nightly-refresh',
  },
  {
    name: 'pool set',
    args: ['name', 'size'],
    summary: 'create a DAG pool or change its size: at most <size> tasks naming it ("pool": "<name>") run at once, over all DAG runs',
    flags: {},
    example: 'syncline pool set warehouse 2',
  },
  {
    name: 'pool list',
    args: [],
    summary: 'the DAG pools: size and slots in use right now (from Postgres)',
    flags: {},
    example: 'syncline pool list',
  },
  {
    name: 'pool delete',
    args: ['name'],
    summary: 'delete a DAG pool (tasks holding its slots finish; a DAG naming it is refused at its next deploy or run)',
    flags: {},
    example: 'syncline pool delete warehouse',
  },
  {
    name: 'codec-server',
    args: [],
    summary:
      'serve /encode and /decode for the Temporal Web UI and `temporal --codec-endpoint`, with the keys of SYNCLINE_CODEC_KEYS(_FILE)',
    flags: {
      port: { type: 'int', value: 'n', max: 65535, help: 'port to listen on (default 8888)' },
      host: { type: 'string', value: 'ip', help: 'interface to listen on (default 127.0.0.1: it decrypts whatever it is sent)' },
      origins: {
        type: 'string',
        value: 'urls',
        help: 'comma-separated Web UI origins allowed to call it (default $SYNCLINE_CODEC_CORS_ORIGINS or http://localhost:8080,http://localhost:8233)',
      },
    },
    example: 'syncline codec-server --port 8888 --origins http://localhost:8080',
  },
];

/** Commands that run on this machine alone: no Temporal connection, no database. */
export const LOCAL_COMMANDS: ReadonlySet<string> = new Set(['codec-server']);

/** Commands that wait for a run and exit with its outcome (runExitCode). */
export const RUN_COMMANDS: ReadonlySet<string> = new Set(['sync', 'approve-deletes', 'apply']);

const flagLine = (name: string, f: FlagSpec): string =>
  `  ${`${f.short ? `-${f.short}, ` : ''}--${name}${f.value ? ` <${f.value}>` : ''}`.padEnd(22)}  ${f.help}`;

export function synopsis(command: CommandSpec): string {
  return [
    `syncline ${command.name}`,
    ...command.args.map((a) => `<${a}>`),
    ...Object.entries(command.flags).map(([n, f]) => {
      const text = `--${n}${f.value ? ` <${f.value}>` : ''}`;
      return command.required?.includes(n) ? text : `[${text}]`;
    }),
  ].join(' ');
}

export function usage(command?: CommandSpec, group?: string): string {
  if (!command && group) {
    return [
      `Usage: syncline ${group} <command> [options]`,
      '',
      'Commands:',
      ...COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => `  ${c.name.padEnd(18)}  ${c.summary}`),
      '',
      `Run "syncline ${group} <command> --help" for its options; "syncline --help" lists every command.`,
    ].join('\n');
  }
  if (!command) {
    return [
      'Usage: syncline <command> [options]',
      '',
      'Commands:',
      ...COMMANDS.map((c) => `  ${c.name.padEnd(18)}  ${c.summary}`),
      '',
      'Options for every command:',
      ...Object.entries(GLOBAL_FLAGS).map(([n, f]) => flagLine(n, f)),
      '',
      'Run "syncline <command> --help" for its options; "syncline --version" says which syncline this is.',
      '',
      ...EXIT_HELP,
    ].join('\n');
  }
  const waits = RUN_COMMANDS.has(command.name);
  return [
    `Usage: ${synopsis(command)}`,
    '',
    command.summary,
    '',
    'Options:',
    ...Object.entries({ ...command.flags, ...GLOBAL_FLAGS }).map(([n, f]) => flagLine(n, f)),
    '',
    `Example: ${command.example}`,
    '',
    ...(waits ? EXIT_HELP : ['Exit codes: 0 done, 1 failed, 2 bad usage.']),
  ].join('\n');
}
