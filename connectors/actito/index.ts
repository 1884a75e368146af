/**
 * The Actito destination: custom tables (business key = `destination.key`), optional profiles first,
 * attribute creation, one-by-one or bulk writes. See README.md.
 */
import type { DestinationConnector } from '../types';
import { ensureAttributes } from './attributes';
import { check } from './check';
import { type ActitoConnection, type ActitoOptions, connectionSchema, optionsFor } from './config';
import { importQuota } from './quota';
import { METHOD_BULK, METHOD_SINGLE, planWrites, pollChunk, writeChunk } from './writer';
import { STANDARD_MODES } from '../../common/sync-modes';

import { SyncError } from '../../common/errors';
import { envName } from '../connections';
import type { Ctx } from './context';

export type { ActitoConnection } from './config';

/**
 * The client knows the API key, not whose it is: a refused key (AUTH_FAILED) is told again naming the
 * activation, its connection and where that connection comes from, as Salesforce's refusal does.
 */
function namingAuth<A extends unknown[], R>(f: (ctx: Ctx, ...rest: A) => Promise<R>): (ctx: Ctx, ...rest: A) => Promise<R> {
  return async (ctx, ...rest) => {
    try {
      return await f(ctx, ...rest);
    } catch (e) {
      if (!(e instanceof SyncError) || e.code !== 'AUTH_FAILED' || e.details?.refusedKey !== true) throw e;
      const conn = ctx.destination.connection;
      const why = typeof e.details?.why === 'string' ? ` (${e.details.why})` : '';
      throw new SyncError(
        'AUTH_FAILED',
        `Activation "${ctx.activationId}": Actito refused the API key of connection "${conn}"${why}. ` +
          `Check the key (${envName(conn)}, or "connections" in the file SYNCLINE_SECRETS_FILE names), and that it belongs to the environment host in the connection.`,
        { retryable: e.retryable, details: { ...e.details, refusedKey: false }, cause: e },
      );
    }
  };
}

export const actitoConnector: DestinationConnector<ActitoConnection, ActitoOptions> = {
  kind: 'actito',
  connectionSchema,
  optionsSchema: optionsFor,
  address: { field: 'table', label: 'Actito custom table' },
  modes: STANDARD_MODES,
  methods: {
    [METHOD_SINGLE]: { async: false, description: 'one call per record, at most maxInFlight at once' },
    [METHOD_BULK]: { async: true, description: 'a bulk import (ETL execution) per chunk, profiles first when managed' },
  },
  check: namingAuth(check),
  ensureAttributes: namingAuth(ensureAttributes),
  planWrites,
  writeChunk: namingAuth(writeChunk),
  pollChunk: namingAuth(pollChunk),
  /**
   * Bulk imports used today on the custom table, or on the profile table when the activation writes profiles
   * and fewer are left there, against the allowance (per day minus reserve). Read after every run in a local
   * activity: from Postgres only, never from Actito (quota.ts importQuota).
   */
  quota: importQuota,
};
