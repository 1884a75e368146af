/**
 * Every Actito route and payload shape in ONE place. Shapes tagged [A] (README "Sources and
 * assumptions", docs/sources/actito-api.md) are assumptions: correct them here against Actito's
 * published OpenAPI files without touching the rest of the connector.
 */
import type { JsonNumber } from '../../common/json-exact';
import { multipartBody } from '../kit/http-stream';
import type { ActitoCallKind, ActitoClient, RequestOptions, Response } from './client';
import type { RoutePrefixes } from './config';
import { CSV_ENCLOSING, CSV_SEPARATOR } from './csv';
import { ActitoHttpError, bodyMessage } from './errors';
import { type Attribute, type TableInfo, parseTable, parseTableList } from './structure';

export type Scalar = string | number | boolean | null;
export type Properties = Array<{ name: string; value: Scalar }>;

export interface Api {
  client: ActitoClient;
  prefixes: RoutePrefixes;
  /** The context's request counter (`ctx.apiCall`). */
  apiCall: (kind: ActitoCallKind) => void;
}

/** Every route below goes through here, naming its kind for the API-call metric. */
function call<T = unknown>(
  a: Api,
  kind: ActitoCallKind,
  method: string,
  path: string,
  opts: Omit<RequestOptions, 'kind' | 'onApiCall'> = {},
): Promise<Response<T>> {
  return a.client.request<T>(method, path, { ...opts, kind, onApiCall: a.apiCall });
}

/**
 * Default category prefix of each route family (Actito's 2025 URL reorganisation, API notes §1, §12;
 * README "Routes"). [D] for all but `records`, which only Actito's developer portal shows [A]. Each is a
 * connection option (`routePrefixes`, `routePrefix: ""` for the legacy unprefixed URLs).
 */
export const DEFAULT_ROUTE_PREFIXES = {
  structure: '/custom-table-structure',
  profileStructure: '/profile-table-structure',
  records: '/custom-data',
  profiles: '/profiles',
  imports: '/mass-imports',
} as const;

const seg = encodeURIComponent;
const entity = (a: Api, v: 'v4' | 'v5'): string =>
  v === 'v4' ? `/v4/entity/${seg(a.client.entity)}` : `/v5/entities/${seg(a.client.entity)}`;

// ---- structures (v5 [D S7, S8]; list wrapper key [A], parsed leniently) ----

export async function listCustomTables(a: Api): Promise<TableInfo[]> {
  const res = await call(a, 'schema', 'GET', `${a.prefixes.structure}${entity(a, 'v5')}/custom-tables`);
  return parseTableList(res.body);
}

export async function getCustomTable(a: Api, id: string): Promise<TableInfo | null> {
  const res = await call(a, 'schema', 'GET', `${a.prefixes.structure}${entity(a, 'v5')}/custom-tables/${seg(id)}`);
  return parseTable(res.body);
}

export async function listProfileTables(a: Api): Promise<TableInfo[]> {
  const res = await call(a, 'schema', 'GET', `${a.prefixes.profileStructure}${entity(a, 'v5')}/profile-tables`);
  return parseTableList(res.body);
}

/** [A] Adds optional, non-unique attributes: PATCH the table with `{attributes:[...]}` meaning "add these" (API notes §3). */
export async function addCustomTableAttributes(
  a: Api,
  tableId: string,
  attrs: Array<Pick<Attribute, 'name' | 'valueType'>>,
): Promise<void> {
  const attributes = attrs.map((x) => ({ name: x.name, valueType: x.valueType, mandatory: false, indexed: false, unique: false }));
  await call(a, 'schema', 'PATCH', `${a.prefixes.structure}${entity(a, 'v5')}/custom-tables/${seg(tableId)}`, { json: { attributes } });
}

// ---- custom-table records, one by one (v4 [C C1, C2, C3]; still v4 in Actito's portal, §12) ----
// The v4 mass import (`…/customTable/{t}/import`) is never called: Actito retired it at the end of June
// 2025; bulk writes use the v5 ETL executions below.

const recordsPath = (a: Api, table: string): string => `${a.prefixes.records}${entity(a, 'v4')}/customTable/${seg(table)}/record`;

/**
 * A key no URL path can carry as its segment: "." and ".." are dot segments, which URL parsing (WHATWG, as
 * fetch does) removes, their percent-encoded spellings (`%2e`) too. `…/record/..` would reach
 * `…/customTable/{t}`: a DELETE answered 404 there would count the record gone while it stays, a GET
 * answered 404 would make Insert create-or-update (overwrite) it. Calls by such a key are refused; the
 * create-or-update POST carries the key in its body and an import in its file, so those still write it.
 */
export const keyNotAddressable = (key: string): boolean => key === '.' || key === '..';

