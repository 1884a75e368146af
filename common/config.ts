/**
 * The activation document: one zod schema, used by the CLI, the client and the workflow alike.
 * It names connections; credentials are resolved by the worker and never appear here (the document enters workflow history).
 */
import { z } from 'zod';
import { SYNC_MODES } from './sync-modes';
import { isDuration } from './duration';
import { isValidCron, isValidTimeZone } from './cron';

/**
 * The schemas, built on first use rather than when this module loads. The worker preloads this module into
 * the workflow context all its executions share (client/workflow-bundle.ts), so the schemas are built once
 * per worker instead of once per execution (they were most of what a cached execution held); and the SDK
 * freezes what a preloaded module holds when it loads, which zod schemas, memoizing on first use, cannot take.
 */
function buildSchemas() {
  const identifier = z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, "_", "-" or "." (it becomes part of workflow ids)');

  const scheduleSchema = z.union([
    z.object({ every: z.string().refine(isDuration, 'write an interval like "30s", "15m", "2h" or "1d"') }).strict(),
    z
      .object({
        cron: z.string().refine(isValidCron, 'a cron expression has 5 fields: minute hour day-of-month month day-of-week'),
        timezone: z.string().refine(isValidTimeZone, 'an IANA time zone such as "Europe/Brussels" or "UTC"').default('UTC'),
      })
      .strict(),
    z.object({ manual: z.literal(true) }).strict(),
  ]);

  const sourceSchema = z
    .object({
      /** Named Postgres connection; "default" is the database syncline keeps its state in. */
      connection: z.string().min(1).default('default'),
      sql: z.string().min(1).optional(),
      table: z.string().min(1).optional(),
      /** The model column that identifies a row; must be unique and non-null. */
      key: z.string().min(1),
    })
    .strict()
    .refine((s) => (s.sql === undefined) !== (s.table === undefined), {
      message: 'give exactly one of "sql" (a query) or "table" (a table or view name)',
    });

  const destinationSchema = z
    .object({
      /** The destination connector installed on the worker under this name. */
      kind: z.string().min(1),
      connection: z.string().min(1),
      /**
       * The destination's name, in the one of these two fields its connector declares
       * (`DestinationConnector.address`; the connector's README says which).
       */
      object: z.string().min(1).optional(),
      table: z.string().min(1).optional(),
      /** Destination field that the model key maps to (the connector's README says which fields can be keys). */
      key: z.string().min(1),
      /** Connector-specific options, parsed with the connector's own schema by the worker. */
      options: z.record(z.string(), z.unknown()).default({}),
    })
    .strict()
    .refine((d) => (d.object === undefined) !== (d.table === undefined), {
      message: 'give exactly one of "object" or "table": the one the destination kind is named by (see docs/connectors.md)',
    });

  const mappingSchema = z
    .object({
      from: z.string().min(1),
      to: z.string().min(1),
      /** Destination type to create the attribute with, when the connector can create it. */
      type: z.string().optional(),
      /** Cut strings to the destination's length instead of rejecting the row. */
      truncate: z.boolean().optional(),
    })
    .strict();

  const thresholdsSchema = z
    .object({
      failedRowPercent: z.number().min(0).max(100).default(5),
      consecutiveFailedRuns: z.number().int().min(1).default(3),
      deadlineMinutes: z.number().positive().default(60),
      modelDropPercent: z.number().min(0).max(100).default(50),
      deltaPercent: z.number().min(0).max(100).default(50),
      quotaLowPercent: z.number().min(0).max(100).default(20),
    })
    .strict();

  const activationConfigSchema = z
    .object({
      id: identifier,
      description: z.string().optional(),
      source: sourceSchema,
      destination: destinationSchema,
      mode: z.enum(SYNC_MODES),
      mappings: z
        .array(mappingSchema)
        .min(1, 'map at least one model column to a destination field')
        .superRefine((ms, ctx) => {
          const seen = new Set<string>();
          ms.forEach((m, i) => {
            if (seen.has(m.to)) ctx.addIssue({ code: 'custom', path: [i, 'to'], message: `"${m.to}" is mapped twice` });
            seen.add(m.to);
          });
        }),
      schedule: scheduleSchema.default({ manual: true }),
      thresholds: thresholdsSchema.default(thresholdsSchema.parse({})),
      /** Mirror: at most maxDeletePercent % of the synced rows are deleted without approval (inclusive). */
      deletionGuard: z
        .object({ maxDeletePercent: z.number().min(0).max(100).default(10) })
        .strict()
        .default({ maxDeletePercent: 10 }),
      /** Rows per write chunk; the destination's own default when absent. */
      chunkSize: z.number().int().positive().max(1_000_000).optional(),
      /**
       * Chunks one workflow execution writes (default 500). A run with more fans its writes out to child
       * workflows of this many chunks each, so no history grows with the row count (Temporal refuses a history
       * past 51,200 events; a chunk costs about 6).
       */
      chunksPerWorkflow: z.number().int().positive().max(2_000).optional(),
      warnings: z
        .object({
          /** Named connection holding the webhook, `{"url": "https://..."}`: a webhook URL is a credential, resolved by the worker. */
          connection: z.string().min(1).optional(),
          /**
           * Superseded by `connection`. Still accepted here because running activations re-parse the document
           * they were started with on every continue-as-new; new documents are refused (parseNewActivationConfig).
           */
          webhookUrl: z.string().url().optional(),
          slack: z.boolean().default(false),
        })
        .strict()
        .refine((w) => w.connection === undefined || w.webhookUrl === undefined, {
          message: 'give "connection" (the named connection holding the webhook URL), not also "webhookUrl"',
        })
        .optional(),
      /** While paused by a configuration error, re-check the destination this often and resume when it passes (default "1h"). */
      recheck: z.string().refine(isDuration, 'write an interval like "30s", "15m", "2h" or "1d"').optional(),
    })
    .strict()
    .superRefine((c, ctx) => {
      // The key is always sent: the model key column fills the destination key field.
      c.mappings.forEach((m, i) => {
        if (m.to === c.destination.key && m.from !== c.source.key) {
          ctx.addIssue({
            code: 'custom',
            path: ['mappings', i, 'from'],
            message: `the key field "${c.destination.key}" is filled from the model key "${c.source.key}", not from "${m.from}"`,
          });
        }
      });
    });
  return { scheduleSchema, sourceSchema, destinationSchema, mappingSchema, thresholdsSchema, activationConfigSchema };
}

