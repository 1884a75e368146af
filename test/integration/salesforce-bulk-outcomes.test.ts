/**
 * Bulk 2.0 results are recorded in one go (COPY into a temporary table, then one UPDATE): every row's
 * outcome lands exactly — successes with their record Id, failures with their code, unprocessed rows —
 * and a result download that fails part-way records nothing, so the retried activity records each row
 * once, as Salesforce answered it. Driven activity by activity on the real Postgres against the
 * Salesforce emulator.
 *
 *   npx jest --selectProjects integration --testPathPatterns salesforce-bulk-outcomes
 */
import type pg from 'pg';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { env, sqlClient, uniqueName } from '../support/harness';
import { emulatorAdmin } from '../support/emulator-admin';
import { directDeps, parsed, startRun, type DirectDeps } from '../support/runs';
import { computeDelta } from '../../activities/delta';
import { pollChunk, writeChunk, type WriteChunkResult } from '../../activities/write';
import { salesforceConnector } from '../../connectors/salesforce';
import { recordOutcomeStream, type Outcome } from '../../db/delta';
import { deltaName } from '../../db/work-tables';

let emu: SalesforceEmulator;
let db: pg.Pool;
let d: DirectDeps;

beforeAll(async () => {
  emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10 });
  const sf = { auth: 'client_credentials', loginUrl: emu.url, clientId: 'syncline-demo-client', clientSecret: 'syncline-demo-secret' };
  d = await directDeps(env().databaseUrl, { connections: { sf } });
  d.deps.connectors.set(salesforceConnector.kind, salesforceConnector);
  db = sqlClient();
});
afterAll(async () => {
  await d?.close();
  await db?.end();
  await emu?.close();
});

type Rec = Record<string, unknown>;
const admin = <T>(path: string, init?: RequestInit): Promise<T> => emulatorAdmin<T>(emu.url, path, init);
const faults = (spec: Record<string, unknown>) => admin('/faults', { method: 'POST', body: JSON.stringify(spec) });

interface DeltaRow {
  key: string;
  status: string;
  code: string | null;
  retryable: boolean | null;
  result_id: string | null;
}
async function deltaRows(runId: string): Promise<Map<string, DeltaRow>> {
  const r = await db.query(`SELECT key, status, code, retryable, result_id FROM syncline_work.${deltaName(runId)}`);
  return new Map((r.rows as DeltaRow[]).map((x) => [x.key, x]));
}

/** A run of `rows` Contacts ready to write (delta computed); the rows in `refused` have a LastName a validation rule refuses. */
async function runOf(id: string, rows: number, refused: number[]): Promise<{ runId: string; chunks: number[]; prefix: string }> {
  const prefix = id.toUpperCase();
  await db.query(`CREATE TABLE public.${id} (id text, last_name text)`);
  await db.query(`INSERT INTO public.${id} SELECT $1 || '-' || g, 'Last ' || g FROM generate_series(1, $2::int) g`, [prefix, rows]);
  await db.query(`UPDATE public.${id} SET last_name = 'Refused' WHERE id = ANY($1)`, [refused.map((g) => `${prefix}-${g}`)]);
  const config = parsed({
    id,
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: `public.${id}`, key: 'id' },
    destination: {
      kind: 'salesforce',
      connection: 'sf',
      object: 'Contact',
      key: 'External_Id__c',
      options: { bulkThreshold: 1, bulkPollMs: 0 },
    },
    mappings: [
      { from: 'id', to: 'External_Id__c' },
      { from: 'last_name', to: 'LastName' },
    ],
  });
  const runId = await startRun(d.deps, config, 1);
  const delta = await computeDelta(d.deps, { runId });
  return { runId, chunks: delta.chunks, prefix };
}

async function untilDone(runId: string, chunk: number, first: WriteChunkResult): Promise<WriteChunkResult> {
  let r = first;
  for (let i = 0; r.status === 'pending' && i < 200; i++) {
    await new Promise((res) => setTimeout(res, 50));
    r = await pollChunk(d.deps, { runId, chunk, handle: r.handle! });
  }
  return r;
}

