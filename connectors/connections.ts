/**
 * Named connections, resolved inside the worker only (credentials never enter configs or history):
 *   1. overrides given to the plugin (tests, embedding services);
 *   2. SYNCLINE_CONNECTION_<NAME> = JSON (name upper-cased, other characters as "_");
 *   3. the secrets file SYNCLINE_SECRETS_FILE = {"connections": {"<name>": {...}}}, re-read on each use
 *      so a fixed credential is picked up without restarting the worker;
 *   4. "default": the Postgres syncline keeps its state in.
 */
import fs from 'node:fs';
import { SyncError } from '../common/errors';

export type ConnectionMap = Record<string, Record<string, unknown>>;

export function envName(name: string): string {
  return `SYNCLINE_CONNECTION_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export function createConnectionResolver(opts: { stateDbUrl: string; overrides?: ConnectionMap; env?: NodeJS.ProcessEnv }): (name: string) => Record<string, unknown> {
  const env = opts.env ?? process.env;
  return (name) => {
    const override = opts.overrides?.[name];
    if (override) return override;
    const fromEnv = env[envName(name)];
    if (fromEnv) {
      try {
        return JSON.parse(fromEnv) as Record<string, unknown>;
      } catch {
        throw new SyncError('CONNECTION_UNKNOWN', `${envName(name)} is not valid JSON; write it like '{"auth":"token","accessToken":"...","instanceUrl":"..."}'`);
      }
    }
    const file = env.SYNCLINE_SECRETS_FILE;
    if (file && fs.existsSync(file)) {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { connections?: ConnectionMap };
      const found = doc.connections?.[name];
      if (found) return found;
    }
    if (name === 'default') return { kind: 'postgres', url: opts.stateDbUrl };
    throw new SyncError('CONNECTION_UNKNOWN', `connection "${name}" is not defined on this worker: set ${envName(name)} to its JSON, or add it under "connections" in the secrets file named by SYNCLINE_SECRETS_FILE`);
  };
}