type ConfigSchemas = ReturnType<typeof buildSchemas>;
let built: ConfigSchemas | undefined;
export function configSchemas(): ConfigSchemas {
  return (built ??= buildSchemas());
}

export type Schedule = z.infer<ConfigSchemas['scheduleSchema']>;
export type Mapping = z.infer<ConfigSchemas['mappingSchema']>;

export type ActivationConfigInput = z.input<ConfigSchemas['activationConfigSchema']>;
export type ActivationConfig = z.output<ConfigSchemas['activationConfigSchema']>;

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Parses a document and reports every problem with its path, or returns the parsed config. */
export function parseActivationConfig(doc: unknown): { ok: true; config: ActivationConfig } | { ok: false; problems: ConfigProblem[] } {
  const result = configSchemas().activationConfigSchema.safeParse(doc);
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(document)', message: i.message })),
  };
}

/** Why a new document may not carry `warnings.webhookUrl`, and how to move it. */
export const WEBHOOK_URL_MOVED =
  'a webhook URL is a credential, and the activation document is kept in workflow history: put the URL in a named connection on the worker, ' +
  'SYNCLINE_CONNECTION_ALERTS=\'{"url":"https://hooks.slack.com/..."}\' (or "connections": {"alerts": {"url": "..."}} in the SYNCLINE_SECRETS_FILE file), ' +
  'then write "warnings": {"connection": "alerts"} instead of "webhookUrl" (activations already running with webhookUrl keep working; see docs/warnings.md)';

/**
 * parseActivationConfig for a document about to start an activation (client, CLI): it also refuses what
 * only running activations may still carry, before anything reaches workflow history.
 */
export function parseNewActivationConfig(doc: unknown): ReturnType<typeof parseActivationConfig> {
  const parsed = parseActivationConfig(doc);
  const warnings = (doc as { warnings?: unknown } | null)?.warnings;
  const inlineUrl = typeof warnings === 'object' && warnings !== null && 'webhookUrl' in warnings;
  if (!inlineUrl) return parsed;
  return {
    ok: false,
    problems: [
      ...(parsed.ok ? [] : parsed.problems.filter((p) => p.path !== 'warnings.webhookUrl')),
      { path: 'warnings.webhookUrl', message: WEBHOOK_URL_MOVED },
    ],
  };
}

export function formatProblems(id: unknown, problems: ConfigProblem[]): string {
  const name = typeof id === 'string' ? `activation "${id}"` : 'the activation';
  return (
    `Invalid configuration for ${name}: ${problems.length} problem(s)\n` + problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')
  );
}
