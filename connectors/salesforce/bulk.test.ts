/** Bulk pieces without a server: CSV content, result mapping in any order, job failure handling. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { SfDescribe } from './analyze';
import { analyze } from './analyze';
import { buildCsv, jobSpec } from './bulk-csv';
import { neededResultFiles, recordJobResults } from './bulk-results';
import { pollBulk } from './bulk';
import { optionsSchema } from './config';
import type { SalesforceClient } from './client';
import type { Session } from './context';
import type { SyncMode } from '../../common/sync-modes';
import { field, MemoryChunk, outRow } from './test-harness';

const describe_: SfDescribe = {
  name: 'Contact',
  fields: [
    { name: 'Id', type: 'id', idLookup: true, length: 18 },
    { name: 'External_Id__c', type: 'string', length: 255, createable: true, updateable: true, externalId: true, idLookup: true },
    { name: 'Syncline_Token__c', type: 'string', length: 64, createable: true, updateable: true, externalId: true, idLookup: true },
    { name: 'LastName', type: 'string', length: 10, createable: true, updateable: true, nillable: false },
    { name: 'Description', type: 'textarea', length: 1000, createable: true, updateable: true },
  ],
};
const FIELDS = [field('External_Id__c', 'text', { isKey: true }), field('LastName'), field('Description')];

function session(mode: SyncMode, client: Partial<SalesforceClient> = {}, options = {}): Session {
  const opts = optionsSchema.parse({ bulkPollMs: 1, ...options });
  const model = analyze({ activationId: 'a1', mode, key: 'External_Id__c', fields: FIELDS, options: opts, describe: describe_ });
  return { client: client as SalesforceClient, options: opts, model, heartbeat: () => undefined };
}

describe('bulk CSV', () => {
  it('writes the mapping header, token column, #N/A for null and empty, nothing for absent', async () => {
    const s = session('insert');
    const chunk = new MemoryChunk('create', [
      outRow('k1', { External_Id__c: 'k1', LastName: 'A, "b"', Description: null }),
      outRow('k2', { External_Id__c: 'k2', LastName: 'B', Description: '' }),
      outRow('k3', { External_Id__c: 'k3', Description: 'x' }),
      outRow('k4', { External_Id__c: 'k4', LastName: 'much too long' }),
    ]);
    const spec = jobSpec(s.model, 'create');
    expect(spec).toMatchObject({ operation: 'upsert', externalIdFieldName: 'Syncline_Token__c', matchColumn: 'Syncline_Token__c' });
    const built = await buildCsv(s, chunk, spec);
    const csv = await readFile(built.file.path, 'utf8');
    await built.file.dispose();
    expect(existsSync(built.file.path)).toBe(false);
    expect(csv).toBe(
      'External_Id__c,LastName,Description,Syncline_Token__c\n' + 'k1,"A, ""b""",#N/A,tok-k1\n' + 'k2,B,#N/A,tok-k2\n' + 'k3,,x,tok-k3\n',
    );
    expect(built.rows).toBe(3);
    expect(chunk.results.get('k4')).toMatchObject({ ok: false, code: 'STRING_TOO_LONG', retryable: false });
  });

  it('stops at the size limit and flags overflow; the rest stays unacknowledged', async () => {
    const s = session('upsert', {}, { maxCsvBytes: 80 });
    const rows = Array.from({ length: 10 }, (_, i) => outRow(`k${i}`, { External_Id__c: `k${i}`, LastName: 'L' }));
    const built = await buildCsv(s, new MemoryChunk('upsert', rows), jobSpec(s.model, 'upsert'));
    expect(built.overflow).toBe(true);
    expect(built.rows).toBeLessThan(10);
    expect((await readFile(built.file.path)).length).toBeLessThanOrEqual(80);
    await built.file.dispose();
  });
});

describe('bulk results', () => {
  const files = {
    successfulResults: 'sf__Id,sf__Created,External_Id__c,LastName\n003B,true,k2,B\n003A,false,k1,A\n',
    failedResults:
      'sf__Id,sf__Error,External_Id__c,LastName\n,UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--,k4,D\n,REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --,k3,\n',
    unprocessedrecords: 'External_Id__c,LastName\nk5,E\n',
  };
  const client = {
    jobResultsStream: async (_id: string, kind: keyof typeof files) => Readable.from([files[kind]]),
  } as unknown as SalesforceClient;

  it('maps shuffled result rows back to keys by the key column', async () => {
    const s = session('upsert', client);
    const chunk = new MemoryChunk(
      'upsert',
      ['k1', 'k2', 'k3', 'k4', 'k5'].map((k) => outRow(k, { External_Id__c: k })),
    );
    await recordJobResults(client, chunk, s.model, jobSpec(s.model, 'upsert'), '750x', {});
    expect(chunk.results.get('k1')).toEqual({ key: 'k1', ok: true, destinationId: '003A' });
    expect(chunk.results.get('k2')).toEqual({ key: 'k2', ok: true, destinationId: '003B' });
    expect(chunk.results.get('k3')).toMatchObject({
      ok: false,
      code: 'REQUIRED_FIELD_MISSING',
      message: 'Required fields are missing: [LastName]',
      retryable: false,
    });
    expect(chunk.results.get('k4')).toMatchObject({ ok: false, code: 'UNABLE_TO_LOCK_ROW', retryable: true });
    expect(chunk.results.get('k5')).toMatchObject({ ok: false, code: 'UNPROCESSED', retryable: true });
  });

  it('maps delete results by Id (saved or looked-up Ids), leaves stale stored Ids to a lookup, asks only for the files needed', async () => {
    const del = {
      successfulResults: 'sf__Id,sf__Created,Id\n001B,false,001B\n001E,false,001E\n',
      failedResults:
        'sf__Id,sf__Error,Id\n001C,ENTITY_IS_DELETED:entity is deleted:--,001C\n001D,UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--,001D\n001F,ENTITY_IS_DELETED:entity is deleted:--,001F\n',
      unprocessedrecords: 'Id\n',
    };
    const asked: string[] = [];
    const delClient = {
      jobResultsStream: async (_id: string, kind: keyof typeof del) => {
        asked.push(kind);
        return Readable.from([del[kind]]);
      },
    } as unknown as SalesforceClient;
    const s = session('mirror', delClient);
    const chunk = new MemoryChunk('delete', [
      outRow('k1', {}, { destinationId: '001B' }),
      outRow('k2', {}, { destinationId: '001C' }),
      outRow('k3', {}, { destinationId: '001D' }),
      outRow('k4', {}),
      outRow('k5', {}),
    ]);
    const { recorded, stale } = await recordJobResults(
      delClient,
      chunk,
      s.model,
      jobSpec(s.model, 'delete'),
      '750x',
      { '001E': 'k4', '001F': 'k5' },
      { job: { numberRecordsProcessed: 5, numberRecordsFailed: 3 }, uploadedRows: 5 },
    );
    expect(recorded).toBe(4);
    expect(asked).toEqual(['successfulResults', 'failedResults']);
    expect(chunk.results.get('k1')).toEqual({ key: 'k1', ok: true, destinationId: '001B' });
    // 001C was stored by an earlier sync: the record may have been recreated under another Id.
    expect(chunk.results.has('k2')).toBe(false);
    expect([...stale]).toEqual(['k2']);
    expect(chunk.results.get('k3')).toMatchObject({ ok: false, code: 'UNABLE_TO_LOCK_ROW', retryable: true });
    expect(chunk.results.get('k4')).toEqual({ key: 'k4', ok: true, destinationId: '001E' });
    // 001F was looked up for this job: gone means deleted meanwhile, nothing left to do.
    expect(chunk.results.get('k5')).toEqual({ key: 'k5', ok: true, destinationId: null });
  });

  it('skips result files the job info says are empty', () => {
    expect(neededResultFiles({ numberRecordsProcessed: 10, numberRecordsFailed: 0 }, 10)).toEqual(['successfulResults']);
    expect(neededResultFiles({ numberRecordsProcessed: 10, numberRecordsFailed: 10 }, 10)).toEqual(['failedResults']);
    expect(neededResultFiles({ numberRecordsProcessed: 4, numberRecordsFailed: 1 }, 10)).toEqual([
      'successfulResults',
      'failedResults',
      'unprocessedrecords',
    ]);
    expect(neededResultFiles({ numberRecordsProcessed: 0, numberRecordsFailed: 0 }, 10)).toEqual(['unprocessedrecords']);
    expect(neededResultFiles(undefined, undefined)).toEqual(['successfulResults', 'failedResults', 'unprocessedrecords']);
  });

  it('a job failed on its header is a non-retryable FIELD_UNKNOWN naming the field', async () => {
    const failing = {
      getJob: async () => ({
        id: '750x',
        state: 'Failed',
        object: 'Contact',
        operation: 'upsert',
        errorMessage: 'InvalidBatch : Field name not found : Secret__c',
      }),
    } as unknown as SalesforceClient;
    const s = session('upsert', failing);
    const chunk = new MemoryChunk('upsert', [outRow('k1', { External_Id__c: 'k1' })]);
    await chunk.save({ jobId: '750x', uploaded: true });
    await expect(pollBulk(s, chunk, '750x')).rejects.toMatchObject({
      code: 'FIELD_UNKNOWN',
      retryable: false,
      message: expect.stringContaining('Secret__c'),
    });
  });

  it('a running job stays pending; a re-attach never creates a second job', async () => {
    let created = 0;
    const running = {
      getJob: async () => ({ id: '750x', state: 'InProgress', object: 'Contact', operation: 'upsert' }),
      createJob: async () => {
        created++;
        return { id: 'other' };
      },
    } as unknown as SalesforceClient;
    const s = session('upsert', running);
    const chunk = new MemoryChunk('upsert', [outRow('k1', { External_Id__c: 'k1' })]);
    await chunk.save({ jobId: '750x', uploaded: true });
    await expect(pollBulk(s, chunk, '750x')).resolves.toEqual({ status: 'pending', handle: '750x', pollAfterMs: 1 });
    expect(created).toBe(0);
  });
});
