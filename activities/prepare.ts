/** First DAG tasks of a run: record it, then validate the model and the destination before any write. */
import { parseActivationConfig, formatProblems, type ActivationConfig } from '../common/config';
import { SyncError } from '../common/errors';
import { messagesWithoutSecrets } from '../common/redact';
import type { RunTrigger, RunWarning } from '../common/run';
import type { FieldSpec } from '../connectors/types';
import type { SynclineDeps } from './deps';
import { buildContext, connectorFor, loadRun } from './run-context';
import { describeModel, resolveSource } from '../connectors/postgres/source';
import { dropWorkTables } from './work';
import { settleUnfinishedRuns } from './commit';
import { supersedePlans } from './plan';
import { openRun, recordCheck } from '../db/runs';
import { configVersion, TargetChanged } from '../db/config-versions';
import { claimApprovals } from '../db/held-deletes';
import { deleteChunks } from '../db/chunks';
import { foldsNonAsciiCase } from '../db/delta';
import { RESERVED_COLUMNS } from '../db/work-tables';
import { recordScheduleLag } from './metrics';

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
export interface PrepareRunResult {
  runId: string;
  /** Present (true) when an earlier attempt of this run number was settled first: a reset started the run again. */
  startedAgain?: true;
}

/**
 * A run whose document names another target than the one the activation last accepted: it comes from no
 * current execution (a workflow of the previous target still running, an activation reset to before its
 * new target, a workflow started without the check). Run, it would record the previous target as the
 * latest version again and write to it from the new target's snapshot.
 */
function staleTarget(err: TargetChanged, runNumber: number): SyncError {
  const paths = err.paths.length ? err.paths.map((p) => `"${p}"`).join(', ') : 'its target';
  return new SyncError(
    'CONFIG_INVALID',
    `activation "${err.activationId}": run ${runNumber} was not started: its document differs in ${paths} from the activation's latest accepted document (version ${err.version}), which gave it a new target. ` +
      `Nothing was written. The run comes from an execution that started before the new target was accepted (a workflow of the previous target still running, an activation reset to before version ${err.version}, or a workflow started without \`syncline activation start\`). ` +
      `Stop the activation and start it with the document it should run: \`syncline activation start -f <file>\` (a new target needs --retarget).`,
  );
}

/**
 * Idempotent: a retried or replayed run number maps to the same row, and its work tables start clean. The
 * number started again after its earlier attempt got as far as its delta (a reset) settles that attempt
 * first, and the row comes back under a new id (settleUnfinishedRuns).
 */
export async function prepareRun(deps: SynclineDeps, input: PrepareRunInput): Promise<PrepareRunResult> {
  const parsed = parseActivationConfig(input.config);
  if (!parsed.ok) throw new SyncError('CONFIG_INVALID', formatProblems(input.activationId, parsed.problems));
  const refuseStale = (err: unknown): never => {
    throw err instanceof TargetChanged ? staleTarget(err, input.runNumber) : err;
  };
  // First, before anything of the activation's state is touched: a document naming another target than the
  // latest version is not this activation's current run (staleTarget).
  const version = await configVersion(deps.db, input.activationId, parsed.config, undefined, { keepTarget: true }).catch(refuseStale);
  // What an earlier run wrote but never committed is settled before this run computes its delta: a run
  // left running (this run number's own earlier attempt too, when a reset starts it again after its
  // delta), and a plan whose apply wrote some rows but never committed.
  await settleUnfinishedRuns(deps, input.activationId, `run ${input.runNumber}`, input.runNumber);
  await supersedePlans(deps, { activationId: input.activationId, except: input.runNumber, appliedOnly: true });
  const { runId, created, reopenedClosed } = await openRun(deps.db, {
    activationId: input.activationId,
    runNumber: input.runNumber,
    trigger: input.trigger,
    full: input.full,
    retryFailed: input.retryFailed ?? input.trigger === 'retry_failed',
    config: parsed.config,
    scheduledAt: input.scheduledAt,
    configVersion: version,
    // The new target accepted meanwhile (after the version was read): openRun refuses in the same statement.
  }).catch(refuseStale);
  await claimApprovals(deps.db, input.activationId, input.runNumber);
  // A run number opened again (a retried prepare, a replayed run) starts clean; a new run has nothing yet.
  if (!created) {
    await dropWorkTables(deps, runId);
    await deleteChunks(deps.db, runId);
  }
  if (input.scheduledAt) recordScheduleLag(input.activationId, input.scheduledAt);
  // Started again: the row was settled before this open (by this prepare, or by an attempt of it that failed
  // before it returned). Not seen: an attempt that failed after it reopened the row too.
  return reopenedClosed ? { runId, startedAgain: true } : { runId };
}

