/**
 * An activation while its state database is down, on a real Temporal dev server and real Postgres: the
 * activation's own bookkeeping there (applying an accepted document, superseding an open plan before a run)
 * waits for it, however long it stays down, instead of failing the activation workflow once ten tries
 * (about 5.5 minutes) have failed. The worker reaches the state database through a gate the test takes
 * down at the start of the step under test and brings back after OUTAGE_MS; the test destination is
 * reached directly.
 *
 * No outage a test can afford outlasts every retry of an unbounded policy: the test shows one spanning
 * several tries waited out, and that the step is scheduled with no limit of tries (its retry policy in
 * history) and a try at least every minute. SYNCLINE_TEST_OUTAGE_MS=400000 runs the first test with an
 * outage longer than the ten tries the activation had before (it then failed with "Activity task failed").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type pg from 'pg';
import { env, startWorker, sqlClient, testClient, uniqueName, waitFor, type RunningWorker } from '../support/harness';
import { serviceGate, type ServiceGate } from '../support/service-gate';
import { runCli } from '../support/cli';
import { WORKFLOW_TYPES, activationWorkflowId } from '../../common/names';
import { applyPlanUpdate, configQuery, planUpdate, statusQuery, triggerSyncUpdate, updateConfigUpdate } from '../../workflows/messages';
import { toFailure } from '../../activities/failure';

const TQ = uniqueName('tq_state_outage');
// Longer than the CLI's first note (20 s); the tries come at 0, 1, 3, 7, 15, 31 s, then at most a minute apart.
const OUTAGE_MS = Number(process.env.SYNCLINE_TEST_OUTAGE_MS ?? 45_000);
let worker: RunningWorker;
let client: Client;
let db: pg.Pool;
let gate: ServiceGate;
let back: NodeJS.Timeout | undefined;
/** The activity whose next try takes the state database down first (then OUTAGE_MS until it is back). */
let downAt: string | null = null;
/** The activity whose next try meets a refusal no retry mends (a Postgres program limit, as activities/failure.ts words it). */
let refusedAt: string | null = null;
const tries: Record<string, number> = {};

const around: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const type = ctx.info.activityType;
      tries[type] = (tries[type] ?? 0) + 1;
      if (type === refusedAt) {
        refusedAt = null;
        const limit = Object.assign(new Error('total size of jsonb object elements exceeds the maximum of 268435455 bytes'), {
          code: '54000',
        });
        throw toFailure(limit);
      }
      if (type === downAt) {
        downAt = null;
        clearTimeout(back);
        await gate.down();
        back = setTimeout(() => void gate.up(), OUTAGE_MS);
      }
      return next(input);
    },
  },
});

beforeAll(async () => {
  const real = new URL(env().databaseUrl);
  gate = serviceGate({ hostname: real.hostname, port: real.port || '5432' });
  await gate.up();
  const gated = new URL(real.toString());
  gated.hostname = '127.0.0.1';
  gated.port = String(await gate.port);
  [worker, client] = await Promise.all([
    startWorker({ taskQueue: TQ, stateDatabaseUrl: gated.toString(), activityInterceptors: [around] }),
    testClient(),
  ]);
  db = sqlClient();
});
afterAll(async () => {
  clearTimeout(back);
  await gate?.up();
  await worker?.stop();
  gate?.close();
  await db?.end();
  await client?.connection.close();
});
beforeEach(async () => {
  clearTimeout(back);
  downAt = null;
  refusedAt = null;
  await gate.up();
});

const handle = (id: string) => client.workflow.getHandle(activationWorkflowId(id));
const sync = (id: string) => handle(id).executeUpdate(triggerSyncUpdate, { args: [{}] });

function doc(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    mode: 'mirror',
    schedule: { manual: true },
    source: { sql: `SELECT id, name, city FROM public.${id}`, key: 'id' },
    destination: { kind: 'testdb', connection: 'testdb', object: `${id}_a`, key: 'ext_id' },
    mappings: [{ from: 'name', to: 'Name' }],
    ...extra,
  };
}

