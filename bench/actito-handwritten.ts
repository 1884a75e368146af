/**
 * `npm run bench -- actito-handwritten <actitoUrl> <apiKey> <entity> <databaseUrl> <modelTable> <customTable> <rows>`
 *
 * The floor bench/actito.ts compares syncline with, in a process of its own (as a person's script would
 * run): a one-off load written by hand. The model is streamed out of Postgres with `COPY … TO STDOUT` as
 * CSV, gzipped into ONE import file (a temporary file, as FormData wants a Blob), sent as one ETL
 * execution, whose status is read every second until it ends. Routes and payloads are the connector's
 * own (connectors/actito/routes.ts), so the two speak the same API. Nothing is recorded, retried or resumable.
 */
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { to as copyTo } from 'pg-copy-streams';
import { createPool } from '../db/connect';
import { ActitoClient } from '../connectors/actito/client';
import { connectionSchema, resolvePrefixes } from '../connectors/actito/config';
import { getImport, listCustomTables, startImport, type Api } from '../connectors/actito/routes';

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const [url, apiKey, entity, databaseUrl, modelTable, customTable, rowsText] = args;
  if (!url || !apiKey || !entity || !databaseUrl || !modelTable || !customTable || !rowsText)
    throw new Error('usage: actito-handwritten <actitoUrl> <apiKey> <entity> <databaseUrl> <modelTable> <customTable> <rows>');
  const rows = Number(rowsText);
  const t = Date.now();
  const connection = connectionSchema.parse({ apiKey, baseUrl: url, entity });
  const api: Api = { client: new ActitoClient(connection), prefixes: resolvePrefixes(connection), apiCall: () => undefined };
  const table = (await listCustomTables(api)).find((x) => x.name === customTable);
  if (!table) throw new Error(`handwritten: no custom table ${customTable}`);

  const file = join(tmpdir(), `actito-handwritten-${randomUUID()}.csv.gz`);
  const pool = createPool(databaseUrl, 1);
  const client = await pool.connect();
  try {
    const columns = ['orderId', 'customerId', 'amount', 'status', 'orderDate', 'note'];
    await pipeline(
      client.query(
        copyTo(
          `COPY (SELECT order_id AS "orderId", customer_id AS "customerId", amount, status, to_char(order_date, 'YYYY-MM-DD') AS "orderDate", note FROM ${modelTable}) TO STDOUT WITH (FORMAT csv, HEADER)`,
        ),
      ),
      createGzip(),
      createWriteStream(file),
    );
    const bytes = (await stat(file)).size;
    const id = await startImport(
      api,
      {
        name: `handwritten_${Date.now()}`,
        tableType: 'CUSTOM_TABLE',
        tableId: table.id,
        mode: 'CREATE_UPDATE',
        keyAttribute: 'orderId',
        compression: 'GZIP',
        columns,
      },
      { path: file, bytes },
    );
    let polls = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      polls++;
      const s = await getImport(api, id);
      if (!s.finished) continue;
      if (s.failed || s.withErrors) throw new Error(`handwritten: import ended ${s.status}: ${s.errors[0]?.message ?? ''}`);
      if (s.counts && s.counts.imported !== rows) throw new Error(`handwritten: ${s.counts.imported} of ${rows} rows imported`);
      return {
        seconds: Math.round(((Date.now() - t) / 1000) * 10) / 10,
        status: s.status,
        imported: s.counts?.imported ?? null,
        polls,
        file_bytes: bytes,
      };
    }
  } finally {
    client.release();
    await pool.end();
    await rm(file, { force: true });
  }
}
