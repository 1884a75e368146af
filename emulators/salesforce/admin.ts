/**
 * Admin / inspection API under `/__admin` (no auth, never faulted, not logged, not counted):
 * faults, reset, request log, records (read and seed), jobs, quota, runtime config.
 */
import { jobInfo } from './bulk2-job';
import { coerce } from './coerce';
import { HttpError, readJson, sendJson, type Ctx } from './http';
import { normalizeId } from './ids';
import { renderRecord } from './record-json';
import { fieldIndex, type ObjectDef } from './schema';
import type { StoredValue } from './schema-types';

function objectDef(ctx: Ctx, name: string | undefined): ObjectDef {
  const def = ctx.state.registry.get(name ?? '');
  if (!def) throw new HttpError(404, { error: `unknown object ${name ?? ''}` });
  return def;
}

/** Seeding bypasses required/unique/createable rules on purpose, so tests can build states (e.g. duplicates for 300). */
function seed(ctx: Ctx, def: ObjectDef, input: Record<string, unknown>): string {
  const values: StoredValue[] = def.fields.map((fd) => (fd.defaultValue !== undefined ? fd.defaultValue : null));
  for (const [k, v] of Object.entries(input)) {
    if (k === 'attributes' || k.toLowerCase() === 'id') continue;
    const i = fieldIndex(def, k);
    const fd = i === undefined ? undefined : def.fields[i];
    if (i === undefined || !fd) throw new HttpError(400, { error: `No such column '${k}' on ${def.name}` });
    if (v === null) continue;
    const c = coerce(fd, v);
    if (!c.ok) throw new HttpError(400, { error: c.error.message });
    values[i] = c.value;
  }
  const given = typeof input.Id === 'string' ? normalizeId(input.Id) : null;
  const id = given ?? ctx.state.newId(def.keyPrefix);
  const now = new Date().toISOString().replace('Z', '+0000');
  const set = (n: string, v: StoredValue) => {
    const i = fieldIndex(def, n);
    if (i !== undefined) values[i] = v;
  };
  set('Id', id);
  for (const n of ['CreatedDate', 'LastModifiedDate', 'SystemModstamp']) set(n, now);
  for (const n of ['CreatedById', 'LastModifiedById', 'OwnerId']) set(n, ctx.state.userId);
  if (def.compoundName) {
    const get = (n: string) => values[fieldIndex(def, n) ?? -1];
    set('Name', [get('FirstName'), get('LastName')].filter((x) => x !== null && x !== undefined).join(' '));
  }
  ctx.state.store(def).insert({ id, values, deleted: false });
  return id;
}

function requestCounts(ctx: Ctx): Record<string, unknown> {
  const byCategory: Record<string, number> = {};
  const byRoute: Record<string, number> = {};
  for (const r of ctx.state.requests) {
    byCategory[r.category] = (byCategory[r.category] ?? 0) + 1;
    const route = `${r.method} ${r.path.replace(/\?.*$/, '').replace(/\/v\d+\.\d/, '/vXX.X')}`;
    byRoute[route] = (byRoute[route] ?? 0) + 1;
  }
  return { total: ctx.state.requests.length, byCategory, byRoute };
}