async function started(id: string): Promise<void> {
  await db.query(`CREATE TABLE public.${id} AS SELECT g AS id, 'Name ' || g AS name, 'City ' || g AS city FROM generate_series(1, 3) g`);
  await client.workflow.start(WORKFLOW_TYPES.activation, {
    taskQueue: TQ,
    workflowId: activationWorkflowId(id),
    args: [{ config: doc(id) }],
  });
  expect((await sync(id)).ops.upsert).toMatchObject({ succeeded: 3 });
}

/** The retry policies the activation scheduled `activity` with (one per scheduling), in every execution of its chain of continue-as-new. */
async function retryPolicies(id: string, activity: string): Promise<Array<{ maximumAttempts: number; maximumIntervalS: number }>> {
  const out: Array<{ maximumAttempts: number; maximumIntervalS: number }> = [];
  let runId: string | undefined;
  do {
    const history = await client.workflow.getHandle(activationWorkflowId(id), runId).fetchHistory();
    const events = history.events ?? [];
    for (const e of events) {
      const a = e.activityTaskScheduledEventAttributes;
      if (a?.activityType?.name !== activity) continue;
      out.push({
        maximumAttempts: a.retryPolicy?.maximumAttempts ?? 0,
        maximumIntervalS: Number(a.retryPolicy?.maximumInterval?.seconds ?? 0),
      });
    }
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  } while (runId);
  return out;
}

/** The pending try of `activity`, once it is at least the `attempt`th. */
const pendingTry = (id: string, activity: string, attempt: number, timeoutMs: number) =>
  waitFor(
    `${activity} at try ${attempt}`,
    async () => {
      const p = (await handle(id).describe()).raw.pendingActivities?.find((a) => a.activityType?.name === activity);
      return p && (p.attempt ?? 0) >= attempt ? p : undefined;
    },
    timeoutMs,
    500,
  );

