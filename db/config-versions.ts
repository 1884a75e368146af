/** Accepted activation documents, versioned (syncline.config_versions); a run names the version it ran. */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './database';
import { diffDocuments } from '../common/config-diff';
import { TARGET_PATHS } from '../common/config-change';

type Db = Kysely<Database>;

/**
 * The version of `document` for the activation: the latest one when it holds the same document, else
 * a new version with its diff from the latest and the reason. Serialised per activation (an advisory
 * lock). Every run asks, and the document seldom changes: one statement first compares it with the latest
 * version in Postgres (no lock needed to read an append-only history), and only a new document takes the
 * lock, reads the latest version again and adds one. Given a transaction, it adds the version in it.
 */
export async function configVersion(
  db: Db,
  activationId: string,
  document: unknown,
  reason?: string,
  opts: { keepTarget?: boolean } = {},
): Promise<number> {
  const json = JSON.stringify(document);
  const seen = await latestVersion(db, activationId, json);
  if (seen?.same) return seen.version;
  // Within a caller's transaction (db/runs.ts acceptNewTarget): the version is added in it, under the same lock.
  const add = async (tx: Db): Promise<number> => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('syncline.config_versions'), hashtext(${activationId}))`.execute(tx);
    const latest = await latestVersion(tx, activationId, json);
    if (latest?.same) return latest.version;
    if (opts.keepTarget && latest) {
      const paths = targetChanges(latest.document, document);
      if (paths.length) throw new TargetChanged(activationId, latest.version, paths);
    }
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

/**
 * `keepTarget`: a document that names another target than the latest version does is not recorded. Only an
 * accepted new target (acceptNewTarget, `--retarget`) records one; a run's prepare carrying one comes from
 * no current execution of the activation (db/runs.ts openRun).
 */
export class TargetChanged extends Error {
  constructor(
    readonly activationId: string,
    /** The latest version, which names the target the activation writes to now. */
    readonly version: number,
    /** The target paths (common/config-change.ts TARGET_PATHS) in which the document differs from it. */
    readonly paths: string[],
  ) {
    super(
      `activation "${activationId}": its latest version ${version} gave it a new target; this document differs from it in ${paths.join(', ')}`,
    );
    this.name = 'TargetChanged';
  }
}

/** The target paths in which `after` differs from `before`. */
export function targetChanges(before: unknown, after: unknown): string[] {
  return [...new Set(diffDocuments(before, after).map((c) => c.path))].filter((p) => TARGET_PATHS.includes(p));
}

/** A document's target in SQL, for comparisons in Postgres: the values at TARGET_PATHS, in their order. */
export function targetOfSql(document: RawBuilder<unknown>): RawBuilder<unknown> {
  const at = TARGET_PATHS.map((p) => sql`${document} #> ${sql.lit(`{${p.split('.').join(',')}}`)}`);
  return sql`jsonb_build_array(${sql.join(at)})`;
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
