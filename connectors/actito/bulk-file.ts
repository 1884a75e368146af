/**
 * The rows of a chunk as an import file, in bounded memory: one pass over `chunk.rows()` batches,
 * each batch encoded to CSV and pushed through the compressor into a temporary file (encoding
 * failures recorded as they come). Neither the CSV nor its compressed copy is ever held whole.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { crc32, createDeflateRaw, createGzip } from 'node:zlib';
import type { ChunkWrite, OutRow, RowResult } from '../types';
import type { ActitoOptions } from './config';
import { type Encoded, RowEncoder } from './encode';
import { ROW_CODES } from './errors';
import { csvText } from './mapping';
import { csvLine, zipTrailer } from './csv';
import type { Ctx, Tables } from './context';
import type { Properties } from './routes';

export type Phase = 'profiles' | 'records';

export interface ImportFile {
  /** Compressed file in os.tmpdir(); call `dispose()` once uploaded. */
  path: string;
  bytes: number;
  lines: number;
  /** Rows of the chunk the file stands for: its lines for records; for profiles, the rows whose profiles it holds. */
  rows: number;
  header: string[];
  dispose(): Promise<void>;
}

const BATCH = 1000;

/** Encodes the unacknowledged rows in order; `onRow` sees each row that can be sent, `onBatch` runs after each batch. */
export async function eachEncoded(
  ctx: Ctx,
  chunk: ChunkWrite,
  opts: ActitoOptions,
  tables: Tables,
  onRow: (row: OutRow, enc: Encoded) => void,
  recordFailures: boolean,
  onBatch?: () => Promise<void>,
  batchSize = BATCH,
): Promise<void> {
  const encoder = new RowEncoder(ctx.fields, tables, opts, ctx.destination.key);
  for await (const rows of chunk.rows(batchSize)) {
    const failures: RowResult[] = [];
    for (const row of rows) {
      const e = encoder.encode(row);
      if (e.ok) onRow(row, e.value);
      else failures.push({ key: row.key, ok: false, code: ROW_CODES.encode, message: e.message, retryable: false });
    }
    if (recordFailures && failures.length) await chunk.record(failures);
    if (onBatch) await onBatch();
    ctx.heartbeat({ chunk: chunk.chunk, phase: 'encoding' });
  }
}

/**
 * A CSV line per row, cells in the header's order: every header column (key first); a row without a
 * value leaves its cell empty. The header's positions are looked up once per file, not per row.
 */
export function lineEncoder(header: readonly string[]): (props: Properties) => string {
  const at = new Map<string, number[]>();
  header.forEach((h, i) => at.set(h, [...(at.get(h) ?? []), i]));
  const cells = new Array<string>(header.length);
  return (props) => {
    cells.fill('');
    // A name given twice keeps its last value.
    for (const p of props) for (const i of at.get(p.name) ?? []) cells[i] = csvText(p.value);
    return csvLine(cells);
  };
}

/**
 * Writes `lines` (CSV text pieces, header included) compressed into `path`; returns the file size.
 * GZIP: one stream. ZIP: one deflated entry whose local header is patched in once size and CRC are known.
 */
export async function writeCompressed(
  path: string,
  kind: ActitoOptions['compression'],
  lines: AsyncIterable<string>,
  entryName = 'data.csv',
): Promise<number> {
  if (kind === 'GZIP') {
    await pipeline(
      async function* () {
        for await (const s of lines) yield Buffer.from(s, 'utf8');
      },
      createGzip(),
      createWriteStream(path),
    );
    return (await stat(path)).size;
  }
  const name = Buffer.from(entryName, 'utf8');
  const headerLen = 30 + name.length;
  let crc = 0;
  let size = 0;
  await pipeline(
    async function* () {
      for await (const s of lines) {
        const b = Buffer.from(s, 'utf8');
        crc = crc32(b, crc);
        size += b.length;
        yield b;
      }
    },
    createDeflateRaw(),
    createWriteStream(path, { start: headerLen }),
  );
  const packed = (await stat(path)).size - headerLen;
  const { local, trailer } = zipTrailer(name, crc, packed, size);
  const fh = await open(path, 'r+');
  try {
    const head = Buffer.concat([local, name]);
    await fh.write(head, 0, head.length, 0);
    await fh.write(trailer, 0, trailer.length, headerLen + packed);
  } finally {
    await fh.close();
  }
  return headerLen + packed + trailer.length;
}

