/**
 * Per-run work tables in schema `syncline_work`. They are UNLOGGED: written once per run, read back by
 * chunk, dropped after commit. Losing them in a Postgres crash only means the run is recomputed:
 * the snapshot (logged) is what decides what gets sent.
 */
import { sql, type RawBuilder } from 'kysely';

export const stageName = (runId: string | number): string => `s_${runId}`;
export const deltaName = (runId: string | number): string => `d_${runId}`;
export const dupsName = (runId: string | number): string => `k_${runId}`;
export const dupsTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${dupsName(runId)}`);
export const stageTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${stageName(runId)}`);
export const deltaTable = (runId: string | number): RawBuilder<unknown> => sql.table(`syncline_work.${deltaName(runId)}`);

/** Columns syncline adds to the stage; model columns keep their own names. */
export const STAGE_KEY = '__key';
export const STAGE_HASH = '__hash';
