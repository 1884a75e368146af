import { modeRows, modeTableFor } from '../../common/sync-modes';

describe('sync-mode table', () => {
  test('Salesforce Insert sends added and changed rows as new records; Actito Insert only added rows', () => {
    expect(modeRows('salesforce', 'insert')).toEqual([{ change: 'added', op: 'create' }, { change: 'changed', op: 'create' }]);
    expect(modeRows('actito', 'insert')).toEqual([{ change: 'added', op: 'create' }]);
  });
  test('Update never creates, Upsert never deletes, only Mirror deletes', () => {
    for (const kind of ['salesforce', 'actito', 'other']) {
      const t = modeTableFor(kind);
      expect(Object.values(t.update)).toEqual(['update', 'update']);
      expect(t.upsert.removed).toBeUndefined();
      expect(t.mirror.removed).toBe('delete');
      expect(Object.entries(t).filter(([, row]) => Object.values(row).includes('delete')).map(([m]) => m)).toEqual(['mirror']);
    }
  });
});
