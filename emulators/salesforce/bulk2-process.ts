/**
 * Asynchronous processing of an UploadComplete job: UploadComplete -> InProgress -> JobComplete | Failed.
 * Rows go through the same Dml engine as REST. Work is done in slices with setImmediate between them so
 * a million-row job never blocks the event loop (polls keep answering while it runs).
 */
import type { Parser } from 'csv-parse';
import { bulkErrorString, failed, sfError, type RowResult } from './errors';
import { TERMINAL, type IngestJob } from './bulk2-job';
import { csvLine, csvParser, quote } from './csv';
import type { ResultLines } from './result-lines';
import { sfDateTime } from './coerce';
import { Dml } from './dml';
import { field, type ObjectDef } from './schema';
import type { EmulatorState } from './state';
import type { Entry } from './validate';

const SLICE = 2000;
/** Read through a call so TypeScript does not keep the narrowed state across awaits (PATCH may abort meanwhile). */
const stateOf = (job: IngestJob): IngestJob['state'] => job.state;
const BATCH = 10000;
const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Job-level header check: the first unknown column fails the whole job (trap 20). */
function headerError(def: ObjectDef, job: IngestJob): string | null {
  const last = job.header[job.header.length - 1] ?? '';
  if (job.lineEnding === 'LF' && last.endsWith('\r')) {
    return 'ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF';
  }
  if (job.lineEnding === 'CRLF' && last.includes('\n')) {
    return 'ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF';
  }
  for (const name of job.header) {
    const dot = name.indexOf('.');
    const ok = dot > 0 ? def.relationships.has(name.slice(0, dot).toLowerCase()) : !!field(def, name);
    if (!ok) return `InvalidBatch : Field name not found : ${name}`;
  }
  return null;
}

function applyRow(dml: Dml, def: ObjectDef, job: IngestJob, entries: Entry[]): RowResult {
  const col = (n: string) => entries.find((e) => e.name.toLowerCase() === n.toLowerCase())?.value as string | undefined;
  switch (job.operation) {
    case 'insert':
      return dml.create(def, entries, 'csv');
    case 'update':
      return dml.update(def, col('Id'), entries, 'csv');
    case 'delete':
    case 'hardDelete':
      return dml.remove(col('Id') ?? '', def, job.operation === 'hardDelete');
    case 'upsert': {
      const keyName = job.externalIdFieldName ?? 'Id';
      const key = field(def, keyName);
      const value = col(keyName) ?? '';
      if (!key) return failed([sfError('INVALID_FIELD', `No such column '${keyName}' on sobject of type ${def.name}`, [])]);
      if (value === '' && key.name !== 'Id') return failed([sfError('MISSING_ARGUMENT', `${key.name} not specified`, [])]);
      const { matches: _m, ...r } = dml.upsert(def, key, value, entries, 'csv');
      return r;
    }
  }
}

async function drain(parser: Parser, job: IngestJob, into: ResultLines): Promise<void> {
  for await (const row of parser) into.push(csvLine(row as string[], job.columnDelimiter));
}

function finish(job: IngestJob, state: IngestJob['state'], started: number, errorMessage?: string): void {
  if (TERMINAL.includes(job.state)) return;
  job.state = state;
  if (errorMessage) job.errorMessage = errorMessage;
  job.totalProcessingTime = Date.now() - started;
  job.systemModstamp = sfDateTime(new Date());
  job.successful.shuffle();
  job.failed.shuffle();
  job.unprocessed.close();
  delete job.upload;
}

export async function processJob(state: EmulatorState, job: IngestJob): Promise<void> {
  const started = Date.now();
  await sleep(state.options.bulkProcessingDelayMs);
  if (job.cancelled || job.state !== 'UploadComplete') return;
  job.state = 'InProgress';
  // A stuck job stays InProgress without processing a row, and goes on once the fault is cleared.
  while (state.faults.bulkJobStuck) {
    await sleep(100);
    if (job.cancelled) return;
  }
  const def = state.registry.get(job.object) as ObjectDef;
  const parser = csvParser(job.upload ?? Buffer.alloc(0), job.columnDelimiter, job.lineEnding);
  const dml = new Dml(state);
  let rows = 0;
  // Lock contention (fault): which internal batch holds each parent.
  const contention = state.faults.lockContention;
  const holder = new Map<string, number>();
  try {
    for await (const row of parser) {
      const values = row as string[];
      if (job.header.length === 0) {
        job.header = values;
        if (state.faults.bulkJobFails > 0) {
          state.faults.bulkJobFails -= 1;
          await drain(parser, job, job.unprocessed);
          return finish(job, 'Failed', started, 'InternalServerError : Failed to process the job (injected fault)');
        }
        const err = headerError(def, job);
        if (err) {
          await drain(parser, job, job.unprocessed);
          return finish(job, 'Failed', started, err);
        }
        continue;
      }
      if (job.cancelled) return;
      const line = csvLine(values, job.columnDelimiter);
      if (stateOf(job) === 'Aborted') {
        job.unprocessed.push(line);
        continue;
      }
      const entries = job.header.map((name, i) => ({ name, value: values[i] ?? '' }));
      const col = contention ? job.header.findIndex((h) => h.toLowerCase() === contention.column.toLowerCase()) : -1;
      const parent = col >= 0 ? (values[col] ?? '') : '';
      const batch = contention ? Math.floor(rows / contention.batchSize) : 0;
      if (contention && parent !== '' && !holder.has(parent.toLowerCase())) holder.set(parent.toLowerCase(), batch);
      const locked = contention && parent !== '' && holder.get(parent.toLowerCase()) !== batch;
      const r = locked
        ? failed([sfError('UNABLE_TO_LOCK_ROW', `unable to obtain exclusive access to this record or 1 records: ${parent}`, [])])
        : applyRow(dml, def, job, entries);
      job.numberRecordsProcessed += 1;
      if (r.success)
        job.successful.push(`${quote(r.id ?? '')}${job.columnDelimiter}${quote(String(r.created === true))}${job.columnDelimiter}${line}`);
      else {
        job.numberRecordsFailed += 1;
        job.failed.push(`${quote(r.id ?? '')}${job.columnDelimiter}${quote(bulkErrorString(r.errors))}${job.columnDelimiter}${line}`);
      }
      if (++rows % SLICE === 0) await tick();
    }
  } catch (e) {
    return finish(job, 'Failed', started, `ClientInputError : ${(e as Error).message}`);
  }
  state.bulkBatches += Math.max(1, Math.ceil(rows / BATCH));
  if (job.header.length === 0) return finish(job, 'Failed', started, 'InvalidBatch : No content found in the uploaded data');
  finish(job, 'JobComplete', started);
}
