/**
 * One emulator per schedule (Salesforce or Actito, in this process, journal on): its faults hit that
 * schedule only, and its inspection endpoints give the destination's real state and every write made.
 * Everything goes through the emulators' admin API over HTTP, as a test would.
 */
import { startSalesforceEmulator, DEMO_CREDENTIALS, type SalesforceEmulator } from '../../emulators/salesforce/server';
import { startActitoEmulator, type ActitoEmulator } from '../../emulators/actito/server';
import type { Mapping } from '../../common/config';
import type { Dest, FaultClass, Schedule } from './schedule';

export type Epoch = 'A' | 'B';
/** A model row's mapped content (numeric and text as Postgres prints them). */
export interface Content {
  name: string;
  email: string | null;
  amount: string | null;
  note: string;
}
export interface DestRecord {
  id: string;
  key: string | null;
  fields: Record<string, unknown>;
}
export interface JournalWrite {
  seq: number;
  at: number;
  op: 'create' | 'update' | 'delete' | 'rollback';
  id: string;
  key: string | null;
  fields: Record<string, unknown>;
}
/** An armed fault and whether the emulator shows that it struck. */
export interface FaultOutcome {
  fault: FaultClass;
  spec: Record<string, unknown>;
  fired: boolean;
}

const admin = async <T>(base: string, path: string, init?: RequestInit): Promise<T> => {
  const res = await fetch(`${base}/__admin${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...(init?.headers ?? {}) } });
  if (!res.ok) throw new Error(`admin ${init?.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};

interface Armed {
  fault: FaultClass;
  spec: Record<string, unknown>;
  at: number;
  fired?: boolean;
}

export abstract class Destination {
  abstract readonly kind: Dest;
  protected armed: Armed[] = [];
  readonly outcomes: FaultOutcome[] = [];
  /** Journal entries up to this one were the destination's state before the schedule (seeding). */
  seededUpTo = 0;

  constructor(
    readonly connectionName: string,
    protected readonly schedule: Schedule,
  ) {}

  abstract get url(): string;
  abstract connection(): Record<string, unknown>;
  abstract destinationConfig(): Record<string, unknown>;
  /** Destination field ← model column, for a mapping epoch (B adds the note). */
  abstract fields(epoch: Epoch): Array<[string, keyof Content]>;
  abstract setup(preexisting: string[]): Promise<void>;
  abstract records(): Promise<DestRecord[]>;
  abstract journal(): Promise<JournalWrite[]>;
  abstract close(): Promise<void>;
  /** Writes to the destination behind syncline's back (the campaign's self-check). */
  abstract tamper(key: string): Promise<void>;
  /** How an emulator shows that a switch or counted fault struck since `since`. */
  protected abstract firedSince(a: Armed, remaining: Record<string, unknown>): Promise<boolean>;
  protected abstract faultState(): Promise<Record<string, unknown>>;

  mappings(epoch: Epoch): Mapping[] {
    return this.fields(epoch).map(([to, from]) => ({ from, to, ...(this.kind === 'actito' && from === 'note' ? { type: 'STRING' } : {}) }));
  }

  /** What a record written from `c` under `epoch` holds in the fields that epoch maps. */
  expected(c: Content, epoch: Epoch): Record<string, unknown> {
    const value = (col: keyof Content): unknown => (col === 'amount' ? (c.amount === null ? null : Number(c.amount)) : c[col]);
    return Object.fromEntries(this.fields(epoch).map(([to, from]) => [to, value(from)]));
  }

  async arm(fault: FaultClass, spec: Record<string, unknown>): Promise<void> {
    await this.settle(Object.keys(spec));
    await admin(this.url, '/faults', { method: 'POST', body: JSON.stringify(spec) });
    this.armed.push({ fault, spec, at: Date.now() });
  }

  /** Turns the named switches off (duration faults), recording whether they struck. */
  async clearSwitch(spec: Record<string, unknown>): Promise<void> {
    await this.settle(Object.keys(spec));
    const off = Object.fromEntries(
      Object.keys(spec)
        .filter((k) => k !== 'expireTokens')
        .map((k) => [k, false]),
    );
    if (Object.keys(off).length) await admin(this.url, '/faults', { method: 'POST', body: JSON.stringify(off) });
  }

  /** Clears every fault (the final, fault-free phase of a schedule). */
  async clearAll(): Promise<void> {
    await this.settle(null);
    await admin(this.url, '/faults', { method: 'DELETE' });
  }

  /** Decides, for armed faults named in `names` (all when null), whether they struck, and forgets them. */
  private async settle(names: string[] | null): Promise<void> {
    const due = this.armed.filter((a) => names === null || Object.keys(a.spec).some((k) => names.includes(k)));
    if (!due.length) return;
    const state = await this.faultState();
    for (const a of due) this.outcomes.push({ fault: a.fault, spec: a.spec, fired: await this.firedSince(a, state) });
    this.armed = this.armed.filter((a) => !due.includes(a));
  }
}

const CONTACT_FIELDS = ['LastName', 'Email', 'Lifetime_Value__c', 'Description'];

export class SalesforceDestination extends Destination {
  readonly kind = 'salesforce' as const;
  private emu!: SalesforceEmulator;

  get url(): string {
    return this.emu.url;
  }
  /** Insert keys on a non-unique field: a changed row becomes a second record with the same key. */
  get keyField(): string {
    return this.schedule.mode === 'insert' ? 'Department' : 'External_Id__c';
  }

  async start(): Promise<this> {
    this.emu = await startSalesforceEmulator({ port: 0, bulkProcessingDelayMs: 10, dailyApiLimit: 10_000_000, journal: true });
    return this;
  }

  connection(): Record<string, unknown> {
    return {
      auth: 'client_credentials',
      loginUrl: this.emu.url,
      clientId: DEMO_CREDENTIALS.clientId,
      clientSecret: DEMO_CREDENTIALS.clientSecret,
    };
  }

  destinationConfig(): Record<string, unknown> {
    return {
      kind: 'salesforce',
      connection: this.connectionName,
      object: 'Contact',
      key: this.keyField,
      options: { bulkThreshold: this.schedule.bulkThreshold, bulkPollMs: 1000, quotaWaitMs: 3000 },
    };
  }

  fields(epoch: Epoch): Array<[string, keyof Content]> {
    const a: Array<[string, keyof Content]> = [
      ['LastName', 'name'],
      ['Email', 'email'],
      ['Lifetime_Value__c', 'amount'],
    ];
    return epoch === 'A' ? a : [...a, ['Description', 'note']];
  }

  async setup(preexisting: string[]): Promise<void> {
    if (preexisting.length) {
      await admin(this.url, '/records/Contact', {
        method: 'POST',
        body: JSON.stringify(preexisting.map((k) => ({ [this.keyField]: k, LastName: `Seeded ${k}`, Lifetime_Value__c: 0 }))),
      });
    }
    this.seededUpTo = (await this.journal()).length;
  }

  async records(): Promise<DestRecord[]> {
    const all = await admin<Array<Record<string, unknown>>>(this.url, '/records/Contact');
    return all.map((r) => ({
      id: String(r.Id),
      key: (r[this.keyField] as string | null) ?? null,
      fields: Object.fromEntries(CONTACT_FIELDS.map((f) => [f, r[f] ?? null])),
    }));
  }

  async journal(): Promise<JournalWrite[]> {
    const j = await admin<{
      entries: Array<{ seq: number; at: string; op: JournalWrite['op']; object: string; id: string; record: Record<string, unknown> }>;
    }>(this.url, '/journal');
    return j.entries
      .filter((e) => e.object === 'Contact')
      .map((e) => ({
        seq: e.seq,
        at: Date.parse(e.at),
        op: e.op,
        id: e.id,
        key: (e.record[this.keyField] as string | null) ?? null,
        fields: Object.fromEntries(CONTACT_FIELDS.map((f) => [f, e.record[f] ?? null])),
      }));
  }

  protected faultState(): Promise<Record<string, unknown>> {
    return admin(this.url, '/faults');
  }

  /** A second record with the key (seeding bypasses the unique check). */
  async tamper(key: string): Promise<void> {
    await admin(this.url, '/records/Contact', { method: 'POST', body: JSON.stringify([{ [this.keyField]: key, LastName: 'Tampered' }]) });
  }

  protected async firedSince(a: Armed, state: Record<string, unknown>): Promise<boolean> {
    const [name, value] = Object.entries(a.spec)[0]!;
    const after = (await admin<{ requests: Array<{ status: number; time: string; path: string }> }>(this.url, '/requests')).requests.filter(
      (r) => Date.parse(r.time) >= a.at - 5,
    );
    switch (name) {
      case 'expireTokens':
        return after.some((r) => r.status === 401);
      case 'dailyQuotaExhausted':
        return after.some((r) => r.status === 403);
      case 'bulkJobStuck':
        return (await admin<Array<{ state: string }>>(this.url, '/jobs')).some((j) => j.state === 'InProgress');
      case 'bulkJobFails':
        return Number(state.bulkJobFails ?? 0) < Number((value as { count: number }).count);
      default: {
        const left = state[name] as { count?: number } | undefined;
        return !left || Number(left.count ?? 0) < Number((value as { count: number }).count);
      }
    }
  }

  async close(): Promise<void> {
    await this.emu.close();
  }
}

const TABLE = 'chaos';

export class ActitoDestination extends Destination {
  readonly kind = 'actito' as const;
  private emu!: ActitoEmulator;

  get url(): string {
    return this.emu.url;
  }

  async start(): Promise<this> {
    this.emu = await startActitoEmulator({
      port: 0,
      bulkProcessingDelayMs: 10,
      dailyBulkImportQuota: 100_000,
      callsPerMinute: 2000,
      emptyOnUpdate: 'clear',
      journal: true,
    });
    return this;
  }

  connection(): Record<string, unknown> {
    return { apiKey: this.emu.apiKey, baseUrl: this.emu.url, entity: this.emu.entity, emptyOnUpdate: 'clear' };
  }

  destinationConfig(): Record<string, unknown> {
    const size = this.schedule.chunkSize;
    return {
      kind: 'actito',
      connection: this.connectionName,
      table: TABLE,
      key: 'extId',
      options: {
        bulkThreshold: this.schedule.bulkThreshold,
        singleChunkSize: size,
        bulkChunkSize: size,
        pollAfterMs: 0,
        bulkImportsPerDay: 100_000,
        bulkImportsReserve: 0,
      },
    };
  }

  fields(epoch: Epoch): Array<[string, keyof Content]> {
    const a: Array<[string, keyof Content]> = [
      ['name', 'name'],
      ['email', 'email'],
      ['amount', 'amount'],
    ];
    return epoch === 'A' ? a : [...a, ['note', 'note']];
  }

  async setup(preexisting: string[]): Promise<void> {
    // `note` is not there: the first run mapping it creates the attribute (ensureAttributes).
    await admin(this.url, '/tables', {
      method: 'POST',
      body: JSON.stringify({
        name: TABLE,
        primaryKeyAttribute: 'extId',
        attributes: [
          { name: 'extId', valueType: 'STRING', valueRestriction: { maxLength: 50 } },
          { name: 'name', valueType: 'STRING', valueRestriction: { maxLength: 100 } },
          { name: 'email', valueType: 'STRING' },
          { name: 'amount', valueType: 'NUMBER' },
        ],
      }),
    });
    if (preexisting.length) {
      const token = (
        (await (
          await fetch(`${this.url}/auth/token`, { headers: { Authorization: this.emu.apiKey, Accept: 'application/json' } })
        ).json()) as { accessToken: string }
      ).accessToken;
      for (const k of preexisting) {
        const res = await fetch(`${this.url}/v4/entity/${this.emu.entity}/customTable/${TABLE}/record`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', 'Content-Type': 'application/json' },
          body: JSON.stringify({
            properties: [
              { name: 'extId', value: k },
              { name: 'name', value: `Seeded ${k}` },
              { name: 'amount', value: 0 },
            ],
          }),
        });
        if (!res.ok) throw new Error(`seeding ${k}: ${res.status} ${await res.text()}`);
      }
    }
    this.seededUpTo = (await this.journal()).length;
  }

  async records(): Promise<DestRecord[]> {
    const r = await admin<{ records: Array<Record<string, unknown>> }>(this.url, `/tables/${TABLE}/records?limit=1000000`);
    return r.records.map((x) => ({
      id: String(x.id),
      key: (x.extId as string | undefined) ?? null,
      fields: { name: x.name ?? null, email: x.email ?? null, amount: x.amount ?? null, note: x.note ?? null },
    }));
  }

  async journal(): Promise<JournalWrite[]> {
    const j = await admin<{
      entries: Array<{
        seq: number;
        at: string;
        op: JournalWrite['op'];
        table: string;
        id: number;
        key: string | null;
        values: Record<string, unknown>;
      }>;
    }>(this.url, '/journal');
    return j.entries
      .filter((e) => e.table === TABLE)
      .map((e) => ({
        seq: e.seq,
        at: Date.parse(e.at),
        op: e.op,
        id: String(e.id),
        key: e.key,
        fields: {
          name: e.values.name ?? null,
          email: e.values.email ?? null,
          amount: e.values.amount ?? null,
          note: e.values.note ?? null,
        },
      }));
  }

  protected async faultState(): Promise<Record<string, unknown>> {
    return (await admin<{ faults: Record<string, unknown> }>(this.url, '/faults')).faults;
  }

  /** The record's name overwritten through the public API. */
  async tamper(key: string): Promise<void> {
    const token = (
      (await (
        await fetch(`${this.url}/auth/token`, { headers: { Authorization: this.emu.apiKey, Accept: 'application/json' } })
      ).json()) as { accessToken: string }
    ).accessToken;
    const res = await fetch(`${this.url}/v4/entity/${this.emu.entity}/customTable/${TABLE}/record`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', 'Content-Type': 'application/json' },
      body: JSON.stringify({
        properties: [
          { name: 'extId', value: key },
          { name: 'name', value: 'Tampered' },
        ],
      }),
    });
    if (!res.ok) throw new Error(`tampering with ${key}: ${res.status} ${await res.text()}`);
  }

  protected async firedSince(a: Armed, state: Record<string, unknown>): Promise<boolean> {
    const [name, value] = Object.entries(a.spec)[0]!;
    const after = (
      await admin<{ requests: Array<{ status: number; at: string; method: string; route: string }> }>(this.url, '/requests')
    ).requests.filter((r) => Date.parse(r.at) >= a.at - 5);
    switch (name) {
      case 'expireTokens':
        return after.some((r) => r.status === 401);
      case 'bulkQuotaExhausted':
        return after.some((r) => r.status === 429 && r.method === 'POST' && r.route.includes('etl-executions'));
      case 'bulkImportStuck':
        return (await admin<{ imports: Array<{ status: string }> }>(this.url, '/imports')).imports.some((i) => i.status === 'RUNNING');
      default: {
        const left = state[name] as { count?: number } | undefined;
        return !!left && Number(left.count ?? 0) < Number((value as { count: number }).count);
      }
    }
  }

  async close(): Promise<void> {
    await this.emu.close();
  }
}

export async function startDestination(s: Schedule, connectionName: string): Promise<Destination> {
  return s.dest === 'salesforce' ? new SalesforceDestination(connectionName, s).start() : new ActitoDestination(connectionName, s).start();
}
