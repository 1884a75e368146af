/**
 * The `syncline` command read as an on-call engineer would use it at 3 a.m.: a mistyped value, a pasted
 * workflow id, an unreachable Postgres or a `--prune` meant for a folder each give one line that names
 * what is wrong and says what to do, with the documented exit code, before anything is reached or changed.
 * No service runs: nothing listens at the addresses used.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from '../../client/cli';
import { usageError } from '../support/cli';
import { patienceNote, purgeQuestion, retryNote } from '../../client/cli-run';

const ROOT = path.resolve(__dirname, '../..');

function syncline(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      ['client/cli.ts', ...args],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('values the parser refuses before anything is reached', () => {
  test('a mistyped --health is a usage error naming the values, not an empty list', () => {
    expect(usageError(['list', '--health', 'critcal']).message).toBe('--health takes ok, warning or critical, not "critcal"');
    expect(parseArgs(['list', '--health', 'critical'])).toMatchObject({ flags: { health: 'critical' } });
  });

  test('a whole number out of range is a usage error naming the range', () => {
    expect(usageError(['codec-server', '--port', '70000']).message).toBe('--port takes a whole number from 1 to 65535, not "70000"');
    expect(usageError(['errors', 'contacts', '--run', '3000000000']).message).toBe(
      '--run takes a whole number from 1 to 2147483647, not "3000000000"',
    );
    expect(parseArgs(['codec-server', '--port', '65535'])).toMatchObject({ flags: { port: 65535 } });
  });

  test('an empty value (`--namespace=$NS` with NS unset) is a usage error, not the empty namespace or address', () => {
    expect(usageError(['status', 'contacts', '--namespace=']).message).toBe('--namespace needs a value (<name>), not ""');
    expect(usageError(['status', 'contacts', '--address', '']).message).toBe('--address needs a value (<host:port>), not ""');
    expect(usageError(['activation', 'start', '--file=']).message).toBe('--file needs a value (<path>), not ""');
    expect(parseArgs(['rows', 'contacts', '--key='])).toMatchObject({ flags: { key: '' } }); // a key may be empty
  });

  test('a mistyped --op is a usage error naming the operations', () => {
    expect(usageError(['rows', 'contacts', '--run', '3', '--op', 'deletes']).message).toBe(
      '--op takes create, update, upsert or delete, not "deletes"',
    );
  });

  test('a workflow id where an activation or DAG id goes names the id to give', () => {
    expect(usageError(['status', 'activation/contacts']).message).toBe(
      '<id> "activation/contacts" is a workflow id: give the activation id, "contacts"',
    );
    expect(usageError(['approve-deletes', 'activation/contacts/run/12', '--run', '12']).message).toBe(
      '<id> "activation/contacts/run/12" is a workflow id: give the activation id, "contacts"',
    );
    expect(usageError(['dag', 'pause', 'dag/nightly']).message).toBe('<id> "dag/nightly" is a workflow id: give the DAG id, "nightly"');
    expect(usageError(['sync', '']).message).toBe(
      '<id> "" is not an activation id: ids are letters, digits, "_", "-" or ".", starting with a letter or digit',
    );
    // dag show / rerun take the run's workflow id itself.
    expect(parseArgs(['dag', 'show', 'dag/nightly-2026-12-05T02:00:00Z'])).toMatchObject({ kind: 'run' });
  });
});

test('-f names the file for every activation command, start included (update and apply take it)', () => {
  for (const c of ['start', 'update', 'apply'])
    expect(parseArgs(['activation', c, '-f', 'a.json'])).toMatchObject({ command: { name: `activation ${c}` }, flags: { file: 'a.json' } });
});

describe('an option given twice', () => {
  test('a value option given twice is refused, not read as its last value (approve-deletes would approve the other run)', () => {
    expect(usageError(['approve-deletes', 'contacts', '--run', '3', '--run', '4']).message).toBe(
      '--run is given twice ("3", then "4"): give it once',
    );
    expect(usageError(['activation', 'update', '-f', 'a.json', '--file=b.json']).message).toBe(
      '--file is given twice ("a.json", then "b.json"): give it once',
    );
    expect(parseArgs(['stop', 'contacts', '--wait', '--wait'])).toMatchObject({ flags: { wait: true } }); // a switch twice says the same
  });
});

test('delete asks naming the namespace it found the activation stopped in: the state database is shared by every namespace', () => {
  expect(purgeQuestion('contacts', 'default', 'localhost:7233')).toBe(
    '"contacts" is not running in namespace "default" (Temporal at localhost:7233; another namespace is --namespace). ' +
      'Drop everything syncline keeps of it (snapshot, runs, row log, versions)? Its destination records stay. [y/N] ',
  );
});

test('stop --wait says, after a while, what it waits for and what to check, as sync does (it waits for a worker too)', () => {
  expect(patienceNote('stop', 'contacts', { wait: true })).toBe(
    'still waiting for "contacts" to end: its current run finishes first ("syncline status contacts" shows it); if it never ends, check that a syncline worker polls the activation\'s task queue',
  );
  expect(patienceNote('stop', 'contacts', {})).toBeUndefined(); // returns at once
  expect(patienceNote('sync', 'contacts', {})).toContain('still waiting for the run of "contacts"');
  expect(patienceNote('status', 'contacts', {})).toBeUndefined();
});

test('activation update and apply say, after a while, that the document waits for the run in progress, and that interrupting does not withdraw it', () => {
  for (const command of ['activation update', 'activation apply']) {
    const note = patienceNote(command, undefined, { file: 'contacts.json' });
    expect(note).toContain('an activation with a run in progress applies a new document only once the run ends');
    expect(note).toContain('interrupting this command does not withdraw the document');
  }
  expect(patienceNote('activation update', undefined, { 'dry-run': true })).toBeUndefined(); // answered at once
});

test('a waiting command says what the activation tries again: its bookkeeping in the state database lasts the outage, and nothing is withdrawn', () => {
  const r = { activity: 'applyConfigUpdate', attempt: 5, lastFailure: 'connect ECONNREFUSED 127.0.0.1:5432', stateDatabase: true };
  expect(retryNote('contacts', r)).toBe(
    'still waiting: activation "contacts" retries applyConfigUpdate, its bookkeeping in the state database: 4 tries failed, the last with "connect ECONNREFUSED 127.0.0.1:5432". ' +
      'It tries again at least every minute for as long as it takes, and answers once the database is back; the activation keeps running, and interrupting this command withdraws nothing',
  );
  expect(retryNote('contacts', { ...r, activity: 'checkConfigUpdate', attempt: 2, stateDatabase: false })).toBe(
    'still waiting: activation "contacts" retries checkConfigUpdate: 1 try failed, the last with "connect ECONNREFUSED 127.0.0.1:5432"',
  );
});

describe('the command as run', () => {
  test('an unreachable Postgres is one line naming it (never its password) and DATABASE_URL', async () => {
    const r = await syncline(['runs', 'contacts'], { DATABASE_URL: 'postgres://syncline:s3cret-pw@127.0.0.1:1/syncline_state' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^syncline runs: cannot reach syncline's Postgres at 127\.0\.0\.1:1\/syncline_state \(.*ECONNREFUSED.*\): check DATABASE_URL and that PostgreSQL is up\n$/,
    );
    expect(r.stderr).not.toContain('s3cret-pw');
  });

  // An unencoded "/", "?" or "#" in the password ends a URL's authority early: user and password then read as
  // host, port and path (pg connects to the user name as a host), and would be printed as "where".
  test('a password with an unencoded "/" or "?" is never printed, not even in part', async () => {
    for (const url of [
      'postgres://syncline:2024/Secr3t@127.0.0.1:1/syncline_state',
      'postgres://syncline:77?pa#ss@127.0.0.1:1/syncline_state',
    ]) {
      const r = await syncline(['runs', 'contacts'], { DATABASE_URL: url });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^syncline runs: cannot reach syncline's Postgres at /);
      expect(r.stderr).toMatch(/percent-encode/);
      for (const secret of ['2024', 'Secr3t', '77', 'pa#ss']) expect(r.stderr).not.toContain(secret);
    }
  });

  test('the pool commands need only Postgres: with Temporal down too, the error names Postgres', async () => {
    const r = await syncline(['pool', 'list'], {
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      DATABASE_URL: 'postgres://syncline:s3cret-pw@127.0.0.1:1/syncline_state',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^syncline pool list: cannot reach syncline's Postgres at 127\.0\.0\.1:1\/syncline_state /);
  });

  test('a bad value found after parsing exits 2 with the usage line, before Temporal or Postgres is reached', async () => {
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' };
    const [pool, backfill, apply] = await Promise.all([
      syncline(['pool', 'set', 'warehouse', '0'], env),
      syncline(['dag', 'backfill', 'nightly', '--from', '2026-11-01', '--to', '2026-11-07T00:00:00Z'], env),
      syncline(['apply', 'contacts', 'latest'], env),
    ]);
    expect(pool).toMatchObject({ code: 2, stdout: '' });
    expect(pool.stderr).toBe(
      'syncline: pool "warehouse": <size> is how many tasks may run in it at once, a whole number of at least 1, not "0"\n' +
        'usage: syncline pool set <name> <size>\nRun "syncline pool set --help" for its options.\n',
    );
    expect(backfill.code).toBe(2);
    expect(backfill.stderr).toMatch(
      /^syncline: --from takes an ISO 8601 instant with its zone.*not "2026-11-01"\nusage: syncline dag backfill/,
    );
    expect(apply.code).toBe(2);
    expect(apply.stderr).toMatch(
      /^syncline: <plan> is the plan number printed by "syncline plan contacts", not "latest"\nusage: syncline apply/,
    );
  });

  test('rows needs --key or --run: a usage error, not a failure after reaching Postgres', async () => {
    const r = await syncline(['rows', 'contacts'], { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^syncline: say which rows: --key <key>, or --run <n> \(with --op create\|update\|upsert\|delete\)\nusage: syncline rows/,
    );
  });

  test('with --json, a usage error is JSON on stderr too (docs/cli.md: "errors as JSON on stderr")', async () => {
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/x' };
    const [missing, late] = await Promise.all([
      syncline(['approve-deletes', 'contacts', '--json'], env),
      syncline(['pool', 'set', 'warehouse', '0', '--json'], env),
    ]);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(JSON.parse(missing.stderr)).toEqual({
      error: '--run is required',
      usage: 'syncline approve-deletes <id> --run <n>',
    });
    expect(late.code).toBe(2);
    expect(JSON.parse(late.stderr)).toMatchObject({ usage: 'syncline pool set <name> <size>' });
  });

  test('an activation file that cannot be read, is not JSON or (to start) is invalid is said first, with Temporal down too', async () => {
    const env = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-file-'));
    fs.writeFileSync(path.join(dir, 'broken.json'), '{\n  "id": "crm_contacts",\n  "mode": upsert\n}\n');
    const [missing, invalid, folder] = await Promise.all([
      syncline(['activation', 'start', '-f', path.join(dir, 'nope.json')], env),
      syncline(['activation', 'update', '-f', path.join(dir, 'broken.json'), '--dry-run'], env),
      syncline(['activation', 'apply', '-f', dir, '--dry-run'], env),
    ]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toMatch(/^syncline activation start: cannot read activation file ".*nope\.json": ENOENT/);
    expect(invalid.code).toBe(1);
    // Where it breaks, as an editor shows it: Node's own words give no position for it, and run over two lines.
    expect(invalid.stderr).toMatch(
      /^syncline activation update: activation file ".*broken\.json" is not valid JSON at line 3, column 11: Unexpected token 'u'[^\n]*\n$/,
    );
    expect(folder.code).toBe(1);
    expect(folder.stderr).toMatch(/^syncline activation apply: nothing was applied: 1 problem\(s\)/);
    expect(folder.stderr).toMatch(/broken\.json: not valid JSON at line 3, column 11 \(Unexpected token 'u'/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('--prune with one file is refused: it would stop every other activation', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-prune-'));
    const file = path.join(dir, 'contacts.json');
    fs.writeFileSync(file, '{}');
    const r = await syncline(['activation', 'apply', '-f', file, '--prune'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^syncline: --prune needs a folder: with one file it would stop every other running activation \(give the folder that holds "contacts.json"\)\n/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('--version', () => {
  test('says which syncline this is (package.json), exit 0, with nothing reached; a command given the flag refuses it', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const words of [['--version'], ['-V'], ['version']]) {
      const r = await syncline(words, { TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: 'postgres://x@127.0.0.1:1/none' });
      expect({ words, ...r }).toEqual({ words, code: 0, stdout: `syncline ${version}\n`, stderr: '' });
    }
    expect(usageError(['status', 'contacts', '--version']).message).toBe('unknown option "--version" for "syncline status"');
  }, 120_000);
});
