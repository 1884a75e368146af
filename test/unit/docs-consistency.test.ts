/**
 * The documentation matches the code on what can be read off both mechanically: the environment variables
 * (README "Environment"), the patch ids (README "Runs and DAGs: the same discipline"), the `syncline`
 * commands and their options (docs/cli.md), the `npm run` scripts and benchmarks the docs name, and the links
 * and repository paths between docs (which stay inside the repository). Each check reads the sources as
 * files, so a variable, patch, option or doc added on one side only fails here, naming it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { z } from 'zod';
import { COMMANDS, GLOBAL_FLAGS } from '../../client/cli-commands';
import * as actito from '../../connectors/actito/config';
import * as salesforce from '../../connectors/salesforce/config';
import { DEFAULT_CODEC_ORIGINS } from '../../client/cli-run';
import { loggingFromEnvironment } from '../../client/logging';
import { startWaitSeconds } from '../../client/start-wait';
import { poolLeaseMs } from '../../db/dag-pools';
import { rowLogDays } from '../../db/row-changes';
import { runHistoryDays } from '../../db/runs';
import { patchesInCode } from '../../scripts/histories/set';
import { workerCacheSize } from '../../worker';
import { TASK_QUEUE, WARNINGS_WORKFLOW_ID } from '../../common/names';

const ROOT = path.resolve(__dirname, '../..');
const read = (f: string): string => fs.readFileSync(path.join(ROOT, f), 'utf8');
const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
const DOCS = tracked.filter((f) => f.endsWith('.md') && !f.startsWith('test/histories/'));
const allDocs = DOCS.map(read).join('\n');

/** The rows of the markdown table whose header line starts with `header`, split into cells. */
export function tableRows(doc: string, header: string): string[][] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  if (start < 0) throw new Error(`no table headed "${header}"`);
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(l.split('|').slice(1, -1));
  }
  return rows;
}
const codeNames = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** Environment variables the code reads (`env.X`, `env['X']`, `process.env.X`), with the files reading them. */
export function envReadByCode(files: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const f of files) {
    for (const m of read(f).matchAll(/\benv\??(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])/g)) {
      const name = (m[1] ?? m[2])!;
      found.set(name, [...new Set([...(found.get(name) ?? []), f])]);
    }
  }
  return found;
}

