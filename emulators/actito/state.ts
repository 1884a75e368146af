import { TokenStore, type ApiKeyRights } from './auth';
import { FaultState } from './faults';
import { HttpError } from './http';
import { ImportRegistry } from './bulk-import';
import type { Limits } from './limits';
import { RequestLog } from './request-log';
import type { RowValues, Table } from './table';
import { toJson } from './values';
import { TableStore } from './tables';

export interface EmulatorConfig {
  entity: string;
  apiKey: string;
  bulkProcessingDelayMs: number;
  dailyBulkImportQuota: number;
  maxBulkFileBytes: number;
  /** Empty CSV cell / null on update: keep the stored value or clear it [A, API notes §2]. */
  emptyOnUpdate: 'keep' | 'clear';
  /** Time budget of one bulk processing slice before yielding to the event loop. */
  sliceMs: number;
  /** ETL webhook target for STARTED / FINISHED events [D S18]; null = none. Settable over /__admin/webhooks. */
  etlWebhookUrl: string | null;
  /** Keep a journal of every record written (`GET /__admin/journal`); off by default: it grows with every write. */
  journal?: boolean;
}

/** One write as the journal keeps it: `values` after a create or update, before a delete (JSON values, nulls left out). */
export interface JournalEntry {
  seq: number;
  at: string;
  op: 'create' | 'update' | 'delete';
  table: string;
  /** Technical id (`id` of the admin record views; `profileId` for profiles). */
  id: number;
  key: string | null;
  values: Record<string, unknown>;
}

/** Everything the emulator holds in memory; exposed as `emulator.state` for tests. */
export class EmulatorState {
  readonly tables: TableStore;
  readonly requests = new RequestLog();
  readonly faults = new FaultState();
  readonly tokens: TokenStore;
  readonly limits: Limits;
  readonly imports: ImportRegistry;
  /** Every record written, in order, when `config.journal` is on; null otherwise. */
  readonly journal: JournalEntry[] | null;

  constructor(
    readonly config: EmulatorConfig,
    tokenTtlMs: number,
    limits: Limits,
    extraApiKeys: Record<string, ApiKeyRights> = {},
  ) {
    this.tables = new TableStore(config.entity);
    this.tokens = new TokenStore({ ...extraApiKeys, [config.apiKey]: {} }, tokenTtlMs);
    this.limits = limits;
    this.imports = new ImportRegistry(this);
    this.journal = config.journal ? [] : null;
    if (this.journal) this.tables.setWriteHook((table, op, row, values) => this.logWrite(table, op, row, values));
  }

  private logWrite(table: Table, op: JournalEntry['op'], row: number, values: RowValues): void {
    const out: Record<string, unknown> = {};
    for (const a of table.attributes) if (values[a.name] != null) out[a.name] = toJson(a, values[a.name] ?? null);
    const key = values[table.primaryKeyAttribute] ?? null;
    this.journal?.push({
      seq: this.journal.length + 1,
      at: new Date().toISOString(),
      op,
      table: table.name,
      id: row + 1,
      key,
      values: out,
    });
  }

  get profiles(): Table {
    return this.tables.profiles;
  }

  /** Seeded tables, no tokens, faults, log, imports or quota usage. */
  reset(): void {
    this.tables.reset();
    this.requests.clear();
    this.faults.clear();
    this.tokens.clear();
    this.limits.reset();
    this.imports.reset();
    this.journal?.splice(0);
  }

  /** 404 for an unknown entity name (the path carries the name, not the id [D S6]). */
  requireEntity(params: Record<string, string>): void {
    if (params.entity !== this.config.entity) throw new HttpError(404, `entity '${params.entity}' not found`);
  }

  customTable(params: Record<string, string>): Table {
    this.requireEntity(params);
    const t = this.tables.customTable(params.table ?? '');
    if (!t) throw new HttpError(404, `custom table '${params.table}' not found`);
    return t;
  }

  profileTable(params: Record<string, string>): Table {
    this.requireEntity(params);
    const t = this.tables.profileTable(params.table ?? '');
    if (!t) throw new HttpError(404, `profile table '${params.table}' not found`);
    return t;
  }
}
