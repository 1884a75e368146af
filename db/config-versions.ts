/** Accepted activation documents, versioned (syncline.config_versions); a run names the version it ran. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database';
import { diffDocuments } from '../common/config-diff';

type Db = Kysely<Database>;

/**
 * The version of `document` for the activation: the latest one when it holds the same document, else
 * a new version with its diff from the latest and the reason. Serialised per activation (an advisory
 * lock). Every run asks, and the document seldom changes: one statement first compares it with the latest
 * version in Postgres (no lock needed to read an append-only history), and only a new document takes the
 * lock, reads the latest version again and adds one. Given a transaction, it adds the version in it.
 */
export async function configVersion(db: Db, activationId: string, document: unknown, reason?: string): Promise<number> {
  const json = JSON.stringify(document);
  const seen = await latestVersion(db, activationId, json);
  if (seen?.same) return seen.version;
  // Within a caller's transaction (db/runs.ts acceptNewTarget): the version is added in it, under the same lock.
  const add = async (tx: Db): Promise<number> => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('syncline.config_versions'), hashtext(${activationId}))`.execute(tx);
    const latest = await latestVersion(tx, activationId, json);
    if (latest?.same) return latest.version;
    const version = (latest?.version ?? 0) + 1;
    await tx
      .insertInto('syncline.config_versions')
      .values({
        activation_id: activationId,
        version,
        document: json,
        diff: JSON.stringify(latest ? diffDocuments(latest.document, document) : []),
        reason: reason ?? (latest ? null : 'first version'),
      })
      .execute();
    return version;
  };
  return db.isTransaction ? add(db) : db.transaction().execute(add);
}

/** The activation's latest version, compared with `json` in Postgres (jsonb equality); its document only when it differs. */
async function latestVersion(
  db: Db,
  activationId: string,
  json: string,
): Promise<{ version: number; same: boolean; document: unknown } | undefined> {
  const r = await sql<{ version: number; same: boolean; document: unknown }>`SELECT version, document = ${json}::jsonb AS same,
  CASE WHEN document <> ${json}::jsonb THEN document END AS document
FROM syncline.config_versions WHERE activation_id = ${activationId} ORDER BY version DESC LIMIT 1`.execute(db);
  return r.rows[0];
}

export async function listConfigVersions(
  db: Db,
  activationId: string,
): Promise<Array<{ version: number; document: unknown; diff: unknown[]; reason: string | null; createdAt: string }>> {
  const rows = await db
    .selectFrom('syncline.config_versions')
    .selectAll()
    .where('activation_id', '=', activationId)
    .orderBy('version')
    .execute();
  return rows.map((r) => ({
    version: r.version,
    document: r.document,
    diff: r.diff as unknown[],
    reason: r.reason,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}

/** The activation's latest accepted document and its version; undefined when it never ran (or was purged). */
export async function latestConfigVersion(db: Db, activationId: string): Promise<{ version: number; document: unknown } | undefined> {
  const r = await db
    .selectFrom('syncline.config_versions')
    .select(['version', 'document'])
    .where('activation_id', '=', activationId)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r && { version: r.version, document: r.document };
}