const CODE = tracked.filter(
  (f) =>
    f.endsWith('.ts') &&
    !f.endsWith('.test.ts') &&
    (f === 'worker.ts' || /^(common|connectors|client|db|activities|scripts|bench|workflows|emulators)\//.test(f)),
);
/** The system's own variables, not syncline settings. */
const SYSTEM = new Set(['PATH']);

describe('environment variables', () => {
  const envTable = tableRows(read('README.md'), '| Variable | Default | Meaning |');
  const tableDefaults = new Map(envTable.flatMap(([name, dflt]) => codeNames(name!).map((n) => [n, dflt!.trim()] as const)));

  test('every variable the code reads is documented', () => {
    const read = envReadByCode(CODE);
    expect(read.size).toBeGreaterThan(20);
    const undocumented = [...read]
      .filter(([name]) => !SYSTEM.has(name) && !new RegExp(`\\b${name}\\b`).test(allDocs))
      .map(([name, files]) => `${name} (${files.join(', ')})`);
    expect(undocumented).toEqual([]);
  });

  test("every variable of README's Environment table is read by the code", () => {
    const read = envReadByCode(CODE);
    expect([...tableDefaults.keys()].filter((name) => !read.has(name))).toEqual([]);
  });

  test("the table's defaults are the code's", () => {
    const code: Record<string, string> = {
      TEMPORAL_ADDRESS: 'localhost:7233',
      TEMPORAL_NAMESPACE: 'default',
      SYNCLINE_TASK_QUEUE: TASK_QUEUE,
      SYNCLINE_START_WAIT_SECONDS: String(startWaitSeconds({})),
      SYNCLINE_MAX_CACHED_WORKFLOWS: String(workerCacheSize({})),
      SYNCLINE_DAG_POOL_LEASE_SECONDS: String(poolLeaseMs({}) / 1000),
      SYNCLINE_ROW_LOG_DAYS: String(rowLogDays({})),
      SYNCLINE_RUN_HISTORY_DAYS: String(runHistoryDays({})),
      SYNCLINE_CODEC_CORS_ORIGINS: DEFAULT_CODEC_ORIGINS,
      SYNCLINE_LOG_FORMAT: loggingFromEnvironment({}).format,
      SYNCLINE_LOG_LEVEL: loggingFromEnvironment({}).level,
      SYNCLINE_WARNINGS_WORKFLOW_ID: WARNINGS_WORKFLOW_ID,
    };
    const wrong = Object.entries(code)
      .filter(([name, value]) => !tableDefaults.get(name)?.startsWith(`\`${value}\``))
      .map(([name, value]) => `${name}: code ${value}, README ${tableDefaults.get(name) ?? '(no row)'}`);
    expect(wrong).toEqual([]);
  });
});

test("every patch the workflow code asks is in README's patch table, and every patch there is asked", () => {
  const asked = [...patchesInCode().keys()].filter((id) => !id.startsWith('<'));
  const documented = tableRows(read('README.md'), '| Patch | Where |').flatMap(([ids]) => codeNames(ids!));
  expect(asked.length).toBeGreaterThan(20);
  expect({
    notDocumented: asked.filter((id) => !documented.includes(id)),
    notAsked: documented.filter((id) => !asked.includes(id)),
  }).toEqual({
    notDocumented: [],
    notAsked: [],
  });
});

describe("connectors' settings", () => {
  /** Spellings of a default that are not the value itself. */
  const SPELLED: Record<string, string> = { maxCsvBytes: '100 MB' };
  const cases: Array<[string, string, string, z.ZodType]> = [
    ['Actito connection', 'connectors/actito/README.md', '| field | default |', actito.connectionSchema],
    ['Actito options', 'connectors/actito/README.md', '| option | default |', actito.optionsSchema],
    ['Salesforce options', 'connectors/salesforce/README.md', '| Option | Default |', salesforce.optionsSchema],
  ];
  test.each(cases)("every field of the %s schema has a row in its README's table, with the schema's default", (_, doc, header, schema) => {
    const rows = new Map(tableRows(read(doc), header).map(([name, dflt]) => [codeNames(name!)[0], dflt!.trim()] as const));
    const props = (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { default?: unknown }> })
      .properties;
    expect(Object.keys(props).length).toBeGreaterThan(5);
    const wrong = Object.entries(props).flatMap(([name, p]) => {
      const row = rows.get(name);
      if (row === undefined) return [`${name}: no row`];
      if (p.default === undefined || typeof p.default === 'object') return [];
      const spelled = SPELLED[name] ?? String(p.default);
      return row === spelled || row === `\`${spelled}\`` ? [] : [`${name}: default ${spelled}, README ${row}`];
    });
    expect({ wrong, documentedNotInSchema: [...rows.keys()].filter((n) => !(n! in props)) }).toEqual({
      wrong: [],
      documentedNotInSchema: [],
    });
  });
});

describe('docs/cli.md', () => {
  const headings = read('docs/cli.md')
    .split('\n')
    .filter((l) => l.startsWith('## '));
  const names = COMMANDS.map((c) => c.name).sort((a, b) => b.length - a.length);
  /** The heading spans naming `name`, with the spans that follow them up to the next command's (their options). */
  const sections = (name: string): string[] =>
    headings.flatMap((h) => {
      const spans = codeNames(h);
      const out: string[] = [];
      let current: string | undefined;
      for (const s of spans) {
        const cmd = names.find((n) => s === n || s.startsWith(`${n} `));
        if (cmd) current = cmd;
        if (current === name) out.push(s);
      }
      return out.length ? [out.join(' ')] : [];
    });

  test('every command has a heading with its arguments and options', () => {
    const missing = COMMANDS.flatMap((c) => {
      const text = sections(c.name).join(' ');
      if (!text) return [`${c.name}: no heading`];
      return [
        ...c.args.filter((a) => !text.includes(`<${a}>`)).map((a) => `${c.name} <${a}>`),
        ...Object.keys(c.flags)
          .filter((f) => !text.includes(`--${f}`))
          .map((f) => `${c.name} --${f}`),
      ];
    });
    expect(missing).toEqual([]);
  });

  test('every option a heading names exists for its command', () => {
    const unknown = COMMANDS.flatMap((c) =>
      sections(c.name).flatMap((text) =>
        [...text.matchAll(/--([a-z][a-z-]*)/g)]
          .map((m) => m[1]!)
          .filter((f) => !(f in c.flags) && !(f in GLOBAL_FLAGS))
          .map((f) => `${c.name} --${f}`),
      ),
    );
    expect(unknown).toEqual([]);
  });
});

