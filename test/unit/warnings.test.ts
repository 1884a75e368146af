import { applyReport, healthOf, noticeBody, warningSignature, type OpenWarnings, type WarningReport } from '../../common/warnings';
import { currentWarnings, deadlineWarning, evaluateRunWarnings } from '../../common/thresholds';
import { configSchemas } from '../../common/config';
import type { RunSummary, RunWarning } from '../../common/run';

const w = (code: string, level: RunWarning['level'] = 'warning', message = `${code} holds`): RunWarning => ({ code, level, message });
const report = (warnings: RunWarning[], at: string, activationId = 'a'): WarningReport => ({ activationId, warnings, at });

function replay(reports: WarningReport[]): { open: OpenWarnings; notices: string[] } {
  let open: OpenWarnings = {};
  const notices: string[] = [];
  for (const r of reports) {
    const d = applyReport(open, r);
    open = d.open;
    notices.push(
      ...d.notices.map((n) => `${n.activationId}/${n.code}:${n.kind}:${n.level}${n.previousLevel ? `<${n.previousLevel}` : ''}`),
    );
  }
  return { open, notices };
}

describe('applyReport', () => {
  it('opens once while a threshold stays crossed and clears once when it recovers', () => {
    const { open, notices } = replay([
      report([w('FAILED_ROWS')], 't1'),
      report([w('FAILED_ROWS')], 't2'),
      report([w('FAILED_ROWS')], 't3'),
      report([], 't4'),
      report([], 't5'),
    ]);
    expect(notices).toEqual(['a/FAILED_ROWS:opened:warning', 'a/FAILED_ROWS:cleared:warning']);
    expect(open).toEqual({});
    const cleared = applyReport(applyReport({}, report([w('FAILED_ROWS')], 't1')).open, report([], 't2')).notices[0];
    expect(cleared).toMatchObject({
      kind: 'cleared',
      since: 't1',
      at: 't2',
      message: 'FAILED_ROWS no longer holds for activation "a" (open since t1); it was: FAILED_ROWS holds',
    });
  });

  it('sends one notice per level change, keeping the opening time', () => {
    let open: OpenWarnings = {};
    open = applyReport(open, report([w('RUN_FAILED')], 't1')).open;
    const up = applyReport(open, report([w('RUN_FAILED', 'critical')], 't2'));
    expect(up.notices).toEqual([expect.objectContaining({ kind: 'changed', level: 'critical', previousLevel: 'warning', since: 't1' })]);
    expect(applyReport(up.open, report([w('RUN_FAILED', 'critical')], 't3')).notices).toEqual([]);
  });

  it('keeps activations apart: a report only clears its own warnings', () => {
    const { open, notices } = replay([report([w('X')], 't1', 'a'), report([w('X', 'critical')], 't2', 'b'), report([], 't3', 'a')]);
    expect(notices).toEqual(['a/X:opened:warning', 'b/X:opened:critical', 'a/X:cleared:warning']);
    expect(Object.keys(open)).toEqual(['b/X']);
  });

  it('ignores info warnings and keeps the most severe entry of a code raised twice', () => {
    const { notices } = replay([report([w('NOTE', 'info'), w('Q'), w('Q', 'critical')], 't1')]);
    expect(notices).toEqual(['a/Q:opened:critical']);
  });

  it('gives notices stable ids (a retried delivery can be dropped by the receiver)', () => {
    const a = applyReport({}, report([w('X')], 't1')).notices[0]!;
    const b = applyReport({}, report([w('X')], 't1')).notices[0]!;
    expect(a.id).toBe(b.id);
  });
});

describe('health and payloads', () => {
  it('health follows the most severe open warning', () => {
    expect(healthOf([])).toBe('ok');
    expect(healthOf([w('A', 'info')])).toBe('ok');
    expect(healthOf([w('A')])).toBe('warning');
    expect(healthOf([w('A'), w('B', 'critical')])).toBe('critical');
  });

  it('a signature ignores message text and order', () => {
    expect(warningSignature([w('B', 'warning', 'x'), w('A', 'critical')])).toBe(warningSignature([w('A', 'critical', 'y'), w('B')]));
  });

  it('Slack payloads are {text}', () => {
    const [n] = applyReport({}, report([w('CONFIG_BROKEN', 'critical', 'paused')], 't1')).notices;
    expect(noticeBody(n!, true)).toEqual({ text: expect.stringContaining('critical · activation "a" · CONFIG_BROKEN: paused') });
    expect(noticeBody(n!, false)).toMatchObject({ kind: 'opened', code: 'CONFIG_BROKEN' });
  });
});

