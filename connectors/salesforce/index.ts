/**
 * Salesforce destination (jsforce 3, API v62.0): sObject Collections for small operations, Bulk API 2.0
 * for large ones; creates are idempotent upserts on a token External ID; a daily-quota governor.
 */
import type { CheckResult, DestinationConnector } from '../types';
import { connectionSchema, type SalesforceConnection } from './config';
import { getClient } from './client';
import { openSession, whereOf } from './context';
import { currentUsage } from './quota';
import { planWrites, pollChunk, writeChunk } from './writer';

export type { SalesforceConnection } from './config';

export const salesforceConnector: DestinationConnector<SalesforceConnection> = {
  kind: 'salesforce',
  connectionSchema,

  async check(ctx): Promise<CheckResult> {
    const { model } = await openSession(ctx, true);
    return { skippedFields: model.skipped, missingAttributes: [], warnings: model.warnings };
  },

  planWrites,
  writeChunk,
  pollChunk,

  async quota(ctx) {
    const where = whereOf(ctx);
    const usage = await currentUsage(await getClient(ctx.connection, where), where);
    return usage;
  },
};
