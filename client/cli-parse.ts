/**
 * Reads a `syncline` command line with commander, built from the COMMANDS table. Commander does the
 * grammar: the commands and the `activation` group, options before or after arguments, `--opt=value`,
 * `--` to end options, argument counts and -h/--help. Its errors become the messages documented in
 * docs/cli.md (the CLI exits 2 on them); the help text comes from usage(), not from commander.
 */
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS, GLOBAL_FLAGS, synopsis, type CommandSpec, type FlagSpec } from './cli-commands';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: CommandSpec,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * What the CLI prints on stderr for a usage error (exit 2): the message, then how to use the command; with
 * --json, the two as JSON (`{"error", "usage"}`), as other errors are.
 */
export function usageErrorText(e: UsageError, json = false): string {
  if (json) return JSON.stringify({ error: e.message, ...(e.command && { usage: synopsis(e.command) }) }, null, 2) + '\n';
  return `syncline: ${e.message}\n${e.command ? `usage: ${synopsis(e.command)}\nRun "syncline ${e.command.name} --help" for its options.` : 'Run "syncline --help" for the commands.'}\n`;
}

export type Flags = Record<string, string | number | boolean>;
export type Parsed =
  | { kind: 'help'; command?: CommandSpec; group?: string }
  | { kind: 'version' }
  | { kind: 'run'; command: CommandSpec; args: Record<string, string>; flags: Flags };

const WHOLE_NUMBER = /^[1-9]\d*$/;
/** An activation or DAG id (common/config.ts, common/dag.ts): never a "/", so a workflow id is told apart. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const orList = (words: readonly string[]): string =>
  words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : (words[0] ?? '');

/**
 * Checks an <id> argument before anything is reached: one pasted from the Web UI or `temporal workflow list`
 * (`activation/contacts`, `activation/contacts/run/12`, `dag/nightly`) would otherwise be "not running".
 */
function checkId(id: string, command: CommandSpec): void {
  if (ID.test(id)) return;
  const [what, prefix] = command.name.startsWith('dag ') ? ['DAG', 'dag/'] : ['activation', 'activation/'];
  if (id.startsWith(prefix)) {
    const bare = id.slice(prefix.length).split('/')[0]!;
    throw new UsageError(
      `<id> "${id}" is a workflow id: give the ${what} id${ID.test(bare) ? `, "${bare}"` : ` ("syncline ${what === 'DAG' ? 'dag list' : 'list'}" lists them)`}`,
      command,
    );
  }
  throw new UsageError(
    `<id> "${id}" is not ${what === 'DAG' ? 'a DAG' : 'an activation'} id: ids are letters, digits, "_", "-" or ".", starting with a letter or digit`,
    command,
  );
}
/** First words of two-word commands ("activation start", "dag deploy"). */
const GROUPS: ReadonlySet<string> = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));
const SILENT = { writeOut: () => {}, writeErr: () => {}, outputError: () => {} };

function option(name: string, flag: FlagSpec, command: CommandSpec, argv: string[]): Option {
  const opt = new Option(`${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.value ? ` <${flag.value}>` : ''}`, flag.help);
  if (flag.type === 'boolean') return opt;
  return opt.argParser((value: string, previous: unknown) => {
    // Commander keeps the last of a repeated option: `approve-deletes x --run 3 --run 4` would approve run 4.
    if (previous !== undefined)
      throw new UsageError(`--${name} is given twice ("${String(previous)}", then "${value}"): give it once`, command);
    // Commander takes the next word as the value even when it is an option: `--run --json` lacks a value
    // (`--reason=--x`, one word, does give one).
    if (value.startsWith('--') && !argv.includes(`--${name}=${value}`))
      throw new UsageError(`--${name} needs a value (<${flag.value ?? 'value'}>)`, command);
    // `--namespace=$NS` with NS unset: the empty namespace (or address, file) would be used as given.
    // A model key may be any text, the empty one included.
    if (value.trim() === '' && !flag.choices && flag.type === 'string' && name !== 'key')
      throw new UsageError(`--${name} needs a value (<${flag.value ?? 'value'}>), not "${value}"`, command);
    if (flag.choices && !flag.choices.includes(value))
      throw new UsageError(`--${name} takes ${orList(flag.choices)}, not "${value}"`, command);
    if (flag.type === 'string') return value;
    if (!WHOLE_NUMBER.test(value)) throw new UsageError(`--${name} takes a whole number of at least 1, not "${value}"`, command);
    const max = flag.max ?? 2_147_483_647;
    if (Number(value) > max) throw new UsageError(`--${name} takes a whole number from 1 to ${max}, not "${value}"`, command);
    return Number(value);
  });
}