async function toFile(
  header: string[],
  body: (emit: (line: string) => void) => AsyncIterable<void>,
  kind: ActitoOptions['compression'],
  rows?: () => number,
): Promise<ImportFile> {
  const path = join(tmpdir(), `syncline-actito-${randomUUID()}.csv.${kind === 'GZIP' ? 'gz' : 'zip'}`);
  const dispose = (): Promise<void> => rm(path, { force: true });
  let lines = 0;
  async function* text(): AsyncIterable<string> {
    yield csvLine(header);
    // One piece of text per batch goes to the compressor; the batch's lines are dropped.
    let batch = '';
    for await (const _ of body((line) => {
      batch += line;
      lines++;
    })) {
      if (batch) yield batch;
      batch = '';
    }
    if (batch) yield batch;
  }
  // A file over Actito's limit is returned too: its size is kept before it is refused (bulk.ts).
  try {
    const bytes = await writeCompressed(path, kind, text());
    return { path, bytes, lines, rows: rows ? rows() : lines, header, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export async function buildImportFile(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables, phase: Phase): Promise<ImportFile> {
  const encoder = new RowEncoder(ctx.fields, tables, opts, ctx.destination.key);
  if (phase === 'records') {
    const key = ctx.destination.key;
    const columns = encoder.recordColumns.map((c) => c.name);
    const header = [key, ...columns.filter((h) => h !== key)];
    const line = encoder.recordLine(header);
    return toFile(
      header,
      async function* (emit) {
        // Each batch's CSV text goes to the compressor as soon as it is encoded.
        for await (const rows of chunk.rows(BATCH)) {
          const failures: RowResult[] = [];
          for (const row of rows) {
            const l = line(row);
            if (typeof l === 'string') emit(l);
            else failures.push({ key: row.key, ok: false, code: ROW_CODES.encode, message: l.message, retryable: false });
          }
          if (failures.length) await chunk.record(failures);
          ctx.heartbeat({ chunk: chunk.chunk, phase: 'encoding' });
          yield;
        }
      },
      opts.compression,
    );
  }
  // Profiles: one line per match value, the latest row's values winning. Postgres picks those rows
  // (chunk.distinctRows), so no set of profiles is held here. First the rows that cannot be encoded
  // are recorded (so none of them wins); then the file's columns: every profile column when nulls are
  // sent, else only the attributes some winner sends (one more pass over the winners).
  let rows = 0;
  await eachEncoded(ctx, chunk, opts, tables, () => void rows++, true);
  const matchFrom = encoder.matchFrom;
  async function* winners(): AsyncIterable<Properties[]> {
    if (matchFrom === null) return;
    for await (const rows of chunk.distinctRows(matchFrom, BATCH)) {
      const out: Properties[] = [];
      for (const row of rows) {
        const e = encoder.encode(row);
        if (e.ok && e.value.match !== null && e.value.profile.length) out.push(e.value.profile);
      }
      yield out;
    }
  }
  const names = new Set<string>([opts.profiles?.matchAttribute ?? '']);
  if (opts.nulls === 'skip') {
    for await (const batch of winners()) for (const props of batch) for (const p of props) names.add(p.name);
  } else {
    for (const c of encoder.profileColumns) names.add(c.name);
  }
  const header = [...names];
  const line = lineEncoder(header);
  return toFile(
    header,
    async function* (emit) {
      for await (const batch of winners()) {
        for (const props of batch) emit(line(props));
        yield;
      }
    },
    opts.compression,
    () => rows,
  );
}