test('a result file that fails part-way records nothing; the retried poll records every row exactly once', async () => {
  const id = uniqueName('sf_outc');
  const refused = [7, 150, 299];
  const { runId, chunks, prefix } = await runOf(id, 300, refused);
  await faults({ validationRule: { object: 'Contact', field: 'LastName', values: ['Refused'] } });
  expect(chunks).toHaveLength(1);
  const chunk = chunks[0]!;

  let r = await writeChunk(d.deps, { runId, chunk });
  expect(r.status).toBe('pending');
  // The successful results stream in first; the failed results file then fails every attempt of this poll.
  await faults({ serverError: { count: 10, status: 503, paths: 'failedResults' } });
  let failedPoll: unknown;
  for (let i = 0; i < 200 && failedPoll === undefined; i++) {
    await new Promise((res) => setTimeout(res, 50));
    try {
      r = await pollChunk(d.deps, { runId, chunk, handle: r.handle! });
      if (r.status === 'done') break;
    } catch (err) {
      failedPoll = err;
    }
  }
  expect(failedPoll).toMatchObject({ code: 'DESTINATION_UNAVAILABLE' });
  // All or nothing: the 297 successes already read were not recorded either.
  const between = await deltaRows(runId);
  expect([...between.values()].filter((x) => x.status !== 'pending')).toEqual([]);

  await admin('/faults', { method: 'DELETE' });
  r = await untilDone(runId, chunk, await pollChunk(d.deps, { runId, chunk, handle: r.handle! }));
  expect(r).toMatchObject({ status: 'done', succeeded: 297, failed: 3 });

  const records = new Map((await admin<Rec[]>('/records/Contact')).map((x) => [String(x.External_Id__c), x]));
  const after = await deltaRows(runId);
  expect(after.size).toBe(300);
  for (let g = 1; g <= 300; g++) {
    const key = `${prefix}-${g}`;
    const row = after.get(key)!;
    if (refused.includes(g)) {
      expect(row).toMatchObject({ status: 'failed', code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', retryable: false, result_id: null });
      expect(records.has(key)).toBe(false);
    } else {
      // The recorded Id is the record Salesforce holds for the key, written once.
      expect({ key, status: row.status, id: row.result_id }).toEqual({ key, status: 'ok', id: records.get(key)?.Id });
    }
  }
  // One job, loaded once: the retried poll read its results again instead of sending the rows twice.
  const jobs = emu.state.requests.filter((q) => q.method === 'POST' && /\/jobs\/ingest$/.test(q.path));
  expect(jobs).toHaveLength(1);
});

test('recordOutcomeStream: successes, failures with codes and unprocessed rows land exactly; a key answered twice keeps its first success, else its last failure', async () => {
  const id = uniqueName('sf_outs');
  const { runId, prefix } = await runOf(id, 8, []);
  const k = (g: number) => `${prefix}-${g}`;
  const ok = (g: number, sfId: string): Outcome => ({ key: k(g), ok: true, code: null, message: null, retryable: null, id: sfId });
  const failed = (g: number, code: string, retryable: boolean): Outcome => ({
    key: k(g),
    ok: false,
    code,
    message: `${code}: "quoted", comma\nand a new line`,
    retryable,
    id: null,
  });
  async function* stream(batches: Outcome[][], failAfter?: number): AsyncGenerator<Outcome[]> {
    for (const [i, b] of batches.entries()) {
      if (i === failAfter) throw new Error('download cut');
      yield b;
    }
  }
  const batches = [
    [ok(1, '003A'), ok(2, '003B'), failed(3, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', false)],
    [failed(4, 'UNPROCESSED', true), failed(5, 'UNABLE_TO_LOCK_ROW', true), ok(6, '')],
    // Answered twice: 1 keeps its first success; 5 ends with its last failure; 6 keeps its success.
    [failed(1, 'UNABLE_TO_LOCK_ROW', true), failed(5, 'UNPROCESSED', true), ok(6, '003Z')],
  ];
  await expect(recordOutcomeStream(d.deps.db, d.deps.pool, runId, stream(batches, 2))).rejects.toThrow('download cut');
  expect([...(await deltaRows(runId)).values()].every((x) => x.status === 'pending')).toBe(true);

  await expect(recordOutcomeStream(d.deps.db, d.deps.pool, runId, stream(batches))).resolves.toBe(9);
  // Recording the same answers again (a retried activity) changes nothing.
  await expect(recordOutcomeStream(d.deps.db, d.deps.pool, runId, stream(batches))).resolves.toBe(9);
  const rows = await deltaRows(runId);
  const msg = await db.query(`SELECT message FROM syncline_work.${deltaName(runId)} WHERE key = $1`, [k(3)]);
  expect(msg.rows[0].message).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION: "quoted", comma\nand a new line');
  expect([1, 2, 3, 4, 5, 6, 7, 8].map((g) => rows.get(k(g))).map((x) => [x!.status, x!.code, x!.retryable, x!.result_id])).toEqual([
    ['ok', null, null, '003A'],
    ['ok', null, null, '003B'],
    ['failed', 'FIELD_CUSTOM_VALIDATION_EXCEPTION', false, null],
    ['failed', 'UNPROCESSED', true, null],
    ['failed', 'UNPROCESSED', true, null],
    ['ok', null, null, ''],
    ['pending', null, null, null],
    ['pending', null, null, null],
  ]);
});

test('recording every row of a large job updates the delta in place: its pages have room for the answers, so the table hardly grows', async () => {
  // Without room, every answered row's new version goes to a page at the end of the table and into both
  // of its indexes: a million-row run's two concurrent recordings spent 15 s each there (scratch, 2 × 500,000
  // rows: 13.8-20.1 s, 6.6-7.1 s with room).
  const id = uniqueName('sf_inplace');
  const rows = 3000;
  const { runId, prefix } = await runOf(id, rows, []);
  const table = `syncline_work.${deltaName(runId)}`;
  const size = async () => Number((await db.query(`SELECT pg_relation_size('${table}') AS n`)).rows[0].n);
  const before = await size();
  async function* answers(): AsyncGenerator<Outcome[]> {
    for (let g = 1; g <= rows; g += 1000)
      yield Array.from({ length: 1000 }, (_, i) => ({
        key: `${prefix}-${g + i}`,
        ok: true,
        code: null,
        message: null,
        retryable: null,
        id: `003Hp00000${String(g + i).padStart(8, '0')}`,
      }));
  }
  await expect(recordOutcomeStream(d.deps.db, d.deps.pool, runId, answers())).resolves.toBe(rows);
  expect([...(await deltaRows(runId)).values()].filter((x) => x.status === 'ok')).toHaveLength(rows);
  // Full pages would double it; a few rows may still not fit beside their old version.
  expect(await size()).toBeLessThan(before * 1.25);
});
