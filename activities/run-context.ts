/** Loads a run's frozen config and builds the connector context from it, inside the worker. */
import { Context } from '@temporalio/activity';
import type { ActivationConfig } from '../common/config';
import { SyncError } from '../common/errors';
import { activationConnection } from '../connectors/connections';
import type { DestinationConnector, DestinationContext, FieldSpec, Logger, SharedLimits } from '../connectors/types';
import { resolveDestination } from '../connectors/kit/destination';
import type { SynclineDeps } from './deps';
import { getRun } from '../db/runs';
import { getConnectorState, setConnectorState } from '../db/connector-state';
import type { KeyMatch } from '../db/delta';
import { recordApiCall } from './metrics';
import { sharedLimitsFor } from './destination-limits';

export interface LoadedRun {
  runId: string;
  runNumber: number;
  activationId: string;
  config: ActivationConfig;
  fields: FieldSpec[] | null;
  skipped: Set<string>;
  full: boolean;
  trigger: string;
  /** Rows whose last write failed permanently are sent again too. */
  retryFailed: boolean;
  /** Attributes the check found missing (ensureAttributes creates them). */
  missingAttributes: Array<{ field: string; type: string }>;
  /** The model's rows, as the extract counted them; null before it. */
  modelRows: number | null;
}

export async function loadRun(deps: SynclineDeps, runId: string): Promise<LoadedRun> {
  const run = await getRun(deps.db, runId);
  if (!run) throw new SyncError('INTERNAL', `run ${runId} does not exist in syncline.runs`, { retryable: false });
  const skipped = (run.skipped_fields ?? []) as Array<{ field: string }>;
  return {
    runId,
    runNumber: run.run_number,
    activationId: run.activation_id,
    config: run.config as ActivationConfig,
    fields: (run.fields as FieldSpec[] | null) ?? null,
    skipped: new Set(skipped.map((s) => s.field)),
    full: run.full_resync,
    trigger: run.trigger,
    retryFailed: run.retry_failed,
    missingAttributes: run.missing_attributes ?? [],
    modelRows: run.model_rows === null ? null : Number(run.model_rows),
  };
}

export function connectorFor(deps: SynclineDeps, config: ActivationConfig): DestinationConnector<unknown> {
  const c = deps.connectors.get(config.destination.kind);
  if (!c) {
    throw new SyncError(
      'CONFIG_INVALID',
      `activation "${config.id}": destination.kind "${config.destination.kind}" is not installed on this worker (installed: ${[...deps.connectors.keys()].join(', ')})`,
    );
  }
  return c;
}

export function activityLogger(): Logger {
  try {
    const log = Context.current().log;
    return { info: (m, meta) => log.info(m, meta), warn: (m, meta) => log.warn(m, meta), error: (m, meta) => log.error(m, meta) };
  } catch {
    return { info: () => {}, warn: (m) => console.warn(m), error: (m) => console.error(m) };
  }
}

function heartbeat(details?: Record<string, unknown>): void {
  try {
    // A local activity (a small run's check) has no heartbeat: the SDK keeps its workflow task alive instead.
    if (!Context.current().info.isLocal) Context.current().heartbeat(details);
  } catch {
    // outside an activity (tests, CLI): nothing to report to
  }
}

function cancellation(): AbortSignal {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return new AbortController().signal;
  }
}

/** The limits every context of this worker shares (`ctx.limits`). */
export function destinationLimits(deps: SynclineDeps): SharedLimits {
  return deps.limits ?? sharedLimitsFor(deps.db);
}

export function buildContext(
  deps: SynclineDeps,
  run: Pick<LoadedRun, 'activationId' | 'runNumber' | 'config'>,
  fields: FieldSpec[],
): DestinationContext<unknown> {
  const { config } = run;
  const connector = connectorFor(deps, config);
  const raw = activationConnection(deps.resolveConnection, config.id, 'destination.connection', config.destination.connection);
  const parsed = connector.connectionSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(connection)'}: ${i.message}`).join('; ');
    throw new SyncError(
      'CONFIG_INVALID',
      `activation "${config.id}": connection "${config.destination.connection}" is not a valid ${connector.kind} connection: ${problems}`,
    );
  }
  const activationId = run.activationId;
  // Options, address and mode as the connector declares them: parsed here, once per activity.
  const { options, address } = resolveDestination(connector, {
    activationId: config.id,
    destination: config.destination,
    mode: config.mode,
    connection: parsed.data,
  });
  return {
    activationId,
    runNumber: run.runNumber,
    mode: config.mode,
    fields,
    connection: parsed.data,
    options,
    destination: { ...config.destination, options: config.destination.options ?? {}, address },
    log: activityLogger(),
    heartbeat,
    signal: cancellation(),
    apiCall: (kind) => recordApiCall(connector.kind, kind),
    limits: destinationLimits(deps),
    state: {
      get: <T>(key: string) => getConnectorState<T>(deps.db, activationId, key),
      set: (key, value) => setConnectorState(deps.db, activationId, key, value),
    },
  };
}

/**
 * How the destination matches keys where not as text (the key's `FieldSpec.keyNumber` or `keyIgnoresCase`, from the
 * connector's check): as numbers ('1.50' and '1.5' one record), or without regard to case ('K-1' and 'k-1'). Such
 * keys are then one key for the delta (db/delta.ts keyGroup, keepCaseVariants). Undefined: compared as text.
 */
export function keyMatch(fields: readonly FieldSpec[] | null | undefined): KeyMatch | undefined {
  const key = fields?.find((f) => f.isKey && (f.keyNumber || f.keyIgnoresCase));
  if (!key) return undefined;
  return key.keyNumber ? { kind: 'number', scale: key.keyNumber.scale } : { kind: 'case' };
}

/** Fields actually sent: the run's fields minus those the destination cannot take. */
export function sentFields(run: LoadedRun): FieldSpec[] {
  if (!run.fields)
    throw new SyncError('INTERNAL', `run ${run.runNumber} of "${run.activationId}" has no field list: checkDestination did not run`, {
      retryable: false,
    });
  return run.fields.filter((f) => f.isKey || !run.skipped.has(f.to));
}
