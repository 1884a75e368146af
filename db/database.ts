/** Kysely types of syncline's own tables (schema `syncline`). Work tables live in `syncline_work`. */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = unknown> = ColumnType<T, string, string>;

/** `health`/`warnings`: as the activation last reported them (its warnings activity). */
export interface ActivationsTable {
  id: string;
  config: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
  health: string | null;
  warnings: Json<unknown[]> | null;
  health_at: Date | null;
  /** Paused when it was last stopped (the reason), else null; `auto_paused`: by a configuration error. */
  paused_reason: string | null;
  auto_paused: Generated<boolean>;
}

export interface RunsTable {
  id: Generated<string>;
  activation_id: string;
  run_number: number;
  trigger: string;
  full_resync: Generated<boolean>;
  status: Generated<string>;
  config: Json;
  scheduled_at: Date | null;
  started_at: Timestamp;
  finished_at: Date | null;
  model_rows: string | null;
  fields: Json<unknown[]> | null;
  skipped_fields: Json<Array<{ field: string; reason: string }>>;
  counts: Json<Record<string, number>>;
  warnings: Json<Array<{ code: string; level: string; message: string }>>;
  error: string | null;
  /** Also re-send rows whose last write failed permanently (retryFailed, possibly coalesced). */
  retry_failed: Generated<boolean>;
  /** Attributes the run's check found missing and ensureAttributes may create: `[{ field, type }]`. */
  missing_attributes: Json<Array<{ field: string; type: string }>> | null;
  /** The activation document version the run ran (syncline.config_versions). */
  config_version: number | null;
}

export interface SnapshotTable {
  activation_id: string;
  key: string;
  hash: string;
  destination_id: string | null;
  synced_at: Timestamp;
  /** The key's last write went unanswered: the destination may not hold `hash`; it is sent again. */
  unconfirmed: Generated<boolean>;
  /** The key's last write was accepted incomplete (listed in row_errors): it is sent again, to `destination_id`. */
  incomplete: Generated<boolean>;
}

export interface RowErrorsTable {
  activation_id: string;
  key: string;
  op: string;
  code: string;
  message: string;
  retryable: boolean;
  hash: string | null;
  run_number: number;
  attempts: Generated<number>;
  first_seen: Timestamp;
  last_seen: Timestamp;
}

export interface ChunksTable {
  run_id: string;
  chunk: number;
  op: string;
  method: string;
  row_count: number;
  /** The chunk's rows: those of `op` whose seq lies in [seq_from, seq_to]; negated while write_began is false (db/chunks.ts). */
  seq_from: number;
  seq_to: number;
  status: Generated<string>;
  state: Json | null;
  updated_at: Timestamp;
  /**
   * false: no write of the chunk has begun (as its delta planned it); true: one began (set before the
   * destination is called); NULL: planned by a release before the mark, a write possibly begun.
   */
  write_began: boolean | null;
}

/** `approved_for`: the run that may apply an approval (claimed when it starts; lapses with it). */
export interface HeldDeletesTable {
  activation_id: string;
  run_number: number;
  key: string;
  approved: Generated<boolean>;
  approved_for: number | null;
}
export interface ConnectorStateTable {
  activation_id: string;
  key: string;
  value: Json;
  updated_at: Timestamp;
}
/** A concurrency slot of a destination account (docs/limits.md); holder null = free. */
export interface DestinationSlotsTable {
  scope: string;
  slot: number;
  holder: string | null;
  expires_at: Timestamp | null;
}
/** A daily allowance of a destination account used by the whole cluster (docs/limits.md). */
export interface DestinationCountersTable {
  scope: string;
  day: string;
  used: number;
  updated_at: Generated<Timestamp>;
}
/** The freshest usage figure of a destination account any worker observed (docs/limits.md). */
export interface DestinationFiguresTable {
  scope: string;
  used: number;
  max: number;
  observed_at: Timestamp;
}
export interface AttributeCreationsTable {
  activation_id: string;
  run_number: number;
  field: string;
  type: string;
  created: boolean;
  at: Timestamp;
}

/** A plan computed by `syncline plan`; samples are up to 5 rows per op: `{ op: [{ key, values }] }`. */
export interface PlansTable {
  activation_id: string;
  run_number: number;
  run_id: string;
  status: Generated<string>;
  created_at: Timestamp;
  counts: Json<Record<string, number>>;
  samples: Json<Record<string, Array<{ key: string; values: Record<string, unknown> }>>>;
}

/** Every accepted activation document; `diff` lists the paths that changed from the previous version. */
export interface ConfigVersionsTable {
  activation_id: string;
  version: number;
  document: Json;
  diff: Json<unknown[]>;
  reason: string | null;
  created_at: Timestamp;
}
/** One line per key a run acted on (kept for the retention period): `outcome` ok | failed | not_acknowledged | unsent | held | skipped | rejected | kept. */
export interface RowChangesTable {
  activation_id: string;
  run_number: number;
  key: string;
  op: string;
  outcome: string;
  destination_id: string | null;
  hash: string | null;
  code: string | null;
  message: string | null;
  at: Timestamp;
}

export interface Database {
  'syncline.activations': ActivationsTable;
  'syncline.runs': RunsTable;
  'syncline.snapshot': SnapshotTable;
  'syncline.row_errors': RowErrorsTable;
  'syncline.chunks': ChunksTable;
  'syncline.held_deletes': HeldDeletesTable;
  'syncline.connector_state': ConnectorStateTable;
  'syncline.attribute_creations': AttributeCreationsTable;
  'syncline.plans': PlansTable;
  'syncline.config_versions': ConfigVersionsTable;
  'syncline.row_changes': RowChangesTable;
  'syncline.destination_slots': DestinationSlotsTable;
  'syncline.destination_counters': DestinationCountersTable;
  'syncline.destination_figures': DestinationFiguresTable;
}

export type Run = Selectable<RunsTable>;
export type NewRun = Insertable<RunsTable>;
export type RowError = Selectable<RowErrorsTable>;
export type Plan = Selectable<PlansTable>;
