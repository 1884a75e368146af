/**
 * Record types, set up over `POST /__admin/recordTypes/{Object}` like the rest of the org's configuration.
 * An object has a `RecordTypeId` field (and describe lists `recordTypeInfos`) only once it has record types,
 * as in an org. A write of a RecordTypeId that is not one of the object's active record types available to
 * the user fails like Salesforce: INVALID_CROSS_REFERENCE_KEY "Record Type ID: this ID value isn't valid
 * for the user". Record types are configuration, not data: `/__admin/reset` keeps them.
 */
import { sfError, type SfError } from './errors';
import { f } from './schema-fields';
import type { FieldDef, ObjectDef } from './schema-types';

export interface RecordTypeDef {
  id: string;
  object: string;
  developerName: string;
  name: string;
  active: boolean;
  /** Assigned to the integration user's profile or a permission set of theirs. */
  available: boolean;
}

/** The master record type every object with record types has (its Id is the same in every org). */
export const MASTER_RECORD_TYPE_ID = '012000000000000AAA';

export class RecordTypes {
  readonly byId = new Map<string, RecordTypeDef>();
  /** The RecordTypeId field added to each object, so a reference check knows which object it belongs to. */
  private readonly fieldOwner = new Map<FieldDef, string>();

  add(def: ObjectDef, input: Partial<RecordTypeDef> & { developerName: string }, newId: () => string): RecordTypeDef {
    this.ensureField(def);
    const existing = this.of(def.name).find((r) => r.developerName.toLowerCase() === input.developerName.toLowerCase());
    const rt: RecordTypeDef = {
      id: existing?.id ?? newId(),
      object: def.name,
      developerName: input.developerName,
      name: input.name ?? input.developerName,
      active: input.active ?? true,
      available: input.available ?? true,
    };
    this.byId.set(rt.id, rt);
    return rt;
  }

  of(object: string): RecordTypeDef[] {
    return [...this.byId.values()].filter((r) => r.object.toLowerCase() === object.toLowerCase());
  }

  isRecordTypeField(fd: FieldDef): boolean {
    return this.fieldOwner.has(fd);
  }

  /** The reference check for RecordTypeId (the generic one knows only registry objects). */
  check(fd: FieldDef, id: string): SfError | null {
    const rt = this.byId.get(id);
    const owner = this.fieldOwner.get(fd);
    if (!rt || rt.object !== owner || !rt.active || !rt.available) {
      return sfError('INVALID_CROSS_REFERENCE_KEY', `Record Type ID: this ID value isn't valid for the user: ${id}`, [fd.name]);
    }
    return null;
  }

  /** Describe's `recordTypeInfos`: the master first, then the object's record types. */
  infos(object: string): Array<Record<string, unknown>> {
    const rts = this.of(object);
    if (rts.length === 0) return [];
    const info = (id: string, developerName: string, name: string, active: boolean, available: boolean, master: boolean) => ({
      active,
      available,
      defaultRecordTypeMapping: master,
      developerName,
      master,
      name,
      recordTypeId: id,
      urls: { layout: `/services/data/v62.0/sobjects/${object}/describe/layouts/${id}` },
    });
    return [
      info(MASTER_RECORD_TYPE_ID, 'Master', 'Master', true, true, true),
      ...rts.map((r) => info(r.id, r.developerName, r.name, r.active, r.available, false)),
    ];
  }

  private ensureField(def: ObjectDef): void {
    if (def.index.has('recordtypeid')) return;
    const fd = f.ref('RecordTypeId', 'Record Type ID', 'RecordType', 'RecordType');
    // Appended: stored records keep their positions and read the new field as null.
    def.fields.push(fd);
    def.index.set('recordtypeid', def.fields.length - 1);
    def.relationships.set('recordtype', def.fields.length - 1);
    this.fieldOwner.set(fd, def.name);
  }
}
