import { csvCell, csvLine, csvLines, csvLinesReference } from './csv';
import { lineEncoder } from './bulk-file';
import { csvText } from './mapping';
import type { Properties, Scalar } from './routes';
import { optionsFor } from './config';
import { RowEncoder } from './encode';
import type { Attribute, TableInfo } from './structure';
import type { FieldSpec, OutRow } from '../types';
import { awkwardTexts } from '../../test/support/awkward-text';

/** What bulk-file.ts wrote before lineEncoder: a Map per row, csv-stringify per batch. */
function referenceLine(header: readonly string[], props: Properties): string {
  const m = new Map(props.map((p) => [p.name, p.value]));
  return csvLinesReference([header.map((h) => csvText(m.get(h) ?? null))]);
}

describe('import file CSV', () => {
  it('writes every line exactly as csv-stringify with the import options would', () => {
    const texts = awkwardTexts();
    for (const v of texts) expect({ v, line: csvLine([v, v]) }).toEqual({ v, line: csvLinesReference([[v, v]]) });
    expect(csvLine(texts)).toBe(csvLinesReference([texts]));
    const rows = Array.from({ length: 300 }, (_, i) => texts.slice(i, i + 1 + (i % 7)));
    expect(csvLines(rows)).toBe(csvLinesReference(rows));
  });

  it('quotes RFC-4180 style, ends lines with CRLF and writes no BOM', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('')).toBe('');
    expect(csvCell(' padded ')).toBe(' padded ');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('cr\ronly')).toBe('"cr\ronly"');
    expect(csvCell('lf\nonly')).toBe('"lf\nonly"');
    expect(csvCell('crlf\r\n')).toBe('"crlf\r\n"');
    expect(csvLine(['k', '', 'é'])).toBe('k,,é\r\n');
    expect(csvLine(['\ufeffk']).charCodeAt(0)).toBe(0xfeff); // a value's own BOM stays; the file adds none
    expect(csvLines([]).length).toBe(0);
  });

  it('puts each property in its header column, as the per-row map did', () => {
    const header = ['orderId', 'amount', 'paid', 'note', 'orderDate', 'dup', 'dup'];
    const texts = awkwardTexts();
    const values: Scalar[] = [null, true, false, 0, -0, 1.5, -12.25, 1e21, 123456789012, NaN, Infinity, ...texts];
    const line = lineEncoder(header);
    let seed = 5;
    const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const names = [...header, 'notInHeader'];
    for (let i = 0; i < 3000; i++) {
      // Any subset of the columns in any order (nulls skipped or sent), a name given twice, an unknown name.
      const props: Properties = Array.from({ length: next(9) }, () => ({
        name: names[next(names.length)]!,
        value: values[next(values.length)]!,
      }));
      expect({ props, line: line(props) }).toEqual({ props, line: referenceLine(header, props) });
    }
    expect(
      line([
        { name: 'paid', value: true },
        { name: 'amount', value: 12.5 },
        { name: 'orderId', value: 'A,1' },
      ]),
    ).toBe('"A,1",12.5,TRUE,,,,\r\n');
    expect(line([])).toBe(',,,,,,\r\n');
  });

  it("writes a records file's line from the row as encode() and lineEncoder did, failures included", () => {
    const texts = awkwardTexts();
    const attr = (name: string, valueType: string, maxLength?: number): Attribute => ({
      name,
      valueType,
      mandatory: false,
      unique: false,
      ...(maxLength === undefined ? {} : { maxLength }),
    });
    const table = (name: string, attrs: Attribute[]): TableInfo => ({
      id: name,
      name,
      primaryKey: null,
      attributes: new Map(attrs.map((a) => [a.name, a])),
      foreignKeys: [],
    });
    const custom = table('orders', [
      attr('orderId', 'STRING'),
      attr('note', 'STRING', 12),
      attr('cut', 'STRING', 5),
      attr('amount', 'NUMBER'),
      attr('qty', 'LONG'),
      attr('paid', 'BOOLEAN'),
      attr('day', 'DATE'),
      attr('at', 'TIMESTAMP'),
      attr('doc', 'STRING'),
      attr('remark', 'STRING'),
    ]);
    const profiles = table('main', [attr('emailAddress', 'STRING', 10), attr('score', 'NUMBER')]);
    const field = (from: string, to: string, pgType: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({
      from,
      to,
      pgType,
      isKey: false,
      ...extra,
    });
    const fields: FieldSpec[] = [
      field('note', 'note', 'text'),
      field('id', 'orderId', 'text', { isKey: true }),
      field('cut', 'cut', 'varchar', { truncate: true }),
      field('amount', 'amount', 'numeric'),
      field('qty', 'qty', 'float8'),
      field('paid', 'paid', 'bool'),
      field('day', 'day', 'date'),
      field('at', 'at', 'timestamptz'),
      field('doc', 'doc', 'jsonb'),
      // No maxLength on the attribute: 255 characters.
      field('remark', 'remark', 'text'),
      field('email', 'profile.emailAddress', 'text'),
      field('score', 'profile.score', 'float8'),
    ];
    const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length]!;
    const byType: Record<string, unknown[]> = {
      text: [null, '', ...texts, 'x'.repeat(13), 'y'.repeat(255), 'y'.repeat(256)],
      varchar: [null, '', 'ab', 'abcdefgh', 'abcd\ud83d\ude00', ...texts],
      numeric: [null, '0', '-12.50', '123456789012345678.25', 'NaN', 'Infinity'],
      float8: [null, 0, -0, 1.5, 1e21, 1.5e-7, NaN, -Infinity],
      bool: [null, true, false],
      date: [null, new Date(2026, 0, 2), new Date(NaN)],
      timestamptz: [null, new Date(Date.UTC(2026, 5, 7, 8, 9, 10))],
      jsonb: [null, '"a,b"', '{"n": 1.10, "s": "q\\"r"}', 'null', '[1, "x\\ny"]'],
    };
    let seed = 7;
    const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const row = (i: number): OutRow => {
      const values: Record<string, unknown> = {};
      for (const f of fields) {
        const v = pick(byType[f.pgType]!, next(1000));
        // Some rows leave a field out altogether (undefined), as a page without the column would.
        if (next(20) !== 0) values[f.to] = v;
      }
      return { key: `k${i}`, op: 'upsert', values } as unknown as OutRow;
    };
    // Every value alone in each column, then random rows of them.
    const alone = fields.flatMap((f) =>
      byType[f.pgType]!.map((v, i) => ({ key: `${f.to}-${i}`, op: 'upsert', values: { [f.to]: v } }) as unknown as OutRow),
    );
    const rows = [...alone, ...Array.from({ length: 2000 }, (_, i) => row(i))];
    const headers = [
      ['orderId', 'note', 'cut', 'amount', 'qty', 'paid', 'day', 'at', 'doc', 'remark'],
      // Another order, a name twice, a name no column has, a column left out.
      ['orderId', 'at', 'note', 'note', 'unknown', 'paid', 'amount', 'qty', 'day'],
    ];
    const seen = { ok: 0, refused: 0 };
    for (const nulls of ['skip', 'send'] as const)
      for (const withProfiles of [false, true]) {
        const opts = optionsFor({ emptyOnUpdate: 'keep' }).parse({
          nulls,
          ...(withProfiles ? { profiles: { table: 'main', matchAttribute: 'emailAddress' } } : {}),
        });
        const tables = { table: custom, profileTable: withProfiles ? profiles : null };
        const encoder = new RowEncoder(withProfiles ? fields : fields.filter((f) => !f.to.startsWith('profile.')), tables, opts, 'orderId');
        for (const header of headers) {
          const line = encoder.recordLine(header);
          const reference = lineEncoder(header);
          const differ: unknown[] = [];
          for (const r of rows) {
            const e = encoder.encode(r);
            const expected = e.ok ? reference(e.value.record) : { message: e.message };
            const got = line(r);
            if (JSON.stringify(got) !== JSON.stringify(expected))
              differ.push({ nulls, withProfiles, header, values: r.values, got, expected });
            seen[e.ok ? 'ok' : 'refused']++;
          }
          expect(differ.slice(0, 3)).toEqual([]);
        }
      }
    // Both kinds of rows were compared, many times each.
    expect(seen.ok).toBeGreaterThan(1000);
    expect(seen.refused).toBeGreaterThan(1000);
  });
});
