/**
 * sObject Collections (API notes §3): create / update / upsert / delete / retrieve, max 200 records,
 * results in request order with per-record `statusCode` errors; allOrNone rolls everything back and marks
 * the otherwise-good rows ALL_OR_NONE_OPERATION_ROLLED_BACK. The whole request is one API call.
 */
import { Dml, dmlOptionsFrom } from './dml';
import { ROLLED_BACK, failed, restError, sfError, type RowResult } from './errors';
import { HttpError, readJson, sendJson, type Ctx } from './http';
import { renderRecord, unknownFields } from './record-json';
import { field, type ObjectDef } from './schema';
import type { UndoLog } from './store';
import type { Entry } from './validate';

const MAX_RECORDS = 200;
const LIMIT_ERROR = restError('EXCEEDED_ID_LIMIT', 'record limit reached. cannot submit more than 200 records into this call');

type Rec = Record<string, unknown>;
type Op = (rec: Rec, undo: UndoLog) => RowResult;

function entries(rec: Rec): Entry[] {
  return Object.entries(rec)
    .filter(([k]) => k !== 'attributes')
    .map(([name, value]) => ({ name, value }));
}

function typeOf(ctx: Ctx, rec: Rec): ObjectDef | null {
  const t = (rec.attributes as { type?: unknown } | undefined)?.type;
  return typeof t === 'string' ? (ctx.state.registry.get(t) ?? null) : null;
}

const noType = () => failed([sfError('INVALID_TYPE', 'Must send a concrete entity type.', [])]);

/** Runs `op` over every record; with allOrNone, any failure undoes all writes of the request. */
export function runAll(records: Rec[], allOrNone: boolean, op: Op): RowResult[] {
  const undo: UndoLog = [];
  const results = records.map((r) => op(r, undo));
  if (!allOrNone || results.every((r) => r.success)) return results;
  for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
  return results.map((r) => (r.success ? { ...r, success: false, errors: [ROLLED_BACK] } : r));
}

/** create/update/delete rows are `{id, success, errors}`; a failed row has no id unless Salesforce knows one. */
function plain(r: RowResult): Record<string, unknown> {
  return r.id ? { id: r.id, success: r.success, errors: r.errors } : { success: r.success, errors: r.errors };
}

async function body(ctx: Ctx): Promise<{ allOrNone: boolean; records: Rec[] }> {
  const b = (await readJson(ctx, { exactNumbers: true })) as { allOrNone?: unknown; records?: unknown } | null;
  if (!b || !Array.isArray(b.records)) throw new HttpError(400, restError('JSON_PARSER_ERROR', 'records: required array'));
  if (b.records.length > MAX_RECORDS) throw new HttpError(400, LIMIT_ERROR);
  return { allOrNone: b.allOrNone === true, records: b.records as Rec[] };
}

export async function handleCollections(ctx: Ctx, version: string, seg: string[]): Promise<void> {
  const dml = new Dml(ctx.state, dmlOptionsFrom(ctx.req.headers));
  const [objName, keyName] = seg;
  const m = ctx.method;
  // Collections exist from v42, collection upsert from v46 (API notes §3): older versions have no such resource.
  const minVersion = m === 'PATCH' && keyName ? 46 : 42;
  if (Number(version) < minVersion) throw new HttpError(404, restError('NOT_FOUND', 'The requested resource does not exist'));
  if (m === 'POST' && objName === undefined) {
    const { allOrNone, records } = await body(ctx);
    return sendJson(
      ctx,
      200,
      runAll(records, allOrNone, (rec, undo) => {
        const def = typeOf(ctx, rec);
        if (!def) return noType();
        if (Object.keys(rec).some((k) => k.toLowerCase() === 'id')) {
          return failed([sfError('INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', ['Id'])]);
        }
        return dml.create(def, entries(rec), 'json', undo);
      }).map(plain),
    );
  }
  if (m === 'PATCH' && objName === undefined) {
    const { allOrNone, records } = await body(ctx);
    return sendJson(
      ctx,
      200,
      runAll(records, allOrNone, (rec, undo) => {
        const def = typeOf(ctx, rec);
        if (!def) return noType();
        return dml.update(def, rec.id ?? rec.Id, entries(rec), 'json', undo);
      }).map(plain),
    );
  }
  if (m === 'PATCH' && objName && keyName) return upsert(ctx, dml, objName, keyName);
  if (m === 'DELETE' && objName === undefined) {
    const ids = (ctx.query.get('ids') ?? '').split(',').filter(Boolean);
    if (ids.length > MAX_RECORDS) throw new HttpError(400, LIMIT_ERROR);
    const allOrNone = ctx.query.get('allOrNone') === 'true';
    const results = runAll(
      ids.map((id) => ({ id })),
      allOrNone,
      (rec, undo) => dml.remove(rec.id, null, false, undo),
    );
    return sendJson(ctx, 200, results.map(plain));
  }
  if ((m === 'GET' || m === 'POST') && objName && !keyName) return retrieve(ctx, version, objName);
  throw new HttpError(404, restError('NOT_FOUND', 'The requested resource does not exist'));
}

