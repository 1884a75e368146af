/**
 * Runs one parsed `syncline` command with SynclineClient and prints its result (text, or JSON with
 * --json). Loaded only when a command runs: it brings in the Temporal client and the Postgres driver.
 */
import fs from 'node:fs';
import path from 'node:path';
import { require as tsxRequire } from 'tsx/cjs/api';
import { DagBuilder } from '../common/dag-builder';
import { inspect } from 'node:util';
import { ConfigInvalidError, SynclineClient, type PlanDetails } from './index';
import {
  errorsTable,
  formatChanges,
  formatRunSummary,
  formatStatus,
  listTable,
  renderTable,
  rowsTable,
  runsTable,
  terminalSafe,
  terminalSafeLines,
} from './format';
import type { RunSummary } from '../common/run';
import { applyDocuments, jsonProblem, readDocuments } from './config-as-code';
import { parseNewActivationConfig } from '../common/config';
import type { ConfigChange } from '../common/config-diff';
import readline from 'node:readline/promises';
import { TASK_QUEUE } from '../common/names';
import { openStateDatabase, type StateDatabase } from './runs';
import { COMMANDS, EXIT, LOCAL_COMMANDS, RUN_COMMANDS, runExitCode, type CommandSpec } from './cli-commands';
import { codecFromEnvironment } from './codec';
import { startCodecServer } from './codec-server';
import { UsageError, usageErrorText, type Flags } from './cli-parse';
import { parseDeployableDag } from './dags';
import type { RerunSelection } from '../common/dag-rerun';
import { usesPools } from '../common/dag-pools';
import { NamespaceNotFoundError } from '@temporalio/common';
import { databaseWhere } from '../db/connect';
import { stringifyExact, stringifyExactIndented } from '../common/json-exact';

interface Output {
  data: unknown;
  text: string;
  exitCode?: number;
}
interface Ctx {
  id: string;
  flags: Flags;
  client: SynclineClient;
  args: Record<string, string>;
  /** The state database the command reads, if it reads one. */
  databaseUrl?: string;
  /** Where Temporal was asked. */
  namespace: string;
  address: string;
}

/**
 * The first line of `approve-deletes`: how many held deletions were approved, and how many the run that applied
 * them deleted. The run deletes only keys still gone from the model: an approved key back in it since is kept.
 */
export function approvalLine(approved: number, run: RunSummary): string {
  const del = run.ops.delete;
  // Deletions the run held (keys that left the model since, over the guard) are none of the approved ones.
  const held = del?.held ?? 0;
  const [planned, deleted] = [(del?.planned ?? 0) - held, del?.succeeded ?? 0];
  const head = `${approved} deletion(s) approved; run ${run.runNumber} deleted ${deleted}`;
  // The approval stands (db/held-deletes.ts claimApprovals): what to do is run again once the failure is mended.
  if (run.status === 'failed')
    return `${head} and failed; the approval stands: the next run deletes the approved keys still gone from the model ("syncline sync ${run.activationId}" runs it now)`;
  const line =
    planned < approved
      ? `${head}: an approved key back in the model since is not deleted`
      : deleted < planned
        ? `${head} of ${planned} (below)`
        : head;
  return held > 0 ? `${line}; it held ${held} other deletion(s) for approval (below)` : line;
}

/**
 * What `delete` asks. The state database holds the activations of every namespace: one found stopped in
 * the namespace asked (the default one, when --namespace was forgotten) may run in another.
 */
export function purgeQuestion(id: string, namespace: string, address: string): string {
  return (
    `"${id}" is not running in namespace "${namespace}" (Temporal at ${address}; another namespace is --namespace). ` +
    'Drop everything syncline keeps of it (snapshot, runs, row log, versions)? Its destination records stay. [y/N] '
  );
}

/** What `delete --purge` dropped, and what it left: the destination's records, those held for deletion too. */
export function purgedText(id: string, dropped: Record<string, number>): string {
  const rows = Object.entries(dropped)
    .filter(([, n]) => n > 0)
    .map(([t, n]) => `${n} ${t}`)
    .join(', ');
  if (!rows)
    return `activation "${id}": nothing is stored of it in syncline's Postgres, nothing was purged (check the id and DATABASE_URL)`;
  const held = dropped.held_deletes ?? 0;
  return (
    `activation "${id}" purged: ${rows}\n` +
    `its records in the destination stay as they are${held > 0 ? `, the ${held} it held for deletion (waiting for approval) too: nothing will delete them` : ''}; ` +
    'started again with this id, its first run sends every model row (in Insert mode, as new records)'
  );
}

/**
 * Nothing to show for `id`: if no run of it was ever recorded, the id is most likely mistyped (or DATABASE_URL
 * points elsewhere), which "no row errors" would hide. Said as a failure, naming what to check.
 */
