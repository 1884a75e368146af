/**
 * Activations as files (`syncline activation apply -f <file or folder>`): reconciles the running
 * activations with a folder of activation documents, as a team keeps them in Git next to its models.
 * Missing ones are started, changed ones updated (updateConfig: the same checks and refusals as by
 * hand), unchanged ones left alone, and with `prune` the running ones no file names are stopped.
 * Idempotent: a second apply of the same folder does nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseActivationConfig, parseNewActivationConfig, formatProblems, type ConfigProblem } from '../common/config';
import { diffDocuments, type ConfigChange } from '../common/config-diff';
import { SynclineError, type SynclineClient } from './index';
import { jsonErrorPosition } from '../connectors/json-position';

export interface ApplyOptions {
  dryRun?: boolean;
  prune?: boolean;
  retarget?: boolean;
  confirm?: boolean;
  reason?: string;
}
export interface ApplyStep {
  id: string;
  file?: string;
  action: 'start' | 'update' | 'unchanged' | 'stop';
  changes: ConfigChange[];
  consequences: string[];
  done: boolean;
}

/** The documents of a file, or of every *.json file of a folder (sorted); every problem of every file at once. */
export function readDocuments(target: string): Array<{ file: string; doc: Record<string, unknown> }> {
  const files = fs.statSync(target).isDirectory()
    ? fs
        .readdirSync(target)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => path.join(target, f))
    : [target];
  const problems: string[] = [];
  const docs: Array<{ file: string; doc: Record<string, unknown> }> = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    let doc: unknown;
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
      doc = JSON.parse(text);
    } catch (err) {
      const at = text === undefined ? null : jsonErrorPosition(text);
      problems.push(
        `${file}: not valid JSON${at ? ` at line ${at.line}, column ${at.column}` : ''} (${(err as Error).message.split('\n')[0]})`,
      );
      continue;
    }
    const parsed = parseNewActivationConfig(doc);
    if (!parsed.ok) {
      problems.push(`${file}: ${formatProblems((doc as { id?: unknown } | null)?.id, parsed.problems as ConfigProblem[])}`);
      continue;
    }
    const other = seen.get(parsed.config.id);
    if (other) problems.push(`${file}: activation "${parsed.config.id}" is also defined in ${other}; an id names one activation`);
    seen.set(parsed.config.id, file);
    docs.push({ file, doc: doc as Record<string, unknown> });
  }
  if (files.length === 0) problems.push(`${target}: no *.json activation document`);
  if (problems.length) throw new SynclineError(`nothing was applied: ${problems.length} problem(s)\n  - ${problems.join('\n  - ')}`);
  return docs;
}

export async function applyDocuments(client: SynclineClient, target: string, opts: ApplyOptions = {}): Promise<ApplyStep[]> {
  const docs = readDocuments(target);
  const steps: ApplyStep[] = [];
  for (const { file, doc } of docs) {
    const id = doc.id as string;
    // Asked of the activation itself: the visibility listing may not show yet one the last apply started.
    if (!(await client.isRunning(id))) {
      // Started again, it carries on from its state: checked against the document it ran last (as an update is).
      const r = await client.start(doc, {
        dryRun: opts.dryRun,
        retarget: opts.retarget,
        confirm: opts.confirm,
        reason: opts.reason ?? `applied from ${path.basename(file)}`,
      });
      steps.push({ id, file, action: 'start', changes: r.changes, consequences: r.consequences, done: r.started });
      continue;
    }
    const current = await client.currentConfig(id);
    const next = parseActivationConfig(doc);
    const changes = next.ok ? diffDocuments(current, next.config) : [];
    if (changes.length === 0) {
      steps.push({ id, file, action: 'unchanged', changes, consequences: [], done: false });
      continue;
    }
    const answer = await client.updateConfig(id, {
      config: doc,
      dryRun: opts.dryRun,
      retarget: opts.retarget,
      confirm: opts.confirm,
      reason: opts.reason ?? `applied from ${path.basename(file)}`,
    });
    // No change against the document running: nothing to apply, but a document waiting for the run in progress
    // to end (what currentConfig answered) was dropped.
    const done = answer.applied || (!opts.dryRun && answer.changes.length === 0);
    steps.push({ id, file, action: 'update', changes: answer.changes, consequences: answer.consequences, done });
  }
  if (opts.prune) {
    const named = new Set(docs.map((d) => d.doc.id as string));
    for (const id of (await client.list()).map((a) => a.id).filter((r) => !named.has(r))) {
      if (!opts.dryRun) await client.stop(id, { reason: 'no longer in the applied folder' });
      steps.push({
        id,
        action: 'stop',
        changes: [],
        consequences: ['stops after its current run; its state stays (start it again to carry on)'],
        done: !opts.dryRun,
      });
    }
  }
  return steps;
}

/** Where a JSON text breaks, as an editor shows it, then the first line of Node's words (they may run on, quoting the text). */
export function jsonProblem(text: string, err: unknown): string {
  const at = jsonErrorPosition(text);
  const words = ((err as Error)?.message ?? String(err)).split('\n')[0]!;
  return `${at ? ` at line ${at.line}, column ${at.column}` : ''}: ${words}`;
}
