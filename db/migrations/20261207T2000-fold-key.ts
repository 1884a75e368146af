/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * syncline.fold_key(text): how keys are compared where the destination's key ignores case (a Salesforce
 * External ID): lower case under a Unicode-aware collation, whatever the database's ctype. Postgres `lower()`
 * follows the ctype: in a database created with LC_CTYPE 'C' `lower('É')` is 'É', and keys that the destination
 * takes for one record ('ÉTÉ-1', 'été-1') were two for syncline (Mirror deleted the record of the renamed key).
 *
 * The collation is the first that folds 'É' to 'é' here: "pg_c_utf8" (builtin, Postgres 17+, simple Unicode
 * case mapping, a UTF8 database), "und-x-icu" (a Postgres built with ICU), else "default" (the database's ctype:
 * `foldsNonAsciiCase` in db/delta.ts tells whether it folds, and the check warns when it does not: KEY_FOLDING_ASCII_ONLY).
 * IMMUTABLE (unique index expressions of the stage use it) and a single expression: the planner inlines it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DO $do$
DECLARE c text;
BEGIN
  FOREACH c IN ARRAY ARRAY['pg_c_utf8', 'und-x-icu'] LOOP
    BEGIN
      EXECUTE format('CREATE OR REPLACE FUNCTION syncline.fold_key(k text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
        format('SELECT lower(k COLLATE %I)', c));
      IF syncline.fold_key('É') = 'é' THEN RETURN; END IF;
    EXCEPTION WHEN others THEN NULL;
    END;
  END LOOP;
  CREATE OR REPLACE FUNCTION syncline.fold_key(k text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT lower(k)';
END
$do$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS syncline.fold_key(text)`.execute(db);
}
