/**
 * Connection credentials and connector options for the Salesforce destination (zod, parsed once at the edge).
 * Secrets are marked with `secret()` so `redactConnection` can mask them before anything is logged.
 */
import { z } from 'zod';

/** API version pinned for every call: jsforce defaults to 50.0, collection upsert needs ≥ 46. */
export const API_VERSION = '62.0';

const SECRET_KEYS = new Set<string>();
function secret(key: string) {
  SECRET_KEYS.add(key);
  return z
    .string()
    .min(1)
    .meta({ secret: true, description: `${key} (secret: never logged)` });
}

const loginUrl = z.string().url().default('https://login.salesforce.com');

/** Default of `maxConcurrentRequests`: well under the org's 25, leaving room for its other integrations. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 10;

/**
 * Requests syncline has in flight at the org, across every worker of the cluster (docs/limits.md): its
 * share of the org's 25 concurrent long-running requests (5 in Developer and Trial orgs). Optional in the
 * parsed type (DEFAULT_MAX_CONCURRENT_REQUESTS applies) so connections written as literals stay valid.
 */
const MAX_CONCURRENT_REQUESTS_RULE =
  'a whole number from 1 to 25: Salesforce allows 25 concurrent long-running requests per org, and syncline takes a share ' +
  "of them (leave room for the org's other integrations); set 5 or less in Developer and Trial orgs, which allow 5";
const maxConcurrentRequests = z
  .number({ error: MAX_CONCURRENT_REQUESTS_RULE })
  .int(MAX_CONCURRENT_REQUESTS_RULE)
  .min(1, MAX_CONCURRENT_REQUESTS_RULE)
  .max(25, MAX_CONCURRENT_REQUESTS_RULE)
  .optional();

export const connectionSchema = z.discriminatedUnion('auth', [
  z
    .object({
      auth: z.literal('client_credentials'),
      loginUrl,
      clientId: z.string().min(1),
      clientSecret: secret('clientSecret'),
      maxConcurrentRequests,
    })
    .strict(),
  z
    .object({
      auth: z.literal('jwt'),
      loginUrl,
      clientId: z.string().min(1),
      username: z.string().min(1),
      privateKey: secret('privateKey'),
      maxConcurrentRequests,
    })
    .strict(),
  z.object({ auth: z.literal('token'), instanceUrl: z.string().url(), accessToken: secret('accessToken'), maxConcurrentRequests }).strict(),
]);
export type SalesforceConnection = z.output<typeof connectionSchema>;

/** A copy safe to log: every secret replaced by "***". */
export function redactConnection(c: SalesforceConnection): Record<string, unknown> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, SECRET_KEYS.has(k) ? '***' : v]));
}

/** `destination.options` of a Salesforce activation; every option has a default. */
export const optionsSchema = z
  .object({
    /** Operations with fewer rows than this use sObject Collections; the rest use Bulk API 2.0. */
    bulkThreshold: z.number().int().positive().default(2000),
    /** Rows per Collections chunk (one activity), sent as 200-record requests. */
    collectionsChunkSize: z.number().int().positive().default(2000),
    /** Collections requests in flight at once within a chunk. */
    concurrency: z.number().int().min(1).max(10).default(4),
    /**
     * Upper bound of rows per Bulk 2.0 job. By default only the CSV size (≤ maxCsvBytes) limits a job;
     * 150,000,000 is Salesforce's daily Bulk record allocation.
     */
    bulkChunkSize: z.number().int().positive().default(150_000_000),
    maxCsvBytes: z
      .number()
      .int()
      .positive()
      .max(100 * 1024 * 1024)
      .default(100 * 1024 * 1024),
    /** How long the workflow sleeps between polls of a running bulk job. */
    bulkPollMs: z.number().int().min(0).default(15_000),
    /** External ID field holding OutRow.token, so creates become idempotent upserts; null disables. */
    insertTokenField: z.string().min(1).nullable().default('Syncline_Token__c'),
    /** Stop writing when the daily API requests left would fall below this share of the limit. */
    quotaReservePercent: z.number().min(0).max(100).default(10),
    /**
     * Liveness heartbeat interval while a Bulk CSV is built, uploaded or read back, and while Collections
     * requests are in flight: well under the write activity's one-minute heartbeat timeout, so a slow
     * request is never taken for a dead worker (and written a second time beside the first).
     */
    heartbeatMs: z.number().int().positive().max(30_000).default(10_000),
    /**
     * Developer name of the record type every record written gets (`RecordTypeId`, resolved through
     * describe); an unknown, inactive or unavailable name is a configuration error naming the valid ones.
     */
    recordType: z.string().min(1).optional(),
    /**
     * Mirror: delete through a Bulk 2.0 `hardDelete` job (records skip the recycle bin) instead of a soft
     * delete. Needs the integration user's "Bulk API Hard Delete" permission (checked before deleting).
     */
    hardDelete: z.boolean().default(false),
    /**
     * Sent as `Sforce-Duplicate-Rule-Header` on Collections creates, updates and upserts. `allowSave: true`
     * saves rows that a duplicate rule with an "Allow" + alert action would refuse (not "Block" rules).
     */
    duplicateRuleHeader: z
      .object({
        allowSave: z.boolean(),
        includeRecordDetails: z.boolean().default(false),
        runAsCurrentUser: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /**
     * A row whose parent (`Account.External_Id__c`) is not found: `error` lists it and writes nothing;
     * `writeWithoutLink` writes it with that lookup cleared, lists it as written without its link, and
     * sends it again every run until the parent exists (connectors/salesforce/README.md).
     */
    missingParent: z.enum(['error', 'writeWithoutLink']).default('error'),
    /** How long the run waits (durable timer) when the quota reserve is reached. */
    quotaWaitMs: z.number().int().positive().default(3_600_000),
  })
  .strict();
export type SalesforceOptions = z.output<typeof optionsSchema>;
