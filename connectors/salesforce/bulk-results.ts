/**
 * Maps Bulk 2.0 result files back to row keys. Result rows come back in any order, so they are joined
 * on the match column (token, key or Id) that we put in the CSV, never on position.
 */
import { parse } from 'csv-parse/sync';
import type { ChunkWrite, RowResult } from '../types';
import type { WriteModel } from './analyze';
import type { SalesforceClient } from './client';
import { isRetryableRowError, parseBulkError } from './errors';
import { matchValue, type JobSpec } from './bulk-csv';

const GONE = new Set(['ENTITY_IS_DELETED', 'INVALID_CROSS_REFERENCE_KEY', 'NOT_FOUND']);

export function parseResultsCsv(text: string): Array<Record<string, string>> {
  if (!text.trim()) return [];
  return parse(text, { columns: true, skip_empty_lines: true, relax_column_count: true, bom: true }) as Array<Record<string, string>>;
}

/** Match-column value → row key, rebuilt from the chunk's unacknowledged rows (plus looked-up Ids). */
async function keyIndex(chunk: ChunkWrite, spec: JobSpec, model: WriteModel, idToKey: Record<string, string>): Promise<Map<string, string>> {
  const index = new Map<string, string>(Object.entries(idToKey));
  for await (const batch of chunk.rows(5000)) for (const row of batch) index.set(matchValue(spec, model, row), row.key);
  return index;
}

export function resultFor(kind: 'ok' | 'failed' | 'unprocessed', key: string, r: Record<string, string>, isDelete: boolean): RowResult {
  if (kind === 'ok') return { key, ok: true, destinationId: r.sf__Id || null };
  if (kind === 'unprocessed') return { key, ok: false, code: 'UNPROCESSED', message: 'Salesforce did not process this row (job failed or aborted)', retryable: true };
  const { code, message } = parseBulkError(r.sf__Error ?? '');
  if (isDelete && GONE.has(code)) return { key, ok: true, destinationId: null };
  return { key, ok: false, code, message, retryable: isRetryableRowError(code, message) };
}

/** Downloads the three result files and records every row they mention. Returns how many were recorded. */
export async function recordJobResults(
  client: SalesforceClient, chunk: ChunkWrite, model: WriteModel, spec: JobSpec, jobId: string, idToKey: Record<string, string>,
): Promise<number> {
  const o = { where: model.where };
  const index = await keyIndex(chunk, spec, model, idToKey);
  const files = [
    ['ok', await client.jobResults(jobId, 'successfulResults', o)],
    ['failed', await client.jobResults(jobId, 'failedResults', o)],
    ['unprocessed', await client.jobResults(jobId, 'unprocessedrecords', o)],
  ] as const;
  let recorded = 0;
  for (const [kind, text] of files) {
    const out: RowResult[] = [];
    for (const r of parseResultsCsv(text)) {
      const key = index.get(r[spec.matchColumn] ?? '') ?? (spec.matchColumn === 'Id' ? index.get(r.sf__Id ?? '') : undefined);
      if (key !== undefined) out.push(resultFor(kind, key, r, spec.operation === 'delete'));
    }
    for (let i = 0; i < out.length; i += 1000) await chunk.record(out.slice(i, i + 1000));
    recorded += out.length;
  }
  return recorded;
}
