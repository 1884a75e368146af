/**
 * Bulk API 2.0 ingest routes under `/jobs/ingest` (API notes §4): create, list, upload (one PUT per
 * job, size-capped), state changes (UploadComplete / Aborted), info, results, delete.
 */
import { jobInfo, TERMINAL, type IngestJob, type Operation } from './bulk2-job';
import { processJob } from './bulk2-process';
import { sfDateTime } from './coerce';
import { csvLine, DELIMITERS, quote } from './csv';
import { restError } from './errors';
import { HttpError, readBody, readJson, sendEmpty, sendJson, type Ctx } from './http';
import { ResultLines } from './result-lines';
import { field } from './schema';

const OPERATIONS: Operation[] = ['insert', 'update', 'upsert', 'delete', 'hardDelete'];
const invalidJob = (message: string) => new HttpError(400, restError('INVALIDJOB', message));
const badState = (message: string) => new HttpError(400, restError('INVALIDJOBSTATE', message));

function getJob(ctx: Ctx, id: string): IngestJob {
  const job = ctx.state.jobs.get(id);
  if (!job) throw new HttpError(404, restError('NOT_FOUND', 'The requested resource does not exist'));
  return job;
}

async function createJob(ctx: Ctx, version: string): Promise<void> {
  const b = ((await readJson(ctx)) ?? {}) as Record<string, unknown>;
  const def = ctx.state.registry.get(String(b.object ?? ''));
  if (!def) throw invalidJob(`InvalidJob : Unable to find object: ${String(b.object ?? '')}`);
  const operation = b.operation as Operation;
  if (!OPERATIONS.includes(operation)) throw invalidJob(`InvalidJob : Invalid operation: ${String(b.operation)}`);
  // Inferred wording (the sources name the permission, not the answer): refused at job creation, nothing deleted.
  if (operation === 'hardDelete' && ctx.state.userPermissions.get('BulkApiHardDelete') !== true) {
    throw new HttpError(400, restError('INSUFFICIENT_ACCESS', 'InvalidJob : hardDelete requires the "Bulk API Hard Delete" permission'));
  }
  if ((b.contentType ?? 'CSV') !== 'CSV') throw invalidJob(`InvalidJob : Unsupported content type: ${String(b.contentType)}`);
  const lineEnding = (b.lineEnding ?? 'LF') as 'LF' | 'CRLF';
  if (lineEnding !== 'LF' && lineEnding !== 'CRLF') throw invalidJob(`InvalidJob : Invalid lineEnding: ${String(lineEnding)}`);
  const delimiter = DELIMITERS[String(b.columnDelimiter ?? 'COMMA')];
  if (!delimiter) throw invalidJob(`InvalidJob : Invalid columnDelimiter: ${String(b.columnDelimiter)}`);
  let externalIdFieldName: string | undefined;
  if (operation === 'upsert') {
    const ext = String(b.externalIdFieldName ?? '');
    if (!ext) throw invalidJob(`InvalidJob : External ID was blank for ${def.name}. An External ID must be specified for upsert.`);
    const fd = field(def, ext);
    if (!fd || !(fd.externalId || fd.idLookup))
      throw invalidJob(`InvalidJob : Field name provided, ${ext} is not an External ID or indexed field for ${def.name}`);
    externalIdFieldName = fd.name;
  }
  const now = sfDateTime(new Date());
  const job: IngestJob = {
    id: ctx.state.newJobId(),
    object: def.name,
    operation,
    externalIdFieldName,
    lineEnding,
    columnDelimiter: delimiter,
    apiVersion: Number(version),
    createdDate: now,
    systemModstamp: now,
    state: 'Open',
    numberRecordsProcessed: 0,
    numberRecordsFailed: 0,
    totalProcessingTime: 0,
    header: [],
    successful: new ResultLines(),
    failed: new ResultLines(),
    unprocessed: new ResultLines(),
    cancelled: false,
  };
  ctx.state.jobs.set(job.id, job);
  sendJson(ctx, 200, jobInfo(job, ctx.state.userId));
}