/** The commander program for one parse: each command's action hands its result to `done`. */
function buildProgram(
  argv: string[],
  done: (p: Parsed) => void,
): { root: Command; specOf: Map<Command, CommandSpec>; dispatched: () => Command | undefined } {
  let current: Command | undefined;
  const track = (_parent: Command, sub: Command): void => {
    current = sub;
  };
  // Settings are copied to the commands created below: no process.exit, no output, no commander help command.
  const root = new Command('syncline')
    .exitOverride()
    .configureOutput(SILENT)
    .helpCommand(false)
    .showSuggestionAfterError(false)
    .hook('preSubcommand', track);
  const specOf = new Map<Command, CommandSpec>();
  for (const spec of COMMANDS) {
    const [first, second] = spec.name.split(' ') as [string, string | undefined];
    let parent = root;
    if (second) parent = root.commands.find((c) => c.name() === first) ?? root.command(first).hook('preSubcommand', track);
    const cmd = parent.command(second ?? first);
    for (const a of spec.args) cmd.argument(`<${a}>`);
    const options = Object.entries({ ...spec.flags, ...GLOBAL_FLAGS })
      .filter(([n]) => n !== 'help')
      .map(([n, f]) => [n, option(n, f, spec, argv)] as const);
    for (const [, o] of options) cmd.addOption(o);
    cmd.action(() => {
      const flags: Flags = {};
      for (const [n, o] of options) {
        const v: unknown = cmd.getOptionValue(o.attributeName());
        if (v !== undefined) flags[n] = v as string | number | boolean;
      }
      // Checked here, after the argument count, so that `approve-deletes` alone says "missing <id>" first.
      for (const r of spec.required ?? []) if (flags[r] === undefined) throw new UsageError(`--${r} is required`, spec);
      const id = spec.args.indexOf('id');
      if (id >= 0) checkId(cmd.args[id]!, spec);
      done({ kind: 'run', command: spec, args: Object.fromEntries(spec.args.map((a, i) => [a, cmd.args[i]!])), flags });
    });
    specOf.set(cmd, spec);
  }
  return { root, specOf, dispatched: () => current };
}

/** Parses argv (without node and the script); throws UsageError naming what is wrong. */
export function parseArgs(argv: string[]): Parsed {
  if (argv.length === 0) return { kind: 'help' };
  // The tool's own flag, alone, as `--help` is: a command given it refuses it as any unknown option.
  if (argv.length === 1 && ['--version', '-V', 'version'].includes(argv[0]!)) return { kind: 'version' };
  const helpFor = argv[0] === 'help';
  const given = helpFor ? argv.slice(1) : argv;
  // `help <command>` is `<command> --help`, whatever follows (commander's help command would take only "activation").
  const words = helpFor ? [...given.slice(0, GROUPS.has(given[0] ?? '') ? 2 : 1), '--help'] : argv;
  let result: Parsed | undefined;
  const { root, specOf, dispatched } = buildProgram(words, (p) => {
    result = p;
  });
  try {
    root.parse(words, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // Help for the tool only when asked for first, as `syncline --help`, `-h` or `help`; `syncline frobnicate --help` names the unknown command.
    const toolHelp = helpFor ? given.length === 0 : argv[0] === '--help' || argv[0] === '-h';
    return fromCommander(e, given, toolHelp, helpFor, dispatched(), specOf);
  }
  if (!result) throw new Error(`syncline: no command ran for "${argv.join(' ')}"`);
  return result;
}

/** Commander stopped: for help, say whose; for a usage error, the message docs/cli.md documents. */
function fromCommander(
  e: CommanderError,
  given: string[],
  toolHelp: boolean,
  helpFor: boolean,
  cmd: Command | undefined,
  specOf: Map<Command, CommandSpec>,
): Parsed {
  const spec = cmd && specOf.get(cmd);
  if (!spec) {
    // `dag --help`, `help pool`: the group's commands. A word after the group that names none stays unknown.
    const group = given[0] ?? '';
    const helpAsked = helpFor || given.includes('--help') || given.includes('-h');
    if (GROUPS.has(group) && helpAsked && (given[1] === undefined || given[1].startsWith('-'))) return { kind: 'help', group };
    if (GROUPS.has(group))
      throw new UsageError(
        `unknown command "${given.slice(0, 2).join(' ')}": the ${given[0]} commands are ${COMMANDS.filter((c) =>
          c.name.startsWith(`${given[0]} `),
        )
          .map((c) => `"${c.name}"`)
          .join(', ')}`,
      );
    if (e.code === 'commander.helpDisplayed' && toolHelp) return { kind: 'help' };
    throw new UsageError(`unknown command "${given[0]}"`);
  }
  switch (e.code) {
    case 'commander.helpDisplayed':
      return { kind: 'help', command: spec };
    case 'commander.unknownOption': {
      // A CommanderError names the word only in its message: "error: unknown option '--fulll'".
      const flag = /unknown option '(.*)'/.exec(e.message)?.[1];
      if (flag === undefined) break;
      const [name, inline] = flag.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (name === 'help') return { kind: 'help', command: spec };
      const known = { ...spec.flags, ...GLOBAL_FLAGS }[name];
      if (flag.startsWith('--') && inline !== undefined && known?.type === 'boolean')
        throw new UsageError(`--${name} takes no value`, spec);
      throw new UsageError(`unknown option "${flag.startsWith('--') ? `--${name}` : flag}" for "syncline ${spec.name}"`, spec);
    }
    case 'commander.optionMissingArgument': {
      // The option was the last word: commander reports a missing value only when nothing follows.
      const name = given.at(-1)!.slice(2);
      throw new UsageError(`--${name} needs a value (<${spec.flags[name]?.value ?? GLOBAL_FLAGS[name]?.value ?? 'value'}>)`, spec);
    }
    case 'commander.missingArgument':
      throw new UsageError(`missing <${spec.args[cmd.args.length]}>`, spec);
    case 'commander.excessArguments':
      throw new UsageError(`unexpected argument "${cmd.args[spec.args.length]}"`, spec);
  }
  throw new UsageError(e.message.replace(/^error: /, ''), spec);
}
