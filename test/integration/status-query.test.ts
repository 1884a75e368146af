/**
 * `syncline status` when the activation cannot answer its status query: a workflow task that keeps failing
 * (what a deploy that changed workflow code without patched() does) is said as such, with the server's words,
 * not as "is a worker polling?" while workers poll. A real Temporal dev server and a real worker running a
 * stand-in activation workflow whose every task throws.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { SynclineClient } from '../../client';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { uniqueName } from '../support/harness';

const taskQueue = uniqueName('tq_status_query');
let connection: Connection;
let native: NativeConnection;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  [connection, native] = await Promise.all([
    Connection.connect({ address: process.env.TEMPORAL_ADDRESS! }),
    NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! }),
  ]);
  worker = await Worker.create({ connection: native, taskQueue, workflowsPath: require.resolve('../support/broken-workflow') });
  running = worker.run();
}, 120_000);
afterAll(async () => {
  worker?.shutdown();
  await running;
  await Promise.all([connection?.close(), native?.close()]);
});

test('an activation whose workflow task keeps failing is said to, naming the cause, not a missing worker', async () => {
  const id = uniqueName('broken');
  const client = new Client({ connection });
  await client.workflow.start(WORKFLOW_TYPES.activation, { taskQueue, workflowId: activationWorkflowId(id), args: [] });
  // Queries are refused at once once the task has failed twice (before, a query waits out its 30 s timeout).
  const handle = client.workflow.getHandle(activationWorkflowId(id));
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 500)))
    if (Number((await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0) >= 3) break;
  const syncline = new SynclineClient({ client, taskQueue });
  let message = '';
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    message = await syncline.status(id).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    if (/keeps failing/.test(message)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(message).toMatch(
    new RegExp(`^activation "${id}" cannot answer the status query \\(.*[Ww]orkflow [Tt]ask.*\\): its workflow task keeps failing`),
  );
  expect(message).toContain(`task queue "${taskQueue}"`);
  expect(message).toContain('patched()');
  expect(message).not.toMatch(/is a syncline worker polling/);
  await client.workflow.getHandle(activationWorkflowId(id)).terminate('test done');
}, 120_000);