async function upload(ctx: Ctx, job: IngestJob): Promise<void> {
  const max = ctx.state.maxUploadBytes;
  const tooLarge = restError(
    'INVALIDBATCH',
    `InvalidBatch : Request size exceeds the maximum upload size of ${max} bytes; split the data into several jobs`,
  );
  const body = await readBody(ctx.req, max, tooLarge);
  if (job.state === 'Open' && job.upload !== undefined) {
    throw new HttpError(
      400,
      restError(
        'BULK_API_ERROR',
        `Found multiple contents for job: <${job.id}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure the content is uploaded only once.`,
      ),
    );
  }
  if (job.state !== 'Open') throw badState(`Job ${job.id} is not in Open state: ${job.state}`);
  job.upload = body;
  sendEmpty(ctx, 201);
}

async function patchState(ctx: Ctx, job: IngestJob): Promise<void> {
  const b = ((await readJson(ctx)) ?? {}) as { state?: string };
  const words: Record<string, string> = {
    JobComplete: 'Completed',
    Failed: 'Failed',
    Aborted: 'Aborted',
    UploadComplete: 'Closed',
    InProgress: 'InProgress',
  };
  if (b.state === 'UploadComplete') {
    if (job.state !== 'Open') throw badState(`Closing already ${words[job.state] ?? job.state} Job not allowed`);
    job.state = 'UploadComplete';
    void processJob(ctx.state, job);
  } else if (b.state === 'Aborted') {
    if (TERMINAL.includes(job.state)) throw badState(`Aborting already ${words[job.state] ?? job.state} Job not allowed`);
    job.state = 'Aborted';
  } else {
    throw badState(`InvalidJobState : Invalid state: ${String(b.state)}`);
  }
  job.systemModstamp = sfDateTime(new Date());
  sendJson(ctx, 200, jobInfo(job, ctx.state.userId));
}

/** Result CSVs stream out in chunks so a million-row result never becomes one giant string. */
async function sendResults(ctx: Ctx, job: IngestJob, kind: string): Promise<void> {
  const d = job.columnDelimiter;
  const [prefix, rows] =
    kind === 'successfulResults'
      ? [`${quote('sf__Id')}${d}${quote('sf__Created')}${d}`, job.successful]
      : kind === 'failedResults'
        ? [`${quote('sf__Id')}${d}${quote('sf__Error')}${d}`, job.failed]
        : ['', job.unprocessed];
  if (kind !== 'unprocessedrecords' && !TERMINAL.includes(job.state)) throw badState(`Job ${job.id} is not complete: ${job.state}`);
  ctx.status = 200;
  const res = ctx.res;
  const headers: Record<string, string> = { 'Content-Type': 'text/csv' };
  if (ctx.limitInfo) headers['Sforce-Limit-Info'] = ctx.limitInfo;
  res.writeHead(200, headers);
  res.write(`${prefix}${csvLine(job.header, d)}\n`);
  for (let i = 0; i < rows.length; i += 5000) {
    const ok = res.write(rows.render(i, 5000));
    if (!ok) await drainOrClose(res);
    if (res.destroyed) return;
  }
  res.end();
}

/** Waits for the socket to drain (or close), then removes both listeners: one per wait would pile up. */
function drainOrClose(res: Ctx['res']): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

export async function handleIngest(ctx: Ctx, version: string, seg: string[]): Promise<void> {
  const [id, sub] = seg;
  const m = ctx.method;
  if (!id) {
    if (m === 'POST') return createJob(ctx, version);
    if (m === 'GET') {
      const records = [...ctx.state.jobs.values()].map((j) => jobInfo(j, ctx.state.userId));
      return sendJson(ctx, 200, { done: true, records, nextRecordsUrl: null });
    }
  }
  if (!id) throw new HttpError(405, restError('METHOD_NOT_ALLOWED', `HTTP Method '${m}' not allowed.`));
  const job = getJob(ctx, id);
  if (sub === 'batches' && m === 'PUT') return upload(ctx, job);
  if (sub && m === 'GET' && ['successfulResults', 'failedResults', 'unprocessedrecords'].includes(sub)) return sendResults(ctx, job, sub);
  if (sub === undefined && m === 'GET') return sendJson(ctx, 200, jobInfo(job, ctx.state.userId));
  if (sub === undefined && m === 'PATCH') return patchState(ctx, job);
  if (sub === undefined && m === 'DELETE') {
    if (job.state === 'Open' || job.state === 'InProgress') throw badState(`Deleting ${job.state} Job not allowed`);
    job.cancelled = true;
    ctx.state.jobs.delete(job.id);
    return sendEmpty(ctx, 204);
  }
  throw new HttpError(404, restError('NOT_FOUND', 'The requested resource does not exist'));
}
