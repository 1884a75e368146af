/**
 * Extract: the model's rows are read, with their key and hash, into a temporary table of one pooled
 * session, and joined there with the activation's snapshot into the run's stage: the rows the run may act
 * on (db/delta.ts `createStage`). The model always runs read-only (connectors/postgres/source.ts). In the
 * state database no row passes through Node: the model fills the temporary table inside the READ ONLY
 * transaction (the only kind of table it may write). From another database the rows stream as COPY TO
 * STDOUT straight into COPY FROM STDIN of the temporary table, in constant memory. Either way the hash is
 * computed by the model's database inside the stage SELECT, so it does not depend on the column types.
 * Only the stage is WAL-logged: a retried extract reads the model again, a retried delta reads the stage.
 */
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import type { FieldSpec } from '../connectors/types';
import type pg from 'pg';
import { buildStage, stageSelect, type StageSpec } from '../db/delta';
import { copyIntoTemp, createTempStage, dropTempStage, fillTempStage, tempRows, tempRowsName } from '../db/stage';
import { recordModelRows } from '../db/runs';
import { SyncError } from '../common/errors';
import type { SynclineDeps } from './deps';
import { keyMatch, loadRun, sentFields, type LoadedRun } from './run-context';
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
  const temp = tempRowsName(run.runId);
  const makeStage = (session: pg.ClientBase, modelRows: number) =>
    stateDb(run, 'make the stage table', () =>
      buildStage(session, deps.db, {
        runId: run.runId,
        activationId: run.activationId,
        rows: tempRows(run.runId),
        columns: spec.columns,
        full: run.full,
        modelRows,
        // Keys differing only in case (or equal as numbers, a number key) are one record there: rejected together,
        // as a repeated key is.
        keyMatch: keyMatch(sentFields(run)),
      }),
    );
  if (source.sameDatabase)
    return withTempRows(deps, temp, async (session) => {
      const rows = await extractInPlace(run, session, temp, select.sql, source);
      await makeStage(session, rows);
      return rows;
    });
  // The model's database is left (its READ ONLY transaction ended) before the join with the snapshot.
  return withTempRows(deps, temp, async (session) => {
    const rows = await withModelReader(source, run.config, async (reader) => {
      const columns = await stageColumns(reader, select.sql, false);
      await stateDb(run, 'create the temporary stage', () => createTempStage(session, temp, columns));
      const copyIn = session.query(copyFrom(copyIntoTemp(temp)));
      try {
        await pipeline(copyModelOut(reader, select.sql), copyIn);
      } catch (err) {
        throw modelError(run.config, err);
      }
      return Number((copyIn as unknown as { rowCount?: number }).rowCount ?? 0);
    });
    await makeStage(session, rows);
    return rows;
  });
}

/**
 * The model in the state database: no row passes through Node. Inside a READ ONLY transaction only a
 * temporary table may be written, so the model fills a temporary table of this session.
 */
async function extractInPlace(run: LoadedRun, session: pg.ClientBase, temp: string, selectSql: string, source: SourceDb): Promise<number> {
  const columns = await readOnly(session, source, run.config, () => stageColumns(session, selectSql, true));
  await stateDb(run, 'create the temporary stage', () => createTempStage(session, temp, columns, source.role));
  return readOnly(session, source, run.config, () => fillTempStage(session, temp, selectSql));
}

/** A session of the pool that holds the run's temporary table of model rows while `fn` runs, and drops it after. */
async function withTempRows<T>(deps: SynclineDeps, temp: string, fn: (session: pg.PoolClient) => Promise<T>): Promise<T> {
  const session = await deps.pool.connect();
  let failed = false;
  try {
    return await fn(session);
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
