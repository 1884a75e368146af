/**
 * Per-activity setup shared by check, write and poll: authenticate, describe (cached a few minutes per
 * worker), analyze the mapping. Config problems surface here as non-retryable SyncErrors; the options
 * arrive parsed (ctx.options, from optionsSchema).
 */
import { SyncError } from '../../common/errors';
import type { DestinationContext } from '../types';
import { analyze, parentObjects, type SfDescribe, type WriteModel } from './analyze';
import { getClient, type SalesforceClient } from './client';
import type { SalesforceConnection, SalesforceOptions } from './config';

export type SfContext = DestinationContext<SalesforceConnection, SalesforceOptions>;

export interface Session {
  client: SalesforceClient;
  options: SalesforceOptions;
  model: WriteModel;
  /** Liveness from long loops (CSV building, request pools). */
  heartbeat: (details?: Record<string, unknown>) => void;
}

const DESCRIBE_TTL_MS = 5 * 60_000;
// Keyed by the connection, not the client: each activity calls through its own view of the shared client.
const describes = new WeakMap<SalesforceClient['conn'], Map<string, { at: number; value: SfDescribe }>>();

export function whereOf(ctx: SfContext): string {
  return `activation "${ctx.activationId}" (Salesforce ${ctx.destination.address})`;
}

async function describeCached(client: SalesforceClient, object: string, where: string, fresh: boolean): Promise<SfDescribe> {
  let m = describes.get(client.conn);
  if (!m) describes.set(client.conn, (m = new Map()));
  const hit = m.get(object);
  if (!fresh && hit && Date.now() - hit.at < DESCRIBE_TTL_MS) return hit.value;
  try {
    const value = await client.describe(object, where);
    m.set(object, { at: Date.now(), value });
    return value;
  } catch (err) {
    if (err instanceof SyncError && err.code === 'DESTINATION_NOT_FOUND') {
      throw new SyncError(
        'DESTINATION_NOT_FOUND',
        `${where}: Salesforce object "${object}" does not exist or is not visible to the integration user`,
        { retryable: false, cause: err },
      );
    }
    throw err;
  }
}

/** A parent object the integration user cannot see: the mapping is named, not just the object. */
async function describeParent(client: SalesforceClient, object: string, where: string, fresh: boolean): Promise<SfDescribe> {
  try {
    return await describeCached(client, object, where, fresh);
  } catch (err) {
    if (err instanceof SyncError && err.code === 'DESTINATION_NOT_FOUND') {
      throw new SyncError(
        'FIELD_UNKNOWN',
        `${where}: a parent lookup points to ${object}, which does not exist or is not visible to the integration user: grant it read access, or remove the mapping`,
        { retryable: false, cause: err },
      );
    }
    throw err;
  }
}

/** `fresh` forces a describe call (check() always re-reads; writers reuse a recent one). */
export async function openSession(ctx: SfContext, fresh = false): Promise<Session> {
  const where = whereOf(ctx);
  const { options } = ctx;
  const object = ctx.destination.address;
  const shared = await getClient(ctx.connection, where, (kind) => ctx.apiCall(kind), ctx.limits, ctx.destination.connection);
  const client = shared.forActivity(ctx.signal);
  client.quotaWaitMs = options.quotaWaitMs;
  const describe = await describeCached(client, object, where, fresh);
  // Parent objects of `Account.External_Id__c` mappings: their External ID fields are checked too.
  const parents = await Promise.all(parentObjects(ctx.fields, describe).map((p) => describeParent(client, p, where, fresh)));
  const model = analyze({
    activationId: ctx.activationId,
    mode: ctx.mode,
    key: ctx.destination.key,
    fields: ctx.fields,
    options,
    describe,
    parents,
  });
  return { client, options, model, heartbeat: (d) => ctx.heartbeat(d) };
}
