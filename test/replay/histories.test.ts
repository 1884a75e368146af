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
import { WRONG_SECRET, forbiddenIn, readHistorySets, statusOf, type StoredHistory } from '../../scripts/histories/set';
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

test('no stored history holds a credential or a row value', () => {
  // The scan reads payloads, which are base64 in the files.
  expect(forbiddenIn({ events: [{ input: { data: Buffer.from(`{"clientSecret":"${WRONG_SECRET}"}`).toString('base64') } }] })).toEqual([
    WRONG_SECRET,
  ]);
  expect(all.flatMap((h) => forbiddenIn(h.history).map((found) => `${h.set}/${h.entry.file}: ${found}`))).toEqual([]);
});

test('every stored history replays on the current workflow code', async () => {
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
});