describe('currentWarnings', () => {
  const config = configSchemas().activationConfigSchema.parse({
    id: 'a',
    mode: 'upsert',
    source: { table: 't', key: 'id' },
    destination: { kind: 'testdb', connection: 'c', object: 'o', key: 'k' },
    mappings: [{ from: 'n', to: 'N' }],
    thresholds: { consecutiveFailedRuns: 2, quotaLowPercent: 20 },
  });
  const run = (extra: Partial<RunSummary> = {}): RunSummary => ({
    activationId: 'a',
    runNumber: 3,
    trigger: 'manual',
    mode: 'upsert',
    full: false,
    status: 'success',
    startedAt: 't',
    ops: {},
    rejected: 0,
    heldDeletes: 0,
    attributesCreated: [],
    warnings: [],
    ...extra,
  });
  const view = { consecutiveFailures: 0, configBroken: false, recheck: '1h' };

  it('DELTA_LARGE and MODEL_DROP say what to look at and when they clear', () => {
    const ops = { upsert: { planned: 80, succeeded: 80, failed: 0, skipped: 0, held: 0 } };
    const ws = evaluateRunWarnings(config, run({ modelRows: 100, ops }), { modelRows: 300, status: 'success' });
    const byCode = Object.fromEntries(ws.map((x) => [x.code, x.message]));
    expect(byCode.DELTA_LARGE).toContain('syncline rows a --run 3');
    expect(byCode.DELTA_LARGE).toContain('clears at the next run');
    expect(byCode.MODEL_DROP).toContain("check the model's source");
    expect(byCode.MODEL_DROP).toContain('clears at the next run');
  });

  it('a configuration error gives CONFIG_BROKEN alone', () => {
    const ws = currentWarnings(config, run({ status: 'failed', error: { type: 'AUTH_FAILED', message: 'no.' }, warnings: [w('X')] }), {
      ...view,
      configBroken: true,
      consecutiveFailures: 5,
    });
    expect(ws.map((x) => `${x.code}:${x.level}`)).toEqual(['CONFIG_BROKEN:critical']);
  });

  it("CONFIG_BROKEN reads as sentences after an error that ends without a full stop, and names the CLI's resume", () => {
    const [broken] = currentWarnings(
      config,
      run({
        status: 'failed',
        error: {
          type: 'AUTH_FAILED',
          message: 'activation "a" (Salesforce Contact): Salesforce rejected the credentials; check the named connection',
        },
      }),
      { ...view, configBroken: true },
    );
    expect(broken!.message).toContain(
      'check the named connection. Fix the connection or the activation, then resume it ("syncline resume a"; a re-check every 1h resumes it by itself once the destination checks out).',
    );
    const [stops] = currentWarnings(config, run({ status: 'failed', error: { type: 'AUTH_FAILED', message: 'no.' } }), {
      ...view,
      configBroken: true,
    });
    expect(stops!.message).toContain('failed with AUTH_FAILED: no. Fix the connection');
  });

  it('a failed run is a warning, critical from consecutiveFailedRuns in a row', () => {
    const failed = run({ status: 'failed', error: { type: 'MODEL_SQL_ERROR', message: 'gone' } });
    expect(currentWarnings(config, failed, { ...view, consecutiveFailures: 1 })).toEqual([
      expect.objectContaining({ code: 'RUN_FAILED', level: 'warning' }),
    ]);
    expect(currentWarnings(config, failed, { ...view, consecutiveFailures: 2 })).toEqual([
      expect.objectContaining({ code: 'RUN_FAILED', level: 'critical' }),
    ]);
  });

  it('QUOTA_LOW when less than quotaLowPercent is left, once', () => {
    expect(currentWarnings(config, run(), { ...view, quota: { used: 85, max: 100 } }).map((x) => x.code)).toEqual(['QUOTA_LOW']);
    expect(currentWarnings(config, run(), { ...view, quota: { used: 50, max: 100 } })).toEqual([]);
    expect(currentWarnings(config, run({ warnings: [w('QUOTA_LOW')] }), { ...view, quota: { used: 99, max: 100 } })).toHaveLength(1);
  });

  it('DELETES_HELD names the command that lists the held deletions to review, and the one that approves them', () => {
    const held = run({ heldDeletes: 5, ops: { delete: { planned: 5, succeeded: 0, failed: 0, skipped: 0, held: 5 } } });
    const [deletes] = evaluateRunWarnings(config, held).filter((x) => x.code === 'DELETES_HELD');
    expect(deletes!.message).toMatch(
      /Nothing was deleted\. Review them \("syncline rows \S+ --run 3 --op delete" lists them\), then approve with: syncline approve-deletes \S+ --run 3$/,
    );
  });

  it('DELETES_HELD of a model with rows without a key names how many and the key column, and says to fix the model or approve', () => {
    const held = run({
      heldDeletes: 2,
      rejected: 2,
      nullKeyRows: 2,
      ops: { delete: { planned: 2, succeeded: 0, failed: 0, skipped: 0, held: 2 } },
    });
    const [deletes] = evaluateRunWarnings(config, held).filter((x) => x.code === 'DELETES_HELD');
    expect(deletes!.message).toContain(
      'run 3: 2 deletions held by the deletion guard: 2 model rows have no key (column "id"), so the removed keys may be theirs',
    );
    expect(deletes!.message).toMatch(
      /Nothing was deleted\. Fix the model so that every row has its key .* then approve with: syncline approve-deletes \S+ --run 3$/,
    );
  });

  describe('FAILED_ROWS and problems already reported', () => {
    const ops = (planned: number, succeeded: number, failed: number, skipped: number) => ({
      upsert: { planned, succeeded, failed, skipped, held: 0 },
    });
    const open = [w('FAILED_ROWS')];
    const codes = (ws: RunWarning[]) => ws.map((x) => x.code);

    it('a run raises it for its own failures only: unchanged rejections and skipped rows are not counted again', () => {
      expect(codes(evaluateRunWarnings(config, run({ ops: ops(2, 0, 0, 2), rejected: 4, rejectedUnchanged: 4 })))).toEqual([]);
      expect(evaluateRunWarnings(config, run({ ops: ops(10, 9, 0, 1), rejected: 4, rejectedUnchanged: 3 }))).toEqual([
        expect.objectContaining({ code: 'FAILED_ROWS', message: expect.stringContaining('run 3: 1 of 10 rows failed or were rejected') }),
      ]);
      // A summary recorded before rejectedUnchanged was counted weighs every rejection, as it did then.
      expect(codes(evaluateRunWarnings(config, run({ ops: {}, rejected: 3 })))).toEqual(['FAILED_ROWS']);
    });

    it('deletions kept for a case variant of their key were not sent: they weigh in neither FAILED_ROWS nor DELTA_LARGE', () => {
      const kept = run({
        modelRows: 100,
        ops: { ...ops(10, 9, 1, 0), delete: { planned: 90, succeeded: 0, failed: 0, skipped: 0, held: 0, kept: 90 } },
      });
      expect(evaluateRunWarnings(config, kept, { modelRows: 100, status: 'success' })).toEqual([
        expect.objectContaining({ code: 'FAILED_ROWS', message: expect.stringContaining('run 3: 1 of 10 rows failed or were rejected') }),
      ]);
    });

    it('an open FAILED_ROWS stays open while the rows still fail unchanged and the run sent nothing new', () => {
      const idle = run({ ops: ops(2, 0, 0, 2), rejected: 4, rejectedUnchanged: 4 });
      expect(currentWarnings(config, idle, { ...view, previous: open })).toEqual([
        expect.objectContaining({
          code: 'FAILED_ROWS',
          level: 'warning',
          message: expect.stringContaining('6 rows still fail or are rejected (6 reported by earlier runs'),
        }),
      ]);
      // ...but old problems never open it, and a run whose rows go through in number lets it clear.
      expect(currentWarnings(config, idle, view)).toEqual([]);
      expect(currentWarnings(config, run({ ops: ops(202, 200, 0, 2) }), { ...view, previous: open })).toEqual([]);
      expect(currentWarnings(config, run({ ops: ops(12, 10, 0, 2) }), { ...view, previous: open }).map((x) => x.code)).toEqual([
        'FAILED_ROWS',
      ]);
      // Nothing left over: recovered.
      expect(currentWarnings(config, run({ ops: ops(2, 2, 0, 0) }), { ...view, previous: open })).toEqual([]);
    });

    it('a run with its own FAILED_ROWS reports that one, once', () => {
      const own = run({ ops: ops(4, 1, 3, 0), warnings: [w('FAILED_ROWS', 'warning', 'run 3: 3 of 4')] });
      expect(currentWarnings(config, own, { ...view, previous: open })).toEqual([w('FAILED_ROWS', 'warning', 'run 3: 3 of 4')]);
    });
  });

  it('the deadline warning names the run and its scheduled start', () => {
    expect(deadlineWarning(config, 7, Date.UTC(2026, 0, 1)).message).toContain(
      'run 7 has not finished 60 min after its scheduled start (2026-01-01T00:00:00.000Z)',
    );
  });
});
