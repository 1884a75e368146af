import { STANDARD_MODES, modeRows } from '../../common/sync-modes';
import { builtInConnectors } from '../../connectors/registry';
import { salesforceConnector } from '../../connectors/salesforce';
import { actitoConnector } from '../../connectors/actito';
import { testdbConnector } from '../support/testdb-connector';

describe('sync-mode table', () => {
  test('Salesforce Insert sends added and changed rows as new records; Actito Insert only added rows', () => {
    expect(modeRows(salesforceConnector.modes.insert!)).toEqual([
      { change: 'added', op: 'create' },
      { change: 'changed', op: 'create' },
    ]);
    expect(modeRows(actitoConnector.modes.insert!)).toEqual([{ change: 'added', op: 'create' }]);
  });
  test('Update never creates, Upsert never deletes, only Mirror deletes', () => {
    for (const modes of [...builtInConnectors().map((c) => c.modes), testdbConnector.modes, STANDARD_MODES]) {
      expect(Object.values(modes.update!)).toEqual(['update', 'update']);
      expect(modes.upsert!.removed).toBeUndefined();
      expect(modes.mirror!.removed).toBe('delete');
      expect(
        Object.entries(modes)
          .filter(([, row]) => Object.values(row).includes('delete'))
          .map(([m]) => m),
      ).toEqual(['mirror']);
    }
  });
});
