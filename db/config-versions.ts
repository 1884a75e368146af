/** Accepted activation documents, versioned (syncline.config_versions); a run names the version it ran. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database';
import { diffDocuments } from '../common/config-diff';

type Db = Kysely<Database>;

/**
 * The version of `document` for the activation: the latest one when it holds the same document, else
 * a new version with its diff from the latest and the reason. Serialised per activation (row lock).
 */
export async function configVersion(db: Db, activationId: string, document: unknown, reason?: string): Promise<number> {
  return db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('syncline.config_versions'), hashtext(${activationId}))`.execute(tx);
    const latest = await tx
      .selectFrom('syncline.config_versions')
      .select(['version', 'document'])
      .where('activation_id', '=', activationId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    const same =
      latest &&
      (
        await sql<{ same: boolean }>`SELECT ${JSON.stringify(document)}::jsonb = ${JSON.stringify(latest.document)}::jsonb AS same`.execute(
          tx,
        )
      ).rows[0]!.same;
    if (latest && same) return latest.version;
    const version = (latest?.version ?? 0) + 1;
    await tx
      .insertInto('syncline.config_versions')
      .values({
        activation_id: activationId,
        version,
        document: JSON.stringify(document),
        diff: JSON.stringify(latest ? diffDocuments(latest.document, document) : []),
        reason: reason ?? (latest ? null : 'first version'),
      })
      .execute();
    return version;
  });
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
