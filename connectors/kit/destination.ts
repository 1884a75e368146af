/**
 * What a connector declares, applied to one activation's `destination`: its options parsed with the
 * connector's schema, its address read from the field the connector names, its mode looked up in the
 * connector's mode table. The runtime calls this once per activity (activities/run-context.ts), the
 * test harnesses call it too, so a connector never parses its own configuration.
 */
import type { z } from 'zod';
import { SyncError } from '../../common/errors';
import { modeRows, type Change, type ModeRow, type RowOp, type SyncMode } from '../../common/sync-modes';
import type { DestinationConnector } from '../types';

/** The part of an activation document this reads (common/config.ts `destinationSchema`). */
export interface DestinationDocument {
  kind: string;
  object?: string;
  table?: string;
  options?: Record<string, unknown>;
}

export interface ResolvedDestination<O> {
  options: O;
  address: string;
}

/**
 * Options, address and mode of one activation, every problem reported together in one
 * non-retryable CONFIG_INVALID that names the activation and each field.
 *
 * @example resolveDestination(salesforceConnector, { activationId: 'contacts', destination: config.destination, mode: 'upsert', connection })
 */
export function resolveDestination<C, O>(
  connector: DestinationConnector<C, O>,
  input: { activationId: string; destination: DestinationDocument; mode: SyncMode; connection: C },
): ResolvedDestination<O> {
  const problems: string[] = [];
  const schema: z.ZodType<O> =
    typeof connector.optionsSchema === 'function' ? connector.optionsSchema(input.connection) : connector.optionsSchema;
  const parsed = schema.safeParse(input.destination.options ?? {});
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(`destination.options${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`);
  }
  const { field, label } = connector.address;
  const address = input.destination[field];
  if (address === undefined) {
    const other = field === 'object' ? 'table' : 'object';
    const given = input.destination[other] === undefined ? '' : `, not "destination.${other}"`;
    problems.push(`destination.${field}: a ${connector.kind} destination is named by "destination.${field}" (the ${label})${given}`);
  }
  if (!connector.modes[input.mode]) {
    problems.push(`mode: ${connector.kind} does not support mode "${input.mode}" (supported: ${Object.keys(connector.modes).join(', ')})`);
  }
  if (problems.length || !parsed.success || address === undefined) {
    throw new SyncError(
      'CONFIG_INVALID',
      `activation "${input.activationId}": destination "${input.destination.kind}" is not configured correctly:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  return { options: parsed.data, address };
}

/** The (change, op) pairs the delta sends for `mode` to this connector; CONFIG_INVALID when it does not support the mode. */
export function modeRowsOf(
  connector: Pick<DestinationConnector, 'kind' | 'modes'>,
  activationId: string,
  mode: SyncMode,
): Array<{ change: Change; op: RowOp }> {
  const row: ModeRow | undefined = connector.modes[mode];
  if (!row)
    throw new SyncError(
      'CONFIG_INVALID',
      `activation "${activationId}": ${connector.kind} does not support mode "${mode}" (supported: ${Object.keys(connector.modes).join(', ')})`,
    );
  return modeRows(row);
}
