/**
 * The model's rows as a run reads them: a temporary table of one session (`session`, a pool client),
 * from which the run's stage is made (db/delta.ts `buildStage`). A model in the state database fills it
 * inside a READ ONLY transaction (a temporary table is the only kind it may write); a model in another
 * database is copied into it with COPY FROM STDIN. A temporary table writes no WAL: of the model's rows,
 * only those the run may act on are written to a logged table (the stage).
 */
import type pg from 'pg';
import { sql, type RawBuilder } from 'kysely';

export interface StageColumn {
  name: string;
  type: string;
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const columnList = (columns: StageColumn[]): string => columns.map((c) => `${ident(c.name)} ${c.type}`).join(', ');

/** The temporary table of a run's model rows, by name (one per run, so a pooled session never mixes two). */
export const tempRowsName = (runId: string): string => `syncline_stage_${runId}`;
/** The temporary table, for statement builders. */
export const tempRows = (runId: string): RawBuilder<unknown> => sql.raw(`pg_temp.${ident(tempRowsName(runId))}`);

/**
 * A temporary table of the session, writable by `role` (the model's role) if one is set. One round trip:
 * the statements go together by the simple protocol (they take no parameters), in one implicit transaction.
 */
export async function createTempStage(session: pg.ClientBase, temp: string, columns: StageColumn[], role?: string): Promise<void> {
  await session.query(
    [
      `DROP TABLE IF EXISTS pg_temp.${ident(temp)}`,
      `CREATE TEMP TABLE ${ident(temp)} (${columnList(columns)})`,
      ...(role ? [`GRANT INSERT ON pg_temp.${ident(temp)} TO ${ident(role)}`] : []),
    ].join('; '),
  );
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

/** COPY FROM STDIN into the temporary table (a model in another database). */
export function copyIntoTemp(temp: string): string {
  return `COPY pg_temp.${ident(temp)} FROM STDIN`;
}

/** True when dropped (or already gone); false when the session is unusable. */
export async function dropTempStage(session: pg.ClientBase, temp: string): Promise<boolean> {
  return session.query(`DROP TABLE IF EXISTS pg_temp.${ident(temp)}`).then(
    () => true,
    () => false,
  );
}