test('every `npm run` script and benchmark the docs name exists', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const benches = fs.readdirSync(path.join(ROOT, 'bench')).map((f) => f.replace(/\.ts$/, ''));
  const missing = DOCS.flatMap((f) =>
    read(f)
      .split('\n')
      .flatMap((l, i) => [
        ...[...l.matchAll(/npm run (?:-s )?([a-z][\w:.-]*)/g)]
          .filter((m) => !(m[1]! in scripts))
          .map((m) => `${f}:${i + 1} npm run ${m[1]}`),
        ...[...l.matchAll(/npm run bench -- ([a-z][\w-]*)/g)]
          .filter((m) => !benches.includes(m[1]!))
          .map((m) => `${f}:${i + 1} bench ${m[1]}`),
      ]),
  );
  expect(missing).toEqual([]);
});

describe('links between docs', () => {
  const known = new Set(tracked.flatMap((f) => [f, ...f.split('/').map((_, i, a) => a.slice(0, i).join('/'))]));
  const slug = (h: string): string =>
    h
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  const anchors = (f: string): string[] =>
    read(f)
      .replace(/```[\s\S]*?```/g, '')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, '')));

  test('relative links resolve, anchors included, and stay inside the repository', () => {
    const broken = DOCS.flatMap((f) =>
      [...read(f).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].flatMap((m) => {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) return [];
        const [p, anchor] = link.split('#');
        const target = p ? path.posix.normalize(path.posix.join(path.posix.dirname(f), p)) : f;
        if (target.startsWith('..') || path.posix.isAbsolute(target)) return [`${f}: ${link} is outside the repository`];
        if (!known.has(target.replace(/\/$/, ''))) return [`${f}: ${link} does not exist`];
        if (anchor && target.endsWith('.md') && !anchors(target).includes(anchor)) return [`${f}: ${link} has no such heading`];
        return [];
      }),
    );
    expect(broken).toEqual([]);
  });

  test('repository paths the docs name exist', () => {
    // A file (with its extension) or a folder (with its slash) under one of the project's folders; test/ paths
    // outside the project's test folders cite other projects' repositories (jsforce, the Salesforce CLI).
    const ours =
      /^(?:(?:docs|connectors|common|client|db|activities|workflows|scripts|bench|emulators)\/|test\/(?:unit|workflow|integration|replay|support|histories)\/)/;
    const missing = DOCS.flatMap((f) =>
      [...read(f).matchAll(/(?<![\w./-])([a-z]+\/[\w./*<>-]*[\w/])/g)]
        .map((m) => m[1]!)
        .filter((p) => ours.test(p) && !/[*<>]/.test(p) && (/\.\w+$/.test(p) || p.endsWith('/')))
        .map((p) => p.replace(/\/$/, ''))
        .filter((p) => !known.has(p) && !known.has(path.posix.join(path.posix.dirname(f), p)))
        .map((p) => `${f}: ${p}`),
    );
    expect(missing).toEqual([]);
  });

  test('no doc cites a place outside the repository', () => {
    const outside = DOCS.flatMap((f) =>
      read(f)
        .split('\n')
        .flatMap((l, i) => [...l.matchAll(/(?:\.\.\/shared\b|\/work\/|\/home\/|\/Users\/)[^\s`)]*/g)].map((m) => `${f}:${i + 1} ${m[0]}`)),
    );
    expect(outside).toEqual([]);
  });
});