export async function handleAdmin(ctx: Ctx, seg: string[]): Promise<void> {
  const { state } = ctx;
  const [what, arg] = seg;
  const m = ctx.method;
  if (what === 'faults' && m === 'POST') {
    const spec = ((await readJson(ctx)) ?? {}) as Record<string, unknown>;
    if (spec.expireTokens === true) state.tokens.expireAll();
    const unknown = state.faults.configure(spec);
    if (unknown.length > 0) throw new HttpError(400, { error: `unknown or invalid fault(s): ${unknown.join(', ')}` });
    return sendJson(ctx, 200, { ok: true, faults: state.faults.snapshot() });
  }
  if (what === 'faults' && m === 'DELETE') {
    state.faults.clear();
    return sendJson(ctx, 200, { ok: true });
  }
  if (what === 'faults' && m === 'GET') return sendJson(ctx, 200, state.faults.snapshot());
  if (what === 'reset' && m === 'POST') {
    state.reset();
    return sendJson(ctx, 200, { ok: true });
  }
  if (what === 'requests' && m === 'GET') {
    const concurrency = state.faults.concurrentRequests.view();
    return sendJson(ctx, 200, { requests: state.requests, counts: requestCounts(ctx), apiUsed: state.apiUsed, concurrency });
  }
  if (what === 'requests' && m === 'DELETE') {
    state.requests = [];
    state.faults.concurrentRequests.resetCounters();
    return sendJson(ctx, 200, { ok: true });
  }
  if (what === 'quota' && m === 'POST') {
    const b = ((await readJson(ctx)) ?? {}) as { used?: number };
    if (typeof b.used === 'number') state.apiUsed = b.used;
    return sendJson(ctx, 200, { used: state.apiUsed, max: state.options.dailyApiLimit });
  }
  if (what === 'config' && m === 'POST') {
    // Runtime knobs (the "controllable clock" for bulk processing, quota size, upload cap).
    const b = ((await readJson(ctx)) ?? {}) as { bulkProcessingDelayMs?: number; dailyApiLimit?: number; maxUploadBytes?: number };
    if (typeof b.bulkProcessingDelayMs === 'number') state.options.bulkProcessingDelayMs = b.bulkProcessingDelayMs;
    if (typeof b.dailyApiLimit === 'number') state.options.dailyApiLimit = b.dailyApiLimit;
    if (typeof b.maxUploadBytes === 'number') state.maxUploadBytes = b.maxUploadBytes;
    const { bulkProcessingDelayMs, dailyApiLimit } = state.options;
    return sendJson(ctx, 200, { bulkProcessingDelayMs, dailyApiLimit, maxUploadBytes: state.maxUploadBytes });
  }
  if (what === 'journal' && m === 'GET') return sendJson(ctx, 200, { enabled: state.journal !== null, entries: state.journal ?? [] });
  if (what === 'jobs' && m === 'GET')
    return sendJson(
      ctx,
      200,
      [...state.jobs.values()].map((j) => jobInfo(j, state.userId)),
    );
  if (what === 'userPermissions' && m === 'POST') {
    const b = ((await readJson(ctx)) ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(b)) state.userPermissions.set(k.replace(/^Permissions/, ''), v === true);
    return sendJson(ctx, 200, Object.fromEntries(state.userPermissions));
  }
  if (what === 'userPermissions' && m === 'GET') return sendJson(ctx, 200, Object.fromEntries(state.userPermissions));
  if (what === 'recordTypes' && m === 'POST') {
    const def = objectDef(ctx, arg);
    const b = await readJson(ctx);
    const list = (Array.isArray(b) ? b : [b]) as Array<{ developerName?: unknown }>;
    if (list.some((r) => typeof r?.developerName !== 'string' || !r.developerName))
      throw new HttpError(400, { error: 'each record type needs a developerName' });
    const made = list.map((r) => state.recordTypes.add(def, r as { developerName: string }, () => state.newRecordTypeId()));
    return sendJson(ctx, 201, made);
  }
  if (what === 'recordTypes' && m === 'GET')
    return sendJson(ctx, 200, arg ? state.recordTypes.of(arg) : [...state.recordTypes.byId.values()]);
  if (what === 'records') {
    const def = objectDef(ctx, arg);
    if (m === 'GET') {
      const all = ctx.query.get('includeDeleted') === 'true';
      const recs = all ? [...state.store(def).records.values()] : state.store(def).live();
      return sendJson(
        ctx,
        200,
        recs.map((r) => renderRecord('62.0', def, r)),
      );
    }
    if (m === 'POST') {
      const b = await readJson(ctx, { exactNumbers: true });
      const list = (Array.isArray(b) ? b : ((b as { records?: unknown[] } | null)?.records ?? [b])) as Array<Record<string, unknown>>;
      return sendJson(ctx, 201, { ids: list.map((r) => seed(ctx, def, r)) });
    }
  }
  throw new HttpError(404, { error: `no admin route ${m} /__admin/${seg.join('/')}` });
}
