import { parseActivationConfig, type ActivationConfig } from '../../common/config';
import { planConfigUpdate } from '../../common/config-change';

const base = {
  id: 'contacts',
  mode: 'upsert',
  source: { sql: 'SELECT * FROM contacts', key: 'id' },
  destination: { kind: 'testdb', connection: 't', object: 'Contact', key: 'ext_id' },
  mappings: [{ from: 'email', to: 'Email' }],
};
function config(extra: Record<string, unknown> = {}): ActivationConfig {
  const r = parseActivationConfig({ ...base, ...extra });
  if (!r.ok) throw new Error('invalid test document');
  return r.config;
}

describe('what a mode change means for the data', () => {
  test('to Mirror: the keys synced before that left the model are deleted, under the guard', () => {
    const plan = planConfigUpdate(config(), config({ mode: 'mirror' }), 200);
    expect(plan.changes).toEqual([{ path: 'mode', before: 'upsert', after: 'mirror' }]);
    expect(plan.consequences.join('\n')).toContain(
      'the next run deletes the synced keys the model no longer has, those that left it before this change too',
    );
    expect(plan.consequences.join('\n')).toContain('more than 10% of the 200 synced rows');
  });

  test('from Mirror: nothing is deleted from now on', () => {
    const plan = planConfigUpdate(config({ mode: 'mirror' }), config(), 200);
    expect(plan.consequences.join('\n')).toContain('nothing is deleted from now on');
  });

  test('another mode: unchanged rows are not sent again', () => {
    const plan = planConfigUpdate(config({ mode: 'insert' }), config(), 200);
    expect(plan.consequences.join('\n')).toContain('rows unchanged since the last run are not sent again');
  });
});

describe('what a key change means for the data', () => {
  test('the model key alone: the same object keeps the records of the old keys, and Mirror never deletes them', () => {
    const next = config({ mode: 'mirror', source: { ...base.source, key: 'customer_id' } });
    const plan = planConfigUpdate(config({ mode: 'mirror' }), next, 50);
    expect(plan.retarget).toBe(true);
    expect(plan.consequences[0]).toContain('the same object or table');
    expect(plan.consequences[0]).toContain('a record whose destination key value changes is written again as a new record');
    expect(plan.consequences[0]).toContain('the records of the old values stay');
  });
});

test("a mapping's attribute type alone is not in any row's content: no row is sent again, Insert asks nothing", () => {
  const typed = (type: string) => config({ mode: 'insert', mappings: [{ from: 'email', to: 'Email', type }] });
  const plan = planConfigUpdate(typed('STRING'), typed('TEXT'), 30);
  expect(plan.changes).toEqual([{ path: 'mappings[to=Email].type', before: 'STRING', after: 'TEXT' }]);
  expect(plan.resend).toBe(false);
  expect(plan.duplicatesRecords).toBe(false);
  expect(plan.consequences.join('\n')).toContain('attribute type');
});

test('a mapping change before any row was synced says so, not "sends all 0 synced rows again"', () => {
  const plan = planConfigUpdate(
    config(),
    config({
      mappings: [
        { from: 'email', to: 'Email' },
        { from: 'city', to: 'City' },
      ],
    }),
    0,
  );
  expect(plan.resend).toBe(true);
  expect(plan.consequences).toEqual([
    'the mapping changes the content of every row: no row is synced yet, so the next run sends every model row with the new mapping',
  ]);
});
