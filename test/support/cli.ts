/**
 * The syncline CLI as a user runs it (client/cli.ts through tsx, in its own process), and the usage error
 * its parser gives for an argument list, for the CLI tests.
 */
import path from 'node:path';
import { execFile } from 'node:child_process';
import { parseArgs, UsageError } from '../../client/cli';

const ROOT = path.resolve(__dirname, '../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `syncline <args>` with `extraEnv` over this process's environment; never rejects. */
export function runCli(args: string[], extraEnv: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['client/cli.ts', ...args],
      { cwd: ROOT, timeout: timeoutMs, env: { ...process.env, ...extraEnv } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The UsageError the parser throws for `argv`; fails the test when it parses. */
export function usageError(argv: string[]): UsageError {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}
