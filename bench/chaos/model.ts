/**
 * The schedule's model: a table in Postgres, changed by the schedule's steps, and the full history of
 * its versions. Each version records every row with its hash under both mapping epochs, computed by
 * syncline's own stage code in the same transaction as the change: the invariants read a snapshot hash
 * back into the model content it stands for.
 */
import type pg from 'pg';
import { createDb } from '../../db/connect';
import { rowHash } from '../../db/delta';
import { buildFields } from '../../activities/prepare';
import { stageSpec } from '../../activities/extract';
import type { LoadedRun } from '../../activities/run-context';
import { CANONICAL_SETTINGS } from '../../connectors/postgres/source';
import { parseActivationConfig } from '../../common/config';
import { Rng } from './prng';
import type { Content, Epoch } from './destination';
import type { Step } from './schedule';
import { withDb } from './services';

export interface ModelRow extends Content {
  rid: number;
  id: string | null;
  hA: string;
  hB: string;
}
export interface Version {
  v: number;
  t0: number;
  t1: number;
  what: string;
  rows: ModelRow[];
}

const COLUMNS = ['id', 'name', 'email', 'amount', 'note'];
const OVERLONG = `Overlong ${'x'.repeat(110)}`;
/** Names over both destinations' limits (Salesforce LastName 80, the Actito table's name 100): a permanent row error. */
export const isBad = (c: Pick<Content, 'name'>): boolean => c.name.length > 80;

/** Hash SQL of the runtime's stage for an activation document (alias `m`). */
export function hashSql(doc: Record<string, unknown>): string {
  const parsed = parseActivationConfig(doc);
  if (!parsed.ok) throw new Error(`chaos activation document is invalid: ${JSON.stringify(parsed.problems)}`);
  const fields = buildFields(parsed.config, new Map(COLUMNS.map((c) => [c, 'text'])));
  const spec = stageSpec({ runId: 'x', config: parsed.config } as LoadedRun, fields);
  return rowHash('m', spec.columns, spec.signature).compile(createDb(null as never)).sql;
}

export class Model {
  readonly versions: Version[] = [];
  private nextKey = 1;
  private readonly removed = new Set<string>();
  private readonly data: Rng;

  constructor(
    private readonly pool: pg.Pool,
    readonly table: string,
    private readonly hashes: Record<Epoch, string>,
    seed: number,
    index: number,
  ) {
    this.data = new Rng(seed, index, 2);
  }

  get current(): Version {
    return this.versions[this.versions.length - 1]!;
  }

  async create(rows: number): Promise<void> {
    await withDb(this.pool, (c) =>
      c.query(`CREATE SCHEMA IF NOT EXISTS chaos; CREATE TABLE IF NOT EXISTS chaos.versions (tbl text, v int, PRIMARY KEY (tbl, v));
      CREATE TABLE IF NOT EXISTS ${this.table} (rid bigserial PRIMARY KEY, id text, name text NOT NULL, email text, amount numeric(12,2), note text NOT NULL)`),
    );
    await this.change('create', this.insertSql(Array.from({ length: rows }, () => this.newKey())));
  }

  /** Applies one model step; returns false for steps that are not model changes. */
  async apply(step: Step): Promise<boolean> {
    const rows = this.current.rows;
    const keyed = [...new Set(rows.filter((r) => r.id !== null).map((r) => r.id!))];
    switch (step.do) {
      case 'add':
        return this.change(`add ${step.n}`, this.insertSql(Array.from({ length: step.n }, () => this.newKey())));
      case 'readd': {
        const back = this.data.shuffle([...this.removed].filter((k) => !keyed.includes(k)).sort()).slice(0, step.n);
        if (!back.length) return this.change('readd (none removed)', '');
        return this.change(`readd ${back.join(',')}`, this.insertSql(back));
      }
      case 'revert': {
        // Rows back to the content they had before their latest change (a field flipped back, a fix undone).
        const back: string[] = [];
        for (const r of this.data.shuffle(
          rows.filter((x) => x.id !== null && keyed.includes(x.id) && rows.filter((y) => y.id === x.id).length === 1),
        )) {
          if (back.length >= step.n) break;
          const before = this.previousContent(r);
          if (before)
            back.push(
              `UPDATE ${this.table} SET name = ${lit(before.name)}, email = ${before.email === null ? 'NULL' : lit(before.email)}, amount = ${before.amount ?? 'NULL'}, note = ${lit(before.note)} WHERE rid = ${r.rid}`,
            );
        }
        return this.change(`revert ${back.length}`, back.join(';'));
      }
      case 'change': {
        const picked = this.data.sample(rows.length, step.n).map((i) => rows[i]!);
        return this.change(`change ${picked.length}`, picked.map((r) => this.updateSql(r)).join(';'));
      }
      case 'spoil': {
        const picked = this.data.sample(rows.length, step.n).map((i) => rows[i]!);
        return this.change(
          `spoil ${picked.map((r) => r.id).join(',')}`,
          picked.length ? `UPDATE ${this.table} SET name = ${lit(OVERLONG)} WHERE rid IN (${picked.map((r) => r.rid).join(',')})` : '',
        );
      }
      case 'heal':
        return this.change('heal', `UPDATE ${this.table} SET name = 'Healed ' || coalesce(id, 'null') WHERE length(name) > 80`);
      case 'remove':
        return this.removeKeys(this.data.sample(keyed.length, step.n).map((i) => keyed[i]!));
      case 'massRemove':
        return this.removeKeys(this.data.sample(keyed.length, Math.round(keyed.length * step.share)).map((i) => keyed[i]!));
      case 'empty':
        return this.removeKeys(keyed, true);
      case 'dupKey': {
        const keys = this.data.sample(keyed.length, step.n).map((i) => keyed[i]!);
        return this.change(`dupKey ${keys.join(',')}`, this.insertSql(keys));
      }
      case 'nullKey':
        return this.change(`nullKey ${step.n}`, this.insertSql(Array.from({ length: step.n }, () => null)));
      case 'fixKeys':
        return this.change(
          'fixKeys',
          `DELETE FROM ${this.table} WHERE id IS NULL OR rid NOT IN (SELECT min(rid) FROM ${this.table} WHERE id IS NOT NULL GROUP BY id)`,
        );
      default:
        return false;
    }
  }

