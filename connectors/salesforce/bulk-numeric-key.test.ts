/**
 * Bulk results joined back to keys when the key is a number field (an External ID of type Number) filled
 * from a numeric column: the key the delta keeps is `key::text` ('1.50'), the CSV cell is the field's
 * decimal digits ('1.5'), and the result files echo the uploaded cell.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { SfDescribe } from './analyze';
import { analyze } from './analyze';
import { buildCsv, jobSpec } from './bulk-csv';
import { recordJobResults } from './bulk-results';
import { optionsSchema } from './config';
import type { SalesforceClient } from './client';
import type { Session } from './context';
import { field, MemoryChunk, outRow } from './test-harness';

const describe_: SfDescribe = {
  name: 'Contact',
  fields: [
    { name: 'Id', type: 'id', idLookup: true, length: 18 },
    {
      name: 'Ext_Num__c',
      type: 'double',
      precision: 18,
      scale: 2,
      createable: true,
      updateable: true,
      externalId: true,
      idLookup: true,
    },
    { name: 'LastName', type: 'string', length: 80, createable: true, updateable: true, nillable: false },
  ],
};

it('maps Bulk results back to numeric keys written with trailing zeros (1.50 sent as 1.5)', async () => {
  const opts = optionsSchema.parse({ bulkPollMs: 1 });
  const model = analyze({
    activationId: 'a1',
    mode: 'upsert',
    key: 'Ext_Num__c',
    fields: [field('Ext_Num__c', 'numeric', { isKey: true }), field('LastName')],
    options: opts,
    describe: describe_,
  });
  const rows = [outRow('1.50', { Ext_Num__c: '1.50', LastName: 'A' }), outRow('2', { Ext_Num__c: '2', LastName: 'B' })];
  const s: Session = { client: {} as SalesforceClient, options: opts, model, heartbeat: () => undefined };
  const spec = jobSpec(model, 'upsert');
  const built = await buildCsv(s, new MemoryChunk('upsert', rows), spec);
  const csv = await readFile(built.file.path, 'utf8');
  await built.file.dispose();
  // The results echo every uploaded row, as uploaded, after sf__Id and sf__Created.
  const [header, ...lines] = csv.trim().split('\n');
  const successful = `sf__Id,sf__Created,${header}\n${lines.map((l, i) => `003${i},true,${l}`).join('\n')}\n`;
  const client = {
    jobResultsStream: async (_id: string, kind: string) => Readable.from([kind === 'successfulResults' ? successful : '']),
  } as unknown as SalesforceClient;
  const chunk = new MemoryChunk('upsert', rows);
  await recordJobResults(
    client,
    chunk,
    model,
    spec,
    '750x',
    {},
    { job: { numberRecordsProcessed: 2, numberRecordsFailed: 0 }, uploadedRows: 2 },
  );
  expect(chunk.results.get('2')).toMatchObject({ ok: true, destinationId: '0031' });
  // Written and acknowledged by Salesforce: must not stay unacknowledged (sent again every run, listed as not written).
  expect(chunk.results.get('1.50')).toMatchObject({ ok: true, destinationId: '0030' });
});
