/**
 * Extract: the model's rows land in the run's stage table with their key and hash. The model always
 * runs read-only (activities/source.ts). In the state database no row passes through Node: the model
 * fills a temporary table inside the READ ONLY transaction (the only kind of table it may write), then
 * the stage is made from it. From another database the rows stream as COPY TO STDOUT straight into
 * COPY FROM STDIN of the stage, in constant memory. Either way the hash is computed by the model's
 * database inside the stage SELECT, so it does not depend on the stage's column types.
 */
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { sql } from 'kysely';
import type { FieldSpec } from '../connectors/types';
import { stageSelect, type StageSpec } from '../db/delta';
import { stageTable } from '../db/work-tables';
import { SyncError } from '../common/errors';
import type { SynclineDeps } from './deps';
import { loadRun, sentFields, type LoadedRun } from './run-context';
import { modelError, quoteIdent, readOnly, resolveSource, selectFields, withModelReader, type SourceDb } from './source';
import { dropWorkTables, withHeartbeat } from './work';

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
  const rows = await withHeartbeat(beat, () => copyModel(deps, run, spec, source));
  await deps.db.updateTable('syncline.runs').set({ model_rows: String(rows) }).where('id', '=', run.runId).execute();
  return { modelRows: rows };
}

async function copyModel(deps: SynclineDeps, run: LoadedRun, spec: StageSpec, source: SourceDb): Promise<number> {
  const select = stageSelect(spec).compile(deps.db);
  // COPY takes no bind parameters: the stage SELECT is built from literals and quoted identifiers only.
  if (select.parameters.length) throw new SyncError('INTERNAL', `the stage query of "${run.activationId}" has bind parameters; COPY cannot take them`, { retryable: false });
  if (source.sameDatabase) return extractInPlace(deps, run, select.sql, source);
  return withModelReader(source, run.config, async (reader) => {
    const columns = await stageColumns(reader, select.sql, false);
    const target = await deps.pool.connect();
    try {
      await stateDb(run, 'create the stage table', () => target.query(createStage(deps, run, columns)));
      const copyIn = target.query(copyFrom(`COPY syncline_work.s_${run.runId} FROM STDIN`));
      try {
        await pipeline(reader.query(copyTo(`COPY (${select.sql}) TO STDOUT`)), copyIn);
      } catch (err) {
        throw modelError(run.config, err);
      }
      return Number((copyIn as unknown as { rowCount?: number }).rowCount ?? 0);
    } finally {
      target.release();
    }
  });
}

/**
 * The model in the state database: no row passes through Node. Inside a READ ONLY transaction only a
 * temporary table may be written, so the model fills a temporary table of this session, and the stage is
 * then made from it in Postgres.
 */
async function extractInPlace(deps: SynclineDeps, run: LoadedRun, selectSql: string, source: SourceDb): Promise<number> {
  const session = await deps.pool.connect();
  const temp = `syncline_stage_${run.runId}`;
  let broken = false;
  try {
    const columns = await readOnly(session, source, run.config, () => stageColumns(session, selectSql, true));
    await stateDb(run, 'create the temporary stage', async () => {
      await session.query(`DROP TABLE IF EXISTS pg_temp.${temp}`);
      await session.query(`CREATE TEMP TABLE ${temp} (${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`);
      if (source.role) await session.query(`GRANT INSERT ON pg_temp.${temp} TO ${quoteIdent(source.role)}`);
    });
    const inserted = await readOnly(session, source, run.config, () => session.query({ text: `INSERT INTO pg_temp.${temp} ${selectSql}`, values: [], queryMode: 'extended' } as pg.QueryConfig));
    await stateDb(run, 'make the stage table', () => session.query(`CREATE TABLE syncline_work.s_${run.runId} AS SELECT * FROM pg_temp.${temp}`));
    return inserted.rowCount ?? 0;
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    // A session whose temporary table could not be dropped is not handed out again.
    const dropped = await session.query(`DROP TABLE IF EXISTS pg_temp.${temp}`).then(() => true, () => false);
    session.release(broken && !dropped ? true : undefined);
  }
}

function createStage(deps: SynclineDeps, run: LoadedRun, columns: Array<{ name: string; type: string }>): string {
  return sql`CREATE TABLE ${stageTable(run.runId)} (${sql.join(columns.map((c) => sql`${sql.id(c.name)} ${sql.raw(c.type)}`))})`.compile(deps.db).sql;
}

/** A failure of the state database during extract is syncline's problem, not the model's: retried. */
async function stateDb<T>(run: LoadedRun, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new SyncError('INTERNAL', `could not ${what} of run ${run.runNumber} of "${run.activationId}": ${(err as Error).message}`, { retryable: true, cause: err });
  }
}

/**
 * The stage's column types, from the model's own result description (the SELECT parsed once, as one
 * statement). In the state database every type exists; from another database, types that exist only
 * there (enums, domains) arrive as text.
 */
async function stageColumns(reader: pg.ClientBase, selectText: string, sameDatabase: boolean): Promise<Array<{ name: string; type: string }>> {
  const fields = await selectFields(reader, selectText);
  const types = await reader.query<{ i: number; t: string }>(
    `SELECT i::int AS i, format_type(oid, CASE WHEN mod >= 0 THEN mod END) AS t FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS f(oid, mod, i)
     WHERE $3::bool OR oid < 16384`,
    [fields.map((f) => f.dataTypeID), fields.map((f) => f.dataTypeModifier), sameDatabase],
  );
  const byIndex = new Map(types.rows.map((r) => [r.i, r.t]));
  return fields.map((f, i) => ({ name: f.name, type: byIndex.get(i + 1) ?? 'text' }));
}
