/**
 * The Actito destination: custom tables (business key = `destination.key`), optional profiles first,
 * attribute creation, one-by-one or bulk writes. See README.md.
 */
import type { DestinationConnector } from '../types';
import { ensureAttributes } from './attributes';
import { check } from './check';
import { type ActitoConnection, connectionSchema } from './config';
import { parseOptions, tableName } from './context';
import { allowance, readQuota } from './quota';
import { planWrites, pollChunk, writeChunk } from './writer';

export type { ActitoConnection } from './config';

export const actitoConnector: DestinationConnector<ActitoConnection> = {
  kind: 'actito',
  connectionSchema,
  check,
  ensureAttributes,
  planWrites,
  writeChunk,
  pollChunk,
  /** Bulk imports used today on the custom table, against the allowance (per day minus reserve). */
  async quota(ctx) {
    const opts = parseOptions(ctx);
    const c = await readQuota(ctx, tableName(ctx));
    return { used: c.used, max: allowance(opts) };
  },
};
