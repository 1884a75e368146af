/** The destination contract suite (connectors/kit/testing/contract.ts) against the in-process Salesforce emulator. */
import { startSalesforceEmulator } from '../../emulators/salesforce/server';
import { describeDestinationContract } from '../kit/testing/contract';
import type { FieldSpec, SyncMode } from '../types';
import { resetClients } from './client';
import type { SalesforceConnection, SalesforceOptions } from './config';
import { salesforceConnector } from './index';

let emu: Awaited<ReturnType<typeof startSalesforceEmulator>>;
const admin = async (method: string, path: string, body?: unknown): Promise<any> => {
  const res = await fetch(`${emu.url}/__admin${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return text ? JSON.parse(text) : null;
};
const connection = (clientSecret = 'syncline-demo-secret'): SalesforceConnection => ({
  auth: 'client_credentials',
  loginUrl: emu.url,
  clientId: 'syncline-demo-client',
  clientSecret,
});
const spec = (to: string, o: Partial<FieldSpec> = {}): FieldSpec => ({ from: to.toLowerCase(), to, pgType: 'text', isKey: false, ...o });
// Insert sends a changed row as a new record carrying the same key, so it keys on a field that is not unique.
const keyOf = (mode: SyncMode) => (mode === 'insert' ? 'Department' : 'External_Id__c');
const ARMED = ['serverError', 'dropResponseAfterCommit'];
const paths = (method: string) => (method === 'bulk2' ? 'bulk' : 'composite');

describeDestinationContract<SalesforceConnection, SalesforceOptions>({
  connector: salesforceConnector,
  start: async () => {
    emu = await startSalesforceEmulator();
  },
  stop: () => emu.close(),
  reset: async () => {
    resetClients();
    await admin('POST', '/reset');
  },
  connection: () => connection(),
  refusedConnection: () => connection('wrong'),
  address: 'Contact',
  missingAddress: 'Contakt',
  mapping: (mode) => ({ key: keyOf(mode), fields: [spec(keyOf(mode), { isKey: true, from: 'id' }), spec('LastName'), spec('Email')] }),
  values: (mode, key, version) => ({ [keyOf(mode)]: key, LastName: `v${version}`, Email: `${key.toLowerCase()}@example.com` }),
  records: async () =>
    ((await admin('GET', '/records/Contact')) as Array<Record<string, string | null>>).map((r) => ({
      key: String(r.External_Id__c ?? r.Department),
      version: Number(String(r.LastName).slice(1)),
    })),
  fieldItCannotTake: spec('No_Such_Field__c'),
  optionsFor: (method) => (method === 'bulk2' ? { bulkThreshold: 1, bulkPollMs: 20 } : { bulkPollMs: 20 }),
  refuse: async (mode, key) => ({ [keyOf(mode)]: key, LastName: 'v1', Email: 'not-an-email' }),
  failOnce: async (method) => {
    await admin('POST', '/faults', { serverError: { count: 1, status: 503, paths: paths(method) } });
  },
  loseAnswer: async (method) => {
    await admin('POST', '/faults', { dropResponseAfterCommit: { count: 1, paths: paths(method) } });
  },
  armed: async () => {
    const faults = (await admin('GET', '/faults')) as Record<string, { count?: number } | undefined>;
    return ARMED.reduce((n, k) => n + (faults[k]?.count ?? 0), 0);
  },
  invalidOption: { name: 'bulkThreshold', value: -1 },
});
