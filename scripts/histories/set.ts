/**
 * A stored history set: `test/histories/<version>/`, one JSON history per workflow execution (the format
 * of `temporal workflow show --output json`, which `historyFromJSON` and `Worker.runReplayHistories` read)
 * and a `manifest.json` naming each execution's workflow id, which replay needs: the activation checks
 * that it runs as `activation/<id>`, and a history does not carry its own workflow id.
 *
 * <version> is package.json's version and the short commit the workflow code was recorded from.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_CREDENTIALS } from '../../emulators/salesforce/server';

export const HISTORIES_ROOT = path.resolve(__dirname, '../../test/histories');
export const MANIFEST = 'manifest.json';

export type ExecutionStatus = 'open' | 'completed' | 'failed' | 'continued-as-new' | 'terminated' | 'canceled' | 'timed-out';

export interface ManifestEntry {
  file: string;
  workflowType: string;
  workflowId: string;
  runId: string;
  status: ExecutionStatus;
  events: number;
  /** What this execution shows (the path through the workflow code). */
  path: string;
}

export interface Manifest {
  version: string;
  commit: string;
  recordedAt: string;
  temporalSdk: string;
  histories: ManifestEntry[];
}

/** A secret the recorder hands the worker, that must never reach history (configs name connections only). */
export const WRONG_SECRET = 'hist-wrong-client-secret';
/** Every model value the recorder writes contains this: row data never enters history either. */
export const ROW_SENTINEL = 'ROWSENTINEL';
const FORBIDDEN = [DEMO_CREDENTIALS.clientSecret, DEMO_CREDENTIALS.password, WRONG_SECRET, 'postgres://', ROW_SENTINEL];

/** `0.1.0-a8c132b`. Uncommitted workflow code has no commit to name: refused unless `allowDirty` (then `-dirty`). */
export function setVersion(opts: { allowDirty?: boolean } = {}): { version: string; commit: string } {
  const root = path.resolve(__dirname, '../..');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const commit = git('rev-parse', 'HEAD');
  const dirty = git('status', '--porcelain', '--', 'workflows', 'common') !== '';
  if (dirty && !opts.allowDirty) {
    throw new Error(
      'workflows/ or common/ has uncommitted changes: commit them first (a set is named after the commit its code comes from), or pass --allow-dirty',
    );
  }
  return { version: `${version}-${commit.slice(0, 7)}${dirty ? '-dirty' : ''}`, commit };
}

export function statusOf(lastEventType: string | undefined): ExecutionStatus {
  const closed: Record<string, ExecutionStatus> = {
    EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: 'completed',
    EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: 'failed',
    EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 'continued-as-new',
    EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: 'terminated',
    EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: 'canceled',
    EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: 'timed-out',
  };
  return closed[lastEventType ?? ''] ?? 'open';
}

export interface StoredHistory {
  set: string;
  entry: ManifestEntry;
  history: { events: Array<Record<string, any>> };
}

/** Every set under `root`, with each history parsed; a JSON file the manifest does not list is an error. */
export function readHistorySets(root = HISTORIES_ROOT): Array<{ version: string; manifest: Manifest; histories: StoredHistory[] }> {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((version) => {
      const dir = path.join(root, version);
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
      const listed = new Set(manifest.histories.map((h) => h.file));
      const unlisted = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== MANIFEST && !listed.has(f));
      if (unlisted.length)
        throw new Error(`${version}: ${unlisted.join(', ')} not listed in ${MANIFEST}: record the set again with npm run histories:record`);
      const histories = manifest.histories.map((entry) => ({
        set: version,
        entry,
        history: JSON.parse(fs.readFileSync(path.join(dir, entry.file), 'utf8')) as StoredHistory['history'],
      }));
      return { version, manifest, histories };
    });
}

/** Forbidden strings (credentials, row values) found in a history, payloads decoded from base64. */
export function forbiddenIn(history: unknown): string[] {
  const texts: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'data' && typeof x === 'string') texts.push(Buffer.from(x, 'base64').toString('utf8'));
        walk(x);
      }
    } else if (typeof v === 'string') texts.push(v);
  };
  walk(history);
  const all = texts.join('\n');
  return FORBIDDEN.filter((s) => all.includes(s));
}

/** The patch ids of the `core_patch` markers in a history (the id `patched('<id>')` recorded). */
export function patchMarkers(history: StoredHistory['history']): string[] {
  return history.events.flatMap((e) => {
    const a = e.markerRecordedEventAttributes as
      { markerName?: string; details?: Record<string, { payloads?: Array<{ data?: string }> }> } | undefined;
    if (a?.markerName !== 'core_patch') return [];
    return (a.details?.['patch-data']?.payloads ?? []).flatMap((p) =>
      p.data ? [(JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as { id: string }).id] : [],
    );
  });
}

/**
 * Every patch id the workflow code under `dir` asks, with the file that asks it: `patched('<id>')`,
 * `deprecatePatch('<id>')`, a baseline's `patches.has('<id>')`, and a baseline itself (`new Patches('<id>'`).
 * Ids are literals by convention (README "Changing workflow code"); a call with anything else is listed as such.
 */
export function patchesInCode(dir = path.resolve(__dirname, '../../workflows')): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const walk = (d: string): void => {
    for (const f of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name.endsWith('.ts')) {
        const text = fs
          .readFileSync(p, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/\/\/.*$/gm, '');
        for (const m of text.matchAll(/\b(?:patched|deprecatePatch|patches\.has|new Patches)\(\s*([^,)]*)/g)) {
          const lit = /^'([^']+)'$/.exec(m[1]!.trim());
          const id = lit ? lit[1]! : `<not a literal: ${m[1]!.trim()}>`;
          found.set(id, [...new Set([...(found.get(id) ?? []), path.relative(path.resolve(__dirname, '../..'), p)])]);
        }
      }
    }
  };
  walk(dir);
  return found;
}
