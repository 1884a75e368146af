/**
 * check + discover: reads the custom table (and profile table) and validates the mapping against it.
 * All configuration problems are reported together in one non-retryable SyncError.
 */
import { SyncError, type SyncErrorCode } from '../../common/errors';
import type { CheckResult, FieldSpec } from '../types';
import { type ActitoOptions, PROFILE_PREFIX } from './config';
import { type Ctx, loadTables, splitFields, tableName, type Tables } from './context';
import { attributeNameProblem, isCompatible, typeForNewAttribute, VALUE_TYPES } from './mapping';
import { quotaTable, readQuota, rememberQuotaTables } from './quota';
import { isUniqueAttribute, mandatoryAttributes, TECHNICAL } from './structure';

interface Problem {
  code: SyncErrorCode;
  message: string;
}

export async function check(ctx: Ctx): Promise<CheckResult> {
  const opts = ctx.options;
  const tables = await loadTables(ctx, opts, true);
  // For the activation's quota read after the run, which makes no call to Actito.
  await rememberQuotaTables(ctx, tables);
  const result: CheckResult = { skippedFields: [], missingAttributes: [], warnings: [] };
  const problems: Problem[] = [];
  const { record, profile } = splitFields(ctx.fields);

  checkKey(ctx, tables, problems);
  for (const f of record) checkRecordField(f, tables, opts, problems, result);
  if (ctx.mode !== 'update') {
    const mapped = new Set(record.map((f) => f.to));
    const missing = mandatoryAttributes(tables.table).filter((a) => !mapped.has(a));
    if (missing.length)
      problems.push({
        code: 'CONFIG_INVALID',
        message: `mandatory attribute(s) ${missing.join(', ')} of table "${tables.table.name}" are not mapped; ${ctx.mode} creates records, so map a model column to each (or use mode "update")`,
      });
  }
  checkProfiles(ctx, tables, opts, profile, problems, result);
  checkProfileLinksUncut(ctx, tables, opts, problems);
  checkClearing(ctx, opts, problems);

  if (problems.length) {
    const first = problems[0] as Problem;
    const list = problems.map((p) => `  - ${p.message}`).join('\n');
    throw new SyncError(first.code, `Activation "${ctx.activationId}" cannot write to Actito table "${tableName(ctx)}":\n${list}`, {
      details: { problems: problems.length },
    });
  }
  await readQuota(ctx, quotaTable(tables, 'records'));
  if (tables.profileTable) await readQuota(ctx, quotaTable(tables, 'profiles'));
  return result;
}

function checkKey(ctx: Ctx, { table }: Tables, problems: Problem[]): void {
  const key = ctx.destination.key;
  const keyField = ctx.fields.find((f) => f.isKey);
  if (keyField?.truncate)
    problems.push({
      code: 'KEY_INVALID',
      message: `the key "${key}" cannot be cut ("truncate": true on "${keyField.from}"): two model keys that start alike would become one record, written by both rows and deleted by Mirror for either; remove "truncate" (a key longer than the attribute then fails its row) or use a key that fits`,
    });
  if (!table.attributes.has(key) && table.primaryKey !== key) {
    problems.push({
      code: 'KEY_INVALID',
      message: `the key "${key}" is not an attribute of table "${table.name}"; use its business key${table.primaryKey ? ` "${table.primaryKey}"` : ''} or another unique attribute (a key cannot be created on an existing table)`,
    });
  } else if (!isUniqueAttribute(table, key)) {
    problems.push({
      code: 'KEY_INVALID',
      message: `the key "${key}" is not a unique attribute of table "${table.name}", so it cannot identify records; use ${table.primaryKey ? `"${table.primaryKey}"` : 'a unique attribute'}`,
    });
  } else if (ctx.mode !== 'upsert' && table.primaryKey !== null && key !== table.primaryKey) {
    // GET, PUT and DELETE …/record/{key} take the business key (API notes §4.1), so does the create-or-update POST.
    problems.push({
      code: 'KEY_INVALID',
      message: `the key "${key}" is not the business key "${table.primaryKey}" of table "${table.name}": ${ctx.mode} reads, updates or deletes records by key one by one, and Actito addresses them by the business key, so a value of "${key}" would name no record or another one (Mirror would count a record deleted while it stays, Insert overwrite a record, Update find none); use "${table.primaryKey}" as the key, or sync in Upsert mode`,
    });
  }
}

