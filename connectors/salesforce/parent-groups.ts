/**
 * Rows grouped by parent in a Bulk CSV. Salesforce processes a job's internal batches in parallel, and
 * a child record written locks its parent (the Account of a Contact): rows of one parent spread over
 * several batches wait for each other and fail UNABLE_TO_LOCK_ROW. Salesforce's advice is to order the
 * data by parent, so each parent's rows sit together and mostly in one batch.
 *
 * Memory stays bounded whatever the chunk size: rows are spread over bucket files by a hash of the
 * parent key, then each bucket (a small share of the chunk) is read back and emitted parent by parent.
 * Every parent lives in exactly one bucket, so its rows come out contiguous.
 */
import { createHash, randomUUID } from 'node:crypto';
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WriteModel } from './analyze';
import type { CsvValue } from './csv';

const BUCKETS = 32;
const FLUSH_BYTES = 1 << 20;

/**
 * The CSV column to group by: the first parent lookup (`Account.External_Id__c`), else the first mapped
 * lookup field (`AccountId`); null when the rows have no parent (nothing to group).
 */
export function parentColumn(model: WriteModel, header: string[]): string | null {
  const parent =
    model.send.find((s) => s.parent) ??
    model.send.find((s) => s.field.type === 'reference' && !s.spec.isKey && s.constant === undefined && !s.recordTypes);
  return parent && header.includes(parent.column) ? parent.column : null;
}

export class ParentGroups {
  private pending: string[][] = Array.from({ length: BUCKETS }, () => []);
  private pendingBytes = 0;

  private constructor(
    private readonly paths: string[],
    private readonly files: FileHandle[],
  ) {}

  static async create(): Promise<ParentGroups> {
    const base = join(tmpdir(), `syncline-sf-groups-${randomUUID()}`);
    const paths = Array.from({ length: BUCKETS }, (_, i) => `${base}-${i}.jsonl`);
    const files: FileHandle[] = [];
    try {
      for (const p of paths) files.push(await open(p, 'w', 0o600));
    } catch (err) {
      await Promise.all(files.map((f) => f.close().catch(() => undefined)));
      await Promise.all(paths.map((p) => rm(p, { force: true })));
      throw err;
    }
    return new ParentGroups(paths, files);
  }

  /** Keeps a row's cells under its parent key (JSON lines: a cell may hold line breaks). */
  async add(parent: CsvValue, cells: CsvValue[]): Promise<void> {
    const key = parent === null ? '' : String(parent).toLowerCase();
    const bucket = createHash('md5').update(key).digest().readUInt32BE(0) % BUCKETS;
    const line = `${JSON.stringify([key, cells])}\n`;
    this.pending[bucket]!.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    await Promise.all(this.pending.map((lines, i) => (lines.length ? this.files[i]!.write(lines.join('')) : undefined)));
    this.pending = Array.from({ length: BUCKETS }, () => []);
    this.pendingBytes = 0;
  }

  /** Every row added, parent by parent (a parent's rows in the order they were added). */
  async *rows(onBucket: () => void = () => undefined): AsyncIterable<CsvValue[]> {
    await this.flush();
    await Promise.all(this.files.map((f) => f.close()));
    for (const path of this.paths) {
      const byParent = new Map<string, CsvValue[][]>();
      for (const line of (await readFile(path, 'utf8')).split('\n')) {
        if (!line) continue;
        const [key, cells] = JSON.parse(line) as [string, CsvValue[]];
        const list = byParent.get(key);
        if (list) list.push(cells);
        else byParent.set(key, [cells]);
      }
      for (const list of byParent.values()) yield* list;
      onBucket();
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close().catch(() => undefined)));
    await Promise.all(this.paths.map((p) => rm(p, { force: true })));
  }
}