async function upsert(ctx: Ctx, dml: Dml, objName: string, keyName: string): Promise<void> {
  const def = ctx.state.registry.get(objName);
  if (!def) throw new HttpError(404, restError('NOT_FOUND', 'The requested resource does not exist'));
  const key = field(def, keyName);
  if (!key || key.name === 'Id' || !(key.externalId || key.idLookup)) {
    throw new HttpError(
      400,
      restError('INVALID_FIELD', `Field name provided, ${keyName} is not an External ID or indexed field for ${def.name}`),
    );
  }
  const { allOrNone, records } = await body(ctx);
  const results = runAll(records, allOrNone, (rec, undo) => {
    const t = typeOf(ctx, rec);
    if (t && t !== def) return failed([sfError('INVALID_TYPE', `Record type ${t.name} does not match ${def.name}`, [])]);
    const k = Object.keys(rec).find((x) => x.toLowerCase() === key.name.toLowerCase());
    const value = k === undefined ? undefined : rec[k];
    if (value === undefined || value === null || value === '') {
      return failed([sfError('MISSING_ARGUMENT', `${key.name} not specified`, [key.name])]);
    }
    const { matches: _m, ...r } = dml.upsert(def, key, String(value), entries(rec), 'json', undo);
    return r;
  });
  // Upsert results always carry `created` (REST upsert-with-collections page), even when success=false.
  sendJson(
    ctx,
    200,
    results.map((r) => ({ ...plain(r), created: r.created === true })),
  );
}

async function retrieve(ctx: Ctx, version: string, objName: string): Promise<void> {
  const def = ctx.state.registry.get(objName);
  if (!def) throw new HttpError(404, restError('NOT_FOUND', 'The requested resource does not exist'));
  let ids: string[];
  let fields: string[];
  if (ctx.method === 'GET') {
    ids = (ctx.query.get('ids') ?? '').split(',').filter(Boolean);
    fields = (ctx.query.get('fields') ?? '').split(',').filter(Boolean);
  } else {
    const b = (await readJson(ctx)) as { ids?: string[]; fields?: string[] } | null;
    ids = b?.ids ?? [];
    fields = b?.fields ?? [];
  }
  if (ids.length > 2000) throw new HttpError(400, LIMIT_ERROR);
  const bad = unknownFields(def, fields);
  if (bad.length > 0) throw new HttpError(400, restError('INVALID_FIELD', `No such column '${bad[0] ?? ''}' on entity '${def.name}'.`));
  const dml = new Dml(ctx.state, dmlOptionsFrom(ctx.req.headers));
  sendJson(
    ctx,
    200,
    ids.map((id) => {
      const found = dml.locate(def, id);
      return 'rec' in found ? renderRecord(version, def, found.rec, fields.length > 0 ? fields : undefined) : null;
    }),
  );
}
