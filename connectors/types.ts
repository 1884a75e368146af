/**
 * The destination connector contract (Airbyte's spec / check / discover / write verbs).
 * A destination is one folder under connectors/ exporting a `DestinationConnector` and one line in
 * registry.ts; the runtime (activities/) does everything else: extract, delta, chunking, state, errors,
 * warnings. docs/connectors.md walks through writing one; connectors/kit/ holds what they share.
 *
 * A connector declares (data, read by the runtime before any call):
 * - `connectionSchema` and `optionsSchema`: parsed once per activity, problems reported together;
 * - `address`: which field of the activation document names the destination (object or table);
 * - `modes`: the sync modes it supports and which operation each change becomes;
 * - `methods`: its write methods, and which of them run as asynchronous jobs (`pollChunk`).
 *
 * Rules for implementers:
 * - A bad row is data: report it through `chunk.record([...{ ok: false, code, message }])`, never throw.
 * - Throw `SyncError` (common/errors.ts) only for batch-wide problems: configuration errors are
 *   non-retryable and fail the run with their message; system errors are retried by Temporal.
 * - Throw `QuotaWaitError` when an API quota reserve is reached: the workflow waits on a durable timer.
 * - `writeChunk` may be called again for the same chunk (activity retry, worker crash): it must be
 *   idempotent. `chunk.rows()` yields only rows not yet acknowledged; `chunk.saved()`/`chunk.save()`
 *   persist a small JSON state (e.g. a bulk job id) in Postgres, so a retry re-attaches instead of
 *   starting over. Save the job id *before* uploading data.
 */
import type { z } from 'zod';
import type { ModeSupport, RowOp, SyncMode } from '../common/sync-modes';
import type { Mapping } from '../common/config';

export type { ModeSupport, RowOp, SyncMode };

/** A mapped field: model column -> destination field, with the column's Postgres type name. */
export interface FieldSpec extends Mapping {
  /** Postgres type name of the model column: text, varchar, int4, int8, numeric, float8, bool, date, timestamp, timestamptz, jsonb, ... */
  pgType: string;
  /** True for the key mapping (model key column -> destination.key). */
  isKey: boolean;
  /**
   * On the key mapping, set from the connector's check (`CheckResult.keyIgnoresCase`): the destination takes
   * keys that differ only in case for one record.
   */
  keyIgnoresCase?: boolean;
  /**
   * On the key mapping, set from the connector's check (`CheckResult.keyNumber`): the destination's key is a
   * number, matched by value ('1.50' and '1.5' are one record).
   */
  keyNumber?: KeyNumber;
}

/**
 * A destination key that is a number (a Salesforce External ID of type Number): keys are one record when they are
 * one number once rounded to `scale` decimals (the field keeps that many; null: not rounded, an integer field).
 */
export interface KeyNumber {
  scale: number | null;
}

/** The activation document's `destination`, as written (options unparsed). */
export interface DestinationSpec {
  kind: string;
  connection: string;
  object?: string;
  table?: string;
  /** The destination's name: the value of the field `DestinationConnector.address` declares. */
  address: string;
  key: string;
  options: Record<string, unknown>;
}

/** How an activation document names a destination of this kind. */
export interface DestinationAddress {
  /** The document field holding the name: `destination.object` or `destination.table`. */
  field: 'object' | 'table';
  /** What the name is, for messages and docs, e.g. "Salesforce object (Contact, Lead, ...)". */
  label: string;
}

/** One way of writing a chunk that `planWrites` may choose. */
export interface WriteMethod {
  /**
   * An asynchronous job (a bulk API): `writeChunk` may answer `pending` and `pollChunk` finishes the
   * chunk; connectors/kit/async-job.ts runs the submit → poll → read results sequence for it.
   */
  async: boolean;
  /** One line for docs and the contract suite's case names. */
  description: string;
}

export interface Logger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** Per-activation key/value state kept in Postgres (quota counters, created attributes, tokens cache...). */
export interface ConnectorState {
  get<T = unknown>(key: string): Promise<T | null>;
  set(key: string, value: unknown): Promise<void>;
}

/**
 * Limits of a destination account (an Actito licence, a Salesforce org) that every worker of the
 * cluster shares: the runtime keeps them in the state Postgres (docs/limits.md). `scope` names the
 * account, never an activation: activations writing to the same account share its limits.
 */
/** A usage figure a destination reports for the account (e.g. Salesforce's daily API requests), observed `ageMs` ago. */
export interface ObservedFigure {
  used: number;
  max: number;
  ageMs: number;
}

