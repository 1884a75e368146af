/**
 * The task kinds of dagWorkflow (docs/dag.md "Tasks") and the checks of their inputs, with the same messages
 * at `syncline dag deploy` (nothing deployed) and at a run's start (DAG_INVALID, nothing run): a deployed DAG
 * always runs as dagWorkflow, so what its run would refuse is refused before it reaches the Schedule, and a
 * credential in a task input never reaches Temporal. Workflow-safe: no I/O.
 */
import { z } from 'zod';
import type { DagTask } from './dag';
import { sensorInputProblems, sensorSchemas } from './dag-sensors';

/** The kinds whose runner is a task activity or a timer (the sensors are in common/dag-sensors.ts). */
export const TASK_KINDS = ['sql', 'http', 'activation', 'sleep'] as const;
/** Every kind dagWorkflow runs, in the order its "has no runner" message lists them. */
export const DAG_WORKFLOW_KINDS: readonly string[] = [...TASK_KINDS, 'sql_sensor', 'wait_for_signal', 'activation_sensor'];

/** Header names that carry credentials: they belong in a connection, never in a task input (history). */
export const CREDENTIAL_HEADER = /auth|token|secret|passw|api[-_]?key|cookie|session|credential/i;

/**
 * Built on first use, not when the module loads (common/dag.ts says why). Its `z.url()` check is one of
 * zod's string formats: this module is not preloaded into the workflow context (client/workflow-bundle.ts),
 * so each execution builds it, as dagWorkflow always did.
 */
function buildKindSchemas() {
  /**
   * An http task's input. `connection` (added later, optional) names the worker-side connection that holds
   * the credentials; with it, `url` may be a path under the connection's `baseUrl`, or absent (the
   * `baseUrl` itself, e.g. a webhook URL). Without it, `url` must be a full URL, as it always had to be.
   */
  const httpSchema = z
    .object({
      url: z.string().optional(),
      method: z.string().optional(),
      body: z.unknown().optional(),
      headers: z.record(z.string(), z.string()).optional(),
      connection: z.string().min(1).optional(),
    })
    .strict()
    .superRefine((input, ctx) => {
      if (input.connection !== undefined && (input.url === undefined || input.url.startsWith('/'))) return;
      if (!z.url().safeParse(input.url).success) {
        ctx.addIssue({
          code: 'custom',
          path: ['url'],
          message:
            input.connection === undefined
              ? 'a full URL (or name a "connection" that has a baseUrl)'
              : 'a full URL, or a path ("/v1/...") under the connection\'s baseUrl',
        });
      }
    });
  const activationSchema = z
    .object({ activationId: z.string().min(1), full: z.boolean().optional(), reason: z.string().optional() })
    .strict();
  const sleepSchema = z.object({ seconds: z.number().nonnegative() }).strict();
  const sqlSchema = z
    .object({
      connection: z.string().min(1).optional(),
      statement: z.string().min(1),
      params: z.array(z.unknown()).optional(),
      returnRows: z.boolean().optional(),
      skipIfNoRows: z.boolean().optional(),
    })
    .strict();
  /** Each kind: the shape of task.input (`mappedInput` when a mapped task may take fields from its item). */
  const kinds: Record<(typeof TASK_KINDS)[number], { input: z.ZodType; mappedInput?: z.ZodType }> = {
    sql: { input: sqlSchema },
    http: { input: httpSchema },
    activation: { input: activationSchema, mappedInput: activationSchema.partial({ activationId: true }) },
    sleep: { input: sleepSchema, mappedInput: sleepSchema.partial({ seconds: true }) },
  };
  return kinds;
}

let built: ReturnType<typeof buildKindSchemas> | undefined;
export function kindSchemas(): ReturnType<typeof buildKindSchemas> {
  return (built ??= buildKindSchemas());
}

export function isTaskKind(kind: string): kind is (typeof TASK_KINDS)[number] {
  return (TASK_KINDS as readonly string[]).includes(kind);
}

/**
 * One problem per bad field of a sql, http, activation or sleep task's input (none for other kinds), and a
 * mapped sql task's `params`. The credential check of an http task's headers is apart (credentialHeaderNames).
 */
export function taskInputProblems(task: Pick<DagTask, 'id' | 'kind' | 'input' | 'map'>): string[] {
  if (!isTaskKind(task.kind)) return [];
  const kind = kindSchemas()[task.kind];
  const schema = (task.map && kind.mappedInput) || kind.input;
  const parsed = schema.safeParse(task.input ?? {});
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `task "${task.id}": input${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`);
  if (task.kind === 'sql' && task.map && (task.input as { params?: unknown } | undefined)?.params)
    problems.push(`task "${task.id}": a mapped sql task gets its item as $1; remove input.params`);
  return problems;
}

/** The names of an http task's inline headers that look like credentials. */
export function credentialHeaderNames(task: Pick<DagTask, 'input'>): string[] {
  const headers = (task.input as { headers?: unknown } | undefined)?.headers;
  if (typeof headers !== 'object' || headers === null) return [];
  return Object.keys(headers).filter((h) => CREDENTIAL_HEADER.test(h));
}

/** One problem per such header, saying how to move it into a connection; the value is not repeated. */
export function credentialHeaderProblems(task: Pick<DagTask, 'id'>, names: string[]): string[] {
  return names.map(
    (h) =>
      `task "${task.id}": input.headers.${h} looks like a credential, and a task's input is kept in workflow history: ` +
      `put it in a named connection on the worker, e.g. SYNCLINE_CONNECTION_CRM_API='{"headers":{"${h}":"..."},"baseUrl":"https://..."}' ` +
      `(or the secrets file), and write "connection": "crm-api" in the task input (docs/dag.md)`,
  );
}

/**
 * Everything dagWorkflow refuses in one task before it runs, but the pools (those need the state database):
 * an unknown kind, a bad input, a credential in the headers. For `syncline dag deploy`.
 */
export function dagWorkflowTaskProblems(task: DagTask): string[] {
  if (!DAG_WORKFLOW_KINDS.includes(task.kind))
    return [`task "${task.id}": kind "${task.kind}" has no runner (known: ${DAG_WORKFLOW_KINDS.join(', ')})`];
  if (Object.hasOwn(sensorSchemas().SENSOR_KINDS, task.kind)) return sensorInputProblems(task);
  return [...taskInputProblems(task), ...(task.kind === 'http' ? credentialHeaderProblems(task, credentialHeaderNames(task)) : [])];
}
