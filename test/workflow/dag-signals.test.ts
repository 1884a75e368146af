/**
 * Signals of a name a DAG run has no handler for, on a real Temporal dev server: Temporal accepts any name
 * (`temporal workflow signal --name dagsignal` answers "Signal workflow succeeded"), so the run must not drop
 * one silently nor fail on one (a name with Temporal's reserved prefix `__temporal_` included): it logs
 * them, its state query lists them, `syncline dag show` prints them, and it goes on.
 */
import type { Client } from '@temporalio/client';
import { startDagStage, type DagStage } from '../support/dag-stage';
import { waitFor } from '../support/harness';
import { DagRuns } from '../../client/dag-runs';
import type { DagSpec, DagState } from '../../common/dag';
import type { DagWorkflowResult } from '../../workflows/dag-workflow';

let stage: DagStage;
let client: Client;

beforeAll(async () => {
  stage = await startDagStage('dag-signals');
  ({ client } = stage);
});

afterAll(() => stage?.stop());

type WithIgnored = DagState & { ignoredSignals?: Array<{ name: string; at: string }> };

test('a misspelled or reserved signal name is listed by the state query and dag show, and the run goes on', async () => {
  const dag = `signals-${process.pid}`;
  const spec: DagSpec = {
    id: dag,
    tasks: [
      { id: 'gate', kind: 'wait_for_signal', input: { signal: 'go', timeoutSeconds: 600 } },
      { id: 'last', kind: 'sql', upstream: ['gate'], input: { statement: 'SELECT 1' } },
    ],
  };
  const id = `dag/${dag}/manual`;
  const handle = await client.workflow.start('dagWorkflow', { taskQueue: stage.taskQueue, workflowId: id, args: [spec] });
  try {
    await waitFor('the gate to wait', async () =>
      (await handle.query<DagState>('dagState')).tasks.gate?.state === 'running' ? true : undefined,
    );
    await handle.signal('dagsignal', { name: 'go' }); // the name misspelled: releases nothing
    await handle.signal('__temporal_foo', { name: 'go' });
    await handle.signal('x\u001b[2Jy');
    const state = await waitFor('the ignored signals in the state query', async () => {
      const s = await handle.query<WithIgnored>('dagState');
      return s.ignoredSignals?.length === 3 ? s : undefined;
    });
    expect(state.ignoredSignals!.map((s) => s.name)).toEqual(['dagsignal', '__temporal_foo', 'x\u001b[2Jy']);
    expect(state.tasks.gate?.state).toBe('running');
    const text = (await new DagRuns(client).show(id)).text;
    expect(text.split('\n').filter((l) => l.includes('not a signal of a DAG run'))).toEqual([
      expect.stringMatching(
        /^Ignored signals {2}"dagsignal" at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: not a signal of a DAG run \(known: dagSignal\)$/,
      ),
      expect.stringMatching(/^ {17}"__temporal_foo" at .* UTC: not a signal of a DAG run/),
      expect.stringMatching(/^ {17}"x\\u001b\[2Jy" at .* UTC: not a signal of a DAG run/),
    ]);
    await handle.signal('dagSignal', { name: 'go' });
    const result = (await handle.result()) as DagWorkflowResult;
    expect(Object.fromEntries(Object.values(result.tasks).map((t) => [t.id, t.state]))).toEqual({ gate: 'success', last: 'success' });
  } finally {
    await handle.terminate('test over').catch(() => undefined);
  }
}, 180_000);
