import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createConnectionResolver } from '../../connectors/connections';
import { SyncError } from '../../common/errors';
import { jsonErrorPosition } from '../../connectors/json-position';
import { resolveSource } from '../../connectors/postgres/source';
import { buildContext } from '../../activities/run-context';
import { deliverNotice } from '../../activities/notify';
import type { SynclineDeps } from '../../activities/deps';
import type { ActivationConfig } from '../../common/config';
import type { WarningNotice } from '../../common/warnings';
import { testdbConnector } from '../support/testdb-connector';

const SECRET = 'sk_live_DO_NOT_PRINT';

function failure(fn: () => unknown): SyncError {
  try {
    fn();
  } catch (e) {
    return e as SyncError;
  }
  throw new Error('no error');
}

describe('named connections', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-conn-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const resolver = (env: NodeJS.ProcessEnv) => createConnectionResolver({ stateDbUrl: 'postgres://state', env });

  test('from the environment, from the secrets file, and the default', () => {
    const file = path.join(dir, 'ok.json');
    fs.writeFileSync(file, JSON.stringify({ connections: { crm: { apiKey: 'k' } } }));
    const resolve = resolver({ SYNCLINE_CONNECTION_SF_PROD: '{"accessToken":"t"}', SYNCLINE_SECRETS_FILE: file });
    expect(resolve('sf-prod')).toEqual({ accessToken: 't' });
    expect(resolve('crm')).toEqual({ apiKey: 'k' });
    expect(resolve('default')).toEqual({ kind: 'postgres', url: 'postgres://state' });
    expect(failure(() => resolve('nope'))).toMatchObject({
      code: 'CONNECTION_UNKNOWN',
      message: expect.stringContaining('SYNCLINE_CONNECTION_NOPE'),
    });
  });

  // Node's JSON.parse quotes the text around the error ("Unexpected token 's', ..."apiKey": sk_live_DO..."): a credential.
  test.each([
    ['a bare value', `{"apiKey": ${SECRET}}`, 1, 12],
    ['a missing comma', `{"user": "u",\n "apiKey": "${SECRET}" "x": 1}`, 2, 35],
    ['a truncated value', `{"apiKey": "${SECRET}`, 1, 33],
  ])(
    'a malformed SYNCLINE_CONNECTION_<NAME> (%s) is named with its line and column, its text never quoted',
    (_what, text, line, column) => {
      const err = failure(() => resolver({ SYNCLINE_CONNECTION_CRM: text })('crm'));
      expect(err).toBeInstanceOf(SyncError);
      expect(err.code).toBe('CONNECTION_UNKNOWN');
      expect(err.message).toContain(`SYNCLINE_CONNECTION_CRM is not valid JSON (line ${line}, column ${column})`);
      expect(err.message).not.toContain('sk_live');
      expect(String(err.cause ?? '')).not.toContain('sk_live');
    },
  );

  test('a malformed secrets file is named with its line and column, its content never quoted', () => {
    const file = path.join(dir, 'secrets.json');
    fs.writeFileSync(file, `{\n  "connections": {\n    "crm": {"apiKey": ${SECRET}}\n  }\n}\n`);
    const err = failure(() => resolver({ SYNCLINE_SECRETS_FILE: file })('crm'));
    expect(err).toBeInstanceOf(SyncError);
    expect(err.code).toBe('CONNECTION_UNKNOWN');
    expect(err.message).toContain(`the secrets file ${file} (SYNCLINE_SECRETS_FILE) is not valid JSON (line 3, column 23)`);
    expect(err.message).not.toContain('sk_live');
    expect(String(err.cause ?? '')).not.toContain('sk_live');
  });
});

