/**
 * The worker's log lines (client/logging.ts): JSON or text, each line of an activation's workflow or
 * activity tagged with the activation and the run, configuration errors naming the variable.
 */
import { PassThrough } from 'node:stream';
import type { LogEntry } from '@temporalio/worker';
import { createLogger, jsonLine, LoggingConfigError, loggingFromEnvironment, textLine } from '../../client/logging';
import { activationOfWorkflowId, activationWorkflowId, runWorkflowId } from '../../common/names';

const at = BigInt(Date.UTC(2026, 11, 4, 10, 0, 0)) * 1_000_000n;
const activityMeta = {
  sdkComponent: 'activity',
  isLocal: false,
  attempt: 2,
  namespace: 'default',
  taskQueue: 'syncline',
  workflowId: runWorkflowId('crm_contacts', 12),
  workflowRunId: 'r-1',
  workflowType: 'syncRunWorkflow',
  activityId: '7',
  activityType: 'commitRun',
};
const entry = (meta?: LogEntry['meta'], message = 'committed: run 12 · upsert · manual · success'): LogEntry => ({
  level: 'INFO',
  message,
  timestampNanos: at,
  meta,
});

test('workflow ids name their activation and run; other workflows none', () => {
  expect(activationOfWorkflowId(activationWorkflowId('crm.contacts-2'))).toEqual({ activationId: 'crm.contacts-2' });
  expect(activationOfWorkflowId(runWorkflowId('crm', 12))).toEqual({ activationId: 'crm', runNumber: 12 });
  expect(activationOfWorkflowId(runWorkflowId('crm', 3, true))).toEqual({ activationId: 'crm', runNumber: 3 });
  expect(activationOfWorkflowId('syncline-warnings')).toBeNull();
  expect(activationOfWorkflowId('nightly-dag')).toBeNull();
});

test("a JSON line: time, level, message, the activation and run, and the SDK's attributes", () => {
  const line = JSON.parse(jsonLine(entry(activityMeta)));
  expect(line).toEqual({
    time: '2026-12-04T10:00:00.000Z',
    level: 'INFO',
    message: 'committed: run 12 · upsert · manual · success',
    activationId: 'crm_contacts',
    runNumber: 12,
    ...activityMeta,
  });
  // An error in the attributes keeps its message and stack; a line from outside any workflow has no activation.
  const failed = JSON.parse(jsonLine(entry({ sdkComponent: 'worker', error: new Error('poll failed') }, 'Worker failed')));
  expect(failed).toMatchObject({
    message: 'Worker failed',
    error: { name: 'Error', message: 'poll failed', stack: expect.stringContaining('poll failed') },
  });
  expect(failed.activationId).toBeUndefined();
});

test("a text line says the activation, the run and the activity, not the SDK's routine attributes", () => {
  expect(textLine(entry(activityMeta))).toBe(
    '2026-12-04T10:00:00.000Z INFO  activation "crm_contacts" run 12: committed: run 12 · upsert · manual · success (commitRun, attempt 2)',
  );
  expect(textLine(entry({ sdkComponent: 'worker', taskQueue: 'syncline', state: 'RUNNING' }, 'Worker state changed'))).toBe(
    '2026-12-04T10:00:00.000Z INFO  Worker state changed  state=RUNNING',
  );
});

test('JSON goes to stdout, text to stderr, below the level nothing', () => {
  const out = new PassThrough();
  const err = new PassThrough();
  const read = (s: PassThrough) => (s.read() as Buffer | null)?.toString() ?? '';
  createLogger({ format: 'json', level: 'WARN' }, { out, err }).info('not shown');
  createLogger({ format: 'json', level: 'WARN' }, { out, err }).warn('shown', { workflowId: activationWorkflowId('a') });
  expect(read(err)).toBe('');
  expect(JSON.parse(read(out))).toMatchObject({ level: 'WARN', message: 'shown', activationId: 'a' });
  createLogger({ format: 'text', level: 'INFO' }, { out, err }).info('hello');
  expect(read(out)).toBe('');
  expect(read(err)).toMatch(/ INFO  hello\n$/);
});

test('SYNCLINE_LOG_FORMAT and SYNCLINE_LOG_LEVEL: defaults, and values refused naming the variable', () => {
  expect(loggingFromEnvironment({})).toEqual({ format: 'text', level: 'INFO' });
  expect(loggingFromEnvironment({ SYNCLINE_LOG_FORMAT: 'JSON', SYNCLINE_LOG_LEVEL: 'debug' })).toEqual({ format: 'json', level: 'DEBUG' });
  expect(() => loggingFromEnvironment({ SYNCLINE_LOG_FORMAT: 'logfmt' })).toThrow(LoggingConfigError);
  expect(() => loggingFromEnvironment({ SYNCLINE_LOG_FORMAT: 'logfmt' })).toThrow(
    'SYNCLINE_LOG_FORMAT is "logfmt": write "json" (one JSON object a line) or "text" (the default)',
  );
  expect(() => loggingFromEnvironment({ SYNCLINE_LOG_LEVEL: 'verbose' })).toThrow(
    'SYNCLINE_LOG_LEVEL is "verbose": write one of TRACE, DEBUG, INFO, WARN, ERROR (default INFO)',
  );
});
