/**
 * Extract: the model's rows land in the run's stage table with their key and hash. The model always
 * runs read-only (connectors/postgres/source.ts). In the state database no row passes through Node: the model
 * fills a temporary table inside the READ ONLY transaction (the only kind of table it may write), then
 * the stage is made from it. From another database the rows stream as COPY TO STDOUT straight into
 * COPY FROM STDIN of the stage, in constant memory. Either way the hash is computed by the model's
 * database inside the stage SELECT, so it does not depend on the stage's column types.
 */
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import type { FieldSpec } from '../connectors/types';
import { stageSelect, type StageSpec } from '../db/delta';
import { copyIntoStage, createStageTable, createTempStage, dropTempStage, fillTempStage, stageFromTemp } from '../db/stage';
import { recordModelRows } from '../db/runs';
import { SyncError } from '../common/errors';
import type { SynclineDeps } from './deps';
import { loadRun, sentFields, type LoadedRun } from './run-context';
import {
  copyModelOut,
  modelError,
  readOnly,
  resolveSource,
  stageColumns,
  withModelReader,
  type SourceDb,
} from '../connectors/postgres/source';
import { dropWorkTables, withHeartbeat } from './work';

export interface ExtractModelInput {
  runId: string;
}
export interface ExtractModelResult {
  modelRows: number;
}

/** Hash order and signature: sorted by destination field, so reordering mappings changes nothing. */
export function stageSpec(run: LoadedRun, fields: FieldSpec[]): StageSpec {
  const sorted = [...fields].sort((a, b) => (a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
  const { config } = run;
  return {
    runId: run.runId,
    keyColumn: config.source.key,
    model: config.source.sql !== undefined ? { sql: config.source.sql } : { table: config.source.table! },
    columns: sorted.map((f) => f.from),
    signature: JSON.stringify(sorted.map((f) => [f.to, f.from, f.truncate ? 't' : ''])) + '|',
  };
}

function beat(d?: Record<string, unknown>): void {
  try {
    // A local activity (a small run's extract) has no heartbeat: the SDK keeps its workflow task alive instead.
    if (!Context.current().info.isLocal) Context.current().heartbeat(d);
  } catch {
    /* not in an activity */
  }
}

export async function extractModel(deps: SynclineDeps, input: ExtractModelInput): Promise<ExtractModelResult> {
  const run = await loadRun(deps, input.runId);
  const spec = stageSpec(run, sentFields(run));
  const source = resolveSource(deps, run.config);
  await dropWorkTables(deps, run.runId);
  const rows = await withHeartbeat(beat, () => copyModel(deps, run, spec, source));
  await recordModelRows(deps.db, run.runId, rows);
  return { modelRows: rows };
}

async function copyModel(deps: SynclineDeps, run: LoadedRun, spec: StageSpec, source: SourceDb): Promise<number> {
  const select = stageSelect(spec).compile(deps.db);
  // COPY takes no bind parameters: the stage SELECT is built from literals and quoted identifiers only.
  if (select.parameters.length)
    throw new SyncError('INTERNAL', `the stage query of "${run.activationId}" has bind parameters; COPY cannot take them`, {
      retryable: false,
    });
  if (source.sameDatabase) return extractInPlace(deps, run, select.sql, source);
  return withModelReader(source, run.config, async (reader) => {
    const columns = await stageColumns(reader, select.sql, false);
    await stateDb(run, 'create the stage table', () => createStageTable(deps.db, run.runId, columns));
    const target = await deps.pool.connect();
    try {
      const copyIn = target.query(copyFrom(copyIntoStage(run.runId)));
      try {
        await pipeline(copyModelOut(reader, select.sql), copyIn);
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
  let failed = false;
  try {
    const columns = await readOnly(session, source, run.config, () => stageColumns(session, selectSql, true));
    await stateDb(run, 'create the temporary stage', () => createTempStage(session, temp, columns, source.role));
    const rows = await readOnly(session, source, run.config, () => fillTempStage(session, temp, selectSql));
    await stateDb(run, 'make the stage table', () => stageFromTemp(session, run.runId, temp));
    return rows;
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // A session whose temporary table could not be dropped is not handed out again.
    const dropped = await dropTempStage(session, temp);
    session.release(failed && !dropped ? true : undefined);
  }
}

/** A failure of the state database during extract is syncline's problem, not the model's: retried. */
async function stateDb<T>(run: LoadedRun, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new SyncError('INTERNAL', `could not ${what} of run ${run.runNumber} of "${run.activationId}": ${(err as Error).message}`, {
      retryable: true,
      cause: err,
    });
  }
}
