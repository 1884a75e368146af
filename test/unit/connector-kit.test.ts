/**
 * The connector kit's edge (connectors/kit/destination.ts): what a connector declares, applied to stored
 * activation documents; and the rule that the core does not name destinations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseActivationConfig, type ActivationConfig } from '../../common/config';
import { SyncError } from '../../common/errors';
import { STANDARD_MODES } from '../../common/sync-modes';
import { modeRowsOf, resolveDestination } from '../../connectors/kit/destination';
import { builtInConnectors } from '../../connectors/registry';
import type { DestinationConnector } from '../../connectors/types';
import { salesforceConnector } from '../../connectors/salesforce';
import { actitoConnector } from '../../connectors/actito';
import type { ActitoConnection } from '../../connectors/actito/config';

const stored = (destination: Record<string, unknown>, mode = 'upsert'): ActivationConfig => {
  const r = parseActivationConfig({
    id: 'stored',
    mode,
    source: { table: 'people', key: 'id' },
    destination,
    mappings: [{ from: 'email', to: 'Email' }],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
};
const resolve = <C, O>(connector: DestinationConnector<C, O>, config: ActivationConfig, connection: C) =>
  resolveDestination(connector, { activationId: config.id, destination: config.destination, mode: config.mode, connection });
const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
};

describe('documents stored before the kit resolve as before', () => {
  test('Salesforce by destination.object, its options parsed with their defaults', () => {
    const config = stored({
      kind: 'salesforce',
      connection: 'sf',
      object: 'Contact',
      key: 'External_Id__c',
      options: { bulkThreshold: 50 },
    });
    const r = resolve(salesforceConnector, config, { auth: 'token', instanceUrl: 'https://x.my.salesforce.com', accessToken: 't' });
    expect(r.address).toBe('Contact');
    expect(r.options).toMatchObject({ bulkThreshold: 50, collectionsChunkSize: 2000, insertTokenField: 'Syncline_Token__c' });
  });

  test('Actito by destination.table; "nulls" follows the connection as before', () => {
    const config = stored({ kind: 'actito', connection: 'actito', table: 'orders', key: 'orderId' });
    const conn = (emptyOnUpdate: 'keep' | 'clear') => ({ emptyOnUpdate }) as ActitoConnection;
    expect(resolve(actitoConnector, config, conn('keep'))).toMatchObject({
      address: 'orders',
      options: { bulkThreshold: 5000, nulls: 'skip' },
    });
    expect(resolve(actitoConnector, config, conn('clear')).options.nulls).toBe('send');
  });

  test('each mode sends the same changes as the ops it did (Salesforce Insert sends changed rows as new records)', () => {
    expect(modeRowsOf(salesforceConnector, 'a', 'insert')).toEqual([
      { change: 'added', op: 'create' },
      { change: 'changed', op: 'create' },
    ]);
    expect(modeRowsOf(actitoConnector, 'a', 'insert')).toEqual([{ change: 'added', op: 'create' }]);
    for (const c of builtInConnectors()) {
      expect(modeRowsOf(c, 'a', 'mirror')).toEqual([
        { change: 'added', op: 'upsert' },
        { change: 'changed', op: 'upsert' },
        { change: 'removed', op: 'delete' },
      ]);
      expect(modeRowsOf(c, 'a', 'update')).toEqual([
        { change: 'added', op: 'update' },
        { change: 'changed', op: 'update' },
      ]);
    }
  });
});

describe('what the connector declares is enforced at the edge', () => {
  const upsertOnly: DestinationConnector<unknown, { size: number }> = {
    kind: 'tiny',
    connectionSchema: z.unknown(),
    optionsSchema: z.object({ size: z.number().int().positive().default(10) }).strict(),
    address: { field: 'table', label: 'tiny table' },
    modes: { upsert: STANDARD_MODES.upsert },
    methods: { rows: { async: false, description: 'rows' } },
    check: async () => ({ skippedFields: [], missingAttributes: [], warnings: [] }),
    planWrites: async () => ({ method: 'rows', chunkSize: 10 }),
    writeChunk: async () => ({ status: 'done' }),
  };

  test('the wrong address field, bad options and an unsupported mode: one CONFIG_INVALID naming each', () => {
    const config = stored({ kind: 'tiny', connection: 'c', object: 'x', key: 'id', options: { size: 0, colour: 'red' } }, 'mirror');
    const err = thrown(() => resolve(upsertOnly, config, null));
    expect(err).toBeInstanceOf(SyncError);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', retryable: false });
    const message = (err as Error).message;
    expect(message).toContain('activation "stored"');
    expect(message).toMatch(/destination\.options\.size: .*\n/);
    expect(message).toContain('destination.options: Unrecognized key: "colour"');
    expect(message).toContain(
      'destination.table: a tiny destination is named by "destination.table" (the tiny table), not "destination.object"',
    );
    expect(message).toContain('mode: tiny does not support mode "mirror" (supported: upsert)');
    expect(thrown(() => modeRowsOf(upsertOnly, 'stored', 'mirror'))).toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('the core does not name destinations', () => {
  const root = path.resolve(__dirname, '../..');
  const files = (dir: string): string[] =>
    fs
      .readdirSync(path.join(root, dir), { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
  const kinds = builtInConnectors().map((c) => c.kind);

  test('common/ mentions no built-in destination, not even in a comment', () => {
    for (const file of files('common')) {
      const text = fs.readFileSync(path.join(root, file), 'utf8').toLowerCase();
      expect({ file, named: kinds.filter((k) => text.includes(k)) }).toEqual({ file, named: [] });
    }
  });

  test('the runtime (activities/, workflows/, db/) branches on no destination kind', () => {
    for (const file of [...files('activities'), ...files('workflows'), ...files('db')]) {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      expect({ file, named: kinds.filter((k) => new RegExp(`['"\`]${k}['"\`]`, 'i').test(text)) }).toEqual({ file, named: [] });
    }
  });
});
