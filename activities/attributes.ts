/** Creates mapped attributes the destination lacks (Actito), before the first write, and records each. */
import { SyncError } from '../common/errors';
import type { SynclineDeps } from './deps';
import { recordAttributeCreations } from '../db/runs';
import { buildContext, connectorFor, loadRun, sentFields } from './run-context';

export interface EnsureAttributesInput {
  runId: string;
}
export interface EnsureAttributesResult {
  created: string[];
  existing: string[];
}

export async function ensureAttributes(deps: SynclineDeps, input: EnsureAttributesInput): Promise<EnsureAttributesResult> {
  const run = await loadRun(deps, input.runId);
  const missing = run.missingAttributes;
  if (missing.length === 0) return { created: [], existing: [] };
  const connector = connectorFor(deps, run.config);
  if (!connector.ensureAttributes) {
    throw new SyncError(
      'FIELD_UNKNOWN',
      `activation "${run.activationId}": ${connector.kind} cannot create attributes, and ${missing.map((m) => `"${m.field}"`).join(', ')} do not exist`,
    );
  }
  const results = await connector.ensureAttributes(buildContext(deps, run, sentFields(run)), missing);
  await recordAttributeCreations(deps.db, run.activationId, run.runNumber, results);
  return { created: results.filter((r) => r.created).map((r) => r.field), existing: results.filter((r) => !r.created).map((r) => r.field) };
}
