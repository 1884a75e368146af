/**
 * Streams a chunk's unacknowledged rows into one Bulk 2.0 CSV, written to a temporary file (bounded memory). Rows that fail locally (encoding,
 * Id lookup) are recorded at once, rows the CSV cannot carry exactly go through Collections; rows that do
 * not fit under the size limit are left for a next job.
 */
import type { ChunkWrite, OutRow, RowResult } from '../types';
import type { WriteModel } from './analyze';
import type { Session } from './context';
import { CsvFile, csvCannotCarry, type CsvValue } from './csv';
import { sendThroughCollections } from './bulk-rest';
import { encodeRow } from './rows';
import { lookupFailure, resolveIds } from './resolve-ids';
import { ParentGroups, parentColumn } from './parent-groups';

export interface JobSpec {
  operation: 'insert' | 'upsert' | 'update' | 'delete' | 'hardDelete';
  externalIdFieldName?: string;
  header: string[];
  /** The CSV column whose value identifies the row in the results files. */
  matchColumn: string;
}

export const isDeleteOperation = (o: JobSpec['operation']) => o === 'delete' || o === 'hardDelete';

export function jobSpec(model: WriteModel, op: ChunkWrite['op']): JobSpec {
  const names = model.send.map((s) => s.column);
  const key = model.keyField.name;
  if (op === 'delete') return { operation: model.hardDelete ? 'hardDelete' : 'delete', header: ['Id'], matchColumn: 'Id' };
  if (op === 'update') return { operation: 'update', header: ['Id', ...names.filter((n) => n !== 'Id')], matchColumn: key };
  if (op === 'upsert') return { operation: 'upsert', externalIdFieldName: key, header: names, matchColumn: key };
  if (model.tokenField)
    return {
      operation: 'upsert',
      externalIdFieldName: model.tokenField,
      header: [...names, model.tokenField],
      matchColumn: model.tokenField,
    };
  return { operation: 'insert', header: names, matchColumn: key };
}

/** The value of the match column that a row produces (its token, key, or record Id). */
export function matchValue(spec: JobSpec, model: WriteModel, row: OutRow): string {
  if (spec.matchColumn === model.tokenField) return row.token;
  if (spec.matchColumn === 'Id' && model.keyField.name !== 'Id') return row.destinationId ?? ''; // looked-up Ids come from idToKey
  return row.key;
}

export interface BuiltCsv {
  /** The CSV on disk (closed); the caller uploads it from `file.open()` and must `dispose()` it. */
  file: CsvFile;
  rows: number;
  /** Ids found by lookup (not derivable from the rows later), to map delete results back. */
  idToKey: Record<string, string>;
  /** Some rows did not fit: another job must follow this one. */
  overflow: boolean;
}

export async function buildCsv(s: Session, chunk: ChunkWrite, spec: JobSpec): Promise<BuiltCsv> {
  const csv = await CsvFile.create(spec.header, s.options.maxCsvBytes);
  try {
    return await fill(s, chunk, spec, csv);
  } catch (err) {
    await csv.dispose();
    throw err;
  }
}

async function fill(s: Session, chunk: ChunkWrite, spec: JobSpec, csv: CsvFile): Promise<BuiltCsv> {
  const column = chunk.op === 'delete' ? null : parentColumn(s.model, spec.header);
  if (column === null) return fillRows(s, chunk, spec, csv, null);
  // Rows grouped by parent (lock-safe): gathered in bucket files first, then written parent by parent.
  const groups = await ParentGroups.create();
  try {
    const at = spec.header.indexOf(column);
    const built = await fillRows(s, chunk, spec, csv, (cells) => groups.add(cells[at] ?? null, cells));
    let overflow = false;
    for await (const cells of groups.rows(() => s.heartbeat({ chunk: chunk.chunkId, csvRows: csv.rows, csvBytes: csv.bytes }))) {
      // Rows past the size limit stay unacknowledged: a follow-up job of the same chunk takes them.
      if (!csv.add(cells)) {
        overflow = true;
        break;
      }
      await csv.flush();
    }
    await csv.close();
    return { ...built, rows: csv.rows, overflow };
  } finally {
    await groups.dispose();
  }
}

/** `defer`: rows are handed to it instead of being written (and the CSV is left open). */
async function fillRows(
  s: Session,
  chunk: ChunkWrite,
  spec: JobSpec,
  csv: CsvFile,
  defer: ((cells: CsvValue[]) => Promise<void>) | null,
): Promise<BuiltCsv> {
  const { model } = s;
  const idToKey: Record<string, string> = {};
  const viaRest: OutRow[] = [];
  let overflow = false;
  const { header } = spec;
  const width = header.length;
  const inHeader = new Set(header);
  for await (const batch of chunk.rows(1000)) {
    const local: RowResult[] = [];
    const needsId = chunk.op === 'update' || chunk.op === 'delete';
    const resolved = needsId ? await resolveIds(s.client, model, batch) : null;
    for (const row of batch) {
      // The row's own encoded values (a fresh object encodeRow made for this row), completed below.
      let values: Record<string, CsvValue> = {};
      if (chunk.op !== 'delete') {
        const e = encodeRow(model, row);
        if (!e.ok) {
          local.push(e.result);
          continue;
        }
        // A text the CSV reads as null, or a column the header lacks (a lookup cleared by its own name
        // because the parent key is null): Collections carries these exactly.
        if (!csvCarries(e.values, inHeader)) {
          viaRest.push(row);
          continue;
        }
        values = e.values;
      }
      if (resolved) {
        const r = resolved.get(row.key);
        if (!r?.id) {
          if (chunk.op === 'delete' && r?.code === 'NOT_FOUND') local.push({ key: row.key, ok: true, destinationId: null });
          else local.push(lookupFailure(chunk.op, row.key, r));
          continue;
        }
        values.Id = r.id;
        if (!row.destinationId && model.keyField.name !== 'Id') idToKey[r.id] = row.key;
      }
      if (model.tokenField && spec.externalIdFieldName === model.tokenField) values[model.tokenField] = row.token;
      // Columns absent from a row stay empty (unchanged), never #N/A: only a real NULL clears.
      const cells: CsvValue[] = new Array<CsvValue>(width);
      for (let i = 0; i < width; i++) {
        const h = header[i]!;
        cells[i] = h in values ? values[h]! : '';
      }
      if (defer) await defer(cells);
      else if (!csv.add(cells)) {
        overflow = true;
        break;
      }
    }
    if (local.length) await chunk.record(local);
    await sendThroughCollections(s, chunk, viaRest.splice(0));
    await csv.flush();
    s.heartbeat({ chunk: chunk.chunkId, csvRows: csv.rows, csvBytes: csv.bytes });
    if (overflow) break;
  }
  if (!defer) await csv.close();
  return { file: csv, rows: csv.rows, idToKey, overflow };
}

/**
 * True when every encoded value can go in the CSV: its column is in the header and its text is none the
 * CSV reads as null (`csvCannotCarry`). One pass over the row's own properties, no arrays made.
 */
function csvCarries(values: Record<string, CsvValue>, inHeader: Set<string>): boolean {
  for (const c in values) {
    if (!Object.hasOwn(values, c)) continue;
    if (!inHeader.has(c) || csvCannotCarry(values[c]!)) return false;
  }
  return true;
}