async function unlessUnknown(client: SynclineClient, id: string, databaseUrl: string | undefined): Promise<void> {
  if ((await client.runs(id, { limit: 1 })).length > 0) return;
  throw new Error(
    `activation "${id}" has no run recorded in syncline's Postgres at ${databaseWhere(databaseUrl ?? '')}: check the id ("syncline list" lists the running activations) and DATABASE_URL`,
  );
}

/** The namespace error, or one it caused. */
function namespaceNotFound(e: unknown): NamespaceNotFoundError | undefined {
  for (let c = e, depth = 0; c && depth < 5; depth++, c = (c as { cause?: unknown }).cause)
    if (c instanceof NamespaceNotFoundError) return c;
  return undefined;
}

function formatAge(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 1) return `${Math.max(0, Math.round(ms / 1000))} s`;
  if (min < 120) return `${min} min`;
  return min < 48 * 60 ? `${Math.round(min / 60)} h` : `${Math.round(min / 1440)} days`;
}

/** Counts per op, then up to 5 sample rows per op, aligned in columns. */
export function formatPlan(p: PlanDetails): string {
  // Deletions over the deletion guard are counted apart (heldDeletes): named as what they are, not as the field.
  const label = (op: string): string => (op === 'heldDeletes' ? 'delete, held' : op);
  const ops = Object.entries(p.counts)
    .filter(([op, n]) => op !== 'nullKeyRows' && (n > 0 || !['rejected', 'heldDeletes'].includes(op)))
    .map(([op, n]) => [label(op), n] as const);
  const w = Math.max(...ops.map(([op]) => op.length), 6);
  const nw = Math.max(...ops.map(([, n]) => String(n).length), 1);
  const lines = [
    `plan ${p.plan} of "${p.activationId}" (computed ${p.createdAt}; nothing was written; apply it with "syncline apply ${p.activationId} ${p.plan}")`,
  ];
  if (ops.length === 0) lines.push('  nothing to send: the destination is up to date');
  for (const [op, n] of ops) lines.push(`  ${op.padEnd(w)}  ${String(n).padStart(nw)}`);
  // A connector that creates missing attributes (Actito) changes the destination's table on apply, for good.
  const create = p.attributesToCreate ?? [];
  if (create.length > 0)
    lines.push(
      '',
      `applying it creates ${create.length} attribute${create.length === 1 ? '' : 's'} in the destination: ${create.map((a) => `${JSON.stringify(a.field)} (${a.type})`).join(', ')}. ` +
        'syncline never removes an attribute: if a name is wrong, fix "to" in "mappings" before applying',
    );
  const held = p.counts.heldDeletes ?? 0;
  const noKey = p.counts.nullKeyRows ?? 0;
  if (held > 0)
    lines.push(
      '',
      `${held} deletion(s) ${noKey > 0 ? `are held by the deletion guard: ${noKey} model rows have no key, so the removed keys may be theirs (fix the model so that every row has its key)` : 'are over the deletion guard'}: applying this plan deletes none of them and holds them for approval (exit 3); ` +
        `"syncline approve-deletes ${p.activationId} --run ${p.plan}" then deletes them`,
    );
  for (const [op, rows] of Object.entries(p.samples)) {
    if (!rows.length) continue;
    lines.push('', `sample ${op} rows:`);
    // A table per op: key, then the destination fields (jsonb does not keep their order: sorted by name).
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r.values)))].sort();
    // Keys and values escaped (terminalSafe): a row's text acts on nothing and keeps to its line.
    const cells = [
      ['key', ...cols],
      ...rows.map((r) => [r.key, ...cols.map((c) => (c in r.values ? stringifyExact(r.values[c]) : ''))].map(terminalSafe)),
    ];
    const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
    for (const row of cells) lines.push(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd());
  }
  return lines.join('\n');
}

function readActivationFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read activation file "${file}": ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`activation file "${file}" is not valid JSON${jsonProblem(text, e)}`);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * A DAG file's content: JSON (dag.json), or a TypeScript / JavaScript module (.ts, .mts, .cts, .js, .mjs, .cjs,
 * loaded through tsx) whose default export, or export `dag`, is a defineDag builder or a DagSpec.
 */
export function readDagFile(file: string): unknown {
  if (/\.[cm]?[jt]s$/.test(file)) return loadDagModule(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read DAG file "${file}": ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`DAG file "${file}" is not valid JSON${jsonProblem(text, e)}`);
  }
}

function loadDagModule(file: string): unknown {
  let mod: { default?: unknown; dag?: unknown };
  try {
    mod = tsxRequire(path.resolve(file), __filename) as typeof mod;
  } catch (e) {
    throw new Error(`cannot load DAG module "${file}": ${(e as Error).message}`);
  }
  const exported = mod.default ?? mod.dag;
  if (exported instanceof DagBuilder || typeof (exported as { toSpec?: unknown } | null)?.toSpec === 'function')
    return (exported as DagBuilder).toSpec();
  if (typeof exported === 'object' && exported !== null) return exported;
  throw new Error(`DAG module "${file}" exports no DAG: "export default defineDag(...)" (or its toSpec(), or export const dag = ...)`);
}

