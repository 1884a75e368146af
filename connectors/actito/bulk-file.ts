/** The rows of a chunk as an import file: one pass over `chunk.rows()`, encoding failures recorded. */
import { SyncError } from '../../common/errors';
import type { ChunkWrite, OutRow, RowResult } from '../types';
import type { ActitoOptions } from './config';
import { type Encoded, RowEncoder } from './encode';
import { ROW_CODES } from './errors';
import { csvText } from './mapping';
import { buildCsv, compress, MAX_FILE_BYTES } from './csv';
import { distinctProfiles } from './profiles';
import type { Ctx, Tables } from './context';
import type { Properties } from './routes';

export type Phase = 'profiles' | 'records';

export interface ImportFile {
  file: Buffer;
  lines: number;
  header: string[];
}

/** Encodes the unacknowledged rows in order; `onRow` sees each row that can be sent. */
export async function eachEncoded(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables, onRow: (row: OutRow, enc: Encoded) => void, recordFailures: boolean): Promise<void> {
  const encoder = new RowEncoder(ctx.fields, tables, opts, ctx.destination.key);
  for await (const rows of chunk.rows(1000)) {
    const failures: RowResult[] = [];
    for (const row of rows) {
      const e = encoder.encode(row);
      if (e.ok) onRow(row, e.value);
      else failures.push({ key: row.key, ok: false, code: ROW_CODES.encode, message: e.message, retryable: false });
    }
    if (recordFailures && failures.length) await chunk.record(failures);
    ctx.heartbeat({ chunk: chunk.chunk, phase: 'encoding' });
  }
}

/** Header = every mapped column (key first); a row without a value leaves its cell empty. */
function toCsv(header: string[], rows: Properties[], kind: ActitoOptions['compression']): ImportFile {
  const lines = rows.map((props) => {
    const m = new Map(props.map((p) => [p.name, p.value]));
    return header.map((h) => csvText(m.get(h) ?? null));
  });
  const file = compress(buildCsv(header, lines), kind);
  if (file.length > MAX_FILE_BYTES) {
    throw new SyncError('CONFIG_INVALID', `the import file is ${Math.round(file.length / 1048576)} MB compressed, over Actito's 100 MB limit; lower destination.options.bulkChunkSize`);
  }
  return { file, lines: lines.length, header };
}

export async function buildImportFile(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables, phase: Phase): Promise<ImportFile> {
  const encoder = new RowEncoder(ctx.fields, tables, opts, ctx.destination.key);
  const encoded: Encoded[] = [];
  await eachEncoded(ctx, chunk, opts, tables, (_row, enc) => encoded.push(enc), true);
  if (phase === 'records') {
    const header = encoder.recordColumns.map((c) => c.name);
    const key = ctx.destination.key;
    const ordered = [key, ...header.filter((h) => h !== key)];
    return toCsv(ordered, encoded.map((e) => e.record), opts.compression);
  }
  const profiles = distinctProfiles(encoded);
  const match = opts.profiles?.matchAttribute ?? '';
  const names = new Set<string>([match]);
  for (const props of profiles.values()) for (const p of props) names.add(p.name);
  return toCsv([...names], [...profiles.values()], opts.compression);
}