export interface CheckDestinationInput {
  runId: string;
}
export interface CheckDestinationResult {
  fields: number;
  skippedFields: Array<{ field: string; reason: string }>;
  missingAttributes: number;
  warnings: RunWarning[];
}

/** The state database cannot fold non-ASCII case (db/delta.ts foldsNonAsciiCase). */
export const KEY_FOLDING_ASCII_ONLY: RunWarning = {
  code: 'KEY_FOLDING_ASCII_ONLY',
  level: 'warning',
  message:
    "the destination's key ignores case, but the state database folds the case of A-Z only (function syncline.fold_key: " +
    'no collation "pg_c_utf8" or "und-x-icu" there, and a database ctype, e.g. C, that folds A-Z only): keys that differ only in the case ' +
    'of other letters ("É-1", "é-1") are two keys for syncline and one record for the destination, so a key renamed so ' +
    "can delete its own record in Mirror. Make the destination's key field case-sensitive, or make syncline.fold_key " +
    'fold with a Unicode-aware collation (docs/connectors.md, "Keys that ignore case").',
};

/** Builds the field list from the model's column types, then lets the connector validate the mapping. */
export async function checkDestination(deps: SynclineDeps, input: CheckDestinationInput): Promise<CheckDestinationResult> {
  const run = await loadRun(deps, input.runId);
  const { config } = run;
  const columns = await describeModel(resolveSource(deps, config), config, deps.pool);
  const fields = buildFields(config, columns);
  const connector = connectorFor(deps, config);
  const checked = await connector.check(buildContext(deps, run, fields));
  // Kept with the run's fields (runs.fields): the delta reads it (db/delta.ts keepCaseVariants).
  if (checked.keyIgnoresCase) for (const f of fields) if (f.isKey) f.keyIgnoresCase = true;
  // A number key: keys are compared as numbers (syncline.number_key), not folded.
  if (checked.keyNumber) for (const f of fields) if (f.isKey) f.keyNumber = { scale: checked.keyNumber.scale };
  // Keys are then compared folded (syncline.fold_key): a state database that folds A-Z only takes 'É-1' and 'é-1'
  // for two keys, which the destination takes for one record.
  if (checked.keyIgnoresCase && !(await foldsNonAsciiCase(deps.db))) checked.warnings = [...checked.warnings, KEY_FOLDING_ASCII_ONLY];
  // The connector's warnings can quote its API's answers: what a URL or header in them carries stays out
  // of the activity's result (Temporal history), the run's record and the warnings sent on.
  const result = { ...checked, warnings: messagesWithoutSecrets(checked.warnings) };
  await recordCheck(deps.db, input.runId, {
    fields,
    skipped: result.skippedFields,
    missingAttributes: result.missingAttributes,
    warnings: [...result.warnings, ...result.skippedFields.map((s) => skippedWarning(config, s))],
  });
  return {
    fields: fields.length,
    skippedFields: result.skippedFields,
    missingAttributes: result.missingAttributes.length,
    warnings: result.warnings,
  };
}

function skippedWarning(config: ActivationConfig, s: { field: string; reason: string }): RunWarning {
  return {
    code: 'FIELD_TYPE_MISMATCH',
    level: 'warning',
    message: `activation "${config.id}": field "${s.field}" is not sent: ${s.reason}`,
  };
}

/** The key first, then each mapping; every model column must exist, and none may have a name syncline keeps (RESERVED_COLUMNS). */
export function buildFields(config: ActivationConfig, columns: Map<string, string>): FieldSpec[] {
  const missing = [config.source.key, ...config.mappings.map((m) => m.from)].filter((c) => !columns.has(c));
  if (missing.length) {
    throw new SyncError(
      'FIELD_UNKNOWN',
      `activation "${config.id}": the model has no column ${[...new Set(missing)].map((c) => `"${c}"`).join(', ')} (it has: ${[...columns.keys()].join(', ')}). Fix "mappings"/"source.key" or the model SQL.`,
    );
  }
  const reserved = [config.source.key, ...config.mappings.map((m) => m.from)].filter((c) => RESERVED_COLUMNS.includes(c));
  if (reserved.length) {
    const c = reserved[0]!;
    throw new SyncError(
      'CONFIG_INVALID',
      `activation "${config.id}": the model column "${c}" has a name syncline gives to columns of its own (${RESERVED_COLUMNS.join(', ')}); rename it in the model SQL (e.g. SELECT "${c}" AS ${c.replace(/^_+/, '')}) and in "mappings"/"source.key".`,
    );
  }
  const key: FieldSpec = { from: config.source.key, to: config.destination.key, pgType: columns.get(config.source.key)!, isKey: true };
  const rest = config.mappings
    .filter((m) => m.to !== config.destination.key)
    .map((m) => ({ ...m, pgType: columns.get(m.from)!, isKey: false }));
  return [key, ...rest];
}
