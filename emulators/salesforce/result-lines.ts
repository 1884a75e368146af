/**
 * The rendered result rows of one Bulk 2.0 job, kept as bytes outside the JavaScript heap. Salesforce keeps
 * a job's results for days, and so does the emulator: one string per row (with the cons strings of its
 * concatenation) cost some 400 bytes of heap a row, so a 10,000,000-row benchmark held gigabytes of results.
 * Here a row costs its UTF-8 bytes plus 8 bytes of index: rows are packed into segments of SEGMENT rows,
 * each one Buffer, and read back by position (in the order set by `shuffle`, as Salesforce returns rows in
 * no particular order).
 */

const SHIFT = 12;
const SEGMENT = 1 << SHIFT;

export class ResultLines {
  private readonly segments: Buffer[] = [];
  /** Start of each sealed row in its segment; the row ends where the next one starts (or with the segment). */
  private starts = new Uint32Array(SEGMENT);
  /** Rows not yet packed: the last, partial segment until `close` or `shuffle`. */
  private pending: string[] = [];
  private sealed = 0;
  private final = false;
  private order: Uint32Array | undefined;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(line: string): void {
    if (this.final) throw new Error('result rows are final once closed');
    this.pending.push(line);
    this.count += 1;
    if (this.pending.length === SEGMENT) this.seal();
  }

  /** Packs the last rows; none can be added after. */
  close(): void {
    this.seal();
    this.final = true;
  }

  /**
   * Fisher-Yates over the row positions: Bulk 2.0 result rows come back in no particular order (API notes
   * §4.5, trap 10). The rows are final from here on.
   */
  shuffle(random: () => number = Math.random): void {
    this.close();
    const order = new Uint32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    this.order = order;
  }

  /** Rows [from, from + n) in result order, each followed by a newline, as one Buffer. */
  render(from: number, n: number): Buffer {
    const parts: Buffer[] = [];
    const end = Math.min(this.count, from + n);
    for (let k = from; k < end; k++) parts.push(this.row(this.order ? this.order[k]! : k));
    return Buffer.concat(parts);
  }

  /** Every row in result order (for tests and inspection). */
  lines(): string[] {
    return this.render(0, this.count).toString('utf8').split('\n').slice(0, this.count);
  }

  private row(i: number): Buffer {
    if (i >= this.sealed) return Buffer.from(`${this.pending[i - this.sealed]!}\n`);
    const seg = this.segments[i >>> SHIFT]!;
    const end = (i & (SEGMENT - 1)) === SEGMENT - 1 || i + 1 === this.sealed ? seg.length : this.starts[i + 1]!;
    return seg.subarray(this.starts[i]!, end);
  }

  private seal(): void {
    if (this.pending.length === 0) return;
    const first = this.sealed;
    if (this.starts.length < this.count) {
      const grown = new Uint32Array(Math.max(this.count, this.starts.length * 2));
      grown.set(this.starts);
      this.starts = grown;
    }
    let at = 0;
    this.pending.forEach((line, k) => {
      this.starts[first + k] = at;
      at += Buffer.byteLength(line) + 1;
    });
    this.segments.push(Buffer.from(this.pending.join('\n') + '\n'));
    this.sealed = this.count;
    this.pending = [];
  }
}
