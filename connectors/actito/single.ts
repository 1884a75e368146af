/**
 * One-by-one writes of a chunk (small deltas and the quota fallback): at most `maxInFlight` calls in
 * flight (the client's limiter), results recorded batch by batch so a retried activity resumes where
 * it stopped. Every call is idempotent: upsert/update/delete by business key; create reads first.
 */
import { SyncError } from '../../common/errors';
import { JsonNumber } from '../../common/json-exact';
import { decimalKey } from '../kit/plain-number';
import type { ChunkWrite, OutRow, RowResult } from '../types';
import type { ActitoOptions } from './config';
import { apiFor, type Ctx, type Tables } from './context';
import { type Encoded, RowEncoder } from './encode';
import { ActitoHttpError, ROW_CODES, routeCheck, rowFailure, updateNeverCreates } from './errors';
import { whileBeating } from './heartbeat';
import { mapLimited } from './limiter';
import { upsertProfilesOneByOne } from './profiles';
import {
  type Api,
  deleteRecord,
  getRecord,
  keyMayNameTechnicalId,
  keyNotAddressable,
  type Properties,
  recordRoutesRefused,
  type StoredProperties,
  updateRecord,
  upsertRecord,
} from './routes';
import type { TableInfo } from './structure';

const BATCH = 100;

/**
 * Heartbeats on a timer throughout: a batch of calls, each up to the request timeout, can outlast the
 * activity's one-minute heartbeat timeout, and a second attempt beside this one could have later runs
 * write newer values before this attempt's calls land.
 */
export async function writeSingle(ctx: Ctx, chunk: ChunkWrite, opts: ActitoOptions, tables: Tables): Promise<void> {
  const progress = { chunk: chunk.chunk, done: 0 };
  await whileBeating(ctx, progress, () =>
    writeBatches(ctx, chunk, opts, tables, (n) => {
      progress.done = n;
    }),
  );
}

async function writeBatches(
  ctx: Ctx,
  chunk: ChunkWrite,
  opts: ActitoOptions,
  tables: Tables,
  progress: (done: number) => void,
): Promise<void> {
  const api = apiFor(ctx);
  const encoder = new RowEncoder(ctx.fields, tables, opts, ctx.destination.key);
  let done = 0;
  for await (const rows of chunk.rows(BATCH)) {
    const results: RowResult[] = [];
    let toWrite: Array<{ row: OutRow; enc: Encoded }> = [];
    for (const row of rows) {
      if (chunk.op === 'delete') {
        toWrite.push({ row, enc: { record: [], profile: [], key: deleteKey(row, ctx.destination.key), match: null } });
        continue;
      }
      const e = encoder.encode(row);
      if (e.ok) toWrite.push({ row, enc: e.value });
      else results.push({ key: row.key, ok: false, code: ROW_CODES.encode, message: e.message, retryable: false });
    }
    if (opts.profiles && chunk.op !== 'delete' && toWrite.length) {
      const failed = await upsertProfilesOneByOne(
        ctx,
        api,
        opts,
        chunk.op,
        toWrite.map((w) => w.enc),
      );
      toWrite = toWrite.filter(({ row, enc }) => {
        const why = enc.match === null ? undefined : failed.get(enc.match);
        if (why) results.push({ key: row.key, ok: false, code: ROW_CODES.profile, message: why, retryable: false });
        return !why;
      });
    }
    const { results: written, fatal } = await writeEach(ctx, api, tables.table, chunk.op, toWrite);
    results.push(...written);
    // Keep what succeeded even when the batch stops: a retry only sends the rest.
    await chunk.record(results);
    done += results.length;
    progress(done);
    // Not after the chunk's last rows: the attempt ends with them, and an attempt's first beat is a call to Temporal at once.
    if (done < chunk.rowCount) ctx.heartbeat({ chunk: chunk.chunk, done });
    if (fatal) throw fatal;
    if (ctx.signal.aborted)
      throw new SyncError('DESTINATION_UNAVAILABLE', `Writing chunk ${chunk.chunk} to Actito was cancelled after ${done} rows`, {
        retryable: true,
      });
  }
}

/**
 * Writes rows one call each, at most `maxInFlight` in flight (the client's limiter paces them too).
 * A refused row is a result; a batch-wide failure stops the calls not yet made and is returned as
 * `fatal`, so the caller records what was written before throwing it.
 */
