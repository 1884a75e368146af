/**
 * `npm run bench -- list [activations]`: how fast `syncline list` answers with many activations (default
 * 200) running on one production worker. Starts them (manual schedules: they only wait), waits until each
 * has published its state, then times the compiled CLI (`node dist/client/cli.js list`, what an installed
 * `syncline` runs) and the development one (tsx), 5 times each, medians.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startBenchServices, startWorkerProcess, stopProcess } from './support';
import { WORKFLOW_TYPES, activationWorkflowId } from '../common/names';

const ROOT = path.resolve(__dirname, '..');

function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; stdout: string }> {
  const t = process.hrtime.bigint();
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(err);
      else resolve({ seconds: Number(process.hrtime.bigint() - t) / 1e9, stdout });
    }),
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function main(args: string[]): Promise<Record<string, unknown>> {
  const n = Number(args[0] ?? 200);
  const services = await startBenchServices();
  const taskQueue = 'bench-list';
  const worker = await startWorkerProcess({
    address: services.temporal.address,
    databaseUrl: services.pg.url,
    taskQueue,
    connections: { sf: { auth: 'token', accessToken: 'x', instanceUrl: 'http://127.0.0.1:9' } },
  });
  const client = new Client({ connection: await Connection.connect({ address: services.temporal.address }) });
  try {
    for (let i = 0; i < n; i++) {
      const id = `list_${String(i).padStart(4, '0')}`;
      await client.workflow.start(WORKFLOW_TYPES.activation, {
        taskQueue,
        workflowId: activationWorkflowId(id),
        args: [
          {
            config: {
              id,
              mode: 'upsert',
              source: { table: 'public.none', key: 'id' },
              destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
              mappings: [{ from: 'a', to: 'LastName' }],
            },
          },
        ],
      });
    }
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: services.temporal.address,
      DATABASE_URL: services.pg.url,
      SYNCLINE_TASK_QUEUE: taskQueue,
    };
    // Visibility is eventually consistent: wait until every activation is listed with its state.
    for (let i = 0; ; i++) {
      const listed = JSON.parse((await timeCommand(process.execPath, ['dist/client/cli.js', 'list', '--json'], env)).stdout) as Array<{
        state: string;
      }>;
      if (listed.length === n && listed.every((a) => a.state === 'idle')) break;
      if (i > 120) throw new Error(`only ${listed.length} of ${n} activations listed with a state`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const compiled: number[] = [];
    const dev: number[] = [];
    for (let i = 0; i < 5; i++) {
      compiled.push((await timeCommand(process.execPath, ['dist/client/cli.js', 'list'], env)).seconds);
      dev.push((await timeCommand(path.join(ROOT, 'node_modules/.bin/tsx'), ['client/cli.ts', 'list'], env)).seconds);
      console.log(`#${i + 1}: compiled ${compiled.at(-1)!.toFixed(2)} s, tsx ${dev.at(-1)!.toFixed(2)} s`);
    }
    return { activations: n, list_compiled_s: +median(compiled).toFixed(3), list_tsx_s: +median(dev).toFixed(3) };
  } finally {
    await client.connection.close();
    await stopProcess(worker);
    await services.stop();
  }
}