/** The record's path by key; never for a key `keyNotAddressable` refuses (callers check it first). */
const recordPath = (a: Api, table: string, key: string): string => {
  if (keyNotAddressable(key)) throw new Error(`the key "${key}" cannot be addressed in a URL path`);
  return `${recordsPath(a, table)}/${seg(key)}`;
};

/** Create or update by the table's business key. */
export async function upsertRecord(a: Api, table: string, properties: Properties): Promise<void> {
  await call(a, 'record', 'POST', recordsPath(a, table), { json: { properties } });
}

/** Update only: 404 when no record has this business key. */
export async function updateRecord(a: Api, table: string, key: string, properties: Properties): Promise<void> {
  await call(a, 'record', 'PUT', recordPath(a, table, key), { json: { properties }, route: `${recordsPath(a, table)}/{key}` });
}

/** A record as read back: its number values kept as written (a LONG past 2^53 keeps every digit). */
export type StoredProperties = Array<{ name: string; value: Scalar | JsonNumber }>;

/** The record's properties, or null when it does not exist. */
export async function getRecord(a: Api, table: string, key: string): Promise<StoredProperties | null> {
  try {
    const res = await call<{ properties?: StoredProperties }>(a, 'record', 'GET', recordPath(a, table, key), {
      exactNumbers: true,
      route: `${recordsPath(a, table)}/{key}`,
    });
    return res.body?.properties ?? [];
  } catch (err) {
    if (err instanceof ActitoHttpError && err.status === 404) return null;
    throw err;
  }
}

/**
 * [C] `{recordKey}` is the business key or, when no record has it, a record's technical id (API notes §4.1):
 * a key of digits whose record is gone names another record, whose technical id it is.
 */
export const keyMayNameTechnicalId = (key: string): boolean => /^[+-]?\d+$/.test(key);

/**
 * Deletes by business key; false when it was already gone (404). `resend: false` never sends it twice: a
 * DELETE whose answer was lost, sent again by a key that may name a technical id, would delete another record.
 * A 429 is sent again either way: refused before anything was applied, the DELETE was never carried out.
 */
export async function deleteRecord(a: Api, table: string, key: string, resend = true): Promise<boolean> {
  try {
    await call(a, 'record', 'DELETE', recordPath(a, table, key), {
      route: `${recordsPath(a, table)}/{key}`,
      idempotent: resend,
      resendRefused: true,
    });
    return true;
  } catch (err) {
    if (err instanceof ActitoHttpError && err.status === 404) return false;
    throw err;
  }
}

/**
 * [A] Whether this licence refuses the record routes of `table` here (its 404, else null) (the `records` prefix, the entity, the
 * table): a 404 to PUT or DELETE by key cannot say by itself whether the record or the route is missing.
 * The table's record list (`GET …/record?number=1` [C]) answers with a list, an empty one for an empty
 * table, wherever the record routes are served: 404 there means the route (or the table) is unknown. Any
 * other refusal of the query (400, 405, 422) still shows a route that exists; 401, 403, 429 and 5xx are
 * thrown, nothing told.
 */
export function recordRoutesRefused(a: Api, table: string): Promise<ActitoHttpError | null> {
  return listRefused(a, 'record', recordsPath(a, table));
}

/**
 * A first page of a list (`number=1`): null when the route answers (a list, or a 400/405/422 about the
 * query), the 404 when it does not serve it here; anything else (429, 5xx) is thrown, the route not told.
 */
async function listRefused(a: Api, kind: 'record' | 'profile', path: string): Promise<ActitoHttpError | null> {
  try {
    await call(a, kind, 'GET', path, { query: { number: '1' } });
    return null;
  } catch (err) {
    if (!(err instanceof ActitoHttpError)) throw err;
    if (err.status === 404) return err;
    if ([400, 405, 422].includes(err.status)) return null;
    throw err;
  }
}

// ---- profiles (v4 [D S15, S16]) ----

const profilesPath = (a: Api, profileTable: string): string =>
  `${a.prefixes.profiles}${entity(a, 'v4')}/table/${seg(profileTable)}/profile`;

/** Creates a profile, or updates the one matching a unique attribute when `allowUpdate`. */
export async function upsertProfile(a: Api, profileTable: string, attributes: Properties, allowUpdate: boolean): Promise<void> {
  await call(a, 'profile', 'POST', profilesPath(a, profileTable), {
    json: { attributes },
    query: allowUpdate ? { allowUpdate: 'true' } : {},
  });
}

/**
 * Updates the profile whose unique attribute `attribute` is `value` (`PUT …/profile/{attr}={value}`);
 * never creates one. False when no such profile exists (404).
 */
