/** Live configuration updates of a running activation: checked against the destination, then recorded between runs. */
import type { ActivationConfig } from '../common/config';
import { SyncError } from '../common/errors';
import { withoutSecrets } from '../common/redact';
import { configVersion } from '../db/config-versions';
import { acceptNewTarget, syncedRowCount } from '../db/runs';
import { describeModel, resolveSource } from '../connectors/postgres/source';
import type { SynclineDeps } from './deps';
import { buildFields } from './prepare';
import { buildContext, connectorFor } from './run-context';

export interface CheckConfigUpdateInput {
  config: ActivationConfig;
}
export interface CheckConfigUpdateResult {
  problems: string[];
  syncedRows: number;
}

/** The model described and the destination checked with the new document, nothing written; and how many rows are synced now. */
export async function checkConfigUpdate(deps: SynclineDeps, input: CheckConfigUpdateInput): Promise<CheckConfigUpdateResult> {
  const { config } = input;
  const problems: string[] = [];
  try {
    const fields = buildFields(config, await describeModel(resolveSource(deps, config), config, deps.pool));
    await connectorFor(deps, config).check(buildContext(deps, { activationId: config.id, runNumber: 0, config }, fields));
  } catch (err) {
    // A configuration problem is the answer; anything else (the destination unreachable) is retried.
    if (!(err instanceof SyncError) || err.retryable) throw err;
    // Returned, not thrown: the failure boundary does not see it.
    problems.push(withoutSecrets(`${err.code}: ${err.message}`));
  }
  return { problems, syncedRows: await syncedRowCount(deps.db, config.id) };
}

export interface ApplyConfigUpdateInput {
  config: ActivationConfig;
  reason?: string;
  retarget?: boolean;
}
export interface ApplyConfigUpdateResult {
  version: number;
  forgotten: number;
}

/** Records the new version; a new target starts from an empty snapshot (the old one's state is forgotten, its records untouched). */
export async function applyConfigUpdate(deps: SynclineDeps, input: ApplyConfigUpdateInput): Promise<ApplyConfigUpdateResult> {
  // A new target: its version and the old one's state forgotten in one transaction (acceptNewTarget).
  if (input.retarget) return acceptNewTarget(deps.db, input.config.id, input.config, input.reason);
  return { version: await configVersion(deps.db, input.config.id, input.config, input.reason || undefined), forgotten: 0 };
}
