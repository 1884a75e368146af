/**
 * Writes executions' histories into a set as they are reached, and the waits the scenarios need to reach
 * them: the next execution of a continuing-as-new workflow, or a point inside an open one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from './proto-json';
import { statusOf, type ManifestEntry } from './set';

export type HistoryEvent = Record<string, any> & { eventType: string };

export class Recorder {
  readonly entries: ManifestEntry[] = [];

  constructor(
    private readonly client: Client,
    private readonly dir: string,
  ) {}

  /** Events of one execution as stored (proto JSON: `eventType` is e.g. "EVENT_TYPE_TIMER_FIRED"). */
  async events(workflowId: string, runId?: string): Promise<HistoryEvent[]> {
    const history = await this.client.workflow.getHandle(workflowId, runId).fetchHistory();
    return (JSON.parse(historyToJSON(history)) as { events: HistoryEvent[] }).events;
  }

  /**
   * Stores one execution as `<workflowType>--<name>.json`. An open one is taken between workflow tasks,
   * so the file ends where the workflow waits (a timer, an activity, a child, a signal).
   */
  async record(name: string, workflowId: string, runId: string | undefined, what: string): Promise<ManifestEntry> {
    runId ??= await this.currentRun(workflowId);
    let text = historyToJSON(await this.client.workflow.getHandle(workflowId, runId).fetchHistory());
    let events = (JSON.parse(text) as { events: HistoryEvent[] }).events;
    for (let i = 0; i < 100 && MID_TASK.has(events.at(-1)?.eventType ?? ''); i++) {
      await sleep(100);
      text = historyToJSON(await this.client.workflow.getHandle(workflowId, runId).fetchHistory());
      events = (JSON.parse(text) as { events: HistoryEvent[] }).events;
    }
    const started = events[0]?.workflowExecutionStartedEventAttributes;
    const entry: ManifestEntry = {
      file: `${started.workflowType.name}--${name}.json`,
      workflowType: started.workflowType.name,
      workflowId,
      runId,
      status: statusOf(events.at(-1)?.eventType),
      events: events.length,
      path: what,
    };
    if (this.entries.some((e) => e.file === entry.file)) throw new Error(`two histories named ${entry.file}`);
    fs.writeFileSync(path.join(this.dir, entry.file), `${text}\n`);
    this.entries.push(entry);
    console.log(`[histories] ${entry.file}: ${entry.events} events, ${entry.status}`);
    return entry;
  }

  /** The run id of the workflow's latest execution. */
  async currentRun(workflowId: string): Promise<string> {
    return (await this.client.workflow.getHandle(workflowId).describe()).runId;
  }

  /** Waits until the workflow has continued as new after `runId`; returns the new execution's run id. */
  async nextRun(workflowId: string, runId: string): Promise<string> {
    return waitFor(`${workflowId} to continue as new after ${runId}`, async () => {
      const now = await this.currentRun(workflowId);
      return now !== runId && now;
    });
  }

  /** The workflow id of the latest child run this execution started (`activation/<id>/run/<n>`), once there is one. */
  async child(workflowId: string, runId: string): Promise<string> {
    return waitFor(`${workflowId}: a child run`, async () =>
      (await this.events(workflowId, runId)).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []).at(-1),
    );
  }

  /** Waits until the execution's events satisfy `done` (e.g. a timer fired, an activity ran twice). */
  async until(
    workflowId: string,
    runId: string | undefined,
    what: string,
    done: (events: HistoryEvent[]) => boolean,
    timeoutMs = 60_000,
  ): Promise<void> {
    await waitFor(`${workflowId}: ${what}`, async () => done(await this.events(workflowId, runId)), timeoutMs);
  }
}

const MID_TASK = new Set(['EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'EVENT_TYPE_WORKFLOW_TASK_STARTED']);

/** Activities of a type scheduled so far. */
export function activityCount(events: HistoryEvent[], type: string): number {
  return events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
}

export function eventCount(events: HistoryEvent[], type: string): number {
  return events.filter((e) => e.eventType === `EVENT_TYPE_${type}`).length;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
