/**
 * Sensors: DAG tasks that wait for something outside (a row in Postgres, a named signal) on durable workflow
 * timers, so a wait holds no worker slot. Their inputs are checked here, by the CLI before a deploy and by
 * dagWorkflow before a run, with the same messages. Workflow-safe.
 */
import { z } from 'zod';
import type { DagSpec } from './dag';

/** A sensor's pokes are bounded so its history is: each poke is an activity and a timer (about 8 events). */
export const MAX_POKES = 2000;
export const DEFAULT_POKE_INTERVAL_SECONDS = 60;
/** A signal's payload is kept in history and handed downstream: ids and flags, not data. */
export const MAX_SIGNAL_PAYLOAD_BYTES = 4096;

/** A poking sensor's pokes (timeout over interval) are bounded, so its history is. */
function boundedPokes(s: { pokeIntervalSeconds?: number; timeoutSeconds?: number }, ctx: z.RefinementCtx): void {
  const interval = s.pokeIntervalSeconds ?? DEFAULT_POKE_INTERVAL_SECONDS;
  if (typeof s.timeoutSeconds === 'number' && s.timeoutSeconds / interval > MAX_POKES) {
    ctx.addIssue({
      code: 'custom',
      path: ['pokeIntervalSeconds'],
      message: `${s.timeoutSeconds} s at one poke every ${interval} s is more than ${MAX_POKES} pokes: poke less often (at least every ${Math.ceil(s.timeoutSeconds / MAX_POKES)} s)`,
    });
  }
}

/**
 * Built on first use, not when the module loads: the worker preloads this module into the workflow context
 * its executions share (client/workflow-bundle.ts), and zod schemas, memoizing on first use, cannot be frozen
 * as the SDK freezes what a preloaded module holds when it loads (common/config.ts says more).
 */
function buildSensorSchemas() {
  const timeoutSeconds = z
    .number({
      error: (iss) =>
        iss.input === undefined
          ? 'a sensor needs "timeoutSeconds": how long it waits before it fails (or is skipped, with "softFail": true)'
          : undefined,
    })
    .positive();

  const sqlSensorSchema = z
    .object({
      connection: z.string().min(1).optional(),
      /** Polled until it returns a row. */
      statement: z.string().min(1),
      params: z.array(z.unknown()).optional(),
      pokeIntervalSeconds: z.number().min(1).optional(),
      timeoutSeconds,
      /** On timeout the task is skipped instead of failed. */
      softFail: z.boolean().optional(),
    })
    .strict()
    .superRefine(boundedPokes);

  const waitForSignalSchema = z
    .object({
      /** The name sent in the dagSignal signal's `name`. */
      signal: z.string().min(1).max(100),
      timeoutSeconds,
      softFail: z.boolean().optional(),
    })
    .strict();

  /**
   * Waits for the next run of another activation that ended in success (or partial, with `acceptPartial`) and
   * finished after the sensor started, or after the run's logical date with `"since": "logical_date"`.
   */
  const activationSensorSchema = z
    .object({
      activationId: z.string().min(1),
      since: z.enum(['sensor_start', 'logical_date']).optional(),
      acceptPartial: z.boolean().optional(),
      pokeIntervalSeconds: z.number().min(1).optional(),
      timeoutSeconds,
      softFail: z.boolean().optional(),
    })
    .strict()
    .superRefine(boundedPokes);

  const SENSOR_KINDS: Record<string, z.ZodType> = {
    sql_sensor: sqlSensorSchema,
    wait_for_signal: waitForSignalSchema,
    activation_sensor: activationSensorSchema,
  };
  return { sqlSensorSchema, waitForSignalSchema, activationSensorSchema, SENSOR_KINDS };
}

type SensorSchemas = ReturnType<typeof buildSensorSchemas>;
let built: SensorSchemas | undefined;
export function sensorSchemas(): SensorSchemas {
  return (built ??= buildSensorSchemas());
}
export type SqlSensorInput = z.infer<SensorSchemas['sqlSensorSchema']>;
export type WaitForSignalInput = z.infer<SensorSchemas['waitForSignalSchema']>;
export type ActivationSensorInput = z.infer<SensorSchemas['activationSensorSchema']>;

/** One problem per bad field of each sensor task, named like the engine's other input checks. */
export function sensorInputProblems(task: { id: string; kind: string; input?: unknown }): string[] {
  const schema = sensorSchemas().SENSOR_KINDS[task.kind];
  if (!schema) return [];
  const parsed = schema.safeParse(task.input ?? {});
  return parsed.success
    ? []
    : parsed.error.issues.map((i) => `task "${task.id}": input${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`);
}

export function sensorProblems(spec: DagSpec): string[] {
  return spec.tasks.flatMap(sensorInputProblems);
}
