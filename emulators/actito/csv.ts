export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const QUOTE = 34;
const CR = 13;
const LF = 10;

/**
 * Incremental RFC-4180 reader over a decoded string: one record per `next()`, so bulk processing
 * can stop after a time slice and resume. Quoted fields may hold the separator, `""` and CR/LF [D S10].
 * `line` is the physical line on which the last returned record started (header = line 1).
 */
export class CsvCursor {
  line = 0;
  private pos = 0;
  private nextLine = 1;
  private readonly sep: number;

  constructor(
    private readonly text: string,
    separator = ',',
  ) {
    this.sep = separator.charCodeAt(0);
  }

  next(): string[] | undefined {
    for (;;) {
      if (this.pos >= this.text.length) return undefined;
      const rec = this.record();
      if (!(rec.length === 1 && rec[0] === '')) return rec; // blank lines are skipped
    }
  }

  private record(): string[] {
    const t = this.text;
    const n = t.length;
    const fields: string[] = [];
    let i = this.pos;
    this.line = this.nextLine;
    for (;;) {
      if (t.charCodeAt(i) === QUOTE) {
        let v = '';
        i++;
        for (;;) {
          const q = t.indexOf('"', i);
          if (q < 0) {
            this.pos = n;
            throw new CsvSyntaxError('unterminated quoted field', this.line);
          }
          v += t.slice(i, q);
          if (t.charCodeAt(q + 1) === QUOTE) {
            v += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        for (let k = v.indexOf('\n'); k >= 0; k = v.indexOf('\n', k + 1)) this.nextLine++;
        fields.push(v);
        const c = t.charCodeAt(i);
        if (c === this.sep) {
          i++;
          continue;
        }
        if (i >= n || c === CR || c === LF) return this.endRecord(fields, i);
        const eol = t.indexOf('\n', i);
        this.pos = eol < 0 ? n : eol + 1;
        this.nextLine++;
        throw new CsvSyntaxError('unexpected character after a closing quote', this.line);
      }
      let j = i;
      while (j < n) {
        const c = t.charCodeAt(j);
        if (c === this.sep || c === LF || c === CR) break;
        j++;
      }
      fields.push(t.slice(i, j));
      if (j < n && t.charCodeAt(j) === this.sep) {
        i = j + 1;
        continue;
      }
      return this.endRecord(fields, j);
    }
  }

  private endRecord(fields: string[], i: number): string[] {
    const t = this.text;
    if (t.charCodeAt(i) === CR) i++;
    if (t.charCodeAt(i) === LF) i++;
    this.pos = i;
    this.nextLine++;
    return fields;
  }
}
