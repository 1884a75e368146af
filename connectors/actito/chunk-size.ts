/**
 * Rows per bulk import when `destination.options.bulkChunkSize` is not set. Each import costs one of the
 * table's 12-24 imports a day, and a file may hold 100 MB compressed; typical rows compress to 10-200
 * bytes, so a fixed 200,000 rows (safe for wide rows) spends the quota on files of a few MB. The bytes
 * per row of the activation's last import file (kept in ctx.state) size the next plan instead, or
 * those of a file refused as too large within the last week, whichever is larger. Before any file was
 * seen (an activation's first bulk run, usually its initial load), a sample of the operation's own
 * pending rows is built into an import file as a chunk's would be, and what it compresses to sizes the
 * plan (sampledBytesPerRow).
 */
import { createHash } from 'node:crypto';
import { SyncError } from '../../common/errors';
import { distinctInMemory } from '../kit/sample';
import type { ChunkWrite, OutRow, RowOp } from '../types';
import { buildImportFile, type Phase } from './bulk-file';
import { type Ctx, loadTables, splitFields, tableName } from './context';
import { MAX_FILE_BYTES } from './csv';
import { profileWrite } from './profiles';

/** Rows per import before any file was seen (without a sample), and the least an observation makes it (while that fits; see bulkChunkFor). */
export const MIN_BULK_CHUNK = 200_000;
/** The most rows per import: one file's build, upload and report reading stay minutes, and so does a retry of it. */
export const MAX_BULK_CHUNK = 5_000_000;
/** Files of fewer rows say more about gzip's fixed costs than about the rows: they are not kept. */
export const MIN_SAMPLE_ROWS = 1_000;

/**
 * Rows read for a first run's estimate (sampledBytesPerRow): gzip's window is 32 KB, so these are
 * hundreds of windows of rows, read in a few runs spread over the operation; held in memory while
 * built (a few MB for rows of a few hundred bytes).
 */
export const SAMPLE_ROWS = 20_000;
/**
 * What a sample's bytes per row are multiplied by. A kept figure is a whole file of the model; a sample
 * is 20,000 of its rows, and the rows it missed may be wider (a model sorted by signup date whose recent
 * customers fill more attributes). A file is aimed at half the limit and grown to four fifths at most:
 * with half again the sample's figure, a grown chunk still fits for rows up to 1.5 times as wide as the
 * sample's, an ungrown one up to 3 times. It costs up to half again as many imports as the exact figure
 * (10,000,000 rows of 12 bytes: 4 instead of 3, against 50 of 200,000 rows); a chunk whose file still
 * comes out over the limit is refused before upload and sizes the next run (recordFileSeen).
 */
export const SAMPLE_MARGIN = 1.5;

/** Actito's limit on one compressed import file; tests lower it to reach the over-limit path without building 100 MB. */
export const importFileLimit = { bytes: MAX_FILE_BYTES };
/**
 * How long a refused file keeps sizing the plans. Its rows are sent again by the next run, usually the
 * same day; a week also covers an activation paused or failing for days. Meanwhile narrower rows are cut
 * into smaller imports than needed, which costs imports but refuses nothing.
 */
export const REFUSED_KEPT_MS = 7 * 24 * 3600 * 1000;

/**
 * What one import file of the activation compressed to (ctx.state, per phase and table: the last file,
 * and apart the widest refused one). The compression is not kept: GZIP and ZIP hold the same deflate
 * stream, a file's figure holds for either.
 */
export interface FileSeen {
  bytes: number;
  lines: number;
  /** Rows of the chunk the file stood for (more than its lines for profiles: one line per profile). */
  rows: number;
  /** columnsFingerprint of the file's phase (absent in figures kept before it was: they count). */
  columns?: string;
  at: string;
}

export interface ChunkSizing {
  chunkSize: number;
  /** Bytes per row the size comes from (null: no file seen yet). */
  bytesPerRow: number | null;
  /** Made larger than the target so that today's imports cover the operation. */
  grown: boolean;
}

