/** The store's lookup indexes stay in step with updates, including ones that change no indexed field, and with rollbacks. */
import { fieldIndex, SchemaRegistry } from './schema';
import { ObjectStore, type UndoLog } from './store';
import type { StoredValue } from './schema-types';

const def = new SchemaRegistry().get('Contact')!;
const EXT = fieldIndex(def, 'External_Id__c')!;
const EMAIL = fieldIndex(def, 'Email')!;
const LAST = fieldIndex(def, 'LastName')!;

function rec(id: string, ext: string, email: string) {
  const values: StoredValue[] = def.fields.map(() => null);
  values[EXT] = ext;
  values[EMAIL] = email;
  values[LAST] = 'Doe';
  return { id, values, deleted: false };
}
const withValue = (values: StoredValue[], i: number, v: StoredValue) => values.map((x, k) => (k === i ? v : x));

test('an update that changes no indexed field keeps every lookup; one that does moves it', () => {
  const store = new ObjectStore(def);
  const a = rec('003A', 'E-1', 'a@example.com');
  const b = rec('003B', 'E-2', 'shared@example.com');
  const c = rec('003C', 'E-3', 'shared@example.com');
  for (const r of [a, b, c]) store.insert(r);

  store.replace(a, withValue(a.values, LAST, 'Smith'));
  expect(store.find(EXT, 'e-1')).toEqual(['003A']);
  expect(store.find(EMAIL, 'A@example.com')).toEqual(['003A']);

  store.replace(a, withValue(a.values, EXT, 'E-9'));
  expect(store.find(EXT, 'E-1')).toEqual([]);
  expect(store.find(EXT, 'E-9')).toEqual(['003A']);

  // A key two records share: one of them moves away, the other stays found; an emptied value leaves the index.
  store.replace(b, withValue(b.values, EMAIL, 'b@example.com'));
  expect(store.find(EMAIL, 'shared@example.com')).toEqual(['003C']);
  expect(store.find(EMAIL, 'b@example.com')).toEqual(['003B']);
  store.replace(c, withValue(c.values, EMAIL, ''));
  expect(store.find(EMAIL, 'shared@example.com')).toEqual([]);
});

test('a rolled-back update restores the lookups it moved', () => {
  const store = new ObjectStore(def);
  const a = rec('003A', 'E-1', 'a@example.com');
  store.insert(a);
  const undo: UndoLog = [];
  store.replace(a, withValue(withValue(a.values, EXT, 'E-2'), LAST, 'Smith'), undo);
  expect(store.find(EXT, 'E-2')).toEqual(['003A']);
  for (const u of undo.reverse()) u();
  expect(store.find(EXT, 'E-1')).toEqual(['003A']);
  expect(store.find(EXT, 'E-2')).toEqual([]);
  expect(a.values[LAST]).toBe('Doe');
});
