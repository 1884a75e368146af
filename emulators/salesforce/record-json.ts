/** Renders stored records as REST JSON (`attributes` + fields), used by retrieve, query and admin. */
import { field, fieldIndex } from './schema';
import type { ObjectDef } from './schema-types';
import type { Rec } from './store';

export function recordUrl(version: string, def: ObjectDef, id: string): string {
  return `/services/data/v${version}/sobjects/${def.name}/${id}`;
}

/** Unknown names in `fields` are reported back so callers can answer INVALID_FIELD. */
export function unknownFields(def: ObjectDef, fields: string[]): string[] {
  return fields.filter((f) => !field(def, f));
}

export function renderRecord(version: string, def: ObjectDef, rec: Rec, fields?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: { type: def.name, url: recordUrl(version, def, rec.id) } };
  if (fields) {
    for (const f of fields) {
      const i = fieldIndex(def, f);
      const name = def.fields[i ?? -1]?.name;
      if (i !== undefined) out[name ?? f] = name === 'IsDeleted' ? rec.deleted : (rec.values[i] ?? null);
    }
    return out;
  }
  def.fields.forEach((fd, i) => {
    out[fd.name] = fd.name === 'IsDeleted' ? rec.deleted : (rec.values[i] ?? null);
  });
  return out;
}
