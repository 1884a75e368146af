/**
 * Salesforce destination (jsforce 3, API v62.0): sObject Collections for small operations, Bulk API 2.0
 * for large ones; creates are idempotent upserts on a token External ID; a daily-quota governor.
 */
import type { CheckResult, DestinationConnector, KeyNumber } from '../types';
import type { SfField } from './mapping';
import { connectionSchema, optionsSchema, type SalesforceConnection, type SalesforceOptions } from './config';
import { SALESFORCE_MODES } from './modes';
import { getClient } from './client';
import { openSession, whereOf } from './context';
import { currentUsage } from './quota';
import { ensureHardDeletePermission } from './hard-delete';
import { METHOD_BULK, METHOD_COLLECTIONS, planWrites, pollChunk, writeChunk } from './writer';

export type { SalesforceConnection } from './config';

/** The key's number form where the key field is a number (mapping.ts encodeNumber: what is sent), else undefined. */
function numberKey(f: SfField): KeyNumber | undefined {
  if (f.type === 'int' || f.type === 'long') return { scale: null };
  if (f.type === 'double' || f.type === 'currency' || f.type === 'percent') return { scale: Math.max(f.scale ?? 0, 0) };
  return undefined;
}

export const salesforceConnector: DestinationConnector<SalesforceConnection, SalesforceOptions> = {
  kind: 'salesforce',
  connectionSchema,
  optionsSchema,
  address: { field: 'object', label: 'Salesforce object (Contact, Lead, a custom My_Object__c, ...)' },
  modes: SALESFORCE_MODES,
  methods: {
    [METHOD_COLLECTIONS]: { async: false, description: 'sObject Collections, 200 records a request' },
    [METHOD_BULK]: { async: true, description: 'a Bulk API 2.0 ingest job per chunk' },
  },

  async check(ctx): Promise<CheckResult> {
    const { model, client } = await openSession(ctx, true);
    if (model.hardDelete) await ensureHardDeletePermission(client, model.where);
    // A Number External ID matches by value ('1.50' and '1.5' are one record), the value the connector sends: rounded
    // to the field's scale (mapping.ts encodeNumber; an int field takes integers only, not rounded).
    const keyNumber = numberKey(model.keyField);
    // An External ID matches case-insensitively unless the field is case sensitive; a record Id never does; a number has no case.
    const keyIgnoresCase = !keyNumber && model.keyField.name !== 'Id' && model.keyField.caseSensitive !== true;
    return {
      skippedFields: model.skipped,
      missingAttributes: [],
      warnings: model.warnings,
      keyIgnoresCase,
      ...(keyNumber ? { keyNumber } : {}),
    };
  },

  planWrites,
  writeChunk,
  pollChunk,

  async quota(ctx) {
    const where = whereOf(ctx);
    const client = await getClient(ctx.connection, where, (kind) => ctx.apiCall(kind), ctx.limits, ctx.destination.connection);
    const usage = await currentUsage(client.forActivity(ctx.signal), where, ctx.log);
    // Figures only: this is an activity's result (checkQuota), and the client it came from cannot be
    // carried to the workflow; with it every run's quota check failed three times (3 s) and never warned.
    return usage && { used: usage.used, max: usage.max };
  },
};