export async function updateProfile(
  a: Api,
  profileTable: string,
  attribute: string,
  value: string,
  attributes: Properties,
): Promise<boolean> {
  try {
    const profile = profilesPath(a, profileTable);
    await call(a, 'profile', 'PUT', `${profile}/${seg(`${attribute}=${value}`)}`, {
      json: { attributes },
      route: `${profile}/${seg(attribute)}={value}`,
    });
    return true;
  } catch (err) {
    if (err instanceof ActitoHttpError && err.status === 404) return false;
    throw err;
  }
}

/**
 * [A] Whether this licence refuses the profile routes of `profileTable` here (its 404, else null) (the
 * `profiles` prefix, the entity, the table): a 404 to `PUT …/profile/{attr}={value}` cannot say by itself
 * whether the profile or the route is missing. The profile table's v4 list (`GET …/profile?number=1`
 * [C C1 getProfiles]) answers with a list, an empty one for an empty table, wherever the profile routes
 * are served: 404 there means the route (or the table) is unknown. Any other refusal of the query (400,
 * 405, 422) still shows a route that exists; 401, 403, 429 and 5xx are thrown, nothing told.
 */
export function profileRoutesRefused(a: Api, profileTable: string): Promise<ActitoHttpError | null> {
  return listRefused(a, 'profile', profilesPath(a, profileTable));
}

// ---- bulk imports: v5 one-shot ETL executions (API notes §4.2, §9: definition and result shapes [A]) ----

export type ImportMode = 'CREATE_ONLY' | 'UPDATE_ONLY' | 'CREATE_UPDATE';

export interface ImportDefinition {
  name: string;
  tableType: 'CUSTOM_TABLE' | 'PROFILE_TABLE';
  tableId: string;
  mode: ImportMode;
  keyAttribute: string;
  compression: 'GZIP' | 'ZIP';
  columns: string[];
}

export function etlDefinition(d: ImportDefinition): Record<string, unknown> {
  return {
    name: d.name,
    tableType: d.tableType,
    tableId: d.tableId,
    mode: d.mode,
    keyAttribute: d.keyAttribute,
    file: { compression: d.compression, encoding: 'UTF-8', separator: CSV_SEPARATOR, enclosing: CSV_ENCLOSING },
    mapping: d.columns.map((c) => ({ column: c, attribute: c })),
    reportRecipients: [],
  };
}

/**
 * Starts an import; NOT idempotent (a lost answer must not make us send the file twice). `file` on disk
 * (a built import file, streamed from disk as it is sent, never held whole) or in memory. A multipart
 * body of `inputFile` (the file, named after the execution) and `definition` (the JSON below).
 */
export async function startImport(a: Api, def: ImportDefinition, file: Buffer | { path: string; bytes: number }): Promise<string> {
  const ext = def.compression === 'ZIP' ? 'zip' : 'csv.gz';
  const upload = multipartBody([
    { name: 'inputFile', filename: `${def.name}.${ext}`, content: file },
    { name: 'definition', filename: 'blob', type: 'application/json', content: Buffer.from(JSON.stringify(etlDefinition(def))) },
  ]);
  const res = await call<Record<string, unknown>>(a, 'import', 'POST', `${a.prefixes.imports}${entity(a, 'v5')}/etl-executions`, {
    upload,
    idempotent: false,
    timeoutMs: 10 * 60_000,
  });
  const id = res.body?.id ?? res.body?.executionId;
  if (typeof id !== 'string' && typeof id !== 'number') throw new Error('the ETL execution answer carries no id');
  return String(id);
}

/**
 * [A] How an upload refused for the table's daily import quota is told from the concurrency limit:
 * both answer 429 (API notes §7), and the quota's answer mentions "quota" (its body is undocumented).
 */
export const isQuotaRefusal = (err: unknown): boolean =>
  err instanceof ActitoHttpError && err.status === 429 && /quota/i.test(bodyMessage(err.body));

export interface ImportLineError {
  /** Physical CSV line; the header is line 1, so the first data row is line FIRST_DATA_LINE. */
  line: number | null;
  /** Value of the key column on that line. */
  key: string | null;
  /** Stable error code when the report has one (e.g. ALREADY_EXISTS, NOT_FOUND). */
  code: string | null;
  message: string;
}
export const FIRST_DATA_LINE = 2;
/**
 * [A] How a report names why a line was rejected: CREATE_ONLY refuses a line whose key exists
 * (`ALREADY_EXISTS`), UPDATE_ONLY one whose key does not (`NOT_FOUND`). Any other line error is a value error.
 */
export const lineAlreadyExists = (e: ImportLineError): boolean => e.code === 'ALREADY_EXISTS';
export const lineNotFound = (e: ImportLineError): boolean => e.code === 'NOT_FOUND';
/**
 * [A] Physical lines one data row takes in the file: a line break inside a (quoted) cell starts a new
 * physical line, and the report numbers the line on which a row starts.
 */
