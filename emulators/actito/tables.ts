import { createHash } from 'node:crypto';
import { Table, type TableInit, type WriteHook } from './table';
import type { AttributeDef, ForeignKeyDef } from './types';

/** Technical columns that exist on every table and are never written by clients [D S8, S19]. */
export const TECHNICAL_ATTRIBUTES = new Set(['id', 'profileId', 'creationMoment', 'updateMoment']);

const attr = (name: string, valueType: AttributeDef['valueType'], extra: Partial<AttributeDef> = {}): AttributeDef => ({
  name,
  valueType,
  mandatory: false,
  indexed: false,
  unique: false,
  ...extra,
});

/** Deterministic UUID-shaped id, so seeded table ids are stable across restarts (v5 ids are UUIDs [D S7]). */
export function tableUuid(entity: string, name: string): string {
  const h = createHash('sha1').update(`${entity}/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The licence's tables: one profile table (`main`, id "1") and custom tables (`orders` seeded). */
export class TableStore {
  profiles!: Table;
  private custom = new Map<string, Table>();
  private nextV4Id = 100;
  private onWrite: WriteHook | null = null;

  constructor(readonly entity: string) {
    this.reset();
  }

  /** Tells `hook` of every record written in any table, now and created later. */
  setWriteHook(hook: WriteHook | null): void {
    this.onWrite = hook;
    for (const t of [this.profiles, ...this.custom.values()]) t.onWrite = hook;
  }

  /** Back to the seeded state (tables created by tests are dropped). */
  reset(): void {
    this.custom.clear();
    this.nextV4Id = 100;
    this.profiles = new Table({
      kind: 'PROFILE_TABLE',
      id: '1',
      v4Id: 1,
      name: 'main',
      primaryKeyAttribute: 'profileId',
      attributes: [
        attr('emailAddress', 'STRING', { unique: true, indexed: true, profileType: 'EMAIL_ADDRESS' }),
        attr('customerId', 'STRING', { unique: true, indexed: true, profileType: 'CUSTOM', valueRestriction: { maxLength: 50 } }),
        attr('firstName', 'STRING', { profileType: 'FIRSTNAME' }),
        attr('lastName', 'STRING', { profileType: 'LASTNAME' }),
        attr('motherLanguage', 'STRING', { profileType: 'MOTHER_LANGUAGE' }),
        attr('birthDate', 'DATE', { profileType: 'BIRTHDATE' }),
        attr('sex', 'STRING', { profileType: 'SEX' }),
        attr('loyaltyPoints', 'INTEGER', { profileType: 'CUSTOM' }),
      ],
    });
    this.profiles.onWrite = this.onWrite;
    this.createCustomTable({
      name: 'orders',
      primaryKeyAttribute: 'orderId',
      creationTimeAttribute: 'orderedAt',
      attributes: [
        attr('orderId', 'STRING', { mandatory: true, unique: true, indexed: true, valueRestriction: { maxLength: 50 } }),
        attr('customerId', 'STRING', { mandatory: true, indexed: true }),
        attr('status', 'STRING', { valueRestriction: { acceptedValues: ['NEW', 'PAID', 'SHIPPED', 'CANCELLED'] } }),
        attr('quantity', 'INTEGER'),
        attr('amount', 'NUMBER'),
        attr('totalCents', 'LONG'),
        attr('paid', 'BOOLEAN'),
        attr('orderDate', 'DATE'),
        attr('orderedAt', 'TIMESTAMP'),
        attr('note', 'STRING'),
      ],
      foreignKeys: [this.profileForeignKey('customerId', 'customerId')],
    });
  }

  profileForeignKey(attribute: string, profileAttribute: string): ForeignKeyDef {
    return {
      name: `fk_${attribute}`,
      attribute,
      reference: { tableType: 'PROFILE_TABLE', tableId: this.profiles.id, attribute: profileAttribute },
      onDelete: 'CASCADE',
    };
  }

  createCustomTable(init: Omit<TableInit, 'kind' | 'id' | 'v4Id'> & { id?: string }): Table {
    const table = new Table({
      ...init,
      kind: 'CUSTOM_TABLE',
      id: init.id ?? tableUuid(this.entity, init.name),
      v4Id: this.nextV4Id++,
    });
    table.onWrite = this.onWrite;
    this.custom.set(table.name, table);
    return table;
  }

  customTables(): Table[] {
    return [...this.custom.values()];
  }

  /** A custom table by name, v4 technical id or v5 UUID (clients use all three [C C1, C6; D S23]). */
  customTable(ref: string): Table | undefined {
    const byName = this.custom.get(ref);
    if (byName) return byName;
    return this.customTables().find((t) => t.id === ref || String(t.v4Id) === ref);
  }

  /** The profile table by name or id (v4 uses the name, v5 the numeric id [D S8]). */
  profileTable(ref: string): Table | undefined {
    return ref === this.profiles.name || ref === this.profiles.id ? this.profiles : undefined;
  }

  tableById(kind: 'PROFILE_TABLE' | 'CUSTOM_TABLE', id: string): Table | undefined {
    return kind === 'PROFILE_TABLE' ? this.profileTable(id) : this.customTable(id);
  }
}
