/**
 * Which Postgres refusals of SQLSTATE class 54 cross the activity boundary as final. The wraparound stops
 * are raised as 54000 too (varsup.c GetNewTransactionId, multixact.c GetNewMultiXactId), but they refuse
 * every write of the database, not the statement: a VACUUM (autovacuum's, or an operator's) lifts them,
 * and the retry that follows succeeds. The errors below are built as pg builds them from Postgres' fields.
 */
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { programLimit, toFailure } from '../../activities/failure';
import { SyncError } from '../../common/errors';

function pgError(fields: { code: string; message: string; routine: string; hint?: string }): pg.DatabaseError {
  const e = new pg.DatabaseError(fields.message, 0, 'error');
  return Object.assign(e, { severity: 'ERROR', code: fields.code, routine: fields.routine, hint: fields.hint });
}

const xidStop = pgError({
  code: '54000',
  message: 'database is not accepting commands that assign new transaction IDs to avoid wraparound data loss in database "syncline"',
  routine: 'GetNewTransactionId',
  hint: 'Execute a database-wide VACUUM in that database.',
});
const membersStop = pgError({ code: '54000', message: 'multixact "members" limit exceeded', routine: 'GetNewMultiXactId' });
const tooLarge = pgError({ code: '54000', message: 'requested length too large', routine: 'repeat' });

test('a wraparound stop of the state database is retried: a VACUUM lifts it, not a change of the statement', () => {
  for (const stop of [xidStop, membersStop]) {
    expect(programLimit(stop)).toBeNull();
    const raw = toFailure(stop);
    expect(raw).toBe(stop); // not an ApplicationFailure: Temporal retries it as any other error
    const wrapped = toFailure(new SyncError('INTERNAL', `could not record the run: ${stop.message}`, { retryable: true, cause: stop }));
    expect(wrapped).toBeInstanceOf(ApplicationFailure);
    expect((wrapped as ApplicationFailure).nonRetryable).toBe(false);
    expect((wrapped as ApplicationFailure).message).not.toContain('a retry cannot lift');
  }
});

test('a limit of the statement itself is still final', () => {
  expect(programLimit(tooLarge)).toBe('54000');
  expect((toFailure(tooLarge) as ApplicationFailure).nonRetryable).toBe(true);
});
