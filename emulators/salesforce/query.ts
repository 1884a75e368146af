/** `GET /query?q=` and `GET /query/<locator>`: runs the small SOQL subset over the store, 2000 rows a page. */
import { restError } from './errors';
import { HttpError, sendJson, type Ctx } from './http';
import { renderRecord } from './record-json';
import { fieldIndex, type ObjectDef } from './schema';
import { parseSoql, SoqlError, type Cond, type Literal } from './soql';
import type { EmulatorState } from './state';
import type { Rec } from './store';

const PAGE = 2000;

interface Cursor {
  def: ObjectDef;
  recs: Rec[];
  fields: string[];
  pos: number;
}
const cursors = new WeakMap<EmulatorState, Map<string, Cursor>>();
let seq = 0;

/** Dates/datetimes compare as instants (stored `+0000` vs literal `Z`), anything else as text. */
function compareText(a: string, b: string): number {
  const ta = Date.parse(a.replace(/\+0000$/, 'Z'));
  const tb = Date.parse(b.replace(/\+0000$/, 'Z'));
  return /^\d{4}-\d{2}-\d{2}/.test(a) && !Number.isNaN(ta) && !Number.isNaN(tb) ? ta - tb : a.localeCompare(b);
}

function matches(rec: Rec, idx: number, c: Cond, def: ObjectDef): boolean {
  // IsDeleted is the record's recycle-bin state, not a stored value.
  const v = def.fields[idx]?.name === 'IsDeleted' ? rec.deleted : (rec.values[idx] ?? null);
  const eq = (l: Literal) => (l === null || v === null ? l === v : String(v).toLowerCase() === String(l).toLowerCase());
  switch (c.op) {
    case '=':
      return eq(c.values[0] ?? null);
    case '!=':
      return !eq(c.values[0] ?? null);
    case 'IN':
      return c.values.some(eq);
    case 'NOT IN':
      return !c.values.some(eq);
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const l = c.values[0] ?? null;
      if (v === null || l === null) return false;
      const cmp = typeof v === 'number' && typeof l === 'number' ? v - l : compareText(String(v), String(l));
      return c.op === '<' ? cmp < 0 : c.op === '<=' ? cmp <= 0 : c.op === '>' ? cmp > 0 : cmp >= 0;
    }
    case 'LIKE': {
      const re = new RegExp(
        `^${String(c.values[0])
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/%/g, '.*')
          .replace(/_/g, '.')}$`,
        'is',
      );
      return v !== null && re.test(String(v));
    }
  }
}

/**
 * A field of the query the object does not have: Salesforce's answer echoes the query's line with a caret
 * under the field's column, then "ERROR at Row:1:Column:N" and what is wrong (forcedotcom/soql-tooling#86,
 * forcedotcom/cli#1356). The emulator echoes the whole line (Salesforce may cut a long one to a window).
 */
function column(def: ObjectDef, name: string, soql: string): number {
  const i = fieldIndex(def, name);
  if (i === undefined) {
    const at = new RegExp(`\\b${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i').exec(soql)?.index ?? 0;
    throw new HttpError(
      400,
      restError(
        'INVALID_FIELD',
        `\n${soql}\n${' '.repeat(at)}^\nERROR at Row:1:Column:${at + 1}\nNo such column '${name}' on entity '${def.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
      ),
    );
  }
  return i;
}

function page(ctx: Ctx, version: string, id: string, c: Cursor, total: number): void {
  const slice = c.recs.slice(c.pos, c.pos + PAGE);
  c.pos += slice.length;
  const done = c.pos >= c.recs.length;
  const map = cursors.get(ctx.state);
  if (done) map?.delete(id);
  sendJson(ctx, 200, {
    totalSize: total,
    done,
    ...(done ? {} : { nextRecordsUrl: `/services/data/v${version}/query/${id}-${c.pos}` }),
    records: slice.map((r) => renderRecord(version, c.def, r, c.fields)),
  });
}

/**
 * `UserPermissionAccess`: one row, the current user's effective system permissions (`SELECT
 * PermissionsBulkApiHardDelete FROM UserPermissionAccess`). Only `Permissions*` fields the emulator knows.
 */
function userPermissionAccess(ctx: Ctx, fields: string[]): void {
  const perms = ctx.state.userPermissions;
  const record: Record<string, unknown> = { attributes: { type: 'UserPermissionAccess' } };
  for (const f of fields) {
    const name = /^Permissions(\w+)$/i.exec(f)?.[1];
    const known = name ? [...perms.keys()].find((k) => k.toLowerCase() === name.toLowerCase()) : undefined;
    if (f.toLowerCase() === 'id') {
      record.Id = null;
      continue;
    }
    if (!known)
      throw new HttpError(
        400,
        restError(
          'INVALID_FIELD',
          `No such column '${f}' on entity 'UserPermissionAccess'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`,
        ),
      );
    record[`Permissions${known}`] = perms.get(known) === true;
  }
  sendJson(ctx, 200, { totalSize: 1, done: true, records: [record] });
}

/** `all`: the `queryAll` resource, which also returns deleted records still in the recycle bin. */
export function handleQuery(ctx: Ctx, version: string, locator: string | undefined, all = false): void {
  if (locator) {
    const id = locator.replace(/-\d+$/, '');
    const c = cursors.get(ctx.state)?.get(id);
    if (!c) throw new HttpError(400, restError('INVALID_QUERY_LOCATOR', 'invalid query locator'));
    return page(ctx, version, id, c, c.recs.length);
  }
  let q;
  try {
    q = parseSoql(ctx.query.get('q') ?? '');
  } catch (e) {
    throw new HttpError(400, restError('MALFORMED_QUERY', e instanceof SoqlError ? e.message : String(e)));
  }
  if (q.object.toLowerCase() === 'userpermissionaccess') return userPermissionAccess(ctx, q.fields);
  const def = ctx.state.registry.get(q.object);
  if (!def) throw new HttpError(400, restError('INVALID_TYPE', `sObject type '${q.object}' is not supported.`));
  const soql = ctx.query.get('q') ?? '';
  // Salesforce points at the first unknown field of the query's text: the selected fields come first.
  q.fields.forEach((f) => column(def, f, soql));
  const conds = q.where.map((c) => ({ c, idx: column(def, c.field, soql) }));
  const store = ctx.state.store(def);
  let recs = (all ? [...store.records.values()] : store.live()).filter((r) => conds.every(({ c, idx }) => matches(r, idx, c, def)));
  if (q.orderBy) {
    const idx = column(def, q.orderBy.field, soql);
    const dir = q.orderBy.desc ? -1 : 1;
    recs.sort((a, b) => dir * String(a.values[idx] ?? '').localeCompare(String(b.values[idx] ?? '')));
  }
  recs = recs.slice(q.offset ?? 0, q.limit === undefined ? undefined : (q.offset ?? 0) + q.limit);
  if (q.count) return sendJson(ctx, 200, { totalSize: recs.length, done: true, records: [] });
  const id = `01gHp${String(++seq).padStart(10, '0')}`;
  const c: Cursor = { def, recs, fields: q.fields, pos: 0 };
  let map = cursors.get(ctx.state);
  if (!map) cursors.set(ctx.state, (map = new Map()));
  map.set(id, c);
  page(ctx, version, id, c, recs.length);
}
