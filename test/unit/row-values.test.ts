/**
 * Postgres data exceptions (class 22) quote the value they could not take, a value of the user's rows:
 * the failure an activity sends to history (in clear, even with a codec) carries "…" instead.
 */
import { ApplicationFailure } from '@temporalio/common';
import { DatabaseError } from 'pg';
import { SyncError } from '../../common/errors';
import { toFailure, withoutRowValues, withoutValue } from '../../activities/failure';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

test('the quoted part of a data exception becomes "…", wherever it stands and whatever quotes it holds', () => {
  expect(withoutValue('invalid input syntax for type integer: "ann@example.com"')).toBe('invalid input syntax for type integer: "…"');
  expect(withoutValue('value "99999999999" is out of range for type integer')).toBe('value "…" is out of range for type integer');
  expect(withoutValue('invalid input value for enum mood: "a "b" c"')).toBe('invalid input value for enum mood: "…"');
  expect(withoutValue('division by zero')).toBe('division by zero');
});

test('only class 22 is touched: identifiers other errors quote stay', () => {
  const undefinedColumn = pgError('42703', 'column "emial" does not exist');
  expect(withoutRowValues(`activation "a": ${undefinedColumn.message}`, undefinedColumn)).toBe(
    'activation "a": column "emial" does not exist',
  );
});

test('toFailure: a SyncError caused by a data exception, and a data exception passed through as it came', () => {
  const cast = pgError('22P02', 'invalid input syntax for type integer: "s3cret-row"');
  const wrapped = toFailure(
    new SyncError('MODEL_SQL_ERROR', `activation "a": the model query failed in Postgres: ${cast.message}.`, { cause: cast }),
  );
  expect((wrapped as ApplicationFailure).message).toBe(
    'activation "a": the model query failed in Postgres: invalid input syntax for type integer: "…".',
  );
  const bare = toFailure(cast) as ApplicationFailure;
  expect(bare).toBeInstanceOf(ApplicationFailure);
  expect(`${bare.message} ${bare.stack}`).not.toContain('s3cret-row');
  expect(bare.nonRetryable).toBe(false);
  const other = pgError('42P01', 'relation "x" does not exist');
  expect(toFailure(other)).toBe(other);
});

// From an independent review (rev16): passed through, a node-postgres error reached history typed by its class
// (the SDK's conversion: constructor name, "DatabaseError"), which `syncline runs` and a run's error show; the
// redacted failure took its `name`, which node-postgres sets to "error".
test('toFailure: a data exception passed through keeps the type it had (its class name)', () => {
  const e = Object.assign(new DatabaseError('invalid input syntax for type integer: "s3cret-row"', 0, 'error'), { code: '22P02' });
  const bare = toFailure(e) as ApplicationFailure;
  expect(bare.type).toBe('DatabaseError');
  expect(bare.message).toBe('invalid input syntax for type integer: "…"');
});
