/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * syncline.fold_key(text): how keys are compared where the destination's key ignores case (a Salesforce
 * External ID): lower case, folding letters beyond A-Z whatever the database's ctype. Postgres `lower()`
 * follows the ctype: in a database created with LC_CTYPE 'C' `lower('É')` is 'É', and keys that the destination
 * takes for one record ('ÉTÉ-1', 'été-1') were two for syncline (Mirror deleted the record of the renamed key).
 *
 * The fold is the first of these that turns 'É' into 'é' here: the database's own `lower()` (what syncline
 * compared with before: a database where it already folds keeps its folding, letter for letter), else
 * `lower()` under "pg_c_utf8" (builtin, Postgres 17+, simple Unicode case mapping, a UTF8 database), else under
 * "und-x-icu" (a Postgres built with ICU), else the database's own all the same (`foldsNonAsciiCase` in
 * db/delta.ts tells whether it folds, and the check warns when it does not: KEY_FOLDING_ASCII_ONLY).
 * IMMUTABLE (unique index expressions of the stage use it) and a single expression: the planner inlines it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`DO $do$
DECLARE c text;
BEGIN
  CREATE OR REPLACE FUNCTION syncline.fold_key(k text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT pg_catalog.lower(k)';
  IF syncline.fold_key('É') = 'é' THEN RETURN; END IF;
  FOREACH c IN ARRAY ARRAY['pg_c_utf8', 'und-x-icu'] LOOP
    BEGIN
      EXECUTE format('CREATE OR REPLACE FUNCTION syncline.fold_key(k text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
        format('SELECT pg_catalog.lower(k COLLATE %I)', c));
      IF syncline.fold_key('É') = 'é' THEN RETURN; END IF;
    EXCEPTION WHEN others THEN NULL;
    END;
  END LOOP;
  CREATE OR REPLACE FUNCTION syncline.fold_key(k text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT pg_catalog.lower(k)';
END
$do$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS syncline.fold_key(text)`.execute(db);
}
