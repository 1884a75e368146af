import { randomUUID } from 'node:crypto';
import { decodeImportFile } from './bulk-file';
import { executionView, type ImportExecution, type ImportMode } from './bulk-import';
import { apiError, HttpError, isObject, json, parseJson, type Reply } from './http';
import { parseMultipart, type Part } from './multipart';
import type { Route, RouteContext } from './router';
import type { EmulatorState } from './state';
import type { Table } from './table';

function parseMode(v: unknown): ImportMode {
  if (v === undefined || v === 'CREATE_UPDATE' || v === 'CREATE_OR_UPDATE') return 'CREATE_UPDATE';
  if (v === 'CREATE_ONLY' || v === 'UPDATE_ONLY') return v;
  throw new HttpError(400, `mode '${String(v)}' is not one of CREATE_ONLY, UPDATE_ONLY, CREATE_UPDATE`);
}

function jsonPart(parts: Part[], names: string[]): Record<string, unknown> {
  const part = parts.find((p) => names.includes(p.name));
  if (!part) return {};
  const v = parseJson(part.data);
  if (!isObject(v)) throw new HttpError(400, `part '${part.name}' must be a JSON object`);
  return v;
}

/** The data file: a part named inputFile/file/dataFile, else the first part with a filename [A for v5]. */
function filePart(parts: Part[]): Part {
  const p = parts.find((x) => ['inputFile', 'file', 'dataFile'].includes(x.name)) ?? parts.find((x) => x.filename !== undefined);
  if (!p) throw new HttpError(400, "multipart body has no file part (expected 'inputFile')");
  return p;
}

/** v5 ETL definition [A, API notes §9]: tableType, tableId, mode, keyAttribute, file{separator, encoding}, mapping[]. */
interface Definition {
  table: Table;
  mode: ImportMode;
  keyAttribute: string;
  separator: string;
  charset: string;
  mapping?: Map<string, string>;
}

function fromV5Definition(state: EmulatorState, d: Record<string, unknown>): Definition {
  const tableId = String(d.tableId ?? d.table ?? '');
  const table = d.tableType === 'PROFILE_TABLE' ? state.tables.profileTable(tableId) : state.tables.customTable(tableId);
  if (!table) throw new HttpError(400, `ETL definition: table '${tableId}' (${String(d.tableType ?? 'CUSTOM_TABLE')}) not found`);
  const file = isObject(d.file) ? d.file : {};
  const mapping = Array.isArray(d.mapping)
    ? new Map(d.mapping.filter(isObject).map((m) => [String(m.column), String(m.attribute)] as [string, string]))
    : undefined;
  return {
    table,
    mode: parseMode(d.mode),
    keyAttribute: typeof d.keyAttribute === 'string' ? d.keyAttribute : table.primaryKeyAttribute,
    separator: typeof file.separator === 'string' && file.separator.length === 1 ? file.separator : ',',
    charset: typeof file.encoding === 'string' ? file.encoding : 'UTF-8',
    ...(mapping ? { mapping } : {}),
  };
}

/** A report as the `reportOmits` fault leaves it: without the parts a client must not count on. */
function withOmissions(state: EmulatorState, view: Record<string, unknown>): Record<string, unknown> {
  const f = state.faults;
  const out = { ...view };
  if (f.omits('errors')) delete out.errors;
  else if (Array.isArray(out.errors) && (f.omits('line') || f.omits('key'))) {
    out.errors = out.errors.map((e: Record<string, unknown>) => {
      const { line, key, ...rest } = e;
      return { ...rest, ...(f.omits('line') ? {} : { line }), ...(f.omits('key') ? {} : { key }) };
    });
  }
  for (const part of ['total', 'counts', 'errorCount'] as const) if (f.omits(part)) delete out[part];
  return out;
}

