/** First DAG tasks of a run: record it, then validate the model and the destination before any write. */
import { sql } from 'kysely';
import { parseActivationConfig, formatProblems, type ActivationConfig } from '../common/config';
import { SyncError } from '../common/errors';
import type { RunTrigger, RunWarning } from '../common/run';
import type { FieldSpec } from '../connectors/types';
import type { SynclineDeps } from './deps';
import { buildContext, connectorFor, loadRun } from './run-context';
import { describeModel, resolveSource } from './source';
import { dropWorkTables } from './work';
import { settleUnfinishedRuns } from './commit';

export interface PrepareRunInput {
  activationId: string;
  runNumber: number;
  trigger: RunTrigger;
  full: boolean;
  /** Also re-send rows whose last write failed permanently (a retryFailed request coalesced with another). */
  retryFailed?: boolean;
  config: ActivationConfig;
  scheduledAt?: string;
}
export interface PrepareRunResult { runId: string }

/** Idempotent: a retried or replayed run number maps to the same row, and its work tables start clean. */
export async function prepareRun(deps: SynclineDeps, input: PrepareRunInput): Promise<PrepareRunResult> {
  const parsed = parseActivationConfig(input.config);
  if (!parsed.ok) throw new SyncError('CONFIG_INVALID', formatProblems(input.activationId, parsed.problems));
  const config = JSON.stringify(parsed.config);
  // What an earlier run wrote but never committed is settled before this run computes its delta.
  await settleUnfinishedRuns(deps, input.activationId, `run ${input.runNumber}`, input.runNumber);
  await sql`INSERT INTO syncline.activations (id, config) VALUES (${input.activationId}, ${config}::jsonb)
    ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_at = now()`.execute(deps.db);
  const retryFailed = input.retryFailed ?? input.trigger === 'retry_failed';
  const row = await sql<{ id: string }>`INSERT INTO syncline.runs (activation_id, run_number, trigger, full_resync, retry_failed, config, scheduled_at, status)
    VALUES (${input.activationId}, ${input.runNumber}, ${input.trigger}, ${input.full}, ${retryFailed}, ${config}::jsonb, ${input.scheduledAt ?? null}, 'running')
    ON CONFLICT (activation_id, run_number) DO UPDATE SET status = 'running', started_at = now(), finished_at = NULL, error = NULL
    RETURNING id`.execute(deps.db);
  const runId = String(row.rows[0]!.id);
  await claimApprovals(deps, input.activationId, input.runNumber);
  await dropWorkTables(deps, runId);
  await deps.db.deleteFrom('syncline.chunks').where('run_id', '=', runId).execute();
  return { runId };
}

/**
 * An approval of held deletions belongs to the first run that starts after it: that run claims it, and
 * an approval claimed by an earlier run lapses (the keys are held again if they are still removed).
 * Idempotent for a retried run number.
 */
async function claimApprovals(deps: SynclineDeps, activationId: string, runNumber: number): Promise<void> {
  await deps.db.updateTable('syncline.held_deletes').set({ approved: false, approved_for: null })
    .where('activation_id', '=', activationId).where('approved', '=', true).where('approved_for', 'is not', null).where('approved_for', '<>', runNumber).execute();
  await deps.db.updateTable('syncline.held_deletes').set({ approved_for: runNumber })
    .where('activation_id', '=', activationId).where('approved', '=', true).where('approved_for', 'is', null).execute();
}

export interface CheckDestinationInput { runId: string }
export interface CheckDestinationResult {
  fields: number;
  skippedFields: Array<{ field: string; reason: string }>;
  missingAttributes: number;
  warnings: RunWarning[];
}

/** Builds the field list from the model's column types, then lets the connector validate the mapping. */
export async function checkDestination(deps: SynclineDeps, input: CheckDestinationInput): Promise<CheckDestinationResult> {
  const run = await loadRun(deps, input.runId);
  const { config } = run;
  const columns = await describeModel(resolveSource(deps, config), config);
  const fields = buildFields(config, columns);
  const connector = connectorFor(deps, config);
  const result = await connector.check(buildContext(deps, run, fields));
  await deps.db.updateTable('syncline.runs').set({
    fields: JSON.stringify(fields), skipped_fields: JSON.stringify(result.skippedFields),
    warnings: JSON.stringify([...result.warnings, ...result.skippedFields.map((s) => skippedWarning(config, s))]),
  }).where('id', '=', input.runId).execute();
  await deps.db.insertInto('syncline.connector_state').values({ activation_id: config.id, key: `run:${run.runNumber}:missingAttributes`, value: JSON.stringify(result.missingAttributes) })
    .onConflict((oc) => oc.columns(['activation_id', 'key']).doUpdateSet({ value: JSON.stringify(result.missingAttributes) })).execute();
  return { fields: fields.length, skippedFields: result.skippedFields, missingAttributes: result.missingAttributes.length, warnings: result.warnings };
}

function skippedWarning(config: ActivationConfig, s: { field: string; reason: string }): RunWarning {
  return { code: 'FIELD_TYPE_MISMATCH', level: 'warning', message: `activation "${config.id}": field "${s.field}" is not sent: ${s.reason}` };
}

/** The key first, then each mapping; every model column must exist. */
export function buildFields(config: ActivationConfig, columns: Map<string, string>): FieldSpec[] {
  const missing = [config.source.key, ...config.mappings.map((m) => m.from)].filter((c) => !columns.has(c));
  if (missing.length) {
    throw new SyncError('FIELD_UNKNOWN', `activation "${config.id}": the model has no column ${[...new Set(missing)].map((c) => `"${c}"`).join(', ')} (it has: ${[...columns.keys()].join(', ')}). Fix "mappings"/"source.key" or the model SQL.`);
  }
  const key: FieldSpec = { from: config.source.key, to: config.destination.key, pgType: columns.get(config.source.key)!, isKey: true };
  const rest = config.mappings.filter((m) => m.to !== config.destination.key).map((m) => ({ ...m, pgType: columns.get(m.from)!, isKey: false }));
  return [key, ...rest];
}