/**
 * Rows per import for `rows` rows with `left` imports left today. A file is aimed at half the limit
 * (rows of one model vary), never below 200,000 rows (today's fixed size, so never more imports than
 * before) unless 200,000 rows would come to more than four fifths of the limit; at most 5,000,000 rows.
 * When the imports left would not cover the rows, the chunk grows until they do, if its file is still
 * estimated at four fifths of the limit at most; otherwise it stays (the later chunks fall back).
 *
 * @example bulkChunkFor({ rows: 3_000_000, left: 22, bytesPerRow: 12, limitBytes: 100 * 2 ** 20 }).chunkSize // 4,369,066
 */
export function bulkChunkFor(p: { rows: number; left: number; bytesPerRow: number | null; limitBytes: number }): ChunkSizing {
  const bpr = p.bytesPerRow;
  if (bpr === null || !(bpr > 0)) return { chunkSize: MIN_BULK_CHUNK, bytesPerRow: null, grown: false };
  const fits = Math.floor((p.limitBytes * 0.8) / bpr);
  const target = Math.floor(p.limitBytes / 2 / bpr);
  const chunkSize = Math.max(1, Math.min(MAX_BULK_CHUNK, Math.max(target, Math.min(MIN_BULK_CHUNK, fits))));
  if (p.left > 0 && Math.ceil(p.rows / chunkSize) > p.left) {
    const grown = Math.ceil(p.rows / p.left);
    if (grown <= Math.min(fits, MAX_BULK_CHUNK)) return { chunkSize: grown, bytesPerRow: bpr, grown: true };
  }
  return { chunkSize, bytesPerRow: bpr, grown: false };
}

/** The state key of a phase's files on a table (the activation's own state: the table as configured). */
export const seenKey = (phase: Phase, table: string): string => `actito.bulkFile.${phase}.${table}`;
/** Where the widest file refused within REFUSED_KEPT_MS is kept, apart from the last file (which a narrower one replaces). */
export const refusedKey = (phase: Phase, table: string): string => `${seenKey(phase, table)}.refused`;

/**
 * The mapped columns a phase's file may carry, hashed. A figure kept for other columns (a mapping that
 * since sends a long text too) says nothing of the next file's rows. Taken from the mapping, not from
 * the file's header: the plan has no file, and a profile file's header depends on its rows.
 */
export function columnsFingerprint(ctx: Ctx, phase: Phase): string {
  const { record, profile } = splitFields(ctx.fields);
  const names =
    phase === 'records' ? record.map((f) => f.to) : [ctx.options.profiles?.matchAttribute ?? '', ...profile.map((f) => f.attribute)];
  return createHash('sha256')
    .update(JSON.stringify([...new Set(names)].sort()))
    .digest('hex')
    .slice(0, 16);
}

const perRow = (seen: FileSeen): number => seen.bytes / seen.rows;

/** Whether a kept figure may size the next file of these columns (`keptMs`: how long it counts, from its time). */
function counts(seen: FileSeen | null, columns: string, keptMs = Infinity): seen is FileSeen {
  if (!seen || !(seen.rows > 0) || !(seen.bytes > 0)) return false;
  if (seen.columns !== undefined && seen.columns !== columns) return false;
  return !(Date.now() - Date.parse(seen.at) > keptMs);
}

/** The configured name of the table a phase imports into. */
export const phaseTable = (ctx: Ctx, phase: Phase): string => (phase === 'profiles' ? (ctx.options.profiles?.table ?? '') : tableName(ctx));

/**
 * Keeps what a built import file compressed to, before anything is uploaded: a retried activity builds
 * the file again and writes its figure again (the last one wins; it is only a hint). A failed write fails
 * the attempt like any Postgres error, so an oversized file is never refused without its size kept.
 * Small files are not kept, oversized ones always, and also apart: a narrower file after it (the run's
 * next chunk) replaces the last figure, and the refused rows, sent again by the next run, would be
 * sized from that one and refused again.
 */