export async function writeEach(
  ctx: Ctx,
  api: Api,
  table: TableInfo,
  op: ChunkWrite['op'],
  items: ReadonlyArray<{ row: OutRow; enc: Encoded }>,
): Promise<{ results: RowResult[]; fatal: unknown }> {
  const results: RowResult[] = [];
  let fatal: unknown = null;
  const route = routeCheck(
    () => recordRoutesRefused(api, table.name),
    `Reading the record list of Actito table "${table.name}"`,
    (err) => routeNotServed(table.name, err),
  );
  await mapLimited(items, ctx.connection.maxInFlight, async ({ row, enc }) => {
    if (fatal || ctx.signal.aborted) return;
    try {
      results.push(await writeOne(api, table, ctx.destination.key, op, row, enc, route));
    } catch (err) {
      try {
        results.push({ key: row.key, ok: false, ...rowFailure(err) });
      } catch (batchWide) {
        fatal ??= batchWide;
      }
    }
  });
  return { results, fatal };
}

/** A 404 where no missing record can explain it: the record route itself is not served. */
function routeNotServed(table: string, err: ActitoHttpError): SyncError {
  return new SyncError(
    'DESTINATION_NOT_FOUND',
    `Writing records to Actito table "${table}": ${err.message}, where no missing record explains a 404, so this licence does not serve the record routes here: check the connection's routePrefixes.records (default "/custom-data"; "" for the legacy unprefixed URLs), its entity, and that the table exists.`,
    { details: { status: err.status, route: err.route } },
  );
}

async function writeOne(
  api: Api,
  info: TableInfo,
  keyAttribute: string,
  op: ChunkWrite['op'],
  row: OutRow,
  enc: Encoded,
  route: () => Promise<void>,
): Promise<RowResult> {
  const table = info.name;
  if (op !== 'upsert' && keyNotAddressable(enc.key))
    return {
      key: row.key,
      ok: false,
      code: ROW_CODES.encode,
      message: `the key "${enc.key}" cannot be addressed by Actito's record routes (a URL path drops a "." or ".." segment), so its record in Actito table "${table}" cannot be ${op === 'delete' ? 'deleted' : op === 'update' ? 'updated' : 'read to tell whether it exists'} through syncline; ${op === 'delete' ? 'delete it in Actito' : 'change the key in the model'}`,
      retryable: false,
    };
  // A key of digits may name another record by its technical id once its own record is gone: the record is
  // read first, and only a record holding this key is updated or deleted (README "Keys of digits").
  const ambiguous = keyMayNameTechnicalId(enc.key);
  const holds = (found: StoredProperties): Holds => (ambiguous ? holdsKey(found, keyAttribute, enc.key, info) : 'yes');
  // Insert: a record read without its key is taken for ours (compared by its values; never overwritten).
  const mine = (found: StoredProperties | null): StoredProperties | null => (found && holds(found) !== 'no' ? found : null);
  // Mirror and Update act on nothing whose owner the answer does not show: it may be another record.
  const unidentified = (): RowResult => ({
    key: row.key,
    ok: false,
    code: ROW_CODES.unidentified,
    message: `Actito's answer to reading the record of key "${enc.key}" in table "${table}" did not show its key attribute "${keyAttribute}", so it cannot tell whose record it is (a key of digits also names a record by its technical id): syncline ${op === 'delete' ? 'deleted' : 'updated'} nothing; check the record of key "${enc.key}" in Actito table "${table}" and ${op === 'delete' ? 'delete it there if it is still there' : 'update it there if it exists'}`,
    retryable: false,
  });
  switch (op) {
    case 'delete': {
      if (ambiguous) {
        const found = await getRecord(api, table, enc.key);
        if (found === null) await route();
        // Gone already, or the path named another record by its technical id: nothing of ours to delete.
        const whose = found === null ? 'no' : holds(found);
        if (whose === 'unknown') return unidentified();
        if (whose === 'no') return { key: row.key, ok: true, destinationId: null };
      }
      // Already gone (404) is what Mirror wants, once the route is known to be served. Sent once for a key of
      // digits: its answer lost, a retried activity reads the record again first.
      if (!(await deleteRecord(api, table, enc.key, !ambiguous))) await route();
      return { key: row.key, ok: true, destinationId: null };
    }
    case 'update':
      try {
        if (ambiguous) {
          const found = await getRecord(api, table, enc.key);
          const whose = found === null ? 'no' : holds(found);
          if (whose === 'unknown') return unidentified();
          if (whose === 'no')
            throw new ActitoHttpError(404, 'GET', `${table}/record/{key}`, { message: `record '${enc.key}' not found in '${table}'` });
        }
        await updateRecord(api, table, enc.key, enc.record);
      } catch (err) {
        if (!(err instanceof ActitoHttpError) || err.status !== 404) throw err;
        // A missing record (ACTITO_NOT_FOUND) only once the route is known to be served.
        await route();
        const said = rowFailure(err).message;
        return { key: row.key, ok: false, code: ROW_CODES.notFound, message: `${said}; ${updateNeverCreates(table)}`, retryable: false };
      }
      return { key: row.key, ok: true, destinationId: enc.key };
    case 'create': {
      // Insert never overwrites. A record holding our values is our own earlier write (an answer lost,
      // a row or import line sent again) or an identical one: written either way.
      const existing = mine(await getRecord(api, table, enc.key));
      if (existing && !sameValues(existing, enc.record, (name) => info.attributes.get(name)?.valueType)) {
        return {
          key: row.key,
          ok: false,
          code: ROW_CODES.exists,
          message: `a record with key "${enc.key}" already exists in Actito table "${table}" with other values; Insert mode does not overwrite it (sync in Upsert mode to update it)`,
          retryable: false,
        };
      }
      if (!existing) await createOrUpdate(api, table, enc.record);
      return { key: row.key, ok: true, destinationId: enc.key };
    }
    case 'upsert':
      await createOrUpdate(api, table, enc.record);
      return { key: row.key, ok: true, destinationId: enc.key };
  }
}