/**
 * What finds a profile cannot be cut ("truncate": true), as the key cannot: the profile match value (two
 * customers whose values start alike would be one profile, the second row's attributes written over the
 * first's) and a record's foreign key to the profile table (the cut value links the record to another
 * customer's profile). Both were reported written.
 */
function checkProfileLinksUncut(ctx: Ctx, tables: Tables, opts: ActitoOptions, problems: Problem[]): void {
  const match = tables.profileTable ? opts.profiles?.matchAttribute : undefined;
  for (const f of ctx.fields) {
    if (!f.truncate) continue;
    if (match !== undefined && f.to === `${PROFILE_PREFIX}${match}`)
      problems.push({
        code: 'KEY_INVALID',
        message: `profiles.matchAttribute "${match}" cannot be cut ("truncate": true on "${f.from}"): two profiles whose values start alike would be one profile, the second row's values written over the first's; remove "truncate" (a value longer than the attribute then fails its row) or match on a value that fits`,
      });
    const fk = tables.table.foreignKeys.find((k) => k.tableType === 'PROFILE_TABLE' && k.attribute === f.to);
    if (fk)
      problems.push({
        code: 'KEY_INVALID',
        message: `"${f.to}" links each record to a profile (its "${fk.refAttribute}") and cannot be cut ("truncate": true on "${f.from}"): a cut value would link the record to another profile whose value starts alike; remove "truncate" (a value longer than the attribute then fails its row)`,
      });
  }
}

function checkRecordField(f: FieldSpec, { table }: Tables, opts: ActitoOptions, problems: Problem[], result: CheckResult): void {
  if (TECHNICAL.has(f.to)) {
    problems.push({
      code: 'FIELD_NOT_WRITABLE',
      message: `"${f.to}" is a technical attribute Actito fills itself; map "${f.from}" to another attribute`,
    });
    return;
  }
  const attr = table.attributes.get(f.to);
  if (!attr) {
    const nameProblem = attributeNameProblem(f.to);
    const type = typeForNewAttribute(f.pgType, f.type);
    if (nameProblem)
      problems.push({ code: 'FIELD_UNKNOWN', message: `attribute "${f.to}" does not exist and cannot be created: ${nameProblem}` });
    else if (!type)
      problems.push({
        code: 'FIELD_UNKNOWN',
        message: `attribute "${f.to}" does not exist and no Actito type is known for ${f.type ? `type "${f.type}"` : `model type ${f.pgType}`} of "${f.from}"; set "type" on the mapping (STRING, LONG, NUMBER, BOOLEAN, DATE, TIMESTAMP)`,
      });
    else if (!f.isKey && !isCompatible(type, f.pgType))
      // The attribute would refuse every value (and the next check would refuse the mapping), and its
      // type cannot be changed once created: refused before anything is created.
      problems.push({
        code: 'FIELD_NOT_WRITABLE',
        message: `attribute "${f.to}" would be created as ${type}, which cannot take "${f.from}" (${f.pgType}); an attribute's type cannot be changed once created, so set "type" on the mapping to one that takes it (${VALUE_TYPES.filter((t) => isCompatible(t, f.pgType)).join(', ')}) or cast the column in the model`,
      });
    else if (!f.isKey) result.missingAttributes.push({ field: f.to, type });
    return;
  }
  if (isCompatible(attr.valueType, f.pgType)) return;
  const reason = `attribute "${f.to}" is ${attr.valueType} and cannot take "${f.from}" (${f.pgType})`;
  if (f.isKey || opts.incompatibleFields === 'fail')
    problems.push({
      code: f.isKey ? 'KEY_INVALID' : 'FIELD_NOT_WRITABLE',
      message: `${reason}; cast the column in the model, or set "incompatibleFields": "skip"`,
    });
  else result.skippedFields.push({ field: f.to, reason });
}

