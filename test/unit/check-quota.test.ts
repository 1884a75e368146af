/**
 * checkQuota's answer travels through Temporal as a payload (a local activity's result): whatever the
 * connector returns beside its figures (Salesforce once returned its API client) must not go with them.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { Kysely, PostgresDialect } from 'kysely';
import { checkQuota } from '../../activities/notify';
import type { SynclineDeps } from '../../activities/deps';
import { parseActivationConfig } from '../../common/config';
import { testdbConnector } from '../support/testdb-connector';

/** An API client: circular, with methods, as a connector's client object is. */
class ApiClient {
  self = this;
  request(): void {}
}

test('a connector that returns more than its quota figures: checkQuota answers { used, max } only, a plain payload', async () => {
  const connector = { ...testdbConnector, quota: async () => Object.assign({ used: 120, max: 15_000 }, { client: new ApiClient() }) };
  const deps = {
    db: new Kysely<any>({ dialect: new PostgresDialect({ pool: {} as never }) }),
    connectors: new Map([['testdb', connector]]),
    resolveConnection: () => ({ url: 'postgres://unused' }),
  } as unknown as SynclineDeps;
  const parsed = parseActivationConfig({
    id: 'contacts',
    mode: 'upsert',
    source: { sql: 'SELECT * FROM contacts', key: 'id' },
    destination: { kind: 'testdb', connection: 'dest', object: 'contacts', key: 'id' },
    mappings: [{ from: 'email', to: 'email' }],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const quota = await checkQuota(deps, { config: parsed.config });
  expect(quota).toStrictEqual({ used: 120, max: 15_000 });
  expect(defaultPayloadConverter.fromPayload(defaultPayloadConverter.toPayload(quota))).toStrictEqual({ used: 120, max: 15_000 });
});
