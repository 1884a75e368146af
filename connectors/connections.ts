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
import { jsonErrorPosition } from './json-position';

export type ConnectionMap = Record<string, Record<string, unknown>>;

export function envName(name: string): string {
  return `SYNCLINE_CONNECTION_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * JSON.parse for text that holds credentials: an error names `what` and the line and column, never the
 * text (Node's own message quotes it), and carries no cause that would.
 */
function parseSecretJson(text: string, what: string, hint: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const at = jsonErrorPosition(text);
    throw new SyncError(
      'CONNECTION_UNKNOWN',
      `${what} is not valid JSON${at ? ` (line ${at.line}, column ${at.column})` : ''}${hint}; its content is not shown, it holds credentials`,
    );
  }
}

export function createConnectionResolver(opts: {
  stateDbUrl: string;
  overrides?: ConnectionMap;
  env?: NodeJS.ProcessEnv;
}): (name: string) => Record<string, unknown> {
  const env = opts.env ?? process.env;
  return (name) => {
    const override = opts.overrides?.[name];
    if (override) return override;
    const fromEnv = env[envName(name)];
    if (fromEnv)
      return parseSecretJson(
        fromEnv,
        envName(name),
        `; write it like '{"auth":"token","accessToken":"...","instanceUrl":"..."}'`,
      ) as Record<string, unknown>;
    const file = env.SYNCLINE_SECRETS_FILE;
    if (file && fs.existsSync(file)) {
      const doc = parseSecretJson(
        fs.readFileSync(file, 'utf8'),
        `the secrets file ${file} (SYNCLINE_SECRETS_FILE)`,
        '; it is read again on every use, so a fix needs no restart',
      ) as { connections?: ConnectionMap };
      const found = doc.connections?.[name];
      if (found) return found;
    }
    if (name === 'default') return { kind: 'postgres', url: opts.stateDbUrl };
    throw new SyncError(
      'CONNECTION_UNKNOWN',
      `connection "${name}" is not defined on this worker: set ${envName(name)} to its JSON in the worker's environment (then restart the worker), ` +
        `or add "${name}" under "connections" in the secrets file named by SYNCLINE_SECRETS_FILE (read on every use: no restart)`,
    );
  };
}

/**
 * The connection an activation's document names in `field` ("source.connection", "destination.connection",
 * "warnings.connection"): one the worker does not define, or whose JSON does not parse, is said naming the
 * activation and the field, as the worker log, a warning and the Web UI show it without the activation beside it.
 */
export function activationConnection(
  resolve: (name: string) => Record<string, unknown>,
  activationId: string,
  field: string,
  name: string,
): Record<string, unknown> {
  try {
    return resolve(name);
  } catch (err) {
    if (err instanceof SyncError && err.code === 'CONNECTION_UNKNOWN')
      throw new SyncError('CONNECTION_UNKNOWN', `activation "${activationId}" (its ${field}): ${err.message}`);
    throw err;
  }
}
