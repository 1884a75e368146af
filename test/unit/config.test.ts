import { parseActivationConfig, parseNewActivationConfig, formatProblems } from '../../common/config';

const valid = {
  id: 'contacts',
  mode: 'upsert',
  source: { sql: 'SELECT * FROM contacts', key: 'id' },
  destination: { kind: 'salesforce', connection: 'sf', object: 'Contact', key: 'External_Id__c' },
  mappings: [{ from: 'email', to: 'Email' }],
};

describe('activation config schema', () => {
  test('a minimal document gets its defaults', () => {
    const r = parseActivationConfig(valid);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.schedule).toEqual({ manual: true });
    expect(r.config.deletionGuard.maxDeletePercent).toBe(10);
    expect(r.config.thresholds.failedRowPercent).toBe(5);
    expect(r.config.source.connection).toBe('default');
  });

  test('every problem is reported with its path', () => {
    const r = parseActivationConfig({
      ...valid,
      id: 'bad id!',
      mode: 'merge',
      schedule: { cron: '* * *' },
      mappings: [
        { from: 'a', to: 'X' },
        { from: 'b', to: 'X' },
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['id', 'mode', 'schedule.cron', 'mappings.1.to']));
    expect(formatProblems('bad id!', r.problems)).toMatch(/Invalid configuration for activation "bad id!": \d+ problem/);
  });

  test('schedules: interval, cron with time zone, manual; unknown time zones and extra keys are refused', () => {
    for (const schedule of [{ every: '15m' }, { every: '1h30m' }, { cron: '0 6 * * 1-5', timezone: 'Europe/Brussels' }, { manual: true }]) {
      expect(parseActivationConfig({ ...valid, schedule }).ok).toBe(true);
    }
    for (const schedule of [
      { every: '15 minutes' },
      { cron: '0 6 * * *', timezone: 'Mars/Olympus' },
      { every: '1m', cron: '* * * * *' },
      { manual: false },
    ]) {
      expect(parseActivationConfig({ ...valid, schedule }).ok).toBe(false);
    }
  });

  test('source needs exactly one of sql or table; destination one of object or table', () => {
    expect(parseActivationConfig({ ...valid, source: { key: 'id' } }).ok).toBe(false);
    expect(parseActivationConfig({ ...valid, source: { key: 'id', sql: 'x', table: 'y' } }).ok).toBe(false);
    expect(parseActivationConfig({ ...valid, destination: { ...valid.destination, table: 't' } }).ok).toBe(false);
  });

  test('the key field is filled from the model key only', () => {
    const r = parseActivationConfig({ ...valid, mappings: [{ from: 'other', to: 'External_Id__c' }] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]!.message).toContain('filled from the model key "id"');
  });

  test('credentials have no place in the document', () => {
    expect(parseActivationConfig({ ...valid, destination: { ...valid.destination, password: 'x' } }).ok).toBe(false);
  });

  test('warnings name a webhook connection; an inline webhookUrl is accepted only from running activations', () => {
    const named = parseNewActivationConfig({ ...valid, warnings: { connection: 'alerts', slack: true } });
    expect(named).toEqual({ ok: true, config: expect.objectContaining({ warnings: { connection: 'alerts', slack: true } }) });
    const legacy = { ...valid, warnings: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/secret' } };
    // A running activation re-parses its document on every continue-as-new: it must keep passing.
    expect(parseActivationConfig(legacy).ok).toBe(true);
    const refused = parseNewActivationConfig(legacy);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.problems).toEqual([
      {
        path: 'warnings.webhookUrl',
        message: expect.stringContaining('SYNCLINE_CONNECTION_ALERTS=\'{"url":"https://hooks.slack.com/..."}\''),
      },
    ]);
    expect(refused.problems[0]!.message).toContain('"warnings": {"connection": "alerts"}');
    expect(refused.problems[0]!.message).not.toContain('secret');
    expect(parseActivationConfig({ ...valid, warnings: { connection: 'alerts', webhookUrl: 'https://x.example/h' } }).ok).toBe(false);
  });
});
