/**
 * `syncline list` and `activation apply -f` against a Temporal whose visibility listing lags behind the
 * executions, as Temporal's visibility store does: right after a command the listing may still show the
 * memo from before it, an activation just started may be missing, one just stopped may still show as
 * running, and an activation that continued as new may show twice (the closing execution and the new one).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { parseActivationConfig } from '../../common/config';
import { applyDocuments } from '../../client/config-as-code';
import { SynclineClient } from '../../client/index';

interface Execution {
  status: 'RUNNING' | 'COMPLETED' | 'CONTINUED_AS_NEW';
  memo: Record<string, unknown>;
  config?: unknown;
}

const memo = (state: string, extra: Record<string, unknown> = {}) => ({
  syncline: { state, health: 'ok', mode: 'upsert', destination: 'testdb', nextRunAt: null, lastRun: null, ...extra },
});

/** A record of the visibility listing: an execution as it was when written; listed after `readsUntilListed` reads. */
interface Listed {
  id: string;
  memo: Record<string, unknown>;
  status?: 'Running' | 'ContinuedAsNew';
  readsUntilListed?: number;
}

/**
 * What Temporal holds now (`executions`, by activation id) and what its visibility listing says (`listing`,
 * lagging). A listing query returns the records of the execution statuses it names.
 */
function lagging(executions: Record<string, Execution>, listing: Listed[]) {
  const started: string[] = [];
  const signalled: string[] = [];
  const execution = (workflowId: string) => {
    const e = executions[workflowId.replace(/^activation\//, '')];
    if (!e) throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
    return e;
  };
  const fake = {
    workflow: {
      async *list({ query }: { query: string }) {
        for (const l of listing) {
          if (l.readsUntilListed && l.readsUntilListed-- > 0) continue;
          if (query.includes(`'${l.status ?? 'Running'}'`)) yield { workflowId: `activation/${l.id}`, memo: l.memo, searchAttributes: {} };
        }
      },
      count: async (query: string) => ({
        count: listing.filter((l) => query.includes(`"activation/${l.id}"`) && !(l.readsUntilListed && l.readsUntilListed-- > 0)).length,
      }),
      getHandle: (workflowId: string) => ({
        describe: async () => {
          const e = execution(workflowId);
          return { workflowId, status: { name: e.status }, memo: e.memo, searchAttributes: {} };
        },
        query: async () => execution(workflowId).config,
        signal: async () => {
          if (execution(workflowId).status !== 'RUNNING') throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
          signalled.push(workflowId);
        },
      }),
      start: async (_type: string, opts: { workflowId: string }) => {
        if (executions[opts.workflowId.replace(/^activation\//, '')]?.status === 'RUNNING')
          throw new WorkflowExecutionAlreadyStartedError('already started', opts.workflowId, 'activation');
        started.push(opts.workflowId);
        const id = opts.workflowId.replace(/^activation\//, '');
        executions[id] = { status: 'RUNNING', memo: memo('idle') };
        listing.push({ id, memo: memo('idle'), readsUntilListed: 3 });
        return { firstExecutionRunId: 'r' };
      },
    },
  } as unknown as Client;
  return { client: new SynclineClient({ client: fake }), started, signalled };
}

describe('syncline list', () => {
  test("shows each activation's state as it is now, once, and leaves out the ones no longer running", async () => {
    const { client } = lagging(
      {
        paused_now: { status: 'RUNNING', memo: memo('paused', { health: 'critical' }) },
        stopped_now: { status: 'COMPLETED', memo: memo('stopped') },
      },
      [
        // Listed with the memo from before the pause, twice (it continued as new meanwhile).
        { id: 'paused_now', memo: memo('idle') },
        { id: 'paused_now', memo: memo('idle') },
        { id: 'stopped_now', memo: memo('idle') },
        { id: 'deleted_now', memo: memo('idle') },
      ],
    );
    expect(await client.list()).toEqual([
      { id: 'paused_now', state: 'paused', health: 'critical', mode: 'upsert', destination: 'testdb', nextRunAt: null, lastRun: null },
    ]);
    expect(await client.list({ health: 'ok' })).toEqual([]);
  });

  test('shows an activation that continued as new while its new execution is not listed yet', async () => {
    const { client } = lagging({ continued: { status: 'RUNNING', memo: memo('idle', { lastRun: { runNumber: 4 } }) } }, [
      { id: 'continued', memo: memo('running'), status: 'ContinuedAsNew' },
    ]);
    expect((await client.list()).map((a) => [a.id, a.lastRun?.runNumber])).toEqual([['continued', 4]]);
  });

  test('shows an activation just started', async () => {
    const { client } = lagging({}, []);
    await client.start({
      id: 'fresh',
      mode: 'upsert',
      schedule: { manual: true },
      source: { table: 'public.fresh', key: 'id' },
      destination: { kind: 'testdb', connection: 'testdb', object: 'fresh', key: 'ext_id' },
      mappings: [{ from: 'name', to: 'Name' }],
    });
    expect((await client.list()).map((a) => a.id)).toEqual(['fresh']);
  });
});

describe('activation apply -f', () => {
  let dir: string;
  const doc = {
    id: 'contacts',
    mode: 'upsert',
    schedule: { manual: true },
    source: { table: 'public.contacts', key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: 'contacts', key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-apply-'));
    fs.writeFileSync(path.join(dir, 'contacts.json'), JSON.stringify(doc));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('an activation the last apply started, not listed yet, is left alone, not started twice', async () => {
    const config = (parseActivationConfig(doc) as { ok: true; config: unknown }).config;
    const { client, started } = lagging({ contacts: { status: 'RUNNING', memo: memo('idle'), config } }, []);
    const steps = await applyDocuments(client, dir);
    expect(steps.map((s) => [s.id, s.action])).toEqual([['contacts', 'unchanged']]);
    expect(started).toEqual([]);
  });

  test('prune stops only activations still running: one stopped since, still listed, is not stopped again', async () => {
    const { client, started, signalled } = lagging(
      {
        old_stopped: { status: 'COMPLETED', memo: memo('stopped') },
        old_running: { status: 'RUNNING', memo: memo('idle') },
      },
      [
        { id: 'old_stopped', memo: memo('idle') },
        { id: 'old_running', memo: memo('idle') },
      ],
    );
    const steps = await applyDocuments(client, dir, { prune: true });
    expect(steps.map((s) => [s.id, s.action])).toEqual([
      ['contacts', 'start'],
      ['old_running', 'stop'],
    ]);
    expect(started).toEqual(['activation/contacts']);
    expect(signalled).toEqual(['activation/old_running']);
  });
});
