/**
 * The `syncline` command is quiet: a failure is one line on stderr saying what to do. --verbose adds the
 * error in full, with its cause. No service is needed: nothing listens at the address used.
 */
import { runCli } from '../support/cli';

const syncline = (...args: string[]) => runCli(args, {}, 60_000);

const UNREACHABLE =
  'syncline status: cannot reach Temporal at 127.0.0.1:1 (Failed to connect before the deadline): start it with "npm run services" or set --address / TEMPORAL_ADDRESS\n';

test('a failure is one line by default; --verbose adds its cause and stack', async () => {
  const [quiet, verbose] = await Promise.all([
    syncline('status', 'crm', '--address', '127.0.0.1:1'),
    syncline('status', 'crm', '--address', '127.0.0.1:1', '--verbose'),
  ]);
  expect(quiet).toEqual({ code: 1, stdout: '', stderr: UNREACHABLE });
  expect(verbose.code).toBe(1);
  expect(verbose.stdout).toBe('');
  expect(verbose.stderr.startsWith(UNREACHABLE)).toBe(true);
  expect(verbose.stderr).toMatch(/\[cause\]: Error: Failed to connect before the deadline/);
  expect(verbose.stderr).toMatch(/^\s+at .*client\/index\.ts/m);
});