export interface SharedLimits {
  /**
   * Runs `fn` while holding one of `max` concurrency slots of `scope` across the cluster, waiting for
   * one to be free. `leaseMs`: longer than `fn` can run; the slot is kept at most that long (a worker
   * that dies gives its slots back sooner: the runtime's leases are short and renewed while `fn` runs).
   * `signal`: aborting it stops the wait for a slot. `holdAfter(err)`: for a failed `fn`, how long its slot stays taken: 0 when the destination
   * answered; longer when the call got no answer (timeout, lost connection) and may still be running there.
   */
  withSlot<T>(
    scope: string,
    max: number,
    fn: () => Promise<T>,
    opts: { leaseMs: number; holdAfter?: (err: unknown) => number; signal?: AbortSignal },
  ): Promise<T>;
  /** Counts `n` against `scope`'s allowance `max` for `day` (e.g. a UTC date); false, counting nothing, when it would go over. */
  take(scope: string, day: string, n: number, max: number): Promise<boolean>;
  /** How much of `scope`'s allowance for `day` is used. */
  used(scope: string, day: string): Promise<number>;
  /** Raises the count of `day` to at least `value` (the destination said the allowance is used up). */
  raise(scope: string, day: string, value: number): Promise<void>;
  /**
   * Publishes `figure` for `scope` unless a fresher one is stored (a fresher lower figure does replace a
   * higher older one), and answers the freshest stored, its age measured on the store's clock. `null`:
   * read only. Optional: without it each worker keeps to the figures it observed itself.
   */
  shareFigure?(scope: string, figure: ObservedFigure | null): Promise<ObservedFigure | null>;
}

export interface DestinationContext<C = unknown, O = unknown> {
  activationId: string;
  /** Run number within the activation (1, 2, ...). 0 outside a run (e.g. a config re-check). */
  runNumber: number;
  destination: DestinationSpec;
  /** `destination.options` parsed with the connector's `optionsSchema` (defaults applied). */
  options: O;
  mode: SyncMode;
  /** Every field that will be sent, the key first. */
  fields: FieldSpec[];
  /** Credentials of `destination.connection`, already parsed with `connectionSchema`. Never log them. */
  connection: C;
  log: Logger;
  state: ConnectorState;
  /** Report liveness (and optionally progress) from long calls; cheap to call often. */
  heartbeat(details?: Record<string, unknown>): void;
  /**
   * Count one HTTP request sent to the destination's API (the metric `syncline_destination_api_calls_total`,
   * by destination and kind). Call it once per request sent, a replay or a token request included, from
   * the one place the client sends; `kind` is a word from the connector's own small fixed set naming the
   * endpoint family (auth, query, bulk_poll, ...), never a URL, an id or a message.
   */
  apiCall(kind: string): void;
  /** Aborted when the activity is cancelled or its worker shuts down. */
  signal: AbortSignal;
  /** Cluster-wide limits of the destination account; absent outside the runtime (connectors fall back to per-process ones). */
  limits?: SharedLimits;
  /**
   * Up to `limit` of the rows `op` is about to write, as `ChunkWrite.rows()` gives them: pending rows of
   * the run's delta read from Postgres in a few runs spread over the operation (connectors/kit/sample.ts),
   * each run in delta order. For sizing a plan from the rows themselves (e.g. what they compress to)
   * when nothing was measured yet. Present only while the runtime plans (`planWrites`); the rows are
   * held in memory by the caller, so keep `limit` to what a sample needs (thousands, not millions).
   */
  sampleRows?(op: RowOp, limit: number): Promise<OutRow[]>;
}

export interface RunWarning {
  code: string;
  level: 'info' | 'warning' | 'critical';
  message: string;
}

export interface CheckResult {
  /** Fields whose destination type cannot take the model column's type: they are not sent (warned). */
  skippedFields: Array<{ field: string; reason: string }>;
  /** Mapped attributes that do not exist yet and that `ensureAttributes` can create. */
  missingAttributes: Array<{ field: string; type: string }>;
  warnings: RunWarning[];
  /**
   * The destination matches the key without regard to case (a Salesforce External ID that is not case
   * sensitive): keys that differ only in case are one record there. Model keys that differ only in case are then
   * rejected as a repeated key is (db/delta.ts `keyGroup`), and Mirror deletes no removed key whose case variant
   * is still in the model (db/delta.ts `keepCaseVariants`).
   */
  keyIgnoresCase?: boolean;
  /**
   * The destination's key is a number matched by value (a Salesforce External ID of type Number): '1.50', '1.5'
   * and '01.5' are one record there. Model keys equal as numbers (`syncline.number_key`) are then rejected as a
   * repeated key is, and Mirror deletes no removed key equal as a number to a model key (`keepCaseVariants`).
   * Where set, it decides how keys are compared, not `keyIgnoresCase`.
   */
  keyNumber?: KeyNumber;
}

export interface AttributeCreation {
  field: string;
  type: string;
  /** false when another worker created it first (idempotent re-read). */
  created: boolean;
}

/**
 * One row to write. `values` maps destination field -> value as node-postgres returns it, except json and
 * jsonb, which are Postgres's text, and json[] and jsonb[], arrays of their elements' text (db/delta.ts
 * `ROW_VALUE_TYPES`: a double would change long number literals; common/json-exact.ts reads them).
 */
export interface OutRow {
  key: string;
  op: RowOp;
  /** The destination's record id from the last successful sync of this key, if any. */
  destinationId: string | null;
  /**
   * md5(activation, key, row hash): stable across retries, crashes and runs for the same key and
   * content. Use it to make creates idempotent: a create replayed after a lost answer, or sent again by
   * a later run, finds the record it made. So in Insert mode a key whose content goes A → B → A makes
   * two records, and the third send finds (and rewrites) the record created for A.
   */
  token: string;
  values: Record<string, unknown>;
}

