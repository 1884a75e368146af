/**
 * Maps Bulk 2.0 result files back to row keys. Result rows come back in any order, so they are joined
 * on the match column (token, key or Id) that we put in the CSV, never on position.
 *
 * Memory stays bounded whatever the job size: each file is streamed through csvRecords (csv.ts) and
 * recorded in batches. Result files echo the uploaded columns, so when the key column was
 * sent verbatim the key is read from each result row; only otherwise (deletes by Id, non-text keys) is
 * an index of match value → key built from the chunk's rows.
 */
import { parse as parseSync } from 'csv-parse/sync';
import { sentVerbatim, type ChunkWrite, type OutRow, type RowResult } from '../types';
import type { SendField, WriteModel } from './analyze';
import { encodeValue } from './mapping';
import type { JobInfo, SalesforceClient } from './client';
import { isRetryableRowError, parseBulkError, toSyncError } from './errors';
import { isDeleteOperation, matchValue, type JobSpec } from './bulk-csv';
import { cellText, csvRecords } from './csv';
import { createOnlySends, FIELD_NOT_SETTABLE, isGone, missingLinks, withParentHint } from './rows';
import { DUPLICATES_DETECTED, withDuplicateHint } from './duplicates';

/** Results handed over per `chunk.record` call (or per batch of `chunk.recordStream`). */
const RECORD_BATCH = 2000;
const CSV_OPTIONS = { columns: true, skip_empty_lines: true, relax_column_count: true, bom: true } as const;

export function parseResultsCsv(text: string): Array<Record<string, string>> {
  if (!text.trim()) return [];
  return parseSync(text, CSV_OPTIONS) as Array<Record<string, string>>;
}

type KeyOf = (r: Record<string, string>) => string | undefined;

/**
 * How a result row finds its key. The key column is read directly when it was sent as the key itself
 * (text or varchar column, not truncated: its CSV value is `row.key`); otherwise an index is rebuilt from the
 * chunk's unacknowledged rows (plus looked-up Ids), as small as the chunk allows.
 */
async function keyResolver(chunk: ChunkWrite, spec: JobSpec, model: WriteModel, idToKey: Record<string, string>): Promise<KeyOf> {
  const keyName = model.keyField.name;
  if (spec.matchColumn === 'Id' && keyName === 'Id') return (r) => r.Id || r.sf__Id || undefined;
  const keySend = model.send.find((f) => f.spec.isKey && f.field.name === keyName);
  const verbatim = keySend && sentVerbatim(keySend.spec);
  if (verbatim && spec.header.includes(keyName) && !isDeleteOperation(spec.operation)) return (r) => r[keyName] || undefined;
  const index = new Map<string, string>(Object.entries(idToKey));
  // A key sent as a number (or other non-text type) is echoed as the cell written, which need not be
  // `row.key` (`key::text`): numeric 1.50 is written 1.5. Index by that cell as well.
  const cellOf = keySend && spec.matchColumn === keyName ? (row: OutRow) => keyCell(keySend, row) : undefined;
  for await (const batch of chunk.rows(5000))
    for (const row of batch) {
      index.set(matchValue(spec, model, row), row.key);
      const cell = cellOf?.(row);
      if (cell !== undefined) index.set(cell, row.key);
    }
  return (r) => index.get(r[spec.matchColumn] ?? '') ?? (spec.matchColumn === 'Id' ? index.get(r.sf__Id ?? '') : undefined);
}

/** The text of the key's CSV cell as written by buildCsv (encodeValue, then the cell's casts, unquoted). */
function keyCell(send: SendField, row: OutRow): string | undefined {
  const raw = row.values[send.spec.to] ?? row.key;
  const e = encodeValue(send.spec, send.field, raw);
  return e.ok && e.value !== null ? cellText(e.value) : undefined;
}

export function resultFor(kind: 'ok' | 'failed' | 'unprocessed', key: string, r: Record<string, string>, isDelete: boolean): RowResult {
  if (kind === 'ok') return { key, ok: true, destinationId: r.sf__Id || null };
  if (kind === 'unprocessed')
    return { key, ok: false, code: 'UNPROCESSED', message: 'Salesforce did not process this row (job failed or aborted)', retryable: true };
  const { code, message } = parseBulkError(r.sf__Error ?? '');
  if (isDelete && isGone(code)) return { key, ok: true, destinationId: null };
  return { key, ok: false, code, message, retryable: isRetryableRowError(code, message) };
}

type Kind = 'successfulResults' | 'failedResults' | 'unprocessedrecords';

/**
 * Which result files can hold anything, from the job info: no failed file when no row failed, no
 * unprocessed file once every uploaded row was processed, no successful file when every processed row
 * failed. Unknown figures download the file.
 */
