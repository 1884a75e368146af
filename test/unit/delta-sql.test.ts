/** The delta SQL builders compile to the statements we expect (they run on a real Postgres in test/integration). */
import { Kysely, PostgresDialect, sql } from 'kysely';
import { chunkDistinct, createDelta, createStage, stageSelect, chunkPage, rowHash, settlePending } from '../../db/delta';
import { tempRows } from '../../db/stage';

const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: {} as never }) });
const compile = (b: { compile(db: Kysely<any>): { sql: string; parameters: readonly unknown[] } }) => b.compile(db);

describe('delta SQL', () => {
  test('the stage rows are one SELECT over the model, hashing the mapped columns in a fixed order, with no bind parameter (it runs inside COPY)', () => {
    const q = compile(
      stageSelect({
        runId: '7',
        model: { sql: 'SELECT * FROM contacts -- the model' },
        keyColumn: 'id',
        columns: ['email', 'name'],
        signature: 'sig',
      }),
    );
    expect(q.sql).toMatch(/^SELECT \(m\."id"\)::text AS "__key"/);
    expect(q.sql).toContain(`md5('sig' || row("m"."email", "m"."name")::text)::uuid AS "__hash"`);
    expect(q.sql).toContain('FROM (\nSELECT * FROM contacts -- the model\n) AS m');
    expect(q.parameters).toEqual([]);
    expect(
      compile(stageSelect({ runId: '7', model: { table: 'marts.Contacts' }, keyColumn: 'id', columns: ['email'], signature: 's' })).sql,
    ).toContain('FROM "marts"."Contacts" AS m');
    expect(compile(rowHash('m', ['a'], "it's")).sql).toContain(`'it''s'`);
  });

  test('the stage is one full join of the model rows with the snapshot, keeping only the rows to act on', () => {
    const b = {
      runId: '7',
      activationId: 'a',
      rows: tempRows('7'),
      target: sql.table('syncline_work.s_7'),
      columns: ['email', 'name', 'email'],
      full: false,
    };
    const q = compile(createStage({ ...b, hasDups: false }));
    expect(q.sql).toContain('CREATE TABLE "syncline_work"."s_7" WITH (autovacuum_enabled = false) AS');
    expect(q.sql).toContain('FROM pg_temp."syncline_stage_7" st FULL JOIN s ON s.key = "st"."__key"');
    // The snapshot CTE is used once, so Postgres inlines it instead of copying the whole snapshot.
    expect(q.sql.match(/\bFROM s\b|\bJOIN s\b/g)).toEqual(['JOIN s']);
    // Unchanged rows are left out; every model column is carried once.
    expect(q.sql).toContain('WHERE ("st"."__hash" IS NULL OR "st"."__key" IS NULL OR s.key IS NULL OR s.hash <> "st"."__hash" OR false');
    // The join carries keys, hashes and tuple ids; the kept rows' values are read by tuple id after it.
    expect(q.sql).toContain(
      'SELECT j.*, m."email", m."name"\nFROM j LEFT JOIN LATERAL (SELECT * FROM pg_temp."syncline_stage_7" m WHERE m.ctid = j."__model_tid" OFFSET 0) m ON true',
    );
    // New keys sent without an answer and gone from the model count as removed (activation, then the code).
    expect(q.sql).toMatch(
      /lost AS \(\s+.*\s+.*\s+.*\s+SELECT u.key FROM syncline.row_errors u\s+WHERE u.activation_id = \$2 AND u.code = \$3/,
    );
    // Rows sent without an answer are kept whatever their hash (activation, then the code).
    expect(q.sql).toContain('FROM syncline.row_errors WHERE activation_id = $11 AND code = $12) u');
    // A key too long to index is rejected unless the state holds it: looked up in row_errors by its whole key (twice: its key, its
    // change), not as a listing (MODEL_KEY_TOO_LONG, MODEL_NULL_KEY), which it may be character for character.
    expect(
      q.sql.match(
        /octet_length\("st"."__key"\) > 2000\s+AND NOT EXISTS \(SELECT 1 FROM syncline.row_errors r WHERE r.activation_id = \$\d+ AND r.key = "st"."__key" AND r.code NOT IN \(\$\d+, \$\d+\)\)\)/g,
      ),
    ).toHaveLength(2);
    expect(q.parameters).toEqual([
      'a',
      'a',
      'NOT_ACKNOWLEDGED',
      'a',
      'a',
      'MODEL_KEY_TOO_LONG',
      'MODEL_NULL_KEY',
      'a',
      'MODEL_KEY_TOO_LONG',
      'MODEL_NULL_KEY',
      'a',
      'NOT_ACKNOWLEDGED',
    ]);
    expect(q.sql).not.toContain('GROUP BY');
    expect(q.sql).not.toContain('"__key" AS');
    const withDups = compile(createStage({ ...b, full: true, hasDups: true }));
    expect(withDups.sql).toContain('LEFT JOIN dd ON dd.key = "st"."__key"');
    expect(withDups.sql).toContain('OR true');
  });

  test('the delta reads the stage alone and joins the mode table as data', () => {
    const q = compile(
      createDelta({
        runId: '7',
        activationId: 'a',
        modeRows: [
          { change: 'added', op: 'upsert' },
          { change: 'removed', op: 'delete' },
        ],
        full: false,
        onlyFailed: false,
      }),
    );
    // Half-empty pages for answers recorded in place; no parallel plan for a page of a large chunk.
    expect(q.sql).toContain('CREATE TABLE "syncline_work"."d_7" WITH (fillfactor = 50, parallel_workers = 0) AS');
    expect(q.sql).toContain('FROM "syncline_work"."s_7" st\nLEFT JOIN (VALUES ($1, $2), ($3, $4)) AS m(change, op)');
    expect(q.sql).not.toContain('syncline.snapshot');
    expect(q.parameters).toEqual(['added', 'upsert', 'removed', 'delete', 'a']);
  });

  test('a chunk page reads by seq range and joins stage values by tuple id', () => {
    const q = compile(
      chunkPage({ runId: '7', activationId: 'a', range: { op: 'upsert', from: 1, to: 500 }, columns: ['email'], after: 10, limit: 100 }),
    );
    expect(q.sql).toContain('LEFT JOIN "syncline_work"."s_7" s ON s.ctid = d.tid');
    expect(q.sql).toContain('d.op = $');
    expect(q.sql).toContain('ORDER BY d.seq LIMIT');
  });

  test('settling a chunk touches only its pending rows, in one statement', () => {
    const q = compile(settlePending('7', { op: 'upsert', from: 1, to: 500 }, true));
    expect(q.sql).toMatch(/^UPDATE "syncline_work"."d_7" SET status = 'ok'/);
    expect(q.sql).toContain('result_id = key');
    expect(q.sql).toContain("AND status = 'pending'");
    expect(q.parameters).toEqual(['upsert', 1, 500]);
    expect(compile(settlePending('7', { op: 'upsert', from: 1, to: 500 }, false)).sql).toContain('result_id = NULL');
  });

  test('distinct rows of a chunk: one per non-empty text of the column, the latest by seq', () => {
    const q = compile(
      chunkDistinct({
        runId: '7',
        activationId: 'a',
        range: { op: 'upsert', from: 1, to: 500 },
        columns: ['email', 'customer'],
        distinct: 'customer',
      }),
    );
    expect(q.sql).toMatch(/^SELECT DISTINCT ON \(\(s\."customer"\)::text\)/);
    expect(q.sql).toContain(`AND (s."customer")::text <> ''`);
    expect(q.sql).toMatch(/ORDER BY \(s\."customer"\)::text, d\.seq DESC$/);
  });
});
