/** The destination contract suite (connectors/kit/testing/contract.ts) against the in-process Actito emulator. */
import { type ActitoEmulator, startActitoEmulator } from '../../emulators/actito/server';
import { describeDestinationContract } from '../kit/testing/contract';
import type { FieldSpec } from '../types';
import { clientFor } from './client';
import { type ActitoConnection, type ActitoOptions, connectionSchema } from './config';
import { actitoConnector } from './index';
import { emulatorAdmin } from './test-harness';

let emu: ActitoEmulator;
let conn: ActitoConnection;
const admin = emulatorAdmin(() => emu.url);
const spec = (from: string, to: string, pgType = 'text', o: Partial<FieldSpec> = {}): FieldSpec => ({
  from,
  to,
  pgType,
  isKey: false,
  ...o,
});
const FIELDS = [
  spec('order_id', 'orderId', 'text', { isKey: true }),
  spec('customer_id', 'customerId'),
  spec('status', 'status'),
  spec('note', 'note'),
];
const ARMED = ['serverError', 'dropResponse'];

describeDestinationContract<ActitoConnection, ActitoOptions>({
  connector: actitoConnector,
  start: async () => {
    emu = await startActitoEmulator({ callsPerMinute: 1_000_000, bulkProcessingDelayMs: 10 });
    conn = connectionSchema.parse({ apiKey: emu.apiKey, baseUrl: emu.url, entity: emu.entity });
    clientFor(conn).backoffMs = 5;
  },
  stop: () => emu.close(),
  reset: async () => {
    await admin('POST', '/reset');
    // Orders refer to a profile by customerId (a foreign key the emulator enforces).
    emu.state.profiles.insert({ customerId: 'C0', emailAddress: 'c0@example.com' });
  },
  connection: () => conn,
  refusedConnection: () => connectionSchema.parse({ ...conn, apiKey: 'wrong' }),
  address: 'orders',
  missingAddress: 'nope',
  mapping: () => ({ key: 'orderId', fields: FIELDS }),
  values: (_mode, key, version) => ({ orderId: key, customerId: 'C0', status: 'PAID', note: `v${version}` }),
  records: async () =>
    ((await admin('GET', '/tables/orders/records?limit=10000')).records as Array<Record<string, unknown>>).map((r) => ({
      key: String(r.orderId),
      version: Number(String(r.note).slice(1)),
    })),
  fieldItCannotTake: spec('channel', 'contractChannel'),
  optionsFor: (method) => (method === 'bulk' ? { bulkThreshold: 1, pollAfterMs: 10 } : { pollAfterMs: 10 }),
  refuse: async (_mode, key) => ({ orderId: key, customerId: 'C0', status: 'BOGUS', note: 'v1' }),
  failOnce: async (method) => {
    await admin('POST', '/faults', {
      serverError:
        method === 'bulk' ? { count: 1, status: 503, path: '/etl-executions', method: 'POST' } : { count: 1, status: 503, path: '/record' },
    });
  },
  loseAnswer: async (method) => {
    await admin('POST', '/faults', { dropResponse: { count: 1, path: method === 'bulk' ? 'etl-executions' : '/record' } });
  },
  armed: async () => {
    const faults = (await admin('GET', '/faults')).faults as Record<string, { count?: number } | undefined>;
    return ARMED.reduce((n, k) => n + (faults[k]?.count ?? 0), 0);
  },
  invalidOption: { name: 'bulkThreshold', value: -1 },
});
