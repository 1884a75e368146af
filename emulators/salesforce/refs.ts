/** Reference checks for lookup fields: key prefix, existence, and parent lookup by external id. */
import { sfError } from './errors';
import { field, fieldIndex } from './schema';
import type { FieldDef } from './schema-types';
import type { EmulatorState } from './state';
import type { RefResolver } from './validate';

const USER_PREFIX = '005';

export function refResolver(state: EmulatorState): RefResolver {
  return {
    checkReference(fd: FieldDef, id: string) {
      if (state.recordTypes.isRecordTypeField(fd)) return state.recordTypes.check(fd, id);
      const target = state.registry.get(fd.referenceTo[0] ?? '');
      const expected = target ? target.keyPrefix : USER_PREFIX;
      if (id.slice(0, 3) !== expected) {
        return sfError('FIELD_INTEGRITY_EXCEPTION', `${fd.label}: id value of incorrect type: ${id}`, [fd.name]);
      }
      if (!target) return null; // Users are not modelled; any well-formed 005 id is accepted.
      const rec = state.store(target).get(id);
      if (!rec) return sfError('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', [fd.name]);
      if (rec.deleted) return sfError('ENTITY_IS_DELETED', 'entity is deleted', [fd.name]);
      return null;
    },
    resolveParent(fd: FieldDef, extField: string, value: string) {
      const target = state.registry.get(fd.referenceTo[0] ?? '');
      const key = target ? field(target, extField) : undefined;
      const keyIdx = target ? fieldIndex(target, extField) : undefined;
      if (!target || !key || keyIdx === undefined || !(key.externalId || key.idLookup)) {
        return {
          error: sfError(
            'INVALID_FIELD',
            `Field name provided, ${extField} is not an External ID or indexed field for ${target?.name ?? fd.referenceTo[0] ?? ''}`,
            [fd.name],
          ),
        };
      }
      const ids = state.store(target).find(keyIdx, value);
      if (ids.length === 0) {
        return {
          error: sfError('INVALID_FIELD', `Foreign key external ID: ${value} not found for field ${key.name} in entity ${target.name}`, [
            fd.name,
          ]),
        };
      }
      if (ids.length > 1) {
        return {
          error: sfError('DUPLICATE_EXTERNAL_ID', `${key.label}: more than one record found for external id field: [${ids.join(', ')}]`, [
            fd.name,
          ]),
        };
      }
      return { id: ids[0] as string };
    },
  };
}
