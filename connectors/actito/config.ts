/**
 * Connection (credentials, environment) and destination options for Actito, parsed once with zod.
 * The API key is a secret: it never appears in messages, logs or `details`.
 */
import { z } from 'zod';
import { DEFAULT_ROUTE_PREFIXES } from './routes';

/** Route prefixes, configurable per route family; defaults and their status in routes.ts. */
const P = DEFAULT_ROUTE_PREFIXES;
export const routePrefixesSchema = z
  .object({
    structure: z.string().default(P.structure),
    profileStructure: z.string().default(P.profileStructure),
    records: z.string().default(P.records),
    profiles: z.string().default(P.profiles),
    imports: z.string().default(P.imports),
  })
  .strict();

export const connectionSchema = z
  .object({
    /** Raw API key (sent as-is to GET /auth/token). Secret. */
    apiKey: z.string().min(1).meta({ secret: true }),
    /** Environment host, e.g. https://api3.actito.com (the key is bound to one environment). */
    baseUrl: z
      .string()
      .url()
      .transform((u) => u.replace(/\/+$/, '')),
    /** Entity name (the `{entity}` path segment). */
    entity: z.string().min(1),
    /** One prefix for every route family, e.g. "" for the legacy unprefixed URLs. Overridden by `routePrefixes`. */
    routePrefix: z.string().optional(),
    routePrefixes: routePrefixesSchema.partial().optional(),
    /**
     * The licence the API key belongs to. Connections naming the same licence share its limits (requests
     * in flight) across every worker; by default a connection's licence is its host and entity.
     */
    licence: z.string().min(1).optional(),
    /**
     * Requests in flight on the licence, counted across every worker of the cluster (Actito answers 429
     * above 5 concurrent requests per licence; the default leaves one for the licence's other tools).
     */
    maxInFlight: z.number().int().min(1).max(5).default(4),
    requestTimeoutMs: z.number().int().positive().default(60_000),
    /**
     * [A] What Actito does with an empty value (JSON null, empty import cell) sent for an attribute of
     * an existing record or profile: "keep" the stored value, or "clear" it. Unconfirmed (Actito's file-format
     * page is cut off at that rule); "keep" is the cautious reading. See README "Clearing a value".
     */
    emptyOnUpdate: z.enum(['keep', 'clear']).default('keep'),
  })
  .strict();
export type ActitoConnection = z.output<typeof connectionSchema>;
export type RoutePrefixes = z.output<typeof routePrefixesSchema>;

/**
 * The environment as one spelling, for the scopes of shared limits: scheme and host lower-cased, the
 * default port left out, no trailing slash (`HTTPS://API3.actito.com:443/` is `https://api3.actito.com`).
 * The path, if any, is kept as written (paths are case-sensitive).
 */
export function hostKey(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return baseUrl.replace(/\/+$/, '');
  }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** The SharedLimits scope of a connection's licence (docs/limits.md): one however the base URL is spelled. */
export function licenceScope(c: Pick<ActitoConnection, 'licence' | 'baseUrl' | 'entity'>): string {
  return c.licence ? `actito:licence:${c.licence}` : `actito:entity:${hostKey(c.baseUrl)}/${c.entity}`;
}

export function resolvePrefixes(c: Pick<ActitoConnection, 'routePrefix' | 'routePrefixes'>): RoutePrefixes {
  const base = routePrefixesSchema.parse({});
  const all = c.routePrefix === undefined ? base : mapValues(base, () => c.routePrefix ?? '');
  return { ...all, ...stripUndefined(c.routePrefixes ?? {}) };
}

const profilesSchema = z
  .object({
    /** Profile table name (v4 routes address it by name), e.g. "main". */
    table: z.string().min(1),
    /** Unique profile attribute profiles are matched on, e.g. "emailAddress". */
    matchAttribute: z.string().min(1),
    /**
     * upsert: create or update profiles; insert: only create missing ones (existing ones untouched);
     * update: never create one, only update existing ones (DinMo's "Insert mode" switched off).
     */
    mode: z.enum(['upsert', 'insert', 'update']).default('upsert'),
  })
  .strict();

export const optionsSchema = z
  .object({
    /** Rows in one operation from which a bulk import (ETL execution) is used instead of one-by-one calls. */
    bulkThreshold: z.number().int().positive().default(5000),
    /** Rows per chunk for one-by-one writes (each chunk is one activity call). */
    singleChunkSize: z.number().int().positive().default(500),
    /**
     * Rows per bulk import file (one import counts once against the daily quota), obeyed exactly when set.
     * Unset: sized from the bytes per row of the activation's last import file for the same columns, or of a
     * file refused in the last 7 days when it was wider (chunk-size.ts); before any file was seen, from a
     * sample of the run's rows built into an import file (more than 200,000 rows; else 200,000).
     */
    bulkChunkSize: z.number().int().positive().optional(),
    /** Bulk imports allowed per table per UTC day (Actito: 12 or 24 by contract). */
    bulkImportsPerDay: z.number().int().min(0).default(24),
    /** Imports kept in reserve for other tools writing the same table. */
    bulkImportsReserve: z.number().int().min(0).default(2),
    /** What to do when the bulk quota is used up: write one by one, or wait for the next UTC day. */
    onQuotaExhausted: z.enum(['single', 'wait']).default('single'),
    compression: z.enum(['GZIP', 'ZIP']).default('GZIP'),
    /**
     * First poll of a bulk import after this delay; then by the import's progress when its status counts
     * the lines done, else doubling, at most 60 s apart (bulk.ts `nextPollMs`).
     */
    pollAfterMs: z.number().int().min(0).default(1000),
    /**
     * A model NULL or empty text ("no value"): "send" writes an empty value (clears the attribute where
     * the connection's emptyOnUpdate is "clear"), "skip" leaves the attribute untouched. Default: "send"
     * on a connection whose emptyOnUpdate is "clear", else "skip" (see optionsFor).
     */
    nulls: z.enum(['skip', 'send']).optional(),
    /** Mapped fields whose model type the attribute cannot take: fail the check, or skip them with a warning. */
    incompatibleFields: z.enum(['fail', 'skip']).default('fail'),
    profiles: profilesSchema.optional(),
  })
  .strict();
export type ActitoOptions = Omit<z.output<typeof optionsSchema>, 'nulls'> & { nulls: 'skip' | 'send' };
export type ProfilesOptions = z.output<typeof profilesSchema>;

/** The options schema for one connection (the connector's `optionsSchema`): `nulls` defaults from it. */
export function optionsFor(connection: Pick<ActitoConnection, 'emptyOnUpdate'>): z.ZodType<ActitoOptions> {
  // Where Actito clears an attribute sent empty, a value cleared in the model is sent, so it is cleared there too.
  return optionsSchema.transform((o): ActitoOptions => ({
    ...o,
    nulls: o.nulls ?? (connection.emptyOnUpdate === 'clear' ? 'send' : 'skip'),
  }));
}

/** Mapping targets with this prefix are profile attributes, e.g. `to: "profile.emailAddress"`. */
export const PROFILE_PREFIX = 'profile.';

function mapValues<T extends Record<string, unknown>, V>(o: T, f: (v: T[keyof T]) => V): Record<keyof T, V> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v as T[keyof T])])) as Record<keyof T, V>;
}
function stripUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
