import { spawn } from 'node:child_process';
import { stopChild } from '../../scripts/services/temporal';

// startDevServer's failure path (a dev server that exited at start) calls stopChild, which
// waits for an 'exit' that already happened when the server was ended by a signal (OOM killer, a kill).
test('stopChild returns for a child that was already ended by a signal', async () => {
  const child = spawn('sleep', ['30']);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const outcome = await Promise.race([
    stopChild(child).then(() => 'returned'),
    new Promise((r) => setTimeout(() => r('still waiting'), 8000).unref()),
  ]);
  expect(outcome).toBe('returned');
}, 15_000);
