/** Model columns named like the columns syncline adds to a run's rows are refused at validation, by name. */
import { buildFields } from '../../activities/prepare';
import { parseActivationConfig } from '../../common/config';
import { SyncError } from '../../common/errors';

function config(key: string, from: string) {
  const p = parseActivationConfig({
    id: 'contacts',
    mode: 'upsert',
    schedule: { manual: true },
    source: { sql: 'SELECT 1', key },
    destination: { kind: 'testdb', connection: 'testdb', object: 'contacts', key: 'ext_id' },
    mappings: [{ from, to: 'Flag' }],
  });
  if (!p.ok) throw new Error(JSON.stringify(p.problems));
  return p.config;
}

const columns = (...names: string[]) => new Map(names.map((n) => [n, 'text']));

test('a mapped model column named like a column syncline adds ("__change") is refused before any row is read, naming it and what to do', () => {
  let err: unknown;
  try {
    buildFields(config('id', '__change'), columns('id', '__change'));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SyncError);
  expect(err).toMatchObject({ code: 'CONFIG_INVALID', retryable: false });
  expect((err as Error).message).toMatch(/activation "contacts": the model column "__change" .*rename it in the model/);
});

test('so is a key column named "__key"; other names starting with "__" are the model\'s own', () => {
  expect(() => buildFields(config('__key', 'flag'), columns('__key', 'flag'))).toThrow(/"__key"/);
  expect(buildFields(config('id', '__flag'), columns('id', '__flag')).map((f) => f.from)).toEqual(['id', '__flag']);
});

test('so are the names a chunk page or a plan sample gives the run\'s own fields (a model "__seq" would replace the seq a chunk pages on)', () => {
  for (const name of ['__seq', '__op', '__token', '__has'])
    expect(() => buildFields(config('id', name), columns('id', name))).toThrow(new RegExp(`"${name}"`));
});
