/** The model's Postgres: the state database itself ("default") or another named connection. */
import { SyncError } from '../common/errors';
import type { ActivationConfig } from '../common/config';
import type { SynclineDeps } from './deps';
import { createClient } from '../db/connect';

export interface SourceDb {
  url: string;
  /** True when the model lives in the state database: extract is one INSERT ... SELECT. */
  sameDatabase: boolean;
}

function normalise(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}/${u.pathname.replace(/^\//, '')}`;
  } catch {
    return url;
  }
}

export function resolveSource(deps: SynclineDeps, config: ActivationConfig): SourceDb {
  const name = config.source.connection;
  if (name === 'default') return { url: deps.stateDbUrl, sameDatabase: true };
  const conn = deps.resolveConnection(name);
  const url = typeof conn.url === 'string' ? conn.url : undefined;
  if (!url) throw new SyncError('CONFIG_INVALID', `activation "${config.id}": source connection "${name}" has no "url" (a postgres:// URL)`);
  return { url, sameDatabase: normalise(url) === normalise(deps.stateDbUrl) };
}

/** Model SQL errors fail the run with Postgres' own message; lost connections are retried. */
export function modelError(config: ActivationConfig, err: unknown): SyncError {
  const e = err as { code?: string; message?: string; position?: string };
  const sqlstate = e.code ?? '';
  // No SQLSTATE and pg's own wording: the socket closed under the query (network drop, server restart).
  const socketLost = !sqlstate && /Connection terminated|not queryable/i.test(e.message ?? '');
  if (/^(08|57|53)/.test(sqlstate) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(sqlstate) || socketLost) {
    return new SyncError('INTERNAL', `activation "${config.id}": lost the source database: ${e.message}`, { retryable: true, cause: err });
  }
  const where = e.position ? ` (at character ${e.position} of the model SQL)` : '';
  return new SyncError('MODEL_SQL_ERROR', `activation "${config.id}": the model query failed in Postgres: ${e.message}${where}. Fix source.sql / source.table and re-sync.`, { details: { sqlstate }, cause: err });
}

export function modelText(config: ActivationConfig): string {
  return config.source.sql ?? `SELECT * FROM ${config.source.table}`;
}

/** Column names and Postgres type names of the model, without reading any row. */
export async function describeModel(url: string, config: ActivationConfig): Promise<Map<string, string>> {
  const client = createClient({ connectionString: url, application_name: 'syncline' });
  await client.connect();
  try {
    const sqlText = config.source.sql !== undefined ? config.source.sql.trim().replace(/;\s*$/, '') : `SELECT * FROM ${config.source.table}`;
    let fields: Array<{ name: string; dataTypeID: number }>;
    try {
      fields = (await client.query(`SELECT * FROM (${sqlText}) AS m LIMIT 0`)).fields;
    } catch (err) {
      throw modelError(config, err);
    }
    const oids = [...new Set(fields.map((f) => f.dataTypeID))];
    const types = await client.query<{ oid: number; typname: string }>('SELECT oid::int AS oid, typname FROM pg_type WHERE oid = ANY($1::oid[])', [oids]);
    const byOid = new Map(types.rows.map((r) => [r.oid, r.typname]));
    return new Map(fields.map((f) => [f.name, byOid.get(f.dataTypeID) ?? 'text']));
  } finally {
    await client.end();
  }
}
