/** Bulk 2.0 ingest job model and its JobInfo rendering (API notes §4, APPLINK get-info shape). */
import { DELIMITERS } from './csv';
import type { ResultLines } from './result-lines';

export type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
export type Operation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';

export interface IngestJob {
  id: string;
  object: string;
  operation: Operation;
  externalIdFieldName?: string;
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: string;
  apiVersion: number;
  createdDate: string;
  systemModstamp: string;
  state: JobState;
  errorMessage?: string;
  numberRecordsProcessed: number;
  numberRecordsFailed: number;
  totalProcessingTime: number;
  upload?: Buffer;
  /** Original header as uploaded; result files echo it after the sf__ columns. */
  header: string[];
  /** Pre-rendered result rows (without the header), shuffled when the job finishes. */
  successful: ResultLines;
  failed: ResultLines;
  unprocessed: ResultLines;
  /** Set when the job is deleted or the emulator reset, so background processing stops. */
  cancelled: boolean;
}

export const TERMINAL: JobState[] = ['JobComplete', 'Failed', 'Aborted'];

export function jobInfo(job: IngestJob, createdById: string): Record<string, unknown> {
  return {
    id: job.id,
    operation: job.operation,
    object: job.object,
    createdById,
    createdDate: job.createdDate,
    systemModstamp: job.systemModstamp,
    state: job.state,
    ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: job.apiVersion,
    jobType: 'V2Ingest',
    contentUrl: `services/data/v${job.apiVersion.toFixed(1)}/jobs/ingest/${job.id}/batches`,
    lineEnding: job.lineEnding,
    columnDelimiter: Object.entries(DELIMITERS).find(([, d]) => d === job.columnDelimiter)?.[0] ?? 'COMMA',
    numberRecordsProcessed: job.numberRecordsProcessed,
    numberRecordsFailed: job.numberRecordsFailed,
    retries: 0,
    totalProcessingTime: job.totalProcessingTime,
    apiActiveProcessingTime: job.totalProcessingTime,
    apexProcessingTime: 0,
    ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
  };
}
