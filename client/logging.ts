/**
 * The worker's log lines, through the SDK's Runtime logger: the worker's own, the SDK's (worker state,
 * workflow bundling), those of workflows and activities (`log` from @temporalio/workflow and
 * /activity, which the SDK tags with the workflow and activity), and the SDK core's warnings.
 *
 *   SYNCLINE_LOG_FORMAT=json   one JSON object a line on stdout, for a log collector (default: text on stderr)
 *   SYNCLINE_LOG_LEVEL=DEBUG   TRACE, DEBUG, INFO (default), WARN or ERROR
 *
 * A line logged from a workflow or an activity of an activation also carries `activationId`, and from a
 * run `runNumber`, read from the workflow id (common/names.ts).
 */
import { inspect } from 'node:util';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { DefaultLogger, makeTelemetryFilterString, type LogEntry, type LogExporterConfig } from '@temporalio/worker';
import { activationOfWorkflowId } from '../common/names';

export type LogFormat = 'text' | 'json';
export interface LoggingOptions {
  format: LogFormat;
  level: LogLevel;
}

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** A logging configuration that cannot be used: the message names the variable and the values it takes. */
export class LoggingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoggingConfigError';
  }
}

export function loggingFromEnvironment(env: NodeJS.ProcessEnv = process.env): LoggingOptions {
  const format = (env.SYNCLINE_LOG_FORMAT?.trim() || 'text').toLowerCase();
  if (format !== 'text' && format !== 'json')
    throw new LoggingConfigError(
      `SYNCLINE_LOG_FORMAT is "${env.SYNCLINE_LOG_FORMAT}": write "json" (one JSON object a line) or "text" (the default)`,
    );
  const level = (env.SYNCLINE_LOG_LEVEL?.trim() || 'INFO').toUpperCase() as LogLevel;
  if (!LEVELS.includes(level))
    throw new LoggingConfigError(`SYNCLINE_LOG_LEVEL is "${env.SYNCLINE_LOG_LEVEL}": write one of ${LEVELS.join(', ')} (default INFO)`);
  return { format, level };
}

/** Attributes the SDK adds to every workflow and activity line; a text line says them in its prefix instead. */
const ROUTINE = new Set([
  'sdkComponent',
  'namespace',
  'taskQueue',
  'workflowId',
  'runId',
  'workflowRunId',
  'workflowType',
  'activityId',
  'isLocal',
]);

/** `activationId` and `runNumber` of the workflow (or the activity's workflow) a line comes from, when it is an activation's. */
export function logAttributes(meta: LogMetadata | undefined): { activationId?: string; runNumber?: number } {
  const workflowId = meta?.workflowId;
  return (typeof workflowId === 'string' && activationOfWorkflowId(workflowId)) || {};
}

const plain = (v: unknown): unknown =>
  v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : typeof v === 'bigint' ? String(v) : v;

export function jsonLine(e: LogEntry): string {
  const meta = Object.fromEntries(Object.entries(e.meta ?? {}).map(([k, v]) => [k, plain(v)]));
  const time = new Date(Number(e.timestampNanos / 1_000_000n)).toISOString();
  return JSON.stringify({ time, level: e.level, message: e.message, ...logAttributes(e.meta), ...meta });
}

export function textLine(e: LogEntry): string {
  const { activationId, runNumber } = logAttributes(e.meta);
  const where = activationId ? `activation "${activationId}"${runNumber !== undefined ? ` run ${runNumber}` : ''}: ` : '';
  const from =
    typeof e.meta?.activityType === 'string'
      ? ` (${e.meta.activityType}${typeof e.meta.attempt === 'number' && e.meta.attempt > 1 ? `, attempt ${e.meta.attempt}` : ''})`
      : '';
  const rest = Object.entries(e.meta ?? {})
    .filter(([k]) => !ROUTINE.has(k) && k !== 'activityType' && k !== 'attempt')
    .map(
      ([k, v]) => `${k}=${typeof v === 'string' ? v : v instanceof Error ? v.message : inspect(v, { breakLength: Infinity, depth: 3 })}`,
    );
  const time = new Date(Number(e.timestampNanos / 1_000_000n)).toISOString();
  return `${time} ${e.level.padEnd(5)} ${where}${e.message}${from}${rest.length ? `  ${rest.join(' ')}` : ''}`;
}

/** The Runtime logger: JSON lines on `out`, or text lines on `err` (where the SDK's own logger writes). */
export function createLogger(
  o: LoggingOptions,
  streams: { out: NodeJS.WritableStream; err: NodeJS.WritableStream } = { out: process.stdout, err: process.stderr },
): Logger {
  return new DefaultLogger(
    o.level,
    o.format === 'json' ? (e) => streams.out.write(jsonLine(e) + '\n') : (e) => streams.err.write(textLine(e) + '\n'),
  );
}

/**
 * Runtime options for these logs: the logger, and the SDK core's own lines forwarded to it (otherwise
 * core prints them itself, in its own format), from WARN: below that they are the SDK's internals.
 */
export function runtimeLogging(o: LoggingOptions): { logger: Logger; logging: LogExporterConfig } {
  const core: LogLevel = o.level === 'ERROR' ? 'ERROR' : 'WARN';
  return { logger: createLogger(o), logging: { forward: {}, filter: makeTelemetryFilterString({ core, other: core }) } };
}
