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

export type { ActitoConnection } from './config';

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
  check,
  ensureAttributes,
  planWrites,
  writeChunk,
  pollChunk,
  /**
   * Bulk imports used today on the custom table, or on the profile table when the activation writes profiles
   * and fewer are left there, against the allowance (per day minus reserve). Read after every run in a local
   * activity: from Postgres only, never from Actito (quota.ts importQuota).
   */
  quota: importQuota,
};