export function bulkRoutes(state: EmulatorState): Route[] {
  const bodyLimit = state.config.maxBulkFileBytes + 1024 * 1024;
  const etls = state.imports.etls;

  const submit = (def: Definition, file: Part, sent: unknown): Reply => {
    // Over quota → 429 [D S3]; checked first so a refused file costs nothing.
    if (state.imports.quotaLeft(def.table) <= 0 || state.faults.on('bulkQuotaExhausted')) {
      return apiError(
        429,
        `daily bulk import quota of ${state.config.dailyBulkImportQuota} imports reached for table '${def.table.name}'; retry tomorrow (UTC)`,
      );
    }
    const decoded = decodeImportFile(file.data, { ...def, maxBytes: state.config.maxBulkFileBytes });
    const exec = state.imports.submit({
      api: 'v5',
      table: def.table,
      mode: def.mode,
      keyAttribute: def.keyAttribute,
      file: decoded,
      definition: sent,
    });
    const e = state.config.entity;
    return json(202, { id: exec.id, status: exec.status }, { Location: `/mass-imports/v5/entities/${e}/etl-executions/${exec.id}` });
  };

  const v5Execution = (ctx: RouteContext): Reply => {
    state.requireEntity(ctx.params);
    const parts = parseMultipart(ctx.body, ctx.headers['content-type']);
    const d = jsonPart(parts, ['definition', 'etlDefinition', 'etl', 'parameters']);
    return submit(fromV5Definition(state, d), filePart(parts), d);
  };

  const trigger = (ctx: RouteContext): Reply => {
    state.requireEntity(ctx.params);
    const d = etls.get(ctx.params.etlId ?? '');
    if (!d) return apiError(404, `ETL '${ctx.params.etlId}' not found`);
    const parts = parseMultipart(ctx.body, ctx.headers['content-type']);
    return submit(fromV5Definition(state, d), filePart(parts), { etlId: ctx.params.etlId, ...d });
  };

  const createEtl = (ctx: RouteContext): Reply => {
    state.requireEntity(ctx.params);
    const d = parseJson(ctx.body);
    if (!isObject(d)) throw new HttpError(400, 'body must be an ETL definition object');
    fromV5Definition(state, d);
    const id = randomUUID();
    etls.set(id, { ...d, id });
    return json(201, { id }, { Location: `/mass-imports/v5/entities/${state.config.entity}/etls/${id}` });
  };

  const find = (ctx: RouteContext, id: string | undefined): ImportExecution => {
    state.requireEntity(ctx.params);
    const exec = state.imports.executions.get(id ?? '');
    if (!exec) throw new HttpError(404, `execution '${id}' not found`);
    return exec;
  };
  const status =
    (param: string) =>
    (ctx: RouteContext): Reply =>
      json(200, withOmissions(state, executionView(find(ctx, ctx.params[param]))));
  // Full error report, paged with ?offset=&limit= (default 10 000) [A].
  const errors =
    (param: string) =>
    (ctx: RouteContext): Reply => {
      const exec = find(ctx, ctx.params[param]);
      const offset = Math.max(0, Number(ctx.query.get('offset') ?? 0) || 0);
      const limit = Math.max(1, Number(ctx.query.get('limit') ?? 10_000) || 10_000);
      return json(
        200,
        withOmissions(state, { id: exec.id, total: exec.errorCount, offset, limit, errors: exec.errors.slice(offset, offset + limit) }),
      );
    };

  // The v4 mass import (`…/customTable/{t}/import`) is not served: Actito retired it at the end of
  // June 2025 and no connection option makes the connector call it.
  const V5 = '/v5/entities/:entity';
  const routes: Route[] = [
    { method: 'POST', pattern: `${V5}/etl-executions`, handler: v5Execution, bodyLimit },
    { method: 'GET', pattern: `${V5}/etl-executions/:executionId`, handler: status('executionId') },
    { method: 'GET', pattern: `${V5}/etl-executions/:executionId/errors`, handler: errors('executionId') },
    { method: 'POST', pattern: `${V5}/etls`, handler: createEtl },
    {
      method: 'GET',
      pattern: `${V5}/etls/:etlId`,
      handler: (ctx) => {
        state.requireEntity(ctx.params);
        const d = etls.get(ctx.params.etlId ?? '');
        return d ? json(200, d) : apiError(404, `ETL '${ctx.params.etlId}' not found`);
      },
    },
    { method: 'POST', pattern: `${V5}/etls/:etlId/trigger-execution`, handler: trigger, bodyLimit },
  ];
  return routes.map((r) => ({ ...r, prefix: '/mass-imports' }));
}
