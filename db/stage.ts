/**
 * Statements that fill a run's stage table. A model in the state database is read inside a READ ONLY
 * transaction into a temporary table of one session (`session`, a pool client), which becomes the stage;
 * a model in another database is copied into an empty stage with COPY FROM STDIN.
 */
import type pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { stageTable, stageTableName } from './work-tables';

export interface StageColumn {
  name: string;
  type: string;
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * The stage is written once, read by the delta and the chunk reads (by tuple id), then dropped: a vacuum
 * of it finds nothing to clean, yet autovacuum's insert threshold sends one over every new stage: a full
 * pass (10,000,000 rows: 1.5 GB read, every page then marked in the visibility map, WAL-logged) that ran
 * beside the delta in `npm run bench -- delta 10000000`, on the same cores. Vacuums against
 * transaction-id wraparound still run.
 */
const STAGE_STORAGE = 'WITH (autovacuum_enabled = false)';
const columnList = (columns: StageColumn[]): string => columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ');

/** The empty stage, for COPY FROM STDIN (`copyIntoStage`). */
export async function createStageTable(db: Kysely<any>, runId: string, columns: StageColumn[]): Promise<void> {
  await sql`CREATE TABLE ${stageTable(runId)} (${sql.raw(columnList(columns))}) ${sql.raw(STAGE_STORAGE)}`.execute(db);
}

export function copyIntoStage(runId: string): string {
  return `COPY ${stageTableName(runId)} FROM STDIN`;
}

/** A temporary table of the session, writable by `role` (the model's role) if one is set. */
export async function createTempStage(session: pg.ClientBase, temp: string, columns: StageColumn[], role?: string): Promise<void> {
  await session.query(`DROP TABLE IF EXISTS pg_temp.${ident(temp)}`);
  await session.query(`CREATE TEMP TABLE ${ident(temp)} (${columnList(columns)})`);
  if (role) await session.query(`GRANT INSERT ON pg_temp.${ident(temp)} TO ${ident(role)}`);
}

/** Runs the stage SELECT into the temporary table, as one statement (extended protocol); the caller holds the READ ONLY transaction. */
export async function fillTempStage(session: pg.ClientBase, temp: string, selectSql: string): Promise<number> {
  const r = await session.query({
    text: `INSERT INTO pg_temp.${ident(temp)} ${selectSql}`,
    values: [],
    queryMode: 'extended',
  } as pg.QueryConfig);
  return r.rowCount ?? 0;
}

export async function stageFromTemp(session: pg.ClientBase, runId: string, temp: string): Promise<void> {
  await session.query(`CREATE TABLE ${stageTableName(runId)} ${STAGE_STORAGE} AS SELECT * FROM pg_temp.${ident(temp)}`);
}

/** True when dropped (or already gone); false when the session is unusable. */
export async function dropTempStage(session: pg.ClientBase, temp: string): Promise<boolean> {
  return session.query(`DROP TABLE IF EXISTS pg_temp.${ident(temp)}`).then(
    () => true,
    () => false,
  );
}