export type RowResult =
  | {
      key: string;
      ok: true;
      destinationId?: string | null;
      /**
       * Written, but not as the model says (e.g. without a lookup whose parent is missing): the runtime
       * lists the row with this code and message and sends it again next run, to the record written
       * (`destinationId`), until a write answers without `incomplete`.
       */
      incomplete?: { code: string; message: string };
    }
  | { key: string; ok: false; code: string; message: string; retryable: boolean };

export interface ChunkWrite {
  /** `${activationId}/${runNumber}/${chunk}`: stable across retries. */
  chunkId: string;
  chunk: number;
  op: RowOp;
  /** Rows of this chunk not yet acknowledged, streamed from Postgres in batches. */
  rows(batchSize?: number): AsyncIterable<OutRow[]>;
  /**
   * Rows not yet acknowledged, one per distinct non-empty value of the mapped field `field` (a key of
   * `OutRow.values`): the row latest in the chunk wins. Deduplicated in Postgres and streamed, for a
   * destination that takes one line per value (e.g. Actito profiles matched on one attribute).
   */
  distinctRows(field: string, batchSize?: number): AsyncIterable<OutRow[]>;
  rowCount: number;
  /** Persist per-row outcomes as they come in (idempotent: a row's later result wins). */
  record(results: RowResult[]): Promise<void>;
  /**
   * Optional: persist a long stream of outcomes (a bulk job's result files) at once, all or nothing: a
   * stream that throws records none of them. Faster than `record` per batch for hundreds of thousands
   * of rows. Same rule for a key answered twice. Returns the outcomes read.
   */
  recordStream?(results: AsyncIterable<RowResult[]>): Promise<number>;
  /**
   * Marks every row not yet acknowledged as succeeded, inside Postgres: for an asynchronous job whose
   * report lists no failure, instead of reading the rows back. `destinationIdIsKey`: the destination
   * id of each row is its key (only when the key is sent verbatim, see `sentVerbatim`).
   */
  recordPendingOk(opts: { destinationIdIsKey: boolean }): Promise<void>;
  saved<T = unknown>(): Promise<T | null>;
  save(state: unknown): Promise<void>;
}

/**
 * Model key columns whose value, as node-postgres returns it, is exactly the key text the delta keeps
 * (`key::text`): char(n) is not (its text form drops the padding), nor are numbers, dates or json.
 */
const VERBATIM_KEY_TYPES = new Set(['text', 'varchar', 'name', 'citext']);

/** True when the key field reaches the destination unchanged: the destination sees `row.key` itself. */
export function sentVerbatim(field: FieldSpec): boolean {
  return field.isKey && VERBATIM_KEY_TYPES.has(field.pgType.toLowerCase()) && !field.truncate;
}

export type ChunkOutcome =
  | { status: 'done' }
  /** An asynchronous job (bulk API) is running: the workflow sleeps on a timer, then calls pollChunk. */
  | { status: 'pending'; handle: string; pollAfterMs: number };

export interface WritePlan {
  /** Human-readable method for the run summary, e.g. "collections" or "bulk2". */
  method: string;
  chunkSize: number;
}

export interface DestinationConnector<C = unknown, O = unknown> {
  kind: string;
  /** Schema of a named connection's credentials and settings. */
  connectionSchema: z.ZodType<C>;
  /**
   * Schema of `destination.options`; every option has a default, so `{}` parses. A function when a
   * default depends on the connection. Parsed by the runtime into `ctx.options`, never by the connector.
   */
  optionsSchema: z.ZodType<O> | ((connection: C) => z.ZodType<O>);
  address: DestinationAddress;
  /** The sync modes this destination supports, each as its change → op row (common/sync-modes.ts). */
  modes: ModeSupport;
  /** Every method `planWrites` may return, by name; a connector with an asynchronous one has `pollChunk`. */
  methods: Record<string, WriteMethod>;
  /** Validate the destination and the mapping before any write (spec + check + discover). */
  check(ctx: DestinationContext<C, O>): Promise<CheckResult>;
  /** Create missing attributes (optional: only destinations that can). */
  ensureAttributes?(ctx: DestinationContext<C, O>, missing: CheckResult['missingAttributes']): Promise<AttributeCreation[]>;
  /** Choose the write method and chunk size for an operation given how many rows it has (may read `ctx.state`). */
  planWrites(ctx: DestinationContext<C, O>, op: RowOp, rows: number): Promise<WritePlan>;
  writeChunk(ctx: DestinationContext<C, O>, chunk: ChunkWrite, plan: WritePlan): Promise<ChunkOutcome>;
  pollChunk?(ctx: DestinationContext<C, O>, chunk: ChunkWrite, handle: string): Promise<ChunkOutcome>;
  /** Optional health figures for warnings (e.g. remaining daily API quota). */
  quota?(ctx: DestinationContext<C, O>): Promise<{ used: number; max: number } | null>;
}
