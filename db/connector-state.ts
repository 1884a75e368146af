/** The connectors' per-activation key/value state (syncline.connector_state): quota counters, caches, tokens. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database';

export async function getConnectorState<T>(db: Kysely<Database>, activationId: string, key: string): Promise<T | null> {
  const row = await db
    .selectFrom('syncline.connector_state')
    .select('value')
    .where('activation_id', '=', activationId)
    .where('key', '=', key)
    .executeTakeFirst();
  return (row?.value as T | undefined) ?? null;
}

export async function setConnectorState(db: Kysely<Database>, activationId: string, key: string, value: unknown): Promise<void> {
  await sql`INSERT INTO syncline.connector_state (activation_id, key, value) VALUES (${activationId}, ${key}, ${JSON.stringify(value)}::jsonb)
    ON CONFLICT (activation_id, key) DO UPDATE SET value = excluded.value, updated_at = now()`.execute(db);
}