function checkProfiles(
  ctx: Ctx,
  tables: Tables,
  opts: ActitoOptions,
  fields: Array<FieldSpec & { attribute: string }>,
  problems: Problem[],
  result: CheckResult,
): void {
  const p = opts.profiles;
  const pt = tables.profileTable;
  if (!p || !pt) {
    if (fields.length)
      problems.push({
        code: 'CONFIG_INVALID',
        message: `fields mapped to "profile.*" (${fields.map((f) => f.to).join(', ')}) need "destination.options.profiles"`,
      });
    const fk = tables.table.foreignKeys.find((k) => k.tableType === 'PROFILE_TABLE');
    if (fk)
      result.warnings.push({
        code: 'ACTITO_PROFILES_NOT_MANAGED',
        level: 'info',
        message: `table "${tables.table.name}" links to profiles through "${fk.attribute}"; records whose profile does not exist will be refused (set destination.options.profiles to create them first)`,
      });
    return;
  }
  if (!isUniqueAttribute(pt, p.matchAttribute)) {
    problems.push({
      code: 'KEY_INVALID',
      message: `profiles.matchAttribute "${p.matchAttribute}" is not a unique attribute of profile table "${pt.name}" (unique: ${
        [...pt.attributes.values()]
          .filter((a) => a.unique && !TECHNICAL.has(a.name))
          .map((a) => a.name)
          .join(', ') || 'none'
      })`,
    });
  }
  for (const f of fields) {
    const a = pt.attributes.get(f.attribute);
    if (!a || TECHNICAL.has(f.attribute))
      problems.push({
        code: 'FIELD_UNKNOWN',
        message: `"${f.to}": profile table "${pt.name}" has no writable attribute "${f.attribute}" (profile attributes are not created automatically)`,
      });
    else if (!isCompatible(a.valueType, f.pgType))
      problems.push({ code: 'FIELD_NOT_WRITABLE', message: `"${f.to}" is ${a.valueType} and cannot take "${f.from}" (${f.pgType})` });
  }
  const direct = fields.some((f) => f.attribute === p.matchAttribute);
  const mapped = new Set(ctx.fields.map((f) => f.to));
  const viaFk = tables.table.foreignKeys.some(
    (k) => k.tableType === 'PROFILE_TABLE' && k.refAttribute === p.matchAttribute && mapped.has(k.attribute),
  );
  if (!direct && !viaFk) {
    problems.push({
      code: 'CONFIG_INVALID',
      message: `profiles are matched on "${p.matchAttribute}" but no mapping fills it: map a model column to "profile.${p.matchAttribute}"`,
    });
  }
  if (p.mode === 'upsert' || ctx.mode !== 'update') {
    const have = new Set([...fields.map((f) => f.attribute), p.matchAttribute]);
    const missing = mandatoryAttributes(pt).filter((a) => !have.has(a));
    if (missing.length)
      problems.push({
        code: 'CONFIG_INVALID',
        message: `mandatory profile attribute(s) ${missing.join(', ')} of "${pt.name}" are not mapped; map them as "profile.<attribute>"`,
      });
  }
}

/**
 * A value cleared in the model (NULL or empty text) reaches Actito only as an empty value, and whether
 * Actito then clears the stored one is the connection's `emptyOnUpdate` [A]. Combinations that would
 * report rows written while Actito holds something else are refused, for writes that can update.
 */
function checkClearing(ctx: Ctx, opts: ActitoOptions, problems: Problem[]): void {
  const updates = ctx.mode !== 'insert' || (opts.profiles !== undefined && opts.profiles.mode !== 'insert');
  if (!updates) return;
  const conn = `connection "${ctx.destination.connection}"`;
  if (opts.nulls === 'send' && ctx.connection.emptyOnUpdate === 'keep') {
    problems.push({
      code: 'CONFIG_INVALID',
      message: `"nulls": "send" cannot clear anything: ${conn} says Actito keeps a stored value when sent an empty one ("emptyOnUpdate": "keep"), so a value cleared in the model would be reported written while Actito keeps the old one. If Actito clears it (check on one record), set "emptyOnUpdate": "clear" on the connection; otherwise remove "nulls" (cleared values are then not synced)`,
    });
  }
  if (opts.nulls === 'skip' && ctx.connection.emptyOnUpdate === 'clear') {
    problems.push({
      code: 'CONFIG_INVALID',
      message: `"nulls": "skip" cannot be honoured: ${conn} says Actito clears an attribute sent empty ("emptyOnUpdate": "clear"), and an import file has a cell for every row and column, so bulk writes would clear what one-by-one writes leave untouched. Remove "nulls" (it then defaults to "send": a value cleared in the model is cleared in Actito)`,
    });
  }
}