export function neededResultFiles(
  job: Pick<JobInfo, 'numberRecordsProcessed' | 'numberRecordsFailed'> | undefined,
  uploadedRows: number | undefined,
): Kind[] {
  const processed = job?.numberRecordsProcessed;
  const failed = job?.numberRecordsFailed;
  const out: Kind[] = [];
  if (!(processed !== undefined && failed !== undefined && processed === failed)) out.push('successfulResults');
  if (failed !== 0) out.push('failedResults');
  if (!(processed !== undefined && uploadedRows !== undefined && processed >= uploadedRows)) out.push('unprocessedrecords');
  return out;
}

export interface ResultsOptions {
  /** The job info just read (its counts decide which files are needed). */
  job?: Pick<JobInfo, 'numberRecordsProcessed' | 'numberRecordsFailed'>;
  /** Rows uploaded in the job, when known. */
  uploadedRows?: number;
  heartbeat?: (details?: Record<string, unknown>) => void;
}

export interface RecordedResults {
  recorded: number;
  /**
   * Keys of update/delete rows sent to an Id stored by an earlier sync that Salesforce says is gone:
   * left unrecorded, to be looked up again by key (the record may have been deleted and recreated).
   */
  stale: Set<string>;
  /** Rows refused as duplicates while the options ask to save them: to be sent through Collections with the header. */
  duplicates: Set<string>;
  /** Rows refused for a missing parent under `missingParent: "writeWithoutLink"`: to be sent through Collections, without that link. */
  missingParents: Set<string>;
  /**
   * Creates (upserts on the token) refused for a create-only field: the token found the record an earlier
   * send made, which Collections writes without those fields (`writeMadeBefore` in collections.ts).
   */
  madeBefore: Set<string>;
}

/**
 * Streams the needed result files and records every row they mention, except stale-Id rows (returned):
 * in one go through `chunk.recordStream` when the runtime offers it, else batch by batch.
 */
export async function recordJobResults(
  client: SalesforceClient,
  chunk: ChunkWrite,
  model: WriteModel,
  spec: JobSpec,
  jobId: string,
  idToKey: Record<string, string>,
  opts: ResultsOptions = {},
): Promise<RecordedResults> {
  const o = { where: model.where };
  const keyOf = await keyResolver(chunk, spec, model, idToKey);
  const stale = new Set<string>();
  const duplicates = new Set<string>();
  const missingParents = new Set<string>();
  const madeBefore = new Set<string>();
  const tokenCreate = !!model.tokenField && spec.externalIdFieldName === model.tokenField && createOnlySends(model).length > 0;
  // Ids found by lookup for this job are in idToKey; any other Id in an update/delete CSV was stored.
  const byStoredId = (spec.operation === 'update' || isDeleteOperation(spec.operation)) && model.keyField.name !== 'Id';
  const isStale = (r: Record<string, string>) =>
    byStoredId && isGone(parseBulkError(r.sf__Error ?? '').code) && !((r.Id || r.sf__Id || '') in idToKey);
  const kinds: Record<Kind, 'ok' | 'failed' | 'unprocessed'> = {
    successfulResults: 'ok',
    failedResults: 'failed',
    unprocessedrecords: 'unprocessed',
  };
  const isDelete = isDeleteOperation(spec.operation);
  let read = 0;
  async function* results(): AsyncGenerator<RowResult[]> {
    for (const file of neededResultFiles(opts.job, opts.uploadedRows)) {
      const kind = kinds[file];
      const source = await client.jobResultsStream(jobId, file, o);
      let out: RowResult[] = [];
      try {
        for await (const records of csvRecords(source))
          for (const r of records) {
            const key = keyOf(r);
            if (key === undefined) continue;
            if (kind === 'failed' && isStale(r)) {
              stale.add(key);
              continue;
            }
            const result = resultFor(kind, key, r, isDelete);
            // Bulk 2.0 takes no duplicate-rule header: the row goes again through Collections, which does.
            if (!result.ok && result.code === DUPLICATES_DETECTED && model.allowSave) {
              duplicates.add(key);
              continue;
            }
            // The result row echoes the uploaded columns: the parent key sent is in it, under its CSV header.
            if (model.writeWithoutLink && !isDelete && missingLinks(model, r, result).length) {
              missingParents.add(key);
              continue;
            }
            if (tokenCreate && !result.ok && result.code === FIELD_NOT_SETTABLE) {
              madeBefore.add(key);
              continue;
            }
            out.push(withDuplicateHint(withParentHint(model, result), model.activationId, false));
            if (out.length >= RECORD_BATCH) {
              read += out.length;
              yield out;
              out = [];
              opts.heartbeat?.({ chunk: chunk.chunkId, job: jobId, results: read });
            }
          }
      } catch (err) {
        source.destroy();
        throw toSyncError(err, model.where);
      }
      read += out.length;
      if (out.length) yield out;
    }
  }
  let recorded = 0;
  if (chunk.recordStream) {
    // All or nothing in one statement: a retried attempt reads the files again.
    recorded = await chunk.recordStream(results());
  } else {
    for await (const batch of results()) {
      await chunk.record(batch);
      recorded += batch.length;
    }
  }
  return { recorded, stale, duplicates, missingParents, madeBefore };
}
