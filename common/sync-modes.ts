/**
 * Which delta rows each sync mode sends, as data (grouparoo's `mode -> {create, update, delete}` table).
 * The delta SQL joins this table as a VALUES list, so the SQL never branches on the mode.
 *
 * change: how a model row differs from the activation's snapshot.
 *   added   - key not in the snapshot
 *   changed - key in the snapshot with another hash
 *   removed - key in the snapshot, no longer in the model
 * op: what the destination is asked to do with it; a missing entry means the row is not sent.
 */
export const SYNC_MODES = ['insert', 'update', 'upsert', 'mirror'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];
export type Change = 'added' | 'changed' | 'removed';
export type RowOp = 'create' | 'update' | 'upsert' | 'delete';
export type ModeRow = Partial<Record<Change, RowOp>>;
export type ModeTable = Record<SyncMode, ModeRow>;

export const DEFAULT_MODE_TABLE: ModeTable = {
  insert: { added: 'create' },
  update: { added: 'update', changed: 'update' },
  upsert: { added: 'upsert', changed: 'upsert' },
  mirror: { added: 'upsert', changed: 'upsert', removed: 'delete' },
};

/** Destination-specific differences. Salesforce Insert follows DinMo: a changed row is sent as a new record. */
export const MODE_TABLE_BY_KIND: Record<string, Partial<ModeTable>> = {
  salesforce: { insert: { added: 'create', changed: 'create' } },
  actito: {},
};

export function modeTableFor(kind: string): ModeTable {
  return { ...DEFAULT_MODE_TABLE, ...(MODE_TABLE_BY_KIND[kind] ?? {}) };
}

/** The (change, op) pairs for one mode, ready to become a SQL VALUES list. */
export function modeRows(kind: string, mode: SyncMode): Array<{ change: Change; op: RowOp }> {
  const row = modeTableFor(kind)[mode];
  return (Object.entries(row) as Array<[Change, RowOp]>).map(([change, op]) => ({ change, op }));
}
