/**
 * Which delta rows each sync mode sends, as data (grouparoo's `mode -> {create, update, delete}` table).
 * The delta SQL joins a mode's row as a VALUES list, so the SQL never branches on the mode.
 *
 * change: how a model row differs from the activation's snapshot.
 *   added   - key not in the snapshot
 *   changed - key in the snapshot with another hash
 *   removed - key in the snapshot, no longer in the model
 * op: what the destination is asked to do with it; a missing entry means the row is not sent.
 *
 * Each destination connector declares the modes it supports as such rows (`DestinationConnector.modes`),
 * usually STANDARD_MODES or a variation of it; nothing here knows the destinations.
 */
export const SYNC_MODES = ['insert', 'update', 'upsert', 'mirror'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];
export type Change = 'added' | 'changed' | 'removed';
export type RowOp = 'create' | 'update' | 'upsert' | 'delete';
export type ModeRow = Partial<Record<Change, RowOp>>;
export type ModeTable = Record<SyncMode, ModeRow>;
/** The modes one destination supports, each with its change → op row; a mode left out is refused at check. */
export type ModeSupport = Partial<ModeTable>;

/** What the modes mean unless a destination says otherwise: Update never creates, only Mirror deletes. */
export const STANDARD_MODES: ModeTable = {
  insert: { added: 'create' },
  update: { added: 'update', changed: 'update' },
  upsert: { added: 'upsert', changed: 'upsert' },
  mirror: { added: 'upsert', changed: 'upsert', removed: 'delete' },
};

/** The (change, op) pairs of one mode row, ready to become a SQL VALUES list. */
export function modeRows(row: ModeRow): Array<{ change: Change; op: RowOp }> {
  return (Object.entries(row) as Array<[Change, RowOp]>).map(([change, op]) => ({ change, op }));
}
