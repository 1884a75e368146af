/** Single-record REST: describe, create, retrieve, update, delete, upsert / get / delete by external id. */
import { basicInfo, describeGlobal, describeObject } from './describe';
import { Dml, dmlOptionsFrom } from './dml';
import { NOT_FOUND_MESSAGE, restError, restErrors, type RowResult } from './errors';
import { HttpError, readJson, sendEmpty, sendJson, type Ctx } from './http';
import { normalizeId } from './ids';
import { recordUrl, renderRecord, unknownFields } from './record-json';
import { field, fieldIndex, type ObjectDef } from './schema';
import type { Entry } from './validate';

const notFound = (message = NOT_FOUND_MESSAGE) => new HttpError(404, restError('NOT_FOUND', message));

export function objectOr404(ctx: Ctx, name: string): ObjectDef {
  const def = ctx.state.registry.get(name);
  if (!def) throw notFound();
  return def;
}

async function bodyEntries(ctx: Ctx): Promise<Entry[]> {
  const body = await readJson(ctx, { exactNumbers: true });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, restError('JSON_PARSER_ERROR', 'The request body must be a JSON object'));
  }
  return Object.entries(body).map(([name, value]) => ({ name, value }));
}

/** Row failure on a single-record call: 404 for missing/deleted records, otherwise 400 with the errors. */
function rowFailure(r: RowResult): HttpError {
  const e = r.errors[0];
  if (e?.statusCode === 'INVALID_CROSS_REFERENCE_KEY' && r.id) return notFound();
  if (e?.statusCode === 'ENTITY_IS_DELETED') return new HttpError(404, restErrors(r.errors));
  return new HttpError(400, restErrors(r.errors));
}

function fieldsParam(ctx: Ctx, def: ObjectDef): string[] | undefined {
  const raw = ctx.query.get('fields');
  if (!raw) return undefined;
  const fields = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = unknownFields(def, fields);
  if (bad.length > 0) throw new HttpError(400, restError('INVALID_FIELD', `No such column '${bad[0] ?? ''}' on entity '${def.name}'.`));
  return fields;
}

/** Routes `/sobjects/...` (segments after `sobjects`). */
export async function handleSobjects(ctx: Ctx, version: string, seg: string[]): Promise<void> {
  const dml = new Dml(ctx.state, dmlOptionsFrom(ctx.req.headers));
  const [name, second, third] = seg;
  if (!name) return sendJson(ctx, 200, describeGlobal(version, ctx.state.registry));
  const def = objectOr404(ctx, name);
  const m = ctx.method;
  if (second === undefined) {
    if (m === 'GET') return sendJson(ctx, 200, basicInfo(version, def));
    if (m !== 'POST') throw new HttpError(405, restError('METHOD_NOT_ALLOWED', `HTTP Method '${m}' not allowed. Allowed are GET,POST`));
    const entries = await bodyEntries(ctx);
    if (entries.some((e) => e.name.toLowerCase() === 'id')) {
      throw new HttpError(
        400,
        restError(
          'INVALID_FIELD_FOR_INSERT_UPDATE',
          'Unable to create/update fields: Id. Please check the security settings of this field and verify that it is read/write for your profile or permission set.',
        ),
      );
    }
    const r = dml.create(def, entries, 'json');
    if (!r.success || !r.id) throw rowFailure(r);
    return sendJson(ctx, 201, { id: r.id, success: true, errors: [] }, { Location: recordUrl(version, def, r.id) });
  }
  if (second === 'describe' && third === undefined)
    return sendJson(ctx, 200, describeObject(version, def, ctx.state.recordTypes.infos(def.name)));
  if (third === undefined) return byId(ctx, dml, version, def, second);
  return byExternalId(ctx, dml, version, def, second, decodeURIComponent(third));
}

async function byId(ctx: Ctx, dml: Dml, version: string, def: ObjectDef, rawId: string): Promise<void> {
  // An id-shaped value goes to the id checks (MALFORMED_ID on a bad checksum or prefix); anything else is
  // read as an external-id path, which has no field name here (API notes §7).
  if (!/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(rawId))
    throw notFound(`Provided external ID field does not exist or is not accessible: ${rawId}`);
  if (ctx.method === 'GET') {
    const found = dml.locate(def, rawId);
    if ('error' in found) throw found.error.statusCode === 'MALFORMED_ID' ? new HttpError(400, restErrors([found.error])) : notFound();
    return sendJson(ctx, 200, renderRecord(version, def, found.rec, fieldsParam(ctx, def)));
  }
  if (ctx.method === 'PATCH') {
    const r = dml.update(def, rawId, await bodyEntries(ctx), 'json');
    if (!r.success) throw rowFailure(r);
    return sendEmpty(ctx, 204);
  }
  if (ctx.method === 'DELETE') {
    const r = dml.remove(rawId, def, false);
    if (!r.success) throw rowFailure(r);
    return sendEmpty(ctx, 204);
  }
  throw new HttpError(405, restError('METHOD_NOT_ALLOWED', `HTTP Method '${ctx.method}' not allowed. Allowed are GET,PATCH,DELETE`));
}

async function byExternalId(ctx: Ctx, dml: Dml, version: string, def: ObjectDef, keyName: string, value: string): Promise<void> {
  const key = field(def, keyName);
  if (!key || !(key.externalId || key.idLookup))
    throw notFound(`Provided external ID field does not exist or is not accessible: ${keyName}`);
  const matches =
    key.name === 'Id'
      ? [normalizeId(value)].filter((x): x is string => !!x)
      : ctx.state.store(def).find(fieldIndex(def, key.name) as number, value);
  const urls = matches.map((id) => recordUrl(version, def, id));
  if (ctx.method === 'PATCH') {
    if (matches.length === 0 && ctx.query.get('updateOnly') === 'true') throw notFound();
    const r = dml.upsert(def, key, value, await bodyEntries(ctx), 'json');
    if (r.matches) return sendJson(ctx, 300, urls);
    if (!r.success || !r.id) throw rowFailure(r);
    const body = { id: r.id, success: true, errors: [], created: r.created === true };
    if (r.created) return sendJson(ctx, 201, body, { Location: recordUrl(version, def, r.id) });
    return Number(version) >= 46 ? sendJson(ctx, 200, body) : sendEmpty(ctx, 204);
  }
  if (matches.length > 1) return sendJson(ctx, 300, urls);
  const id = matches[0];
  if (!id) throw notFound();
  if (ctx.method === 'GET') return byId(ctx, dml, version, def, id);
  if (ctx.method === 'DELETE') return byId(ctx, dml, version, def, id);
  throw new HttpError(405, restError('METHOD_NOT_ALLOWED', `HTTP Method '${ctx.method}' not allowed. Allowed are GET,PATCH,DELETE`));
}
