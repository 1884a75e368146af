/**
 * Per-activity setup shared by check, write and poll: parse options, authenticate, describe (cached a few
 * minutes per worker), analyze the mapping. Config problems surface here as non-retryable SyncErrors.
 */
import { SyncError } from '../../common/errors';
import type { DestinationContext } from '../types';
import { analyze, type SfDescribe, type WriteModel } from './analyze';
import { getClient, type SalesforceClient } from './client';
import { optionsSchema, type SalesforceConnection, type SalesforceOptions } from './config';

export type SfContext = DestinationContext<SalesforceConnection>;

export interface Session {
  client: SalesforceClient;
  options: SalesforceOptions;
  model: WriteModel;
  /** Liveness from long loops (CSV building, request pools). */
  heartbeat: (details?: Record<string, unknown>) => void;
}

const DESCRIBE_TTL_MS = 5 * 60_000;
const describes = new WeakMap<SalesforceClient, Map<string, { at: number; value: SfDescribe }>>();

export function whereOf(ctx: SfContext): string {
  return `activation "${ctx.activationId}" (Salesforce ${ctx.destination.object ?? '?'})`;
}

export function parseOptions(ctx: SfContext): SalesforceOptions {
  const r = optionsSchema.safeParse(ctx.destination.options ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `destination.options.${i.path.join('.')}: ${i.message}`).join('; ');
  throw new SyncError('CONFIG_INVALID', `${whereOf(ctx)}: ${problems}`, { retryable: false });
}

async function describeCached(client: SalesforceClient, object: string, where: string, fresh: boolean): Promise<SfDescribe> {
  let m = describes.get(client);
  if (!m) describes.set(client, (m = new Map()));
  const hit = m.get(object);
  if (!fresh && hit && Date.now() - hit.at < DESCRIBE_TTL_MS) return hit.value;
  try {
    const value = await client.describe(object, where);
    m.set(object, { at: Date.now(), value });
    return value;
  } catch (err) {
    if (err instanceof SyncError && err.code === 'DESTINATION_NOT_FOUND') {
      throw new SyncError('DESTINATION_NOT_FOUND', `${where}: Salesforce object "${object}" does not exist or is not visible to the integration user`, { retryable: false, cause: err });
    }
    throw err;
  }
}

/** `fresh` forces a describe call (check() always re-reads; writers reuse a recent one). */
export async function openSession(ctx: SfContext, fresh = false): Promise<Session> {
  const where = whereOf(ctx);
  const options = parseOptions(ctx);
  const object = ctx.destination.object;
  if (!object) throw new SyncError('CONFIG_INVALID', `${where}: destination.object is required for Salesforce`, { retryable: false });
  const client = await getClient(ctx.connection, where);
  client.quotaWaitMs = options.quotaWaitMs;
  const describe = await describeCached(client, object, where, fresh);
  const model = analyze({ activationId: ctx.activationId, mode: ctx.mode, key: ctx.destination.key, fields: ctx.fields, options, describe });
  return { client, options, model, heartbeat: (d) => ctx.heartbeat(d) };
}