type Holds = 'yes' | 'no' | 'unknown';

/**
 * Whether a record read by `key` holds it as its key attribute (compared by the attribute's type, as sameValues
 * does). A record read without its key attribute cannot say whose it is: 'unknown' (README "Keys of digits").
 */
function holdsKey(found: StoredProperties, keyAttribute: string, key: string, info: TableInfo): Holds {
  if (!found.some((p) => p.name === keyAttribute && p.value !== null)) return 'unknown';
  return sameValues(found, [{ name: keyAttribute, value: key }], (name) => info.attributes.get(name)?.valueType) ? 'yes' : 'no';
}

/**
 * Create or update by business key. It needs no existing record, so a 404 says the route or the table
 * is unknown to this licence (a record prefix it does not serve): batch-wide, not a missing record.
 */
async function createOrUpdate(api: Api, table: string, record: Properties): Promise<void> {
  try {
    await upsertRecord(api, table, record);
  } catch (err) {
    if (!(err instanceof ActitoHttpError) || err.status !== 404) throw err;
    throw routeNotServed(table, err);
  }
}

/**
 * The key the record was written with: the destination id its last write recorded (the key as sent,
 * `Encoded.key`). A removed row has no model values left, and the delta's key text can differ from
 * what was sent (a char(n) key is written with its padding, a timestamptz in UTC): a DELETE by that
 * text would answer 404, counted as already gone, and the record would stay.
 */
function deleteKey(row: OutRow, keyAttribute: string): string {
  if (row.destinationId !== null && row.destinationId !== '') return row.destinationId;
  const v = row.values[keyAttribute];
  return v === null || v === undefined ? row.key : String(v);
}

/** `yyyy-MM-dd`, then ` HH:mm:ss` or `THH:mm:ss` and anything after (fractions, a zone), as Actito may spell it. */
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}:\d{2}))?/;
const BOOLEAN_TEXT = /^(true|false)$/i;

/**
 * Whether a stored record holds the values sent, by each attribute's value type. Loose only where
 * Actito may answer a value in its own spelling: BOOLEAN in any case, LONG, INTEGER and NUMBER in any
 * decimal form (compared digit for digit, never through a double), DATE and TIMESTAMP with `T` or a
 * space and anything after the seconds; STRING exactly. Any other difference (a
 * text's case, its end, a digit past a double's precision) is another value: Insert mode then lists the
 * row as existing rather than reporting written a record the table does not hold.
 */
export function sameValues(
  stored: StoredProperties,
  sent: Properties,
  valueType: (name: string) => string | undefined = () => undefined,
): boolean {
  const s = new Map(stored.map((p) => [p.name, p.value]));
  return sent.every(({ name, value }) => {
    const other = s.get(name);
    if (value === null) return other === null || other === undefined || other === '';
    if (other === null || other === undefined) return false;
    const a = String(value);
    // A number the answer carried is compared by its literal, every digit as Actito wrote it.
    const b = String(other);
    if (a === b) return true;
    // The attribute's type decides; for an attribute not described (yet), the JSON types of the two values.
    const isNumber = typeof value === 'number' || typeof other === 'number' || other instanceof JsonNumber;
    const type = valueType(name) ?? (typeof value === 'boolean' || typeof other === 'boolean' ? 'BOOLEAN' : isNumber ? 'NUMBER' : 'STRING');
    switch (type) {
      case 'BOOLEAN':
        return BOOLEAN_TEXT.test(a) && a.toLowerCase() === b.toLowerCase();
      case 'LONG':
      case 'INTEGER':
      case 'NUMBER': {
        const na = decimalKey(typeof value === 'number' ? value : a);
        return na !== null && na === decimalKey(typeof other === 'number' ? other : b);
      }
      case 'DATE':
      case 'TIMESTAMP': {
        const da = DATE_TIME.exec(a);
        const db = DATE_TIME.exec(b);
        return !!da && !!db && da[1] === db[1] && (da[2] ?? '00:00:00') === (db[2] ?? '00:00:00');
      }
      default:
        return false; // text: any difference is another value
    }
  });
}
