/**
 * Finds the Temporal CLI and starts its dev server (gRPC + Web UI) with syncline's search attributes.
 * Order: $TEMPORAL_CLI, `temporal` on PATH, .data/bin/temporal (built by scripts/install-temporal.sh),
 * ~/go/bin/temporal; with none of those, the SDK's own download (machines with internet).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../common/search-attributes';
import { freePort, onFreePorts, PortTakenError } from './ports';
import { projectRoot } from './project-root';

export interface TemporalServer {
  address: string;
  uiUrl: string | null;
  namespace: string;
  cli: string | null;
  stop(): Promise<void>;
}

const ROOT = projectRoot();

export function findTemporalCli(): string | null {
  const candidates = [
    process.env.TEMPORAL_CLI,
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'temporal')),
    path.join(ROOT, '.data/bin/temporal'),
    path.join(os.homedir(), 'go/bin/temporal'),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  dbFile?: string;
  headless?: boolean;
  quiet?: boolean;
  /** Server dynamic config, e.g. { 'limit.historyCount.suggestContinueAsNew': 30 } (tests of history limits). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** The Web UI decodes payloads with this codec server (`syncline codec-server`). */
  uiCodecEndpoint?: string;
  /**
   * Run the server in a process group of its own, so Ctrl-C in a terminal (SIGINT to the whole foreground
   * group) does not stop it under a worker that still has tasks to complete: the caller stops it, last.
   * It is killed if this process exits first.
   */
  ownProcessGroup?: boolean;
  /** Environment variables for the server besides this process's (Go's ZONEINFO: time zone data of its own). */
  env?: Record<string, string>;
}

export async function startTemporalDevServer(opts: DevServerOptions = {}): Promise<TemporalServer> {
  const cli = findTemporalCli();
  if (!cli) return startWithSdkDownload();
  // Ports the caller chose are used as they are; ports found free are chosen again when the server
  // exits at start because one was taken meanwhile (onFreePorts).
  const start = async ([port, uiPort]: number[]): Promise<TemporalServer> => startDevServer(cli, opts, port!, uiPort!);
  if (opts.port !== undefined || opts.uiPort !== undefined)
    return start([opts.port ?? (await freePort()), opts.uiPort ?? (await freePort())]);
  return onFreePorts(2, freePort, start);
}

async function startDevServer(cli: string, opts: DevServerOptions, port: number, uiPort: number): Promise<TemporalServer> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error', '--namespace', 'default'];
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [name, value] of Object.entries(opts.dynamicConfig ?? {}))
    args.push('--dynamic-config-value', `${name}=${JSON.stringify(value)}`);
  const child = spawn(cli, args, {
    stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', 'pipe'],
    detached: opts.ownProcessGroup === true,
    ...(opts.env && { env: { ...process.env, ...opts.env } }),
  });
  // The server's errors are shown while it runs, and those of its start once it has started (a start
  // that fails says them in its error). Once we stop it, its shutdown races ("taskReader: unexpected
  // error dispatching task … task queue closed") are not errors of ours and would end up in the demo's output.
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  const startErrors: Buffer[] = [];
  child.stderr!.on('data', (b: Buffer) => {
    if (phase === 'starting') startErrors.push(b);
    else if (phase === 'running') process.stderr.write(b);
  });
  const killOnExit = (): void => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  if (opts.ownProcessGroup) process.once('exit', killOnExit);
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, child);
  } catch (e) {
    phase = 'stopping';
    await stopChild(child);
    process.off('exit', killOnExit);
    const said = Buffer.concat(startErrors).toString().trim();
    const message = `${(e as Error).message}${said ? `:\n${said.split('\n').slice(-10).join('\n')}` : ''}`;
    // The dev server binds more ports than these two (random free ones of its own): any of them taken
    // says "address already in use", and the next attempt picks them all again.
    throw /address already in use/i.test(said) ? new PortTakenError(message) : new Error(message);
  }
  phase = 'running';
  for (const b of startErrors) process.stderr.write(b);
  return {
    address,
    cli,
    namespace: 'default',
    uiUrl: opts.headless ? null : `http://127.0.0.1:${uiPort}`,
    stop: () => {
      phase = 'stopping';
      return stopChild(child);
    },
  };
}

async function waitForTemporal(address: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the Temporal dev server exited at start (is port ${address} taken?)`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the Temporal dev server did not answer on ${address} within 60 s`);
}

export async function stopChild(child: ChildProcess): Promise<void> {
  // Ended already, by itself or by a signal (then exitCode stays null): its 'exit' will not come again.
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function startWithSdkDownload(): Promise<TemporalServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { searchAttributes: Object.keys(SEARCH_ATTRIBUTES).map((name) => ({ name, type: 'KEYWORD' as const })) } as never,
  });
  const address = (env.connection.options as { address?: string }).address ?? '127.0.0.1:7233';
  return { address, uiUrl: null, namespace: env.namespace ?? 'default', cli: null, stop: () => env.teardown() };
}