test(
  'the state database down when an accepted document is applied: the update waits, saying so, the activation lives and syncs with it',
  async () => {
    const id = uniqueName('outage_update');
    await started(id);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'syncline-outage-')), `${id}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify(
        doc(id, {
          mappings: [
            { from: 'name', to: 'Name' },
            { from: 'city', to: 'City' },
          ],
        }),
      ),
    );

    // The document is checked (the handler), accepted and queued; its application then meets the outage.
    downAt = 'applyConfigUpdate';
    const startedAt = Date.now();
    const cli = runCli(
      ['activation', 'update', '--file', file, '--reason', 'CRM wants the city'],
      { TEMPORAL_ADDRESS: env().address },
      OUTAGE_MS + 180_000,
    );
    await pendingTry(id, 'applyConfigUpdate', 4, 60_000);
    expect(Date.now() - startedAt).toBeLessThan(OUTAGE_MS); // still down: several tries failed on it
    // On-call's view meanwhile: `syncline status` says what the activation is stuck on.
    const st = await runCli(['status', id], { TEMPORAL_ADDRESS: env().address }, 30_000);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(
      /Retrying\s+applyConfigUpdate \(its bookkeeping in the state database\): \d+ tries failed, the last with "[^"]*ECONNREFUSED/,
    );

    const out = await cli;
    expect(out.stderr).toContain(`activation "${id}" retries applyConfigUpdate, its bookkeeping in the state database`);
    expect(out.stderr).toMatch(/tries failed, the last with "[^"]*ECONNREFUSED/);
    expect(out.stderr).toContain('tries again at least every minute for as long as it takes');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`activation "${id}" updated to version 2`);
    expect(tries.applyConfigUpdate).toBeGreaterThanOrEqual(5);

    // Waited out with no limit of tries (0: unlimited), a try at least every minute.
    const policies = await retryPolicies(id, 'applyConfigUpdate');
    expect(policies.length).toBeGreaterThan(0);
    for (const p of policies) {
      expect(p.maximumAttempts).toBe(0);
      expect(p.maximumIntervalS).toBeLessThanOrEqual(60);
    }

    // The activation lives, the version is on record, and the next run sends every row with the new mapping.
    expect((await handle(id).describe()).status.name).toBe('RUNNING');
    const versions = await db.query(`SELECT version, reason FROM syncline.config_versions WHERE activation_id = $1 ORDER BY version`, [id]);
    expect(versions.rows).toEqual([
      { version: 1, reason: 'first version' },
      { version: 2, reason: 'CRM wants the city' },
    ]);
    const next = await sync(id);
    expect(next.status).toBe('success');
    expect(next.ops.upsert).toMatchObject({ planned: 3, succeeded: 3 });
    const rows = await db.query(`SELECT key, "values" FROM test_dest.records WHERE object = $1 ORDER BY key`, [`${id}_a`]);
    expect(rows.rows.map((r) => (r.values as { City?: string }).City)).toEqual(['City 1', 'City 2', 'City 3']);
  },
  OUTAGE_MS + 240_000,
);

test(
  'the state database down when a run supersedes the open plan: the run waits for it, then syncs; the plan is superseded',
  async () => {
    const id = uniqueName('outage_plan');
    await started(id);
    await db.query(`UPDATE public.${id} SET name = name || ' (new)' WHERE id = 1`);
    const plan = await handle(id).executeUpdate(planUpdate, { args: [] });

    downAt = 'supersedePlans';
    const run = sync(id);
    await pendingTry(id, 'supersedePlans', 4, 60_000);
    const summary = await run;
    expect(summary.status).toBe('success');
    expect(summary.ops.upsert).toMatchObject({ planned: 1, succeeded: 1 });
    expect(tries.supersedePlans).toBeGreaterThanOrEqual(5);
    const policies = await retryPolicies(id, 'supersedePlans');
    expect(policies.length).toBeGreaterThan(0);
    for (const p of policies) expect(p.maximumAttempts).toBe(0);

    expect((await handle(id).describe()).status.name).toBe('RUNNING');
    const status = await handle(id).query(statusQuery);
    expect(status.lastRuns.at(-1)).toMatchObject({ runNumber: summary.runNumber, status: 'success' });
    const recorded = await db.query(`SELECT status FROM syncline.plans WHERE activation_id = $1 AND run_number = $2`, [id, plan.plan]);
    expect(recorded.rows).toEqual([{ status: 'superseded' }]);
  },
  OUTAGE_MS + 240_000,
);

test('a refusal no retry mends when an accepted document is recorded: the caller gets it, the activation lives on with the document it ran', async () => {
  const id = uniqueName('refused_update');
  await started(id);
  const plan = await handle(id).executeUpdate(planUpdate, { args: [] });
  refusedAt = 'applyConfigUpdate';
  const city = doc(id, {
    mappings: [
      { from: 'name', to: 'Name' },
      { from: 'city', to: 'City' },
    ],
  });
  const err = await handle(id)
    .executeUpdate(updateConfigUpdate, { args: [{ config: city }] })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause as { type?: string; message: string };
  expect(cause.message).toContain(
    `activation "${id}": the new document could not be recorded in the state database, so it was not applied`,
  );
  expect(cause.message).toContain('SQLSTATE 54000');
  // The open plan was superseded before the refusal: it no longer applies, and says why.
  expect(cause.message).toContain(`plan ${plan.plan} no longer applies: plan again`);
  const apply = await handle(id)
    .executeUpdate(applyPlanUpdate, { args: [{ plan: plan.plan }] })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(apply).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(((apply as WorkflowUpdateFailedError).cause as Error).message).toContain(
    `plan ${plan.plan} of "${id}" is stale: it was superseded for a new document (which could not be recorded)`,
  );
  const recorded = await db.query(`SELECT status FROM syncline.plans WHERE activation_id = $1 AND run_number = $2`, [id, plan.plan]);
  expect(recorded.rows).toEqual([{ status: 'superseded' }]);

  expect((await handle(id).describe()).status.name).toBe('RUNNING');
  expect(((await handle(id).query(configQuery)) as { mappings: unknown }).mappings).toEqual([{ from: 'name', to: 'Name' }]);
  const versions = await db.query(`SELECT version FROM syncline.config_versions WHERE activation_id = $1`, [id]);
  expect(versions.rows).toEqual([{ version: 1 }]);
  const next = await sync(id);
  expect(next.status).toBe('success');
  expect(next.ops).toEqual({});
});