export function physicalLines(props: Properties): number {
  let n = 1;
  for (const p of props) if (typeof p.value === 'string') for (let i = p.value.indexOf('\n'); i >= 0; i = p.value.indexOf('\n', i + 1)) n++;
  return n;
}
export interface ImportStatus {
  status: string;
  finished: boolean;
  /** The whole import failed (status ERROR): no line was written. */
  failed: boolean;
  /** Ended with rejected lines (WITH_ERROR): the report must name them. */
  withErrors: boolean;
  errors: ImportLineError[];
  /** How many errors the report says there are (`errorCount`, or the `total` of the error pages); null when it does not say. */
  errorTotal: number | null;
  /** False when the error pages could not all be read (see allImportErrors). */
  errorsComplete: boolean;
  /** Lines imported (created + updated) and rejected, when the report counts them. */
  counts: { imported: number; rejected: number } | null;
}

const FINISHED = new Set(['SUCCESS', 'WITH_ERROR', 'WITH_ERRORS', 'ERROR', 'FAILED']);

const executionPath = (a: Api, id: string): string => `${a.prefixes.imports}${entity(a, 'v5')}/etl-executions/${seg(id)}`;

export async function getImport(a: Api, id: string): Promise<ImportStatus> {
  const res = await call<Record<string, unknown>>(a, 'import_status', 'GET', executionPath(a, id));
  const status = parseImportStatus(res.body);
  // [A] The status carries the first errors inline (errorsTruncated when there are more); the full
  // report is paged under /errors. Read it whenever the inline list cannot be the whole report.
  const short = status.errorTotal !== null ? status.errors.length < status.errorTotal : status.withErrors && status.errors.length === 0;
  if (status.finished && (res.body?.errorsTruncated === true || short)) {
    const all = await allImportErrors(a, id);
    status.errors = all.errors;
    status.errorsComplete = all.complete;
    if (all.total !== null) status.errorTotal = Math.max(status.errorTotal ?? 0, all.total);
  }
  return status;
}

const ERROR_PAGE = 10_000;
/** Enough pages for any file under Actito's 100 MB limit; a server that ignores `offset` must not loop forever. */
const MAX_ERROR_PAGES = 1_000;

/**
 * Every page of the error report. A page shorter than asked ends it; so does reaching the `total`
 * when the server gives one (it may not: then only a short page ends it).
 */
async function allImportErrors(a: Api, id: string): Promise<{ errors: ImportLineError[]; total: number | null; complete: boolean }> {
  const errors: ImportLineError[] = [];
  let total: number | null = null;
  for (let page = 0; page < MAX_ERROR_PAGES; page++) {
    const res = await call<Record<string, unknown>>(a, 'import_errors', 'GET', `${executionPath(a, id)}/errors`, {
      query: { offset: String(page * ERROR_PAGE), limit: String(ERROR_PAGE) },
    });
    const got = parseImportStatus({ status: 'SUCCESS', errors: res.body?.errors }).errors;
    errors.push(...got);
    if (typeof res.body?.total === 'number') total = res.body.total;
    if (got.length < ERROR_PAGE || (total !== null && errors.length >= total)) return { errors, total, complete: true };
  }
  return { errors, total, complete: false };
}

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);

export function parseImportStatus(body: unknown): ImportStatus {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const status = String(b.status ?? 'PENDING').toUpperCase();
  const rawErrors = Array.isArray(b.errors) ? b.errors : [];
  const errors = rawErrors.map((e): ImportLineError => {
    const r = e && typeof e === 'object' ? (e as Record<string, unknown>) : {};
    const attr = typeof r.attribute === 'string' ? `${r.attribute}: ` : typeof r.field === 'string' ? `${r.field}: ` : '';
    return {
      line: typeof r.line === 'number' ? r.line : null,
      key: r.key === undefined || r.key === null ? null : String(r.key),
      code: typeof r.code === 'string' ? r.code : null,
      message:
        typeof r.message === 'string'
          ? attr && r.message.startsWith(attr)
            ? r.message
            : attr + r.message
          : `${attr}rejected by the import`,
    };
  });
  // [A] counts {read, created, updated, rejected} (API notes §9); absent counts are not guessed.
  const c = b.counts && typeof b.counts === 'object' ? (b.counts as Record<string, unknown>) : {};
  const [created, updated, rejected] = [count(c.created), count(c.updated), count(c.rejected)];
  const counts = created !== null && updated !== null && rejected !== null ? { imported: created + updated, rejected } : null;
  return {
    status,
    finished: FINISHED.has(status),
    failed: status === 'ERROR' || status === 'FAILED',
    withErrors: status === 'WITH_ERROR' || status === 'WITH_ERRORS',
    errors,
    errorTotal: count(b.errorCount),
    errorsComplete: true,
    counts,
  };
}
