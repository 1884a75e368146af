import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DecodedFile } from './bulk-file';
import { CsvSyntaxError } from './csv';
import { isObject } from './http';
import type { EmulatorState } from './state';
import type { Table } from './table';
import type { FieldErrorCode } from './types';
import { validateRecord } from './validate';
import { canonicalize } from './values';

/** v4 modes [D, API notes S14]; the v5 spelling CREATE_OR_UPDATE [A, API notes §9] is normalised to CREATE_UPDATE. */
export type ImportMode = 'CREATE_ONLY' | 'UPDATE_ONLY' | 'CREATE_UPDATE';
/** SUCCESS and WITH_ERROR are documented [D S18]; PENDING, RUNNING and ERROR are [A]. */
export type ImportStatus = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'WITH_ERROR' | 'ERROR';

/** One line of the error report [A, API notes §9]: `{line, key, attribute, message}` plus a stable code. */
export interface LineError {
  line: number;
  key: string | null;
  attribute: string | null;
  code: FieldErrorCode | 'CSV_SYNTAX';
  message: string;
}

export interface ImportExecution {
  id: string;
  api: 'v5';
  tableType: Table['kind'];
  table: string;
  tableId: string;
  mode: ImportMode;
  keyAttribute: string;
  compression: DecodedFile['compression'];
  status: ImportStatus;
  counts: { read: number; created: number; updated: number; rejected: number };
  errors: LineError[];
  errorCount: number;
  message: string | null;
  submittedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** What the client sent (v4 parameters or v5 definition), so tests can assert it. */
  definition: unknown;
}

export interface ImportJob {
  api: ImportExecution['api'];
  table: Table;
  mode: ImportMode;
  keyAttribute: string;
  file: DecodedFile;
  definition: unknown;
}

const MAX_STORED_ERRORS = 100_000;

export const utcDay = (d = new Date()): string => d.toISOString().slice(0, 10);

/**
 * Bulk executions: accepted synchronously, then processed after `bulkProcessingDelayMs` in time
 * slices (`sliceMs`) that yield to the event loop, so status polls stay fast during 1 M-row loads.
 */
export class ImportRegistry {
  readonly executions = new Map<string, ImportExecution>();
  /** Per-table imports accepted today (UTC) [D S3: per table per day]. */
  quotaUsed = new Map<string, number>();
  quotaDay = utcDay();
  /** Predefined ETL definitions (`POST …/etls`) by id. */
  readonly etls = new Map<string, Record<string, unknown>>();
  private generation = 0;

  constructor(private readonly state: EmulatorState) {}

  reset(): void {
    this.generation++;
    this.executions.clear();
    this.quotaUsed.clear();
    this.etls.clear();
  }

  /** Imports left today for the table; the counter rolls over at UTC midnight. */
  quotaLeft(table: Table): number {
    if (this.quotaDay !== utcDay()) {
      this.quotaDay = utcDay();
      this.quotaUsed.clear();
    }
    return this.state.config.dailyBulkImportQuota - (this.quotaUsed.get(table.name) ?? 0);
  }

  submit(job: ImportJob): ImportExecution {
    const key = job.table.name;
    this.quotaUsed.set(key, (this.quotaUsed.get(key) ?? 0) + 1);
    const exec: ImportExecution = {
      id: randomUUID(),
      api: job.api,
      tableType: job.table.kind,
      table: job.table.name,
      tableId: job.table.id,
      mode: job.mode,
      keyAttribute: job.keyAttribute,
      compression: job.file.compression,
      status: 'PENDING',
      counts: { read: 0, created: 0, updated: 0, rejected: 0 },
      errors: [],
      errorCount: 0,
      message: null,
      submittedAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      definition: job.definition,
    };
    this.executions.set(exec.id, exec);
    this.run(exec, job, this.generation).catch((e: unknown) => this.finish(exec, 'ERROR', `internal emulator error: ${String(e)}`));
    return exec;
  }