const spec = (name: string): CommandSpec | undefined => COMMANDS.find((c) => c.name === name);

function instant(flag: string, value: unknown): Date {
  const text = String(value);
  // A date alone or a time without offset would be read in the machine's zone: the instant must say its zone.
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text) || Number.isNaN(Date.parse(text)))
    throw new UsageError(
      `--${flag} takes an ISO 8601 instant with its zone, e.g. 2026-11-01T00:00:00Z, not "${text}"`,
      spec('dag backfill'),
    );
  return new Date(text);
}

function poolSize(args: Record<string, string>): number {
  const size = Number(args.size);
  if (!/^\d+$/.test(args.size!) || size < 1)
    throw new UsageError(
      `pool "${args.name}": <size> is how many tasks may run in it at once, a whole number of at least 1, not "${args.size}"`,
      spec('pool set'),
    );
  return size;
}

function planNumber(args: Record<string, string>): number {
  if (!/^[1-9]\d*$/.test(args.plan ?? ''))
    throw new UsageError(`<plan> is the plan number printed by "syncline plan ${args.id}", not "${args.plan}"`, spec('apply'));
  return Number(args.plan);
}

function dagConf(flags: Flags): unknown {
  if (flags.conf === undefined) return undefined;
  try {
    return JSON.parse(String(flags.conf));
  } catch (e) {
    throw new UsageError(`--conf is not valid JSON: ${(e as Error).message}`, spec('dag trigger'));
  }
}

/**
 * Values checked before Temporal or Postgres is reached: a bad one is a usage error (exit 2), the same
 * with the services up or down, and nothing is started.
 */
const PRECHECKS: Record<string, (args: Record<string, string>, flags: Flags) => void> = {
  'pool set': (args) => void poolSize(args),
  apply: (args) => void planNumber(args),
  'dag trigger': (_args, flags) => void dagConf(flags),
  'dag backfill': (_args, flags) => {
    instant('from', flags.from);
    instant('to', flags.to);
  },
  'dag rerun': (_args, flags) => void rerunSelection(flags),
  rows: (_args, flags) => {
    if (flags.key === undefined && flags.run === undefined)
      throw new UsageError('say which rows: --key <key>, or --run <n> (with --op create|update|upsert|delete)', spec('rows'));
  },
  // --prune stops the running activations no file names: with one file, that is every other one.
  'activation apply': (_args, flags) => {
    if (flags.prune === true && fs.statSync(String(flags.file), { throwIfNoEntry: false })?.isFile())
      throw new UsageError(
        `--prune needs a folder: with one file it would stop every other running activation (give the folder that holds "${path.basename(String(flags.file))}")`,
        spec('activation apply'),
      );
    // Every document read and validated (as applyDocuments does again) before Temporal is reached.
    readDocuments(String(flags.file));
  },
  // The document read (and, for a new activation, validated as SynclineClient.start does) before Temporal is reached:
  // a file that cannot be used is said first, with Temporal up or down. An update is validated by the activation.
  'activation start': (_args, flags) => {
    const doc = readActivationFile(String(flags.file));
    const parsed = parseNewActivationConfig(doc);
    if (!parsed.ok) throw new ConfigInvalidError(parsed.problems, (doc as { id?: unknown } | null)?.id);
  },
  'activation update': (_args, flags) => void readActivationFile(String(flags.file)),
};

/** --failed or --from <task>: exactly one, checked before Temporal is reached. */
export function rerunSelection(flags: Flags): RerunSelection {
  const from = str(flags.from);
  if ((flags.failed === true) === (from !== undefined))
    throw new UsageError(
      'give either --failed (the failed tasks and their downstream) or --from <task> (that task and its downstream), not both or neither',
      spec('dag rerun'),
    );
  return from !== undefined ? { from } : { failed: true };
}