// The worker's own resolver, as an activation's run meets it: the failure names the activation and the field that
// names the connection (it is read in the worker log, a warning, the Web UI, not only beside the activation's id).
describe('an activation naming a connection the worker does not define', () => {
  const deps = {
    stateDbUrl: 'postgres://state',
    connectors: new Map([['testdb', testdbConnector]]),
    resolveConnection: createConnectionResolver({ stateDbUrl: 'postgres://state', env: {} }),
  } as unknown as SynclineDeps;
  const config = {
    id: 'contacts',
    mode: 'upsert',
    source: { connection: 'warehouse-eu', sql: 'SELECT 1 AS id', key: 'id' },
    destination: { kind: 'testdb', connection: 'crm-prod', object: 'contacts', key: 'ext_id' },
    mappings: [],
  } as unknown as ActivationConfig;
  const how = (name: string, env: string) =>
    `connection "${name}" is not defined on this worker: set ${env} to its JSON in the worker's environment (then restart the worker), ` +
    `or add "${name}" under "connections" in the secrets file named by SYNCLINE_SECRETS_FILE (read on every use: no restart)`;

  test('source.connection', () => {
    const err = failure(() => resolveSource(deps, config));
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({
      code: 'CONNECTION_UNKNOWN',
      message: `activation "contacts" (its source.connection): ${how('warehouse-eu', 'SYNCLINE_CONNECTION_WAREHOUSE_EU')}`,
    });
  });

  test('destination.connection', () => {
    const err = failure(() => buildContext(deps, { activationId: 'contacts', runNumber: 1, config }, []));
    expect(err).toMatchObject({
      code: 'CONNECTION_UNKNOWN',
      message: `activation "contacts" (its destination.connection): ${how('crm-prod', 'SYNCLINE_CONNECTION_CRM_PROD')}`,
    });
  });

  test('warnings.connection', async () => {
    const notice: WarningNotice = {
      id: 'contacts/FAILED_ROWS/t/opened',
      kind: 'cleared',
      activationId: 'contacts',
      code: 'FAILED_ROWS',
      level: 'warning',
      message: 'm',
      since: 't',
      at: 't',
    };
    await expect(deliverNotice(deps, { notice, channel: { connection: 'alerts' } })).rejects.toMatchObject({
      code: 'CONNECTION_UNKNOWN',
      message: `activation "contacts" (its warnings.connection): ${how('alerts', 'SYNCLINE_CONNECTION_ALERTS')}`,
    });
  });

  test('a malformed one is named with the activation too', () => {
    const broken = {
      ...deps,
      resolveConnection: createConnectionResolver({ stateDbUrl: 'x', env: { SYNCLINE_CONNECTION_CRM_PROD: '{' } }),
    };
    expect(failure(() => buildContext(broken, { activationId: 'contacts', runNumber: 1, config }, []))).toMatchObject({
      code: 'CONNECTION_UNKNOWN',
      message: expect.stringMatching(
        /^activation "contacts" \(its destination\.connection\): SYNCLINE_CONNECTION_CRM_PROD is not valid JSON/,
      ),
    });
  });
});

describe('jsonErrorPosition', () => {
  const valid = ['{}', '[]', ' {"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"]}\n', '"s"', '0', '{"a":{"b":[{}]}}'];
  const invalid = [
    '',
    '{',
    '{"a" 1}',
    '{"a": 01}',
    '[1,]',
    '{"a":1,}',
    '{"a": "\\x"}',
    '"tab\there"',
    'nul',
    '{} {}',
    '{"a": 1} x',
    '{a: 1}',
    '[1 2]',
  ];

  test('agrees with JSON.parse on what is valid', () => {
    for (const t of valid) expect([t, jsonErrorPosition(t)]).toEqual([t, null]);
    for (const t of invalid) {
      expect(() => JSON.parse(t)).toThrow();
      expect([t, jsonErrorPosition(t)]).toEqual([t, expect.objectContaining({ line: expect.any(Number) })]);
    }
  });

  test('finds the offset Node reports when Node reports one', () => {
    for (const t of [...invalid, '{\n "a": 1,\n "b" 2\n}']) {
      const m = /at position (\d+)/.exec(
        ((): string => {
          try {
            JSON.parse(t);
            return '';
          } catch (e) {
            return (e as Error).message;
          }
        })(),
      );
      if (!m) continue;
      const before = t.slice(0, Number(m[1]));
      expect([t, jsonErrorPosition(t)]).toEqual([t, { line: before.split('\n').length, column: Number(m[1]) - before.lastIndexOf('\n') }]);
    }
  });
});
