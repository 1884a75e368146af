import { readFile } from 'node:fs/promises';
import { CsvFile, csvCannotCarry, csvField, csvLine, csvLineReference, csvRecords, type CsvValue } from './csv';
import { plainNumber } from '../kit/plain-number';
import { parseResultsCsv } from './bulk-results';
import { awkwardTexts } from '../../test/support/awkward-text';

describe('csv', () => {
  it('quotes per RFC 4180 and writes #N/A for null', () => {
    expect(csvField(null)).toBe('#N/A');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line1\nline2')).toBe('"line1\nline2"');
    expect(csvField('cr\ronly')).toBe('"cr\ronly"'); // a bare CR ends a line for some readers
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField('\ttab')).toBe('"\ttab"');
    expect(csvField(true)).toBe('true');
    expect(csvField(false)).toBe('false');
    expect(csvField(1.5)).toBe('1.5');
    expect(csvLine(['a', null, ''])).toBe('a,#N/A,\n');
  });
  it('writes numbers as plain decimal digits, never exponent form, and they read back as the same number', () => {
    expect(csvField(1.5e-7)).toBe('0.00000015');
    expect(csvField(-1.5e-7)).toBe('-0.00000015');
    expect(csvField(1.23456789e-15)).toBe('0.00000000000000123456789');
    expect(csvField(1e-7)).toBe('0.0000001');
    expect(csvField(1e21)).toBe('1000000000000000000000');
    expect(csvField(-1.25e22)).toBe('-12500000000000000000000');
    expect(csvField(0.000001)).toBe('0.000001'); // no exponent from String(): unchanged
    expect(csvField(123456789012345680)).toBe('123456789012345680');
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5000; i++) {
      const n = (next() - 0.5) * 10 ** Math.floor(next() * 60 - 30);
      const text = plainNumber(n);
      expect({ n, text, plain: /^-?\d+(\.\d+)?$/.test(text), back: Number(text) === n }).toEqual({ n, text, plain: true, back: true });
    }
  });
  it('writes every line exactly as csv-stringify with the Bulk options would', () => {
    const values: CsvValue[] = [
      null,
      true,
      false,
      0,
      -0,
      1.5,
      -12.25,
      1e21,
      1.5e-7,
      -2e-20,
      123456789012,
      NaN,
      Infinity,
      '',
      ...awkwardTexts(7),
    ];
    for (const v of values) expect({ v, line: csvLine([v, v]) }).toEqual({ v, line: csvLineReference([v, v]) });
    expect(csvLine(values)).toBe(csvLineReference(values));
  });
  it('reads result files as csv-parse does, however the stream is cut', async () => {
    const pieces = ['', 'a', ' ', ',', '"', '""', '\n', '\r', '\r\n', 'é', '日本', '😀', 'sf__Error', '#N/A'];
    let seed = 11;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const cell = () => Array.from({ length: next(4) }, () => pieces[next(pieces.length)]).join('');
    for (let file = 0; file < 60; file++) {
      const columns = 2 + next(4);
      const header = Array.from({ length: columns }, (_, i) => `col${i}${i === 1 ? ' "x"' : ''}`);
      const lines = [csvLineReference(header)];
      for (let r = 0; r < 40; r++) {
        // Some short rows (relax_column_count) and empty lines (skipped).
        const width = next(8) === 0 ? 1 + next(columns) : columns;
        lines.push(next(15) === 0 ? '\n' : csvLineReference(Array.from({ length: width }, cell)));
      }
      const crlf = file % 3 === 1;
      let text = lines.map((l) => (crlf ? `${l.slice(0, -1)}\r\n` : l)).join('');
      if (file % 4 === 2) text = `\ufeff${text}`;
      if (file % 5 === 3) text = text.replace(/\r?\n$/, ''); // no line end after the last row
      const bytes = Buffer.from(text, 'utf8');
      // Cut at random bytes: inside characters, between a quote pair, between CR and LF.
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length;) {
        const size = 1 + next(file % 2 ? 7 : 300);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      const read: Array<Record<string, string>> = [];
      for await (const batch of csvRecords(chunks)) read.push(...batch);
      expect({ file, read }).toEqual({ file, read: parseResultsCsv(text) });
    }
  });
  it('refuses a result file whose quoted field never closes', async () => {
    const read = async () => {
      for await (const _ of csvRecords(['a,b\n"1,2\n'])) void _;
    };
    await expect(read()).rejects.toThrow(/not closed/);
  });
  it('knows the texts a CSV cell cannot carry (#N/A and look-alikes)', () => {
    // Edge whitespace trim() removes beyond ASCII too (no-break space, ideographic space, BOM, line separator).
    for (const v of ['#N/A', '#n/a', ' #N/A', '#N/A\n', '\u00a0#N/A', '#N/A\u3000', '\ufeff#n/A\u2028', '\t #N/A \r\n'])
      expect(csvCannotCarry(v)).toBe(true);
    for (const v of ['#N/A!', 'N/A', '"#N/A"', '', null, 4, '#N/', 'x#N/A', '#N/Ax', ' #N/A!', '\u00a0#N/A\u00a0x'])
      expect(csvCannotCarry(v)).toBe(false);
  });
  it('round-trips tricky values through csv-parse', async () => {
    const tricky = [
      'comma, here',
      'quote " here',
      'multi\nline\r\nvalue',
      'cr\ronly',
      'tab\there',
      'ünïcødé 日本',
      'emoji 😀👍🏽',
      '',
      ' lead',
    ];
    const b = await CsvFile.create(['Id', 'V'], 1e6);
    tricky.forEach((v, i) => b.add([String(i), v]));
    await b.close();
    const text = await readFile(b.path, 'utf8');
    await b.dispose();
    expect(text.charCodeAt(0)).not.toBe(0xfeff);
    expect(text.endsWith('\n')).toBe(true);
    const rows = parseResultsCsv(text);
    expect(rows.map((r) => r.V)).toEqual(tricky);
  });
  it('refuses rows beyond the byte limit', async () => {
    const b = await CsvFile.create(['A'], 10);
    expect(b.add(['12345'])).toBe(true);
    expect(b.add(['12345'])).toBe(false);
    expect(b.rows).toBe(1);
    await b.dispose();
  });
  it('leaves nothing of a refused row in the file, and takes a smaller one after it', async () => {
    const b = await CsvFile.create(['A'], 10);
    expect(b.add(['12345'])).toBe(true);
    expect(b.add(['12345'])).toBe(false);
    expect(b.add(['1'])).toBe(true);
    await b.close();
    expect(await readFile(b.path, 'utf8')).toBe('A\n12345\n1\n');
    expect(b.bytes).toBe(10);
    await b.dispose();
  });
  it('keeps the order of lines that no longer fit in the room left before a flush', async () => {
    const b = await CsvFile.create(['Id', 'V'], 100 * 1024 * 1024);
    let expected = 'Id,V\n';
    // 700 KB lines, no flush between them: the third no longer fits in the 2 MB buffer's room.
    for (let i = 0; i < 6; i++) {
      const v = i % 2 ? `short ${i}` : 'é'.repeat(350_000);
      b.add([String(i), v]);
      expected += `${i},${v}\n`;
    }
    await b.flush();
    b.add(['last', 'x']);
    expected += 'last,x\n';
    await b.close();
    expect(b.bytes).toBe(Buffer.byteLength(expected, 'utf8'));
    expect(await readFile(b.path, 'utf8')).toBe(expected);
    await b.dispose();
  });
  it('writes exactly the lines added across many flushes, a line larger than its buffer included', async () => {
    const b = await CsvFile.create(['Id', 'V'], 100 * 1024 * 1024);
    let expected = 'Id,V\n';
    for (let i = 0; i < 40_000; i++) {
      const v = i === 20_000 ? 'é'.repeat(1_500_000) : `row ${i} ünïcødé 😀`; // 3 MB of UTF-8 in one line
      b.add([String(i), v]);
      expected += `${i},${v}\n`;
      if (i % 1000 === 0) await b.flush();
    }
    await b.close();
    expect(b.bytes).toBe(Buffer.byteLength(expected, 'utf8'));
    expect(await readFile(b.path, 'utf8')).toBe(expected);
    await b.dispose();
  });
});