const HANDLERS: Record<string, (ctx: Ctx) => Promise<Output>> = {
  'dag deploy': async ({ client, args }) => {
    const r = await client.dags().deploy(readDagFile(args.file!));
    return {
      data: r,
      text: `DAG "${r.id}" ${r.created ? 'deployed' : 'updated'}${r.paused ? ' (paused: "syncline dag unpause ' + r.id + '" starts it)' : ''}`,
    };
  },
  'pool set': async ({ client, args }) => {
    const size = poolSize(args);
    await client.setPool(args.name!, size);
    return { data: { pool: args.name, size }, text: `pool "${args.name}": ${size} slot(s)` };
  },
  'pool list': async ({ client }) => {
    const pools = await client.listPools();
    const text =
      pools.length === 0
        ? 'no pool is defined ("syncline pool set <name> <size>")'
        : renderTable(
            [
              { header: 'POOL', value: (p) => p.name },
              { header: 'SIZE', value: (p) => p.size, align: 'right' },
              { header: 'IN USE', value: (p) => p.inUse, align: 'right' },
            ],
            pools,
          );
    return { data: pools, text };
  },
  'pool delete': async ({ client, args }) => {
    await client.deletePool(args.name!);
    return { data: { pool: args.name, deleted: true }, text: `pool "${args.name}" deleted` };
  },
  'dag list': async ({ client }) => {
    const dags = await client.dags().list();
    const rows = [
      ['DAG', 'SCHEDULE', 'STATE', 'LAST RUN', 'NEXT RUN'],
      ...dags.map((d) => [d.id, d.schedule, d.paused ? 'paused' : 'active', d.lastRun ?? '-', d.paused ? '-' : (d.nextRun ?? '-')]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const text =
      dags.length === 0
        ? 'no DAG is deployed ("syncline dag deploy <file>")'
        : rows
            .map((r) =>
              r
                .map((c, i) => c.padEnd(widths[i]!))
                .join('  ')
                .trimEnd(),
            )
            .join('\n');
    return { data: dags, text };
  },
  'dag pause': async ({ client, id, flags }) => {
    await client.dags().pause(id, str(flags.reason));
    return { data: { dag: id, paused: true }, text: `DAG "${id}" paused` };
  },
  'dag unpause': async ({ client, id }) => {
    await client.dags().unpause(id);
    return { data: { dag: id, paused: false }, text: `DAG "${id}" unpaused` };
  },
  'dag trigger': async ({ client, id, flags }) => {
    const r = await client.dags().trigger(id, dagConf(flags));
    return { data: r, text: `DAG "${id}" started as ${r.workflowId} (logical date ${r.logicalDate})` };
  },
  'dag backfill': async ({ client, id, flags }) => {
    const from = instant('from', flags.from);
    const to = instant('to', flags.to);
    const r = await client.dags().backfill(id, from, to);
    return {
      data: { dag: id, from: from.toISOString(), to: to.toISOString(), ...r },
      text: `DAG "${id}": ${r.runs} scheduled time(s) from ${from.toISOString()} to ${to.toISOString()} queued, one run at a time; dates that already succeeded run no task`,
    };
  },
  'dag show': async ({ client, args }) => {
    const { view, text } = await client.dagRuns().show(args.workflowId!);
    return { data: view, text };
  },
  'dag rerun': async ({ client, args, flags }) => {
    const r = await client.dagRuns().rerun(args.workflowId!, rerunSelection(flags));
    return {
      data: r,
      text: [
        `re-run ${r.workflowId} started${r.logicalDate ? ` (logical date ${r.logicalDate})` : ''}`,
        `  runs again: ${r.rerun.join(', ')}`,
        `  kept from ${r.rerunOf}: ${r.kept.join(', ') || 'none'}`,
        `"syncline dag show ${r.workflowId}" shows its progress`,
      ].join('\n'),
    };
  },
  'dag delete': async ({ client, id }) => {
    await client.dags().delete(id);
    return { data: { dag: id, deleted: true }, text: `DAG "${id}" deleted (its schedule; runs under way finish)` };
  },
  'activation start': async ({ client, flags }) => {
    const started = await client.start(readActivationFile(String(flags.file)), {
      retarget: flags.retarget === true,
      confirm: flags.confirm === true,
      resume: flags.resume === true,
      reason: str(flags.reason),
    });
    const id = started.workflowId.slice('activation/'.length);
    const nobody = await unpolledAtStart(client, id);
    return {
      data: started,
      text: [
        `started activation "${id}" (workflow ${started.workflowId}, run id ${started.runId})`,
        ...formatChanges(started.changes, [...started.consequences, ...nobody]),
        `sync it now with "syncline sync ${id}"`,
      ].join('\n'),
    };
  },
  'activation update': async ({ client, flags }) => {
    const doc = readActivationFile(String(flags.file)) as { id?: unknown };
    if (typeof doc?.id !== 'string') throw new Error(`activation file "${flags.file}" has no "id"`);
    const r = await client.updateConfig(doc.id, {
      config: doc,
      dryRun: flags['dry-run'] === true,
      retarget: flags.retarget === true,
      confirm: flags.confirm === true,
      reason: str(flags.reason),
    });
    const head = r.applied
      ? `activation "${doc.id}" updated to version ${r.version}`
      : r.changes.length
        ? `activation "${doc.id}": nothing applied (dry run)`
        : `activation "${doc.id}": the document is the one running; nothing to do`;
    return { data: r, text: [head, ...formatChanges(r.changes, r.consequences)].join('\n') };
  },
  'activation apply': async ({ client, flags }) => {
    const steps = await applyDocuments(client, String(flags.file), {
      dryRun: flags['dry-run'] === true,
      prune: flags.prune === true,
      retarget: flags.retarget === true,
      confirm: flags.confirm === true,
    });
    // As `activation start` says it: an activation started (or updated) on a queue no worker polls.
    for (const s of steps)
      if (s.done && (s.action === 'start' || s.action === 'update'))
        s.consequences = [...s.consequences, ...(await unpolledAtStart(client, s.id))];
    const verb = { start: 'start', update: 'update', unchanged: 'unchanged', stop: 'stop' } as const;
    const lines = steps.flatMap((s) => [
      `${verb[s.action].padEnd(9)} ${s.id}${s.action !== 'unchanged' && !s.done ? ' (not done: dry run)' : ''}`,
      ...formatChanges(s.changes, s.consequences).map((l) => `  ${l}`),
    ]);
    const changed = steps.filter((s) => s.action !== 'unchanged').length;
    return {
      data: steps,
      text: [
        ...lines,
        `${changed} change(s), ${steps.length - changed} unchanged${flags['dry-run'] ? ' (dry run: nothing applied)' : ''}`,
      ].join('\n'),
    };
  },
  list: async ({ client, flags }) => {
    const all = await client.list({ health: str(flags.health) });
    return {
      data: all,
      text: all.length ? listTable(all) : 'no activation is running' + (flags.health ? ` with health ${flags.health}` : ''),
    };
  },
  stop: async ({ client, id, flags }) => {
    await client.stop(id, { reason: str(flags.reason), wait: flags.wait === true });
    return {
      data: { activationId: id, stopped: flags.wait === true ? true : 'requested' },
      text: flags.wait
        ? `activation "${id}" stopped; "syncline activation start --file ${id}.json" carries on from its state`
        : `stop of "${id}" requested: it ends after its current run`,
    };
  },
  delete: async ({ client, id, flags, namespace, address }) => {
    // Checked before asking (purge checks again): the question says where it is not running.
    if (await client.isRunning(id)) throw new Error(`activation "${id}" is running: stop it first ("syncline stop ${id}")`);
    if (flags.yes !== true && !(await confirm(purgeQuestion(id, namespace, address)))) {
      return { data: { activationId: id, purged: false }, text: 'nothing was dropped', exitCode: EXIT.failed };
    }
    const dropped = await client.purge(id);
    return { data: { activationId: id, purged: true, rows: dropped }, text: purgedText(id, dropped) };
  },
  history: async ({ client, id, databaseUrl }) => {
    const versions = await client.history(id);
    if (versions.length === 0) await unlessUnknown(client, id, databaseUrl);
    const lines = versions.flatMap((v) => [
      `version ${v.version}  ${v.createdAt}${v.reason ? `  ${terminalSafe(v.reason)}` : ''}`,
      ...formatChanges(v.diff as ConfigChange[], []).map((l) => `  ${l}`),
    ]);
    return { data: versions, text: versions.length ? lines.join('\n') : `no configuration recorded for "${id}"` };
  },
  rows: async ({ client, id, flags, databaseUrl }) => {
    const run = num(flags.run);
    const rows = await client.rows(id, { key: str(flags.key), run, op: str(flags.op), limit: num(flags.limit) });
    if (rows.length === 0) await unlessUnknown(client, id, databaseUrl);
    if (rows.length === 0 && run !== undefined) {
      // A run past the last one is a mistyped number, not an empty log.
      const [last] = await client.runs(id, { limit: 1 });
      if (last && run > last.runNumber)
        throw new Error(`run ${run} of "${id}" is not recorded: its last run is ${last.runNumber} ("syncline runs ${id}" lists them)`);
    }
    const which = [
      flags.key ? ` and key "${flags.key}"` : '',
      run !== undefined ? ` in run ${run}` : '',
      flags.op ? ` (op ${str(flags.op)})` : '',
    ].join('');
    return {
      data: rows,
      text: rows.length
        ? rowsTable(rows)
        : `no row changes recorded for "${id}"${which} (the log keeps SYNCLINE_ROW_LOG_DAYS days, 14 by default)`,
    };
  },
  resync: async ({ client, id, flags }) => {
    await client.resync(id, { full: flags.full === true, reason: str(flags.reason) });
    return {
      data: { activationId: id, requested: flags.full ? 'full_resync' : 'manual', reason: str(flags.reason) ?? null },
      text: `${flags.full ? 'full re-sync' : 're-sync'} of "${id}" requested: it starts now, or right after the run in progress ("syncline status ${id}")`,
    };
  },
  sync: async ({ client, id, flags }) => {
    const run = await client.triggerSync(id, { full: flags.full === true, reason: str(flags.reason) });
    return { data: run, text: formatRunSummary(run), exitCode: runExitCode(run) };
  },
  pause: async ({ client, id, flags }) => {
    const reason = str(flags.reason);
    const before = await client.pause(id, reason);
    // Already paused: a no-op (exit 0, as "nothing to do" elsewhere), except that a new --reason replaces the old one.
    // A reason is anyone's text (a signal's input): escaped, as `status` shows it.
    const was = `activation "${id}" was already paused (${terminalSafe(before.pausedReason ?? 'no reason given')})`;
    return {
      data: { activationId: id, paused: true, wasPaused: before.wasPaused ?? null, reason: reason ?? null },
      text: !before.wasPaused
        ? `activation "${id}" paused: no scheduled runs until "syncline resume ${id}" (a run in progress finishes)`
        : before.autoPaused
          ? `${was}: it is now paused by an operator, and no longer resumed by the re-check of the destination; "syncline resume ${id}" resumes it`
          : reason !== undefined && reason !== before.pausedReason
            ? `${was}: it stays paused, now for "${terminalSafe(reason)}"`
            : `${was}: nothing changed`,
    };
  },
  resume: async ({ client, id }) => {
    const before = await client.resume(id);
    return {
      data: { activationId: id, paused: false, wasPaused: before.wasPaused ?? null },
      text:
        before.wasPaused === undefined
          ? `resume of "${id}" sent: no worker answered whether it was paused; it is taken when one polls ("syncline status ${id}")`
          : before.wasPaused
            ? `activation "${id}" resumed (it was paused: ${terminalSafe(before.pausedReason ?? 'no reason given')})` +
              // Paused by a configuration error: resume runs at once, whatever the schedule (resumeWithCatchUp).
              (before.autoPaused
                ? `: a run starts now to check the destination again and send what waited ("syncline status ${id}" shows it; if it fails the same way, the activation pauses again)`
                : '')
            : `activation "${id}" was not paused: nothing to resume`,
    };
  },
  'retry-failed': async ({ client, id }) => {
    await client.retryFailed(id);
    return {
      data: { activationId: id, requested: 'retry_failed' },
      text: `retry of the failed rows of "${id}" requested ("syncline errors ${id}" lists them)`,
    };
  },
  'approve-deletes': async ({ client, id, flags }) => {
    const r = await client.approveDeletes(id, num(flags.run)!);
    return { data: r, text: `${approvalLine(r.approved, r.run)}\n${formatRunSummary(r.run)}`, exitCode: runExitCode(r.run) };
  },
  plan: async ({ client, id }) => {
    const plan = await client.plan(id);
    return { data: plan, text: formatPlan(plan) };
  },
  apply: async ({ client, id, args, flags }) => {
    const plan = planNumber(args);
    // The age is shown before the (possibly long) run: the plan is applied as computed, even if the model changed since.
    // Only for a plan still open: one unknown, applied or stale gets the activation's refusal alone.
    const details = await client.planDetails(id, plan);
    if (details?.status === 'open' && !flags.json)
      process.stdout.write(`plan ${plan} was computed ${formatAge(Date.now() - Date.parse(details.createdAt))} ago\n`);
    const run = await client.apply(id, plan);
    return { data: { plan: details, run }, text: formatRunSummary(run), exitCode: runExitCode(run) };
  },
  status: async ({ client, id }) => {
    // What the activation tries again, beside what it reports: a wait on its state database shows nowhere else.
    const [st, retrying] = await Promise.all([client.status(id), client.retrying(id).catch(() => [])]);
    const shown = retrying.length ? { ...st, retrying } : st;
    return { data: shown, text: formatStatus(shown) };
  },
  runs: async ({ client, id, flags, databaseUrl }) => {
    const runs = await client.runs(id, { limit: num(flags.limit) });
    if (runs.length === 0) await unlessUnknown(client, id, databaseUrl);
    return { data: runs, text: runsTable(runs) };
  },
  errors: async ({ client, id, flags, databaseUrl }) => {
    const errors = await client.errors(id, { run: num(flags.run), limit: num(flags.limit) });
    if (errors.length === 0) await unlessUnknown(client, id, databaseUrl);
    const none = `no row errors for activation "${id}"${flags.run ? ` in run ${flags.run}` : ''}`;
    return { data: errors, text: errors.length ? errorsTable(errors, process.stdout.columns || 200) : none };
  },
};

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new Error('refusing to purge without a terminal to confirm: add --yes');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * What a command that waits on a worker says once on stderr after a while (stdout stays clean for --json),
 * instead of looking hung: `sync`, `approve-deletes`, `apply` and `plan` wait for a run, `stop --wait` for the
 * current run and the end. Undefined for a command that does not wait.
 */
export function patienceNote(command: string, id: string | undefined, flags: Flags): string | undefined {
  if (command === 'stop' && flags.wait === true)
    return `still waiting for "${id}" to end: its current run finishes first ("syncline status ${id}" shows it); if it never ends, check that a syncline worker polls the activation's task queue`;
  // An accepted document is applied between runs: the update's answer waits for the run in progress to end.
  if ((command === 'activation update' || command === 'activation apply') && flags['dry-run'] !== true)
    return (
      'still waiting: an activation with a run in progress applies a new document only once the run ends ("syncline status <id>" shows the run). ' +
      'Accepted, it is applied then: interrupting this command does not withdraw the document; to keep the one running, apply it again (the later document counts)'
    );
  if (!RUN_COMMANDS.has(command) && command !== 'plan') return undefined;
  return `still waiting for the run of "${id}" ("syncline status ${id}" shows its progress); if it never starts, check that a syncline worker polls the activation's task queue`;
}

/** The activations a waiting command waits on (their own retries are told while it waits); none for one that answers at once. */
function waitedOn(command: string, id: string | undefined, flags: Flags): string[] {
  if ((command === 'activation update' || command === 'activation apply') && flags['dry-run'] !== true) {
    try {
      return readDocuments(String(flags.file))
        .map((d) => d.doc.id)
        .filter((i): i is string => typeof i === 'string');
    } catch {
      return []; // the command itself says what is wrong with the file
    }
  }
  return (RUN_COMMANDS.has(command) || command === 'plan' || (command === 'stop' && flags.wait === true)) && id ? [id] : [];
}

/**
 * What a waiting command says of an activity the activation tries again (SynclineClient.retrying): its own
 * bookkeeping in the state database is tried until the database answers, so the wait lasts the outage.
 */
export function retryNote(id: string, r: { activity: string; attempt: number; lastFailure: string; stateDatabase: boolean }): string {
  const failed = r.attempt - 1;
  const tries = `${failed} ${failed === 1 ? 'try' : 'tries'} failed, the last with "${terminalSafe(r.lastFailure)}"`;
  return r.stateDatabase
    ? `still waiting: activation "${id}" retries ${r.activity}, its bookkeeping in the state database: ${tries}. ` +
        'It tries again at least every minute for as long as it takes, and answers once the database is back; the activation keeps running, and interrupting this command withdraws nothing'
    : `still waiting: activation "${id}" retries ${r.activity}: ${tries}`;
}

/**
 * After `afterMs` the note, then every `afterMs` what the activations waited on try again (each line once,
 * until it changes), until `work` settles.
 */
async function withPatienceNote<T>(
  work: Promise<T>,
  note: string | undefined,
  watch?: () => Promise<string[]>,
  afterMs = 20_000,
): Promise<T> {
  if (note === undefined && !watch) return work;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const said = new Set<string>();
  const tick = async (first: boolean) => {
    if (first && note !== undefined) process.stderr.write(`${note}\n`);
    const lines = watch ? await watch().catch(() => [] as string[]) : [];
    if (done) return;
    for (const line of lines.filter((l) => !said.has(l))) process.stderr.write(`${line}\n`);
    said.clear();
    for (const line of lines) said.add(line);
    if (watch) timer = setTimeout(() => void tick(false), afterMs);
  };
  timer = setTimeout(() => void tick(true), afterMs);
  try {
    return await work;
  } finally {
    done = true;
    clearTimeout(timer);
  }
}

function watchRetries(client: SynclineClient, ids: string[]): (() => Promise<string[]>) | undefined {
  if (ids.length === 0) return undefined;
  return async () =>
    (
      await Promise.all(
        ids.map(async (id) => [
          ...(await client.retrying(id)).map((r) => retryNote(id, r)),
          ...[await client.unpolledQueue(id).catch(() => undefined)].filter((q) => q !== undefined).map((q) => unpolledNote(id, q)),
        ]),
      )
    ).flat();
}

/**
 * What `activation start` and `activation apply` say of an activation they started on a queue no worker polls
 * (another SYNCLINE_TASK_QUEUE than the workers'): said now, not at the first wait. Nothing when a worker polls
 * it, or when Temporal cannot tell.
 */
async function unpolledAtStart(client: SynclineClient, id: string): Promise<string[]> {
  const queue = await client.unpolledQueue(id).catch(() => undefined);
  return queue
    ? [
        `no worker polls task queue "${queue}" yet: nothing of "${id}" runs until one does ` +
          `(start one on it: SYNCLINE_TASK_QUEUE=${queue} npm run worker, or your worker's taskQueue)`,
      ]
    : [];
}

/** What a waiting command says when no worker polls the activation's task queue (a wrong SYNCLINE_TASK_QUEUE at its start, or no worker up). */
export function unpolledNote(id: string, queue: string): string {
  return (
    `no worker polls task queue "${queue}", where activation "${id}" runs: nothing will run until one does ` +
    `(start one on it: SYNCLINE_TASK_QUEUE=${queue} npm run worker, or your worker's taskQueue)`
  );
}

/** Runs `command` (its arguments and flags as parseArgs read them); prints the result and returns the exit code. */
export async function runCommand(command: CommandSpec, args: Record<string, string>, flags: Flags): Promise<number> {
  if (LOCAL_COMMANDS.has(command.name)) return runLocal(command, flags);
  // These reach Temporal only if they call it (lazy connection): reading the runs or the pools needs Postgres alone.
  const readsPostgres = ['runs', 'errors', 'history', 'rows', 'pool set', 'pool list', 'pool delete'].includes(command.name);
  // A start is checked against the last document the activation ran (config_versions): it carries on from that state.
  let needsPostgres = readsPostgres || ['plan', 'apply', 'delete', 'activation start', 'activation apply'].includes(command.name);
  let db: StateDatabase | undefined;
  let client: SynclineClient | undefined;
  const address = str(flags.address) ?? process.env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const namespace = str(flags.namespace) ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
  try {
    // A DAG file is checked before anything is reached: a bad one fails the same with Temporal up or down.
    // One naming pools is then checked against the pools defined in Postgres.
    if (command.name === 'dag deploy') needsPostgres = usesPools(parseDeployableDag(readDagFile(args.file!)));
    PRECHECKS[command.name]?.(args, flags);
    db = needsPostgres ? await openStateDatabase() : undefined;
    client = await SynclineClient.connect({
      address,
      namespace,
      databaseUrl: db?.url,
      lazy: readsPostgres,
      taskQueue: str(flags['task-queue']) ?? process.env.SYNCLINE_TASK_QUEUE ?? TASK_QUEUE,
    });
    const out = await withPatienceNote(
      HANDLERS[command.name]!({ client, id: args.id ?? '', flags, args, databaseUrl: db?.url, namespace, address }),
      patienceNote(command.name, args.id, flags),
      watchRetries(client, waitedOn(command.name, args.id, flags)),
    );
    // A plan sample's JsonNumber keeps its digits (JSON.stringify would write the double of its toJSON).
    // The text escaped line by line (what each printer did not escape itself: a DAG task's error...); JSON as is.
    process.stdout.write((flags.json ? stringifyExactIndented(out.data, 2) : terminalSafeLines(out.text)) + '\n');
    return out.exitCode ?? EXIT.done;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(usageErrorText(e, flags.json === true));
      return EXIT.usage;
    }
    const missing = namespaceNotFound(e);
    const err = missing
      ? new Error(
          `namespace "${missing.namespace}" does not exist on the Temporal server at ${address}: check --namespace / TEMPORAL_NAMESPACE ("temporal operator namespace list" lists them)`,
        )
      : (e as Error);
    const problems = e instanceof ConfigInvalidError ? e.problems : undefined;
    process.stderr.write(
      flags.json
        ? JSON.stringify({ error: err.message, ...(problems ? { problems } : {}) }, null, 2) + '\n'
        : `syncline ${command.name}: ${terminalSafeLines(err.message)}\n`,
    );
    if (flags.verbose) process.stderr.write(details(e));
    return EXIT.failed;
  } finally {
    await client?.close().catch(() => {});
    await db?.close().catch(() => {});
  }
}

export const DEFAULT_CODEC_ORIGINS = 'http://localhost:8080,http://localhost:8233';

/** `codec-server`: serves until SIGINT or SIGTERM. */
async function runLocal(command: CommandSpec, flags: Flags): Promise<number> {
  try {
    const codec = codecFromEnvironment();
    if (!codec)
      throw new Error(
        'no keys: set SYNCLINE_CODEC_KEYS ("id:<base64 key>", the current key first) or SYNCLINE_CODEC_KEYS_FILE, as for the workers',
      );
    const origins = (str(flags.origins) ?? process.env.SYNCLINE_CODEC_CORS_ORIGINS ?? DEFAULT_CODEC_ORIGINS)
      .split(',')
      .map((o) => o.trim().replace(/\/+$/, ''))
      .filter(Boolean);
    const server = await startCodecServer({ codec, port: num(flags.port) ?? 8888, host: str(flags.host), origins });
    const info = { url: server.url, currentKeyId: codec.currentKeyId, keyIds: codec.keyIds, origins };
    process.stdout.write(
      (flags.json
        ? JSON.stringify(info)
        : `codec server on ${server.url} (new payloads use key "${codec.currentKeyId}"; it reads ${codec.keyIds.map((k) => `"${k}"`).join(', ')}); Web UI origins: ${origins.join(', ')}`) +
        '\n',
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return EXIT.done;
  } catch (e) {
    process.stderr.write(`syncline ${command.name}: ${(e as Error).message}\n`);
    if (flags.verbose) process.stderr.write(details(e));
    return EXIT.failed;
  }
}

/** --verbose: the error as Node shows it, with its causes (a gRPC status, a socket error) and their stacks. */
function details(e: unknown): string {
  return `${inspect(e, { depth: 6, breakLength: 120 })}\n`;
}
