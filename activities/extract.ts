/**
 * Extract: the model's rows land in the run's stage table with their key and hash.
 * Same database: one CREATE TABLE ... AS SELECT, no row passes through Node.
 * Another Postgres: COPY TO STDOUT piped into COPY FROM STDIN, in constant memory.
 */
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { sql } from 'kysely';
import type { FieldSpec } from '../connectors/types';
import { createStageAs, stageSelect, type StageSpec } from '../db/delta';
import { stageTable } from '../db/work-tables';
import type { SynclineDeps } from './deps';
import { loadRun, sentFields, type LoadedRun } from './run-context';
import { modelError, resolveSource } from './source';
import { CANONICAL_SETTINGS, dropWorkTables, withHeartbeat } from './work';
import { createClient } from '../db/connect';

export interface ExtractModelInput { runId: string }
export interface ExtractModelResult { modelRows: number }

/** Hash order and signature: sorted by destination field, so reordering mappings changes nothing. */
export function stageSpec(run: LoadedRun, fields: FieldSpec[]): StageSpec {
  const sorted = [...fields].sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
  const { config } = run;
  return {
    runId: run.runId, keyColumn: config.source.key,
    model: config.source.sql !== undefined ? { sql: config.source.sql } : { table: config.source.table! },
    columns: sorted.map((f) => f.from),
    signature: JSON.stringify(sorted.map((f) => [f.to, f.from, f.truncate ? 't' : ''])) + '|',
  };
}

function beat(d?: Record<string, unknown>): void {
  try { Context.current().heartbeat(d); } catch { /* not in an activity */ }
}

export async function extractModel(deps: SynclineDeps, input: ExtractModelInput): Promise<ExtractModelResult> {
  const run = await loadRun(deps, input.runId);
  const spec = stageSpec(run, sentFields(run));
  const source = resolveSource(deps, run.config);
  await dropWorkTables(deps, run.runId);
  const rows = await withHeartbeat(beat, () => (source.sameDatabase ? extractLocal(deps, run, spec) : extractRemote(deps, run, spec, source.url)));
  await deps.db.updateTable('syncline.runs').set({ model_rows: String(rows) }).where('id', '=', run.runId).execute();
  return { modelRows: rows };
}

async function extractLocal(deps: SynclineDeps, run: LoadedRun, spec: StageSpec): Promise<number> {
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    for (const s of CANONICAL_SETTINGS) await client.query(s);
    const compiled = createStageAs(spec).compile(deps.db);
    let result: pg.QueryResult;
    try {
      result = await client.query(compiled.sql, compiled.parameters as unknown[]);
    } catch (err) {
      throw modelError(run.config, err);
    }
    await client.query('COMMIT');
    return result.rowCount ?? 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function extractRemote(deps: SynclineDeps, run: LoadedRun, spec: StageSpec, url: string): Promise<number> {
  const source = createClient({ connectionString: url, application_name: 'syncline-extract' });
  await source.connect();
  const target = await deps.pool.connect();
  try {
    await source.query('BEGIN READ ONLY');
    for (const s of CANONICAL_SETTINGS) await source.query(s);
    const select = stageSelect(spec).compile(deps.db);
    const columns = await remoteColumnTypes(source, select.sql, select.parameters as unknown[], run);
    const ddl = sql`CREATE TABLE ${stageTable(run.runId)} (${sql.join(columns.map((c) => sql`${sql.id(c.name)} ${sql.raw(c.type)}`))})`.compile(deps.db);
    await target.query(ddl.sql);
    // COPY cannot take bind parameters: the statement is inlined (the model SQL is the user's own text).
    const copyOut = source.query(copyTo(`COPY (${inline(select.sql, select.parameters as unknown[])}) TO STDOUT`));
    const copyIn = target.query(copyFrom(`COPY syncline_work.s_${run.runId} FROM STDIN`));
    try {
      await pipeline(copyOut, copyIn);
    } catch (err) {
      throw modelError(run.config, err);
    }
    await source.query('COMMIT');
    return Number((copyIn as unknown as { rowCount?: number }).rowCount ?? 0);
  } finally {
    target.release();
    await source.end();
  }
}

async function remoteColumnTypes(source: pg.Client, text: string, params: unknown[], run: LoadedRun): Promise<Array<{ name: string; type: string }>> {
  let fields: Array<{ name: string; dataTypeID: number }>;
  try {
    fields = (await source.query(`SELECT * FROM (${text}) AS q LIMIT 0`, params)).fields;
  } catch (err) {
    throw modelError(run.config, err);
  }
  const oids = fields.map((f) => f.dataTypeID);
  // Types that exist only in the source (enums, domains) arrive as text.
  const types = await source.query<{ oid: number; t: string }>('SELECT oid::int AS oid, format_type(oid, NULL) AS t FROM pg_type WHERE oid = ANY($1::oid[]) AND oid < 16384', [oids]);
  const byOid = new Map(types.rows.map((r) => [r.oid, r.t]));
  return fields.map((f) => ({ name: f.name, type: byOid.get(f.dataTypeID) ?? 'text' }));
}

function inline(text: string, params: unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, i: string) => {
    const v = params[Number(i) - 1];
    return v === null || v === undefined ? 'NULL' : `'${String(v).replace(/'/g, "''")}'`;
  });
}