export async function recordFileSeen(ctx: Ctx, phase: Phase, file: { bytes: number; lines: number; rows: number }): Promise<void> {
  if (file.lines <= 0 || file.rows <= 0 || (file.rows < MIN_SAMPLE_ROWS && file.bytes <= importFileLimit.bytes)) return;
  const table = phaseTable(ctx, phase);
  const columns = columnsFingerprint(ctx, phase);
  const seen: FileSeen = { bytes: file.bytes, lines: file.lines, rows: file.rows, columns, at: new Date().toISOString() };
  await ctx.state.set(seenKey(phase, table), seen);
  if (file.bytes <= importFileLimit.bytes) return;
  // One figure per phase and table, the widest still counting: chunks refused together (written in
  // parallel) may race here, and either figure sizes the rows far below what was refused.
  const kept = await ctx.state.get<FileSeen>(refusedKey(phase, table));
  if (!counts(kept, columns, REFUSED_KEPT_MS) || perRow(seen) >= perRow(kept)) await ctx.state.set(refusedKey(phase, table), seen);
}

/** The phases whose files an operation's chunks build: the profile file first when the op writes profiles too. */
export const phasesOf = (ctx: Ctx, op: RowOp): Phase[] =>
  profileWrite(ctx.options, op) === 'none' ? ['records'] : ['profiles', 'records'];

/**
 * Bytes per row for the phases an operation writes: the largest of each phase's last file and refused
 * file (within REFUSED_KEPT_MS), kept for the columns the mapping sends now; the larger of the phases,
 * as one chunk feeds both. Null when none counts.
 */
export async function bytesPerRow(ctx: Ctx, op: RowOp): Promise<number | null> {
  let most: number | null = null;
  for (const phase of phasesOf(ctx, op)) {
    const table = phaseTable(ctx, phase);
    const columns = columnsFingerprint(ctx, phase);
    const last = await ctx.state.get<FileSeen>(seenKey(phase, table));
    const refused = await ctx.state.get<FileSeen>(refusedKey(phase, table));
    if (counts(last, columns)) most = Math.max(most ?? 0, perRow(last));
    if (counts(refused, columns, REFUSED_KEPT_MS)) most = Math.max(most ?? 0, perRow(refused));
  }
  return most;
}

/**
 * A chunk of the sample rows for buildImportFile, in memory: rows that cannot be encoded are not
 * recorded (the plan writes nothing; the chunk that holds them reports them), and nothing is saved.
 */
function sampleChunk(op: RowOp, rows: OutRow[]): ChunkWrite {
  const refuse = (): never => {
    throw new SyncError('INTERNAL', 'a sample of rows is only built into an import file, never written', { retryable: false });
  };
  return {
    chunkId: 'sample',
    chunk: -1,
    op,
    rowCount: rows.length,
    async *rows(batchSize = 1000) {
      for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize);
    },
    distinctRows: (field, batchSize) => distinctInMemory(rows, field, batchSize),
    record: async () => undefined,
    recordPendingOk: async () => refuse(),
    saved: async () => null,
    save: async () => refuse(),
  };
}

export interface SampledFigure {
  /** Bytes per row to size by: the sample's, times SAMPLE_MARGIN. */
  bytesPerRow: number;
  /** What the sample's file of the larger phase compressed to, per row. */
  measured: number;
  /** Rows the sample's file stood for (rows that could be encoded). */
  rows: number;
}

