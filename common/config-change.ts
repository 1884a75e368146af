/**
 * What an activation document update means for the data (workflow-safe, pure): which changes apply
 * from now on, which make the next run send rows again, and which point the activation at another
 * target — refused unless the caller says so, since the snapshot then starts empty for the new target.
 */
import type { ActivationConfig } from './config';
import { diffDocuments, type ConfigChange } from './config-diff';
import { count } from './details';

export interface ConfigUpdatePlan {
  changes: ConfigChange[];
  /** Destination kind, connection, object/table, destination key, or the model key changed. */
  retarget: boolean;
  /** The hash of every row changes (mapped fields): every synced row is sent again. */
  resend: boolean;
  /** Insert mode with `resend`: every synced row becomes a new record in the destination. */
  duplicatesRecords: boolean;
  consequences: string[];
}

/** The paths that make a new target (the snapshot starts empty for it). */
export const TARGET_PATHS = [
  'destination.kind',
  'destination.connection',
  'destination.object',
  'destination.table',
  'destination.key',
  'source.key',
];

export function planConfigUpdate(current: ActivationConfig, next: ActivationConfig, syncedRows: number): ConfigUpdatePlan {
  const changes = diffDocuments(current, next);
  const paths = changes.map((c) => c.path);
  const retarget = paths.some((p) => TARGET_PATHS.includes(p));
  // A mapping's `type` (the attribute type a connector creates) is not part of a row's hash (activities/extract.ts stageSpec).
  const typeOnly = (p: string) => /^mappings\[.*\]\.type$/.test(p);
  const resend = !retarget && paths.some((p) => p.startsWith('mappings') && !typeOnly(p));
  const modelChanged = paths.some((p) => p === 'source.sql' || p === 'source.table' || p === 'source.connection');
  const duplicatesRecords = resend && next.mode === 'insert';
  const consequences: string[] = [];
  if (changes.length === 0) consequences.push('nothing changes: the document is the one running');
  if (retarget) {
    const target = paths.filter((p) => TARGET_PATHS.includes(p));
    // Only a key changed: the records stay where they are, and the snapshot that matched them goes.
    consequences.push(
      target.every((p) => p === 'source.key' || p === 'destination.key')
        ? `a different key (${target.join(', ')}) on the same object or table: the snapshot starts empty, so the next run sends every model row as new, matched by the destination key; a record whose destination key value changes is written again as a new record, and the records of the old values stay (Mirror never deletes them)`
        : `a different target (${target.join(', ')}): the snapshot starts empty for it, so the next run sends every model row to the new target as new; nothing is deleted in the old one`,
    );
  }
  if (resend) {
    consequences.push(
      duplicatesRecords
        ? `the mapping changes the content of every row: in Insert mode each of the ${count(syncedRows)} synced rows becomes a new record (${count(syncedRows)} more records in the destination)`
        : syncedRows === 0
          ? 'the mapping changes the content of every row: no row is synced yet, so the next run sends every model row with the new mapping'
          : `the mapping changes the content of every row: the next run sends all ${count(syncedRows)} synced rows again with the new mapping`,
    );
  }
  if (modelChanged && !retarget) {
    consequences.push(
      next.mode === 'mirror'
        ? 'the model changes: the next run sends the rows that differ from the snapshot, and deletes (guarded) the keys the new model no longer has'
        : 'the model changes: the next run sends the rows that differ from the snapshot',
    );
  }
  if (paths.includes('mode') && !retarget) {
    // The snapshot stays: what the new mode does first is what differs from it. Other modes than Mirror
    // leave a key that left the model in the snapshot, so Mirror's first run finds every such key removed.
    if (next.mode === 'mirror') {
      consequences.push(
        `the mode becomes mirror: the next run deletes the synced keys the model no longer has, those that left it before this change too (more than ${next.deletionGuard.maxDeletePercent}% of the ${count(syncedRows)} synced rows is held for approval)`,
      );
    } else if (current.mode === 'mirror') {
      consequences.push(
        `the mode becomes ${next.mode}: nothing is deleted from now on, and deletions held for approval lapse (approving them deletes nothing)`,
      );
    } else {
      consequences.push(
        `the mode becomes ${next.mode}: the next run sends the rows that differ from the snapshot with its operations; rows unchanged since the last run are not sent again`,
      );
    }
  }
  const fromNow = paths.filter((p) =>
    /^(schedule|thresholds|warnings|deletionGuard|chunkSize|recheck|description|destination\.options)/.test(p),
  );
  if (paths.some(typeOnly))
    consequences.push(
      'the attribute type of a mapping: used when the connector creates a missing attribute; an existing one keeps its type, and no row is sent again for it',
    );
  if (fromNow.length) consequences.push(`from now on: ${[...new Set(fromNow.map((p) => p.split(/[.[]/)[0]))].join(', ')}`);
  return { changes, retarget, resend, duplicatesRecords, consequences };
}
