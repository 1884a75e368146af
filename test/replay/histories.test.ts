/**
 * Replays every stored history set (test/histories/<version>/, recorded by `npm run histories:record`)
 * on the current workflow code. A change that would break executions started by a recorded
 * version fails here, naming the file and the error: guard it with patched() (README, "Changing workflow
 * code"). No Temporal server is needed: the replay worker runs the histories in this process.
 *
 *   npx jest --selectProjects replay
 */
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { bundleWorkflows } from '../../scripts/bundle-workflows';
import { historyFromJSON } from '../../scripts/histories/proto-json';
import {
  WRONG_SECRET,
  forbiddenIn,
  patchMarkers,
  patchesInCode,
  readHistorySets,
  statusOf,
  type StoredHistory,
} from '../../scripts/histories/set';
import { WORKFLOW_TYPES as TYPES } from '../../common/names';

/** The types every set covers; the newest set covers every type there is (writeChunksWorkflow came later). */
const WORKFLOW_TYPES = [TYPES.activation, TYPES.dag, TYPES.syncRun, TYPES.warnings];
const sets = readHistorySets();
const all = sets.flatMap((s) => s.histories);

/** Read from the history itself, not from the manifest. */
const typeOf = (h: StoredHistory): string => h.history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
const isOpen = (h: StoredHistory): boolean => statusOf(h.history.events.at(-1)?.eventType) === 'open';

/** Core's own words ("[TMPRL1100] Nondeterminism error: ...") without the SDK's wrapping around them. */
const coreMessage = (message: string): string => /\[TMPRL\d+\][^"]*/.exec(message)?.[0] ?? message;

// The replay worker's state changes are INFO lines; a non-determinism still shows as WARN.
beforeAll(() => Runtime.install({ logger: new DefaultLogger('WARN') }));

test('stored sets exist; each covers every workflow type, with open activations and open runs', () => {
  expect(sets.length).toBeGreaterThan(0);
  for (const set of sets) {
    const types = [...new Set(set.histories.map(typeOf))].sort();
    const open = [...new Set(set.histories.filter(isOpen).map(typeOf))];
    expect({ set: set.version, types }).toEqual({ set: set.version, types: expect.arrayContaining(WORKFLOW_TYPES) });
    expect({ set: set.version, open }).toEqual({ set: set.version, open: expect.arrayContaining([TYPES.activation, TYPES.syncRun]) });
  }
});

test('the newest set covers every workflow type syncline registers', () => {
  const newest = [...sets].sort((a, b) => a.manifest.recordedAt.localeCompare(b.manifest.recordedAt)).at(-1)!;
  const types = [...new Set(newest.histories.map(typeOf))].sort();
  expect({ set: newest.version, types }).toEqual({ set: newest.version, types: Object.values(TYPES).sort() });
});

/**
 * Patches no stored history can hold: asked only by frozen code no new execution enters, and no set was
 * recorded while the release that asked them was current. Their replay is proven by nothing but review.
 */
const UNRECORDABLE: Record<string, string> = {
  'failed-rows-stay-open':
    'workflows/legacy/activation-v1.ts: asked by releases between a4d92de and 5b6a235 only (no set recorded then); new executions take activation-queue and never enter the legacy loop',
};

test('every patch the workflow code asks has a stored history holding its marker', () => {
  const asked = patchesInCode();
  // The ids are literals: a computed one could not be checked (Patches in workflows/patches.ts asks its ids for its callers).
  expect([...asked].filter(([id, files]) => id.startsWith('<') && files.join() !== 'workflows/patches.ts')).toEqual([]);
  const recorded = new Set(all.flatMap((h) => patchMarkers(h.history)));
  const ids = [...asked.keys()].filter((id) => !id.startsWith('<'));
  const missing = ids.filter((id) => !recorded.has(id) && !(id in UNRECORDABLE)).map((id) => `${id} (${asked.get(id)!.join(', ')})`);
  expect({ missing }).toEqual({ missing: [] });
  // The exceptions stay true: still asked, still without a history.
  expect(Object.keys(UNRECORDABLE).filter((id) => !asked.has(id) || recorded.has(id))).toEqual([]);
});

test('no stored history holds a credential or a row value', () => {
  // The scan reads payloads, which are base64 in the files.
  expect(forbiddenIn({ events: [{ input: { data: Buffer.from(`{"clientSecret":"${WRONG_SECRET}"}`).toString('base64') } }] })).toEqual([
    WRONG_SECRET,
  ]);
  expect(all.flatMap((h) => forbiddenIn(h.history).map((found) => `${h.set}/${h.entry.file}: ${found}`))).toEqual([]);
});

/**
 * Its own time limit, over the suite's 180 s: the work grows with every set recorded (33 sets, some 2,000
 * histories: 80 s here beside a CI run, over 180 s in a CI run while other test files ran on the same 2 cores).
 */
const REPLAY_ALL_MS = 20 * 60_000;

test(
  'every stored history replays on the current workflow code',
  async () => {
    const { code } = await bundleWorkflows();
    const inputs = all.map((h) => ({ workflowId: h.entry.workflowId, history: historyFromJSON(h.history) }));
    const failures: string[] = [];
    let replayed = 0;
    // One at a time, in order: result i belongs to history i.
    for await (const result of Worker.runReplayHistories({ workflowBundle: { code }, replayName: 'stored-histories' }, inputs)) {
      const h = all[replayed++]!;
      if (result.error)
        failures.push(`${h.set}/${h.entry.file} (${h.entry.workflowId}): ${result.error.name}: ${coreMessage(result.error.message)}`);
    }
    expect(replayed).toBe(all.length);
    expect(failures).toEqual([]);
  },
  REPLAY_ALL_MS,
);