  /** The content the row's key had before its current one, in the latest version where it differs. */
  private previousContent(r: ModelRow): Content | null {
    for (let i = this.versions.length - 2; i >= 0; i--) {
      const old = this.versions[i]!.rows.filter((x) => x.id === r.id);
      if (old.length === 1 && (old[0]!.hA !== r.hA || old[0]!.hB !== r.hB)) return old[0]!;
    }
    return null;
  }

  private removeKeys(keys: string[], all = false): Promise<boolean> {
    for (const k of keys) this.removed.add(k);
    if (all) return this.change('empty', `DELETE FROM ${this.table}`);
    return this.change(`remove ${keys.join(',')}`, keys.length ? `DELETE FROM ${this.table} WHERE id IN (${keys.map(lit).join(',')})` : '');
  }

  private newKey(): string {
    return `K${String(this.nextKey++).padStart(5, '0')}`;
  }

  private content(key: string | null): Content {
    const tag = this.data.int(1, 1e6);
    return {
      name: `${key ?? 'nokey'} n${tag}`,
      email: this.data.chance(0.12) ? null : `${(key ?? 'nokey').toLowerCase()}.${tag}@example.com`,
      amount: this.data.chance(0.1) ? null : (this.data.int(0, 9_999_999) / 100).toFixed(2),
      note: `note ${this.data.int(1, 1e6)}`,
    };
  }

  private insertSql(keys: Array<string | null>): string {
    if (!keys.length) return '';
    const values = keys.map((k) => {
      const c = this.content(k);
      return `(${k === null ? 'NULL' : lit(k)}, ${lit(c.name)}, ${c.email === null ? 'NULL' : lit(c.email)}, ${c.amount ?? 'NULL'}, ${lit(c.note)})`;
    });
    return `INSERT INTO ${this.table} (id, name, email, amount, note) VALUES ${values.join(',')}`;
  }

  /** Changes one to three of the row's mapped columns (the note only matters under mapping B). */
  private updateSql(r: ModelRow): string {
    const c = this.content(r.id);
    const cols = this.data.shuffle(['name', 'email', 'amount', 'note'] as const).slice(0, this.data.int(1, 3));
    const set = cols.map((col) => `${col} = ${c[col] === null ? 'NULL' : col === 'amount' ? c[col] : lit(c[col]!)}`);
    return `UPDATE ${this.table} SET ${set.join(', ')} WHERE rid = ${r.rid}`;
  }

  /**
   * Runs the change and reads the new version in one transaction, with the runtime's canonical settings
   * (the hashes depend on them). A connection lost at COMMIT leaves the outcome unknown: the version
   * marker written in the same transaction tells whether it happened, so a change is never applied twice.
   */
  private async change(what: string, statement: string): Promise<boolean> {
    const v = this.versions.length;
    const t0 = Date.now();
    const read = `SELECT rid::int, id, name, email, amount::text AS amount, note, (${this.hashes.A})::text AS "hA", (${this.hashes.B})::text AS "hB" FROM ${this.table} m ORDER BY rid`;
    const rows = await withDb(this.pool, async (c) => {
      const done = await c.query('SELECT 1 FROM chaos.versions WHERE tbl = $1 AND v = $2', [this.table, v]);
      await c.query('BEGIN');
      try {
        for (const s of CANONICAL_SETTINGS) await c.query(s);
        if (!done.rowCount) {
          if (statement) await c.query(statement);
          await c.query('INSERT INTO chaos.versions (tbl, v) VALUES ($1, $2)', [this.table, v]);
        }
        const r = await c.query<ModelRow>(read);
        await c.query('COMMIT');
        return r.rows;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    });
    this.versions.push({ v, t0, t1: Date.now(), what, rows });
    return true;
  }
}

function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
