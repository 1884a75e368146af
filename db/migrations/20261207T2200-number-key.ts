/** Frozen in time: never import application code here. */
import { type Kysely, sql } from 'kysely';

/**
 * syncline.number_key(text, integer): how keys are compared where the destination's key is a number (a Salesforce
 * External ID of type Number): '1001.50', '1001.5', '01001.5', '1.0015e3' are one record there, matched by value,
 * while syncline keeps a model key as text (Mirror renaming '1001.50' to '1001.5' deleted the record of the row
 * still in the model). A key that reads as a decimal (ASCII digits, a point, an exponent of at most 3 digits after
 * leading zeros; no '_', no space inside; spaces, tabs and line breaks at either end left out, as the connector
 * reads it (connectors/salesforce/decimal.ts: ' 7' is sent as 7); at most 1,000 bytes) becomes the number's plain
 * text without trailing zeros ('1001.5', '-0' is '0'), rounded first to `scale` decimals when `scale` is not null
 * (the field keeps that many: the connector sends the rounded value); any other text ('NaN', 'Infinity', '7 5', a
 * value of a text column) is returned as it is, never an error: the stage's unique index uses it. No backslash in
 * the pattern: this is a JavaScript template. IMMUTABLE, one expression (inlined). trim_scale: Postgres 13+.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE OR REPLACE FUNCTION syncline.number_key(k text, scale integer) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
SELECT CASE WHEN octet_length(k) <= 1000 AND pg_catalog.btrim(k, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?0*[0-9]{1,3})?$'
  THEN pg_catalog.trim_scale(CASE WHEN scale IS NULL THEN pg_catalog.btrim(k, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))::numeric
    ELSE pg_catalog.round(pg_catalog.btrim(k, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))::numeric, scale) END)::text
  ELSE k END
$f$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS syncline.number_key(text, integer)`.execute(db);
}
