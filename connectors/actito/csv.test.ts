import { csvCell, csvLine, csvLines, csvLinesReference } from './csv';
import { lineEncoder } from './bulk-file';
import { csvText } from './mapping';
import type { Properties, Scalar } from './routes';
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
});
