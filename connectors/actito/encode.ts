/** OutRow -> the values Actito receives: record properties, profile attributes, CSV cells. */
import type { FieldSpec, OutRow } from '../types';
import type { ActitoOptions } from './config';
import { splitFields, type Tables } from './context';
import { csvLine } from './csv';
import { csvText, encodeValue, type EncodeTarget, isCompatible, plainTextMax } from './mapping';
import type { Properties, Scalar } from './routes';
import type { TableInfo } from './structure';

interface Column extends EncodeTarget {
  /** Key in OutRow.values (the mapping's `to`). */
  from: string;
  /** Attribute name in Actito. */
  name: string;
}

export interface Encoded {
  record: Properties;
  profile: Properties;
  /** Value of the custom table's key attribute, as sent (path segment / CSV key). */
  key: string;
  /** Value the profile is matched on, or null when the row names no profile. */
  match: string | null;
}

/** Encodes rows for one table pair; built once per chunk. */
export class RowEncoder {
  readonly recordColumns: Column[];
  readonly profileColumns: Column[];
  /** The field (key of OutRow.values) whose value matches a row to its profile, or null. */
  readonly matchFrom: string | null;

  constructor(
    fields: FieldSpec[],
    tables: Tables,
    private readonly opts: ActitoOptions,
    private readonly keyAttribute: string,
  ) {
    const { record, profile } = splitFields(fields);
    // Fields check reported as skipped (incompatibleFields: "skip") are never sent, even if the runtime passes them.
    const sendable = (f: FieldSpec): boolean => {
      const a = tables.table.attributes.get(f.to);
      return f.isKey || !a || opts.incompatibleFields === 'fail' || isCompatible(a.valueType, f.pgType);
    };
    this.recordColumns = record.filter(sendable).map((f) => column(f, f.to, tables.table));
    this.profileColumns = tables.profileTable ? profile.map((f) => column(f, f.attribute, tables.profileTable as TableInfo)) : [];
    const m = opts.profiles?.matchAttribute;
    const direct = this.profileColumns.find((c) => c.name === m);
    const fk = tables.table.foreignKeys.find(
      (k) => k.tableType === 'PROFILE_TABLE' && k.refAttribute === m && this.recordColumns.some((c) => c.name === k.attribute),
    );
    this.matchFrom = direct ? direct.from : fk ? fk.attribute : null;
  }

  /** The encoded row, or the reason it cannot be sent. */
  encode(row: OutRow): { ok: true; value: Encoded } | { ok: false; message: string } {
    const record: Properties = [];
    const profile: Properties = [];
    for (const [cols, out] of [
      [this.recordColumns, record],
      [this.profileColumns, profile],
    ] as const) {
      for (const c of cols) {
        const e = encodeValue(row.values[c.from], c);
        if (!e.ok) return { ok: false, message: `${c.name}: ${e.message}` };
        // Empty text is no value, as NULL is: Actito keeps no empty string (an empty cell is all an
        // import can carry), so both follow the `nulls` option alike.
        const value = e.value === '' ? null : e.value;
        if (value === null && this.opts.nulls === 'skip') continue;
        out.push({ name: c.name, value });
      }
    }
    const keyProp = record.find((p) => p.name === this.keyAttribute);
    const key = keyProp && keyProp.value !== null ? String(keyProp.value) : row.key;
    const raw = this.matchFrom ? row.values[this.matchFrom] : null;
    const match = raw === null || raw === undefined || raw === '' ? null : String(raw);
    if (this.opts.profiles && match !== null && !profile.some((p) => p.name === this.opts.profiles?.matchAttribute)) {
      profile.unshift({ name: this.opts.profiles?.matchAttribute ?? '', value: match });
    }
    return { ok: true, value: { record, profile, key, match } };
  }

  /**
   * The records file's line for a row, cells in `header`'s order: byte for byte what `encode` and
   * bulk-file.ts `lineEncoder(header)` of its `record` write (csv.test.ts compares them), without the
   * properties in between. A row `encode` refuses (a record or a profile column's value) gets its message.
   */
  recordLine(header: readonly string[]): (row: OutRow) => RecordLine {
    const cols = this.recordColumns;
    const profile = this.profileColumns;
    // Each column's header positions, found once; a name given twice keeps the last value written.
    const at = cols.map((c) => header.flatMap((h, i) => (h === c.name ? [i] : [])));
    // A text within this length is its own cell (mapping.ts plainTextMax); other values go through encodeValue.
    const plain = cols.map(plainTextMax);
    const skip = this.opts.nulls === 'skip';
    const cells = new Array<string>(header.length);
    return (row) => {
      cells.fill('');
      for (let j = 0; j < cols.length; j++) {
        const c = cols[j]!;
        const v = row.values[c.from];
        let text: string;
        if (typeof v === 'string' && v.length <= plain[j]!) text = v;
        else {
          const e = encodeValue(v, c);
          if (!e.ok) return { message: `${c.name}: ${e.message}` };
          text = csvText(e.value);
        }
        // As encode: empty text is no value, as NULL is; both are skipped or sent as an empty cell.
        if (text === '' && skip) continue;
        const to = at[j]!;
        for (let k = 0; k < to.length; k++) cells[to[k]!] = text;
      }
      for (const c of profile) {
        const e = encodeValue(row.values[c.from], c);
        if (!e.ok) return { message: `${c.name}: ${e.message}` };
      }
      return csvLine(cells);
    };
  }
}

/** A records file's line (CRLF included), or why the row cannot be sent (`encode`'s message). */
export type RecordLine = string | { message: string };

function column(f: FieldSpec, name: string, table: TableInfo): Column {
  const a = table.attributes.get(name);
  const c: Column = { from: f.to, name, pgType: f.pgType.toLowerCase(), valueType: a?.valueType ?? 'STRING', truncate: f.truncate };
  if (a?.maxLength !== undefined) c.maxLength = a.maxLength;
  return c;
}

/** A properties list as a lookup (for comparing a stored record with the one we would send). */
export function propertyMap(p: Properties): Map<string, Scalar> {
  return new Map(p.map((x) => [x.name, x.value]));
}
