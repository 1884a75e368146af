/** All mutable emulator state in one place, exposed to tests as `emulator.state`. */
import type { IngestJob } from './bulk2-job';
import { Faults } from './faults';
import { makeId, to18 } from './ids';
import { SchemaRegistry, type ObjectDef } from './schema';
import { ObjectStore, type Rec } from './store';
import { RecordTypes } from './record-types';
import { renderRecord } from './record-json';
import { TokenStore } from './tokens';

export interface ResolvedOptions {
  bulkProcessingDelayMs: number;
  dailyApiLimit: number;
  /** Keep a journal of every record written (`GET /__admin/journal`); off by default: it grows with every write. */
  journal: boolean;
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  category: string;
  status: number;
  time: string;
  durationMs: number;
  /** True when a fault destroyed the socket (socketReset, or dropResponseAfterCommit after the write). */
  dropped?: boolean;
}

const MAX_LOG = 20000;

/** One write as the journal keeps it: the record as REST JSON after the write (for a delete, as it was). */
export interface JournalEntry {
  seq: number;
  at: string;
  op: 'create' | 'update' | 'delete' | 'rollback';
  object: string;
  id: string;
  record: Record<string, unknown>;
}

export class EmulatorState {
  readonly registry = new SchemaRegistry();
  readonly faults = new Faults();
  readonly orgId = to18('00DHp0000001SYN');
  readonly userId = to18('005Hp0000001SYN');
  readonly tokens = new TokenStore(this.orgId.slice(0, 15));
  readonly jobs = new Map<string, IngestJob>();
  readonly stores = new Map<string, ObjectStore>();
  readonly recordTypes = new RecordTypes();
  /**
   * The integration user's system permissions that differ from the defaults (`UserPermissionAccess`), by
   * name without the `Permissions` prefix. "Bulk API Hard Delete" is off by default, as in an org.
   */
  readonly userPermissions = new Map<string, boolean>([
    ['ApiEnabled', true],
    ['BulkApiHardDelete', false],
  ]);
  requests: LoggedRequest[] = [];
  /** Every record written, in order, when `options.journal` is on; null otherwise. */
  readonly journal: JournalEntry[] | null;
  apiUsed = 0;
  /** Bulk 2.0 internal 10k-record batches consumed (DailyBulkApiBatches). */
  bulkBatches = 0;
  /** Upload cap for one Bulk 2.0 PUT (API notes trap 13: ~100 MB raw); tests may lower it. */
  maxUploadBytes = 100 * 1024 * 1024;
  url = '';
  /** Listening on every interface (0.0.0.0, ::): each request's URLs are built from its Host (http.ts baseUrlOf). */
  wildcard = false;
  private counter = 0;

  constructor(readonly options: ResolvedOptions) {
    this.journal = options.journal ? [] : null;
  }

  store(def: ObjectDef): ObjectStore {
    let s = this.stores.get(def.name);
    if (!s) {
      s = new ObjectStore(def, (op, rec) => this.logWrite(def, op, rec));
      this.stores.set(def.name, s);
    }
    return s;
  }

  newId(keyPrefix: string): string {
    this.counter += 1;
    return makeId(keyPrefix, this.counter);
  }

  newRecordTypeId(): string {
    this.counter += 1;
    return makeId('012', this.counter);
  }

  newJobId(): string {
    this.counter += 1;
    return makeId('750', this.counter);
  }

  private logWrite(def: ObjectDef, op: JournalEntry['op'], rec: Rec): void {
    if (!this.journal) return;
    const record = renderRecord('62.0', def, { ...rec, deleted: false }) as Record<string, unknown>;
    this.journal.push({ seq: this.journal.length + 1, at: new Date().toISOString(), op, object: def.name, id: rec.id, record });
  }

  logRequest(entry: LoggedRequest): void {
    this.requests.push(entry);
    if (this.requests.length > MAX_LOG) this.requests.splice(0, this.requests.length - MAX_LOG);
  }

  /** Clears records, jobs, faults, the request log, and quota usage (tokens stay valid). */
  reset(): void {
    this.stores.clear();
    for (const job of this.jobs.values()) job.cancelled = true;
    this.jobs.clear();
    this.faults.clear();
    this.requests = [];
    this.journal?.splice(0);
    this.apiUsed = 0;
    this.bulkBatches = 0;
  }
}