  private async run(exec: ImportExecution, job: ImportJob, generation: number): Promise<void> {
    await new Promise((r) => setTimeout(r, this.state.config.bulkProcessingDelayMs));
    if (generation !== this.generation) return;
    if (this.state.faults.takeBulkFailure())
      return this.finish(exec, 'ERROR', 'injected failure (bulkImportFails fault): nothing was imported');
    exec.status = 'RUNNING';
    exec.startedAt = new Date().toISOString();
    this.notify(exec, 'STARTED');
    // A stuck execution stays RUNNING without processing a line, and goes on once the fault is cleared.
    while (this.state.faults.on('bulkImportStuck')) {
      await new Promise((r) => setTimeout(r, 100));
      if (generation !== this.generation) return;
    }
    const { cursor } = job.file;
    for (;;) {
      const until = Date.now() + this.state.config.sliceMs;
      let done = false;
      for (let n = 0; !done; n++) {
        if ((n & 127) === 0 && Date.now() >= until) break;
        try {
          const fields = cursor.next();
          if (!fields) done = true;
          else this.processLine(exec, job, fields, cursor.line);
        } catch (e) {
          if (!(e instanceof CsvSyntaxError)) throw e;
          exec.counts.read++;
          exec.counts.rejected++;
          this.report(exec, { line: e.line, key: null, attribute: null, code: 'CSV_SYNTAX', message: e.message });
        }
      }
      if (done) break;
      await yieldToLoop();
      if (generation !== this.generation) return;
    }
    this.finish(exec, exec.errorCount > 0 ? 'WITH_ERROR' : 'SUCCESS', null);
  }

  private processLine(exec: ImportExecution, job: ImportJob, fields: string[], line: number): void {
    const { table, keyAttribute, file } = job;
    exec.counts.read++;
    const keyIndex = file.header.indexOf(keyAttribute);
    const rawKey = fields[keyIndex] ?? null;
    const reject = (code: LineError['code'], attribute: string | null, message: string): void => {
      exec.counts.rejected++;
      this.report(exec, { line, key: rawKey, attribute, code, message });
    };
    if (fields.length !== file.header.length)
      return reject('COLUMN_COUNT', null, `line has ${fields.length} columns, header has ${file.header.length}`);
    const keyAttr = table.attribute(keyAttribute)!;
    const key = canonicalize(keyAttr, rawKey);
    if ('error' in key) return reject(key.error.code, keyAttribute, key.error.message);
    if (key.value === null) return reject('MANDATORY_MISSING', keyAttribute, `key column '${keyAttribute}' is empty`);
    const existing = table.findBy(keyAttribute, key.value);
    if (existing !== undefined && job.mode === 'CREATE_ONLY')
      return reject('ALREADY_EXISTS', keyAttribute, `a record with ${keyAttribute} '${key.value}' already exists (mode CREATE_ONLY)`);
    if (existing === undefined && job.mode === 'UPDATE_ONLY')
      return reject('NOT_FOUND', keyAttribute, `no record with ${keyAttribute} '${key.value}' (mode UPDATE_ONLY)`);
    const input = file.header.map((h, i): [string, unknown] => [h, fields[i]]);
    const v = validateRecord(this.state.tables, table, input, {
      op: existing === undefined ? 'create' : 'update',
      row: existing,
      technical: 'ignore',
      emptyOnUpdate: this.state.config.emptyOnUpdate,
    });
    if (v.errors.length) {
      exec.counts.rejected++;
      for (const e of v.errors) this.report(exec, { line, key: rawKey, attribute: e.field, code: e.code, message: e.message });
      return;
    }
    if (existing === undefined) {
      table.insert(v.values);
      exec.counts.created++;
    } else {
      table.update(existing, v.values);
      exec.counts.updated++;
    }
  }

  private report(exec: ImportExecution, error: LineError): void {
    exec.errorCount++;
    if (exec.errors.length < MAX_STORED_ERRORS) exec.errors.push(error);
  }

  private finish(exec: ImportExecution, status: ImportStatus, message: string | null): void {
    exec.status = status;
    exec.message = message;
    exec.finishedAt = new Date().toISOString();
    this.notify(exec, 'FINISHED');
  }

  /**
   * ETL webhook, ONE_BY_ONE form: fields `etl.id`, `etl.executionId`, `etl.executionStatus`,
   * `_links.etlExecution.href` are [D S18]; the `trigger` field is [A]. Fire and forget.
   */
  private notify(exec: ImportExecution, trigger: 'STARTED' | 'FINISHED'): void {
    const url = this.state.config.etlWebhookUrl;
    if (!url || exec.api !== 'v5') return;
    const etlId = isObject(exec.definition) && typeof exec.definition.etlId === 'string' ? exec.definition.etlId : null;
    const href = `/mass-imports/v5/entities/${this.state.config.entity}/etl-executions/${exec.id}`;
    const body = { trigger, etl: { id: etlId, executionId: exec.id, executionStatus: exec.status }, _links: { etlExecution: { href } } };
    fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
  }
}

/** Status resource [A, API notes §9]; errors inline capped at 1 000 (full list under `/errors`). */
export function executionView(exec: ImportExecution): Record<string, unknown> {
  const { errors, ...rest } = exec;
  return { ...rest, errors: errors.slice(0, 1000), errorsTruncated: exec.errorCount > 1000 };
}