/**
 * Bytes per row estimated from a sample of the rows the operation is about to write, for a plan before
 * any kept figure counts (bytesPerRow is null): up to SAMPLE_ROWS of them (ctx.sampleRows) built into
 * each phase's import file exactly as a chunk's file is (buildImportFile: encoder, CSV, compression),
 * the larger phase's compressed bytes per row, times SAMPLE_MARGIN. Null, and the plan keeps 200,000
 * rows, when the estimate cannot change it (`rows` at most MIN_BULK_CHUNK: one import whatever the
 * figure, unless the rows are too wide for it, which a refused file then shows), when the runtime
 * offers no sample, when the sample is under MIN_SAMPLE_ROWS rows (it would measure gzip's fixed costs),
 * or when reading or building it fails (logged: the estimate never fails a plan). Not kept in ctx.state:
 * the first real file's figure replaces it.
 */
export async function sampledBytesPerRow(ctx: Ctx, op: RowOp, rows: number): Promise<SampledFigure | null> {
  if (!ctx.sampleRows || rows <= MIN_BULK_CHUNK) return null;
  try {
    const sample = await ctx.sampleRows(op, SAMPLE_ROWS);
    if (sample.length < MIN_SAMPLE_ROWS) return null;
    const tables = await loadTables(ctx, ctx.options);
    let most: { measured: number; rows: number } | null = null;
    for (const phase of phasesOf(ctx, op)) {
      if (phase === 'profiles' && !tables.profileTable) continue;
      const file = await buildImportFile(ctx, sampleChunk(op, sample), ctx.options, tables, phase);
      await file.dispose();
      if (file.rows < MIN_SAMPLE_ROWS || file.lines <= 0) continue;
      const measured = file.bytes / file.rows;
      if (!most || measured > most.measured) most = { measured, rows: file.rows };
    }
    return most && { bytesPerRow: most.measured * SAMPLE_MARGIN, ...most };
  } catch (err) {
    ctx.log.warn('Actito rows per import: the sample of rows could not be measured; 200,000 rows per import', {
      table: tableName(ctx),
      error: err instanceof Error ? err.message : String(err),
    });
    return null;
  }
}

/**
 * A file over Actito's limit is refused before upload (no import spent; the chunk's rows stay unacknowledged,
 * listed by the run and sent again by the next one). Called once the file's size is kept, so a plan sized
 * from observations is smaller next time.
 */
export function refuseOversized(ctx: Ctx, chunk: { chunk: number }, phase: Phase, file: { bytes: number; rows: number }): void {
  const limit = importFileLimit.bytes;
  if (file.bytes <= limit) return;
  const mb = (b: number): string => (b >= 1048576 ? `${Math.round((b / 1048576) * 10) / 10} MB` : `${Math.round(b / 1024)} KB`);
  const bytesEach = file.bytes / Math.max(1, file.rows);
  // What the next plan sized from this file comes to (bulkChunkFor), also a safe explicit setting.
  const fitting = bulkChunkFor({ rows: file.rows, left: 0, bytesPerRow: bytesEach, limitBytes: limit }).chunkSize;
  const where = `Activation "${ctx.activationId}": the ${phase} import file of chunk ${chunk.chunk} (table "${phaseTable(ctx, phase)}") is ${mb(file.bytes)} compressed for ${file.rows} rows (${Math.round(bytesEach * 10) / 10} bytes a row), over Actito's ${mb(limit)} limit, so it was not uploaded (no import spent).`;
  const details = { bytes: file.bytes, rows: file.rows, limit };
  if (ctx.options.bulkChunkSize !== undefined)
    throw new SyncError(
      'CONFIG_INVALID',
      `${where} Lower destination.options.bulkChunkSize (${ctx.options.bulkChunkSize}), e.g. to ${fitting}.`,
      {
        details,
      },
    );
  // Sized by the connector, not by the configuration: no configuration error, which would pause the
  // activation until its next re-check. Not retryable either: an attempt would build the same file.
  throw new SyncError(
    'INTERNAL',
    `${where} The next run sends these rows again in imports sized from this file (about ${fitting} rows each); to choose the size yourself, set destination.options.bulkChunkSize, e.g. to ${fitting}.`,
    { retryable: false, details },
  );
}
