/**
 * ensureAttributes: creates missing custom-table attributes, optional and non-unique (a mandatory or
 * key attribute cannot be added to a populated table, API notes §3). Safe when two workers race: the
 * table is re-read first and after any refusal, and an attribute someone else created counts as done.
 */
import { SyncError } from '../../common/errors';
import type { AttributeCreation, CheckResult } from '../types';
import { apiFor, type Ctx, forgetTables, loadTables, tableName } from './context';
import { ActitoHttpError, bodyMessage, toSyncError } from './errors';
import { attributeNameProblem, isCompatible, isValueType, PG_TO_ACTITO } from './mapping';
import { addCustomTableAttributes } from './routes';
import type { TableInfo } from './structure';

// Workers in one process take turns per table, so the second one's fresh read sees the first one's
// attributes (Actito answers 200 to a same-definition re-add, which would hide who created it).
const locks = new Map<string, Promise<unknown>>();

export async function ensureAttributes(ctx: Ctx, missing: CheckResult['missingAttributes']): Promise<AttributeCreation[]> {
  if (missing.length === 0) return [];
  const lockKey = `${ctx.connection.baseUrl}|${ctx.connection.entity}|${tableName(ctx)}`;
  const previous = locks.get(lockKey) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(() => createMissing(ctx, missing));
  locks.set(lockKey, mine);
  try {
    return await mine;
  } finally {
    if (locks.get(lockKey) === mine) locks.delete(lockKey);
  }
}

async function createMissing(ctx: Ctx, missing: CheckResult['missingAttributes']): Promise<AttributeCreation[]> {
  const wanted = missing.map((m) => ({ name: m.field, valueType: m.type.toUpperCase() }));
  const problems = wanted.flatMap((w) => {
    const p = attributeNameProblem(w.name) ?? (isValueType(w.valueType) ? null : `unknown Actito type "${w.valueType}"`);
    return p ? [`"${w.name}": ${p}`] : [];
  });
  if (problems.length)
    throw new SyncError(
      'FIELD_UNKNOWN',
      `Activation "${ctx.activationId}": cannot create Actito attribute(s):\n  - ${problems.join('\n  - ')}`,
    );

  const opts = ctx.options;
  const before = (await loadTables(ctx, opts, true)).table;
  const toCreate = wanted.filter((w) => !before.attributes.has(w.name));
  let refused: unknown = null;
  if (toCreate.length) {
    try {
      await addCustomTableAttributes(apiFor(ctx), before.id, toCreate);
    } catch (err) {
      // 4xx: maybe another worker added them meanwhile; decide on a fresh read, never by retrying blindly.
      if (!(err instanceof ActitoHttpError) || err.status >= 500 || err.status === 429 || err.status === 401 || err.status === 403)
        throw toSyncError(err, `Creating attributes on table "${before.name}"`);
      refused = err;
    }
  }
  forgetTables(ctx);
  const after = (await loadTables(ctx, opts, true)).table;
  return wanted.map((w) => {
    const existed = before.attributes.has(w.name);
    verify(ctx, after, w, refused);
    return { field: w.name, type: after.attributes.get(w.name)?.valueType ?? w.valueType, created: !existed && refused === null };
  });
}

function verify(ctx: Ctx, table: TableInfo, w: { name: string; valueType: string }, refused: unknown): void {
  const a = table.attributes.get(w.name);
  const why = refused instanceof ActitoHttpError ? ` (Actito answered ${refused.status}: ${bodyMessage(refused.body) || 'no detail'})` : '';
  if (!a)
    throw new SyncError(
      'FIELD_UNKNOWN',
      `Activation "${ctx.activationId}": attribute "${w.name}" could not be created on table "${table.name}"${why}.`,
    );
  // Someone else created it with another type: accept it only if it still takes our values.
  const pg = Object.entries(PG_TO_ACTITO).find(([, t]) => t === w.valueType)?.[0] ?? 'text';
  if (a.valueType !== w.valueType && !isCompatible(a.valueType, pg)) {
    throw new SyncError(
      'FIELD_NOT_WRITABLE',
      `Activation "${ctx.activationId}": attribute "${w.name}" exists on table "${table.name}" as ${a.valueType}, not ${w.valueType}${why}.`,
    );
  }
}
